"""The engine's scoring of policies on exact (enumerated) scenario sets, the sampling error
beside a gap, the scenario bound, and ranks that ignore differences within the sampling error."""
import itertools

import numpy as np
import pandas as pd
import pytest
import torch

import mobench
from mobench import BatchedSim, Objective, Problem, Reference, Spec, TestScenarios
from mobench.leaderboard import rank

T = 3  # periods; a fair coin each period: 8 equally likely scenarios


class CoinSim(BatchedSim):
    """Loss (a - c_t)^2 per period for a coin c_t in {0, 1}; observation: t / T."""
    n_obj, n_con, obs_dim, act_dim, horizon = 1, 0, 1, 1, T
    action_low, action_high = np.zeros(1), np.ones(1)

    def reset(self, batch, generator, device="cpu", horizon=None):
        return {"t": 0, "T": T, "c": torch.randint(2, (batch, T), generator=generator).float()}

    def enumerate(self, device="cpu", horizon=None):
        return {"t": 0, "T": T, "c": torch.tensor(list(itertools.product((0.0, 1.0), repeat=T)))}

    def observe(self, state):
        return torch.full((state["c"].shape[0], 1), state["t"] / T)

    def step(self, state, action):
        loss = (action[:, 0] - state["c"][:, state["t"]]) ** 2
        done = torch.full_like(loss, state["t"] + 1 >= T, dtype=torch.bool)
        return {**state, "t": state["t"] + 1}, -loss.unsqueeze(1), loss.new_zeros(len(loss), 0), done


class Coin(Problem):
    def __init__(self, target, exact: bool):
        super().__init__(target)
        self.spec = Spec(id=self.id, objectives=(Objective("loss", "min"),),
                         scenarios=TestScenarios(seed=5, n=8 if exact else 64, horizon=T, aggregate="sum",
                                                 dev_seed=6, exact=exact))

    def sim(self):
        return CoinSim()

    def reference(self):  # a = 1/2 in every period: 3 x 1/4
        return Reference("optimal", value=0.75, source="analytic", scenario_bound=0.0)


@pytest.fixture(scope="module")
def coin():
    mobench.register("testfam/coin-v0", Coin, params={"exact": mobench.Param(True)})
    yield
    from mobench import registry
    registry._problems.pop("testfam/coin-v0")


def test_an_exact_scenario_set_gives_the_expected_value_without_sampling_error(coin):
    """On the 8 scenarios, each once, a constant action a scores exactly 3 (a^2 + (1 - a)^2) / 2,
    with no standard error; on 64 sampled scenarios the same policy has an error, and its gap
    the matching sampling error beside it."""
    for a in (0.5, 0.2):
        policy = lambda obs, a=a: torch.full((obs.shape[0], 1), a)
        exact = mobench.evaluate(mobench.make("testfam/coin-v0"), policy).summary
        assert exact["obj:loss"] == pytest.approx(3 * (a * a + (1 - a) ** 2) / 2, rel=1e-6)  # float32 steps
        assert exact["obj_se:loss"] == 0.0 and exact["gap_se_pct"] == 0.0
        assert exact["gap_pct"] == pytest.approx(100 * (exact["obj:loss"] / 0.75 - 1))
        sampled = mobench.evaluate(mobench.make("testfam/coin-v0:exact=false"), policy).summary
        if a != 0.5:  # at a = 1/2 every scenario costs 3/4: no spread to sample
            assert sampled["obj_se:loss"] > 0
            assert sampled["gap_se_pct"] == pytest.approx(100 * sampled["obj_se:loss"] / 0.75)
        assert exact["scenario_bound"] == 0.0 and "gap_to_scenario_bound_pct" not in exact  # no gap to 0


def test_ranks_ignore_differences_within_the_sampling_error():
    board = pd.DataFrame({
        "problem": ["p"] * 4 + ["q"] * 2,
        "solver": ["a", "b", "c", "d", "a", "b"],
        "n_seeds": [1] * 6,
        "feasible_rate": [1.0] * 6,
        "gap_pct": [1.00, 1.05, 1.50, 1.52, 2.0, 2.01],
        "gap_se_pct": [0.05, 0.05, 0.01, 0.01, 0.0, 0.0],
        "solve_s": [1.0] * 6,
    })
    r = rank(board)
    got = dict(zip(r.problem + "/" + r.solver, r["rank"].astype(int)))
    # a and b differ by 0.05 < hypot(0.05, 0.05); c is 0.5 from a; c and d differ by 0.02 > 0.014
    assert got == {"p/a": 1, "p/b": 1, "p/c": 3, "p/d": 4, "q/a": 1, "q/b": 2}  # exact sets: no ties
