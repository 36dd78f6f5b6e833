"""Test-only solvers, loaded through $MOBENCH_PLUGINS (so the runner's workers see them too)."""
import os
import time
from pathlib import Path

import mobench
from mobench import Budget, Outcome, Solver, register_solver
from mobench.solvers.random_policy import RandomPolicy


class Sleepy(Solver):
    """Ignores its deadline: sleeps `seconds`, then returns a random policy. Writes its pid into
    the folder $MOBENCH_TEST_PID_DIR when that is set (for the tests that stop a runner)."""
    defaults = {"seconds": 30.0}
    default_budget = Budget(seconds=1)

    def supports(self, problem):
        return None

    def solve(self, problem, clock, seed, log):
        if os.environ.get("MOBENCH_TEST_PID_DIR"):
            (Path(os.environ["MOBENCH_TEST_PID_DIR"]) / str(os.getpid())).touch()
        time.sleep(self.seconds)
        return RandomPolicy("random").solve(problem, clock, seed, log)


class Crashy(Solver):
    defaults = {}
    default_budget = Budget(seconds=5)

    def supports(self, problem):
        return None

    def solve(self, problem, clock, seed, log):
        raise RuntimeError("deliberate failure for the test")


register_solver("test-sleepy", Sleepy)
register_solver("test-crashy", Crashy)


# A tiny per-instance ("solutions") problem: 0/1 knapsack instances with brute-force optima.
import itertools  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mobench import Objective, Param, Problem, Reference, Spec, register  # noqa: E402
from mobench.errors import InvalidSolution  # noqa: E402

ITEMS = [  # (weights, values, capacity)
    ([3, 4, 5, 2], [4, 5, 6, 3], 7),
    ([1, 2, 3], [1, 2, 3], 4),
    ([5, 5, 5], [1, 2, 3], 9),
]


class ToyKnapsack(Problem):
    def __init__(self, target):
        super().__init__(target)
        self.spec = Spec(id=self.id, objectives=(Objective("value", "max"),), answer="solutions")

    def instances(self):
        return ITEMS

    def verify(self, index, solution):
        w, v, cap = ITEMS[index]
        chosen = sorted(set(int(i) for i in solution))
        if any(i < 0 or i >= len(w) for i in chosen):
            raise InvalidSolution(f"item index out of range in {solution}")
        weight = sum(w[i] for i in chosen)
        return np.array([float(sum(v[i] for i in chosen))]), np.zeros(0), weight <= cap

    def reference(self):
        best = []
        for w, v, cap in ITEMS:
            best.append(max(sum(v[i] for i in S) for r in range(len(w) + 1)
                            for S in itertools.combinations(range(len(w)), r) if sum(w[i] for i in S) <= cap))
        return Reference("optimal", value=[float(b) for b in best], source="brute force")


class Greedy(Solver):
    defaults = {"overfill": False}
    default_budget = Budget(seconds=5)

    def supports(self, problem):
        return None if problem.spec.answer == "solutions" else "per-instance problems only"

    def solve(self, problem, clock, seed, log):
        sols = []
        for w, v, cap in problem.instances():
            order = sorted(range(len(w)), key=lambda i: -v[i] / w[i])
            chosen, load = [], 0
            for i in order:
                if self.overfill or load + w[i] <= cap:
                    chosen.append(i)
                    load += w[i]
            sols.append(chosen)
        return Outcome(solutions=sols)


register("testfam/knapsack-v0", ToyKnapsack)
register_solver("test-greedy", Greedy)


class SlowReferenceKnapsack(ToyKnapsack):
    """The toy knapsack whose reference takes ``seconds`` to compute and is then cached in the
    file ``path`` (each computation touches ``path``.started when it starts and appends a line to
    ``path``.log when it ends): the runner's tests that references are computed once, before the
    runs, outside the evaluation's time limit, and that stopping the runner stops them."""

    def __init__(self, target, seconds: float, path: str):
        super().__init__(target)
        if not path:
            raise ValueError("testfam/slow-reference-v0 needs path=<the reference's cache file>")
        self.seconds, self.path = seconds, Path(path)

    def reference(self):
        if not self.path.exists():
            Path(f"{self.path}.started").touch()
            time.sleep(self.seconds)
            with open(f"{self.path}.log", "a") as f:
                f.write("computed\n")
            self.path.write_text(json.dumps(super().reference().value))
        return Reference("optimal", value=json.loads(self.path.read_text()), source="brute force, slowly")


register("testfam/slow-reference-v0", SlowReferenceKnapsack,
         params={"seconds": Param(3.0, low=0.0), "path": Param("", doc="the reference's cache file")})


from mobench.problem import SimEnv  # noqa: E402
from mobench.problems.inventory import LostSales  # noqa: E402


class Drifting(LostSales):
    """Broken on purpose: the env is a view of a simulator with another shortage cost."""

    def __init__(self, target):
        super().__init__(target, L=1, p=9.0, h=1.0)

    def env(self):
        return SimEnv(mobench.make("inventory/lost-sales-v0", L=1, p=10.0, h=1.0).sim())


register("testfam/drifting-v0", Drifting)


# A tiny two-objective, one-constraint problem answered by a Pareto set of policies.
import torch  # noqa: E402

from mobench import BatchedSim, Constraint, TestScenarios  # noqa: E402


class BiSim(BatchedSim):
    """Action a in [0, 1]; objectives (both min) a and 1 - a per period; cost a^2."""
    n_obj, n_con, obs_dim, act_dim, horizon = 2, 1, 1, 1, 5
    action_low, action_high = np.zeros(1), np.ones(1)

    def reset(self, batch, generator, device="cpu", horizon=None):
        T = horizon or self.horizon
        return {"t": 0, "T": T, "x": torch.rand(batch, generator=generator).to(device)}

    def observe(self, state):
        return state["x"].unsqueeze(1)

    def step(self, state, action):
        a = action[:, 0]
        reward = torch.stack([-a, -(1 - a)], dim=1)
        done = torch.full_like(a, state["t"] + 1 >= state["T"], dtype=torch.bool)
        return {**state, "t": state["t"] + 1}, reward, (a ** 2).unsqueeze(1), done


class BiObjective(Problem):
    def __init__(self, target):
        super().__init__(target)
        self.spec = Spec(id=self.id, objectives=(Objective("f1", "min"), Objective("f2", "min")),
                         constraints=(Constraint("a2", 0.5),), answer="pareto-policies",
                         scenarios=TestScenarios(seed=1, n=4, horizon=5, dev_seed=2),
                         hv_ref_point=(1.0, 1.0))

    def sim(self):
        return BiSim()

    def reference(self):
        a = np.linspace(0, np.sqrt(0.5), 50)
        return Reference("optimal", front=np.stack([a, 1 - a], 1), source="analytic")


class ConstantActions(Solver):
    defaults = {"n": 5}
    default_budget = Budget(seconds=5)

    def supports(self, problem):
        return None if problem.spec.answer == "pareto-policies" else "Pareto problems only"

    def solve(self, problem, clock, seed, log):
        return Outcome(policies=[(lambda o, a=a: torch.full((o.shape[0], 1), a))
                                 for a in np.linspace(0, 1, self.n)])


register("testfam/bi-v0", BiObjective)
register_solver("test-constant", ConstantActions)


# A one-objective problem with a binding budget: per period loss (1 - a)^2 and spend a, a in
# [0, 1]; the spend over 5 periods must stay <= 1, so the constrained optimum is a = 0.2 in every
# period (loss 5 x 0.64 = 3.2, spend 1), while ignoring the budget gives loss 0 at spend 5.
class SpendSim(BatchedSim):
    n_obj, n_con, obs_dim, act_dim, horizon = 1, 1, 1, 1, 5
    action_low, action_high = np.zeros(1), np.ones(1)

    def reset(self, batch, generator, device="cpu", horizon=None):
        return {"t": 0, "T": horizon or self.horizon, "b": torch.zeros(batch, device=device)}

    def observe(self, state):
        return torch.full_like(state["b"], state["t"] / state["T"]).unsqueeze(1)

    def step(self, state, action):
        a = action[:, 0]
        done = torch.full_like(a, state["t"] + 1 >= state["T"], dtype=torch.bool)
        return {**state, "t": state["t"] + 1}, (-(1 - a) ** 2).unsqueeze(1), a.unsqueeze(1), done


class Budgeted(Problem):
    def __init__(self, target):
        super().__init__(target)
        self.spec = Spec(id=self.id, objectives=(Objective("loss", "min"),), constraints=(Constraint("spend", 1.0),),
                         scenarios=TestScenarios(seed=1, n=8, horizon=5, dev_seed=2, aggregate="sum"))

    def sim(self):
        return SpendSim()

    def reference(self):
        return Reference("optimal", value=3.2, source="analytic: spend the budget evenly")


register("testfam/budgeted-v0", Budgeted)
