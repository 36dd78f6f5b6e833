"""c-morl: the IPO barrier on a problem with an analytic answer, the archive and its crowding
distances on hand-made fronts, and a short end-to-end run on deep-sea-treasure."""
import math

import numpy as np
import pytest
import torch

import mobench
from mobench.solver import Budget, Checkpoint, Clock, Log
from mobench.solvers.morl.c_morl import barrier, init_weights, ipo_loss
from mobench.solvers.morl.common import Agent, Archive, RunningMoments, crowding, nondominated

torch.set_num_threads(1)


def test_barrier_is_the_log_barrier_inside_and_finite_past_the_constraint():
    t = 20.0
    g = torch.tensor([2.0, 1.0, 0.5, 1 / t ** 2, 0.0, -1.0])
    b = barrier(g, t)
    assert torch.allclose(b[:4], -torch.log(g[:4]) / t)
    assert torch.isfinite(b).all() and (b.diff() > 0).all()  # rises as g falls
    eps = 1e-6  # continuous at the switch
    assert abs(float(barrier(torch.tensor(1 / t ** 2 + eps), t) - barrier(torch.tensor(1 / t ** 2 - eps), t))) < 1e-4


def _bandit_run(t: float, iterations: int = 60):
    """Three arms with rewards (1, 0), (0, 1), (0.5, 0.5); from pi = (0.1, 0.8, 0.1), maximise J_0
    subject to J_1 >= 0.85 - 0.1 * 0.85 = 0.765 (beta = 0.9). J_0 + J_1 = 1 for every policy,
    so the constrained optimum is J_0 = 0.235, on the constraint."""
    R = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    logits = torch.log(torch.tensor([0.1, 0.8, 0.1])).requires_grad_()
    J0 = (logits.softmax(0)[:, None] * R).sum(0).detach()
    margins = 0.1 * J0.abs()
    opt = torch.optim.Adam([logits], lr=0.05)
    gen = torch.Generator().manual_seed(0)
    history = []
    for _ in range(iterations):
        with torch.no_grad():
            pi_old = logits.softmax(0)
            J_old = (pi_old[:, None] * R).sum(0)
            a = torch.multinomial(pi_old, 20_000, replacement=True, generator=gen)
            logp_old = pi_old.log()[a]
            adv = R[a] - J_old  # exact baseline: the advantage of each arm, per objective
            slack = J_old - (J0 - margins)  # J_1 - 0.765 for the rollout policy
        for _ in range(10):
            loss = ipo_loss(logits.log_softmax(0)[a], logp_old, adv, 0, slack, margins, 1.0, 0.2, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append((logits.softmax(0)[:, None] * R).sum(0).detach())
    return torch.stack(history)


def test_ipo_barrier_keeps_the_constraint_and_approaches_the_analytic_optimum():
    finals = []
    for t in (5.0, 20.0, 100.0):
        J = _bandit_run(t)
        assert (J[:, 1] > 0.765).all()       # strictly feasible at every iterate
        finals.append(float(J[-1, 0]))
    # interior point: the larger t, the closer to the optimum 0.235 from inside (start: 0.15)
    assert finals[0] < finals[1] < finals[2] < 0.235 and finals[2] > 0.225


def test_archive_keeps_the_nondominated_and_crowding_matches_hand_values():
    J = np.array([[0, 3], [1, 2], [2, 1], [3, 0], [1, 1], [1, 2]], float)
    assert nondominated(J).tolist() == [True, True, True, True, False, False]  # dominated, duplicate
    cd = crowding(J[:4])
    # interior points: neighbours 2 apart on each objective of range 3, averaged over objectives
    assert np.isinf(cd[[0, 3]]).all() and np.allclose(cd[[1, 2]], 2 / 3)
    arch = Archive(size=4)
    for k, j in enumerate([[0, 4], [1, 3], [1.5, 2.5], [4, 0], [2, 2], [1, 1]]):
        arch.add(j, policy=k)
    # (1, 1) is dominated; of five non-dominated points the most crowded, (1.5, 2.5), goes
    assert sorted(arch.policies) == [0, 1, 3, 4]
    assert sorted(arch.select(2)) == sorted([arch.policies.index(0), arch.policies.index(3)])  # extremes first


def test_initial_weights_are_the_authors_simplex_lattices():
    """The authors' --delta-weight grids: hopper-2d 0.2, minecart 0.5, fruit-tree 1 (6 policies each)."""
    as_set = lambda W: sorted(map(tuple, np.round(W, 9)))
    assert as_set(init_weights(2, 6)) == as_set([[k / 5, 1 - k / 5] for k in range(6)])
    assert as_set(init_weights(3, 6)) == as_set([[1, 0, 0], [0, 1, 0], [0, 0, 1], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])
    assert as_set(init_weights(6, 6)) == as_set(np.eye(6))
    W = init_weights(4, 6)  # rounded up to the full lattice of step 1/2
    assert len(W) == 10 and np.allclose(W.sum(1), 1) and np.allclose(W * 2, np.round(W * 2))


def test_running_moments_equal_the_batch_moments_and_travel_with_the_agent():
    x = torch.as_tensor(np.random.default_rng(1).normal([3.0, -2.0], [0.5, 4.0], (300, 2)))
    rm = RunningMoments(2)
    for chunk in x.split(37):  # uneven batches
        rm.update(chunk)
    assert torch.allclose(rm.mean, x.mean(0), atol=1e-5) and torch.allclose(rm.var, x.var(0, unbiased=False), atol=1e-4)  # (prior count 1e-4)
    agent = Agent(2, 2, 3, None, 8, norm_obs=True, norm_reward=True)
    agent.obs_stats.update(x)
    obs = x[:5].float()
    z = (obs - x.mean(0).float()) / x.std(0, unbiased=False).float()
    assert torch.equal(agent.act(obs), agent.actor(z).argmax(-1))  # the evaluated policy normalises
    twin = Agent(2, 2, 3, None, 8, norm_obs=True, norm_reward=True)
    twin.load_state_dict(agent.state_dict())  # archive copies and checkpoints carry the statistics
    assert torch.equal(twin.act(obs), agent.act(obs)) and torch.equal(twin.obs_stats.var, agent.obs_stats.var)


def test_short_run_recovers_part_of_the_deep_sea_treasure_front():
    from mobench.evaluate import evaluate
    from mobench.solver import Budget, Clock, Log
    problem = mobench.make("mogym/deep-sea-treasure-v0")
    solver = mobench.make_solver("c-morl:n_init=4,rounds=1,n_select=2")
    clock = Clock(Budget(steps=30_000, seconds=120))
    out = solver.solve(problem, clock, 0, Log(clock))
    assert clock.steps <= 30_000
    front = {tuple(np.round(p, 1)) for p in problem.reference().front}
    found = {tuple(np.round(p, 1)) for p in out.info["archive"]}
    assert len(found & front) >= 2, found
    ev = evaluate(problem, out.policies)
    assert ev.summary["hv"] > 0.3 * ev.summary["reference_hv"]


@pytest.mark.parametrize("target", ["mogym/deep-sea-treasure-v0", "mogym/fruit-tree-v0",
                                    "mogym/resource-gathering-v0:episodes=4", "mogym/minecart-v0:episodes=1",
                                    "mogym/mo-hopper-2obj-v0:episodes=1",
                                    "inventory/backlogged-2obj-v0"])  # the last: continuous actions
def test_solver_contract(target):
    from mobench.check import check_solver
    rep = check_solver("c-morl:n_init=2,rounds=1,n_select=1,n_steps=32", target, seconds=20)
    assert rep.ok, "\n".join(rep.lines)


class _Interrupted(Exception):
    pass


class _StopAfter(Checkpoint):
    """A checkpoint that interrupts the run after its n-th save (as a killed job would)."""

    def __init__(self, path, n):
        super().__init__(path)
        self.n = n

    def save(self, clock, state):
        super().save(clock, state)
        self.n -= 1
        if self.n == 0:
            raise _Interrupted


MORL_BUDGET = Budget(steps=8_000, seconds=600)


def _solve(solver, checkpoint):
    problem = mobench.make("mogym/deep-sea-treasure-v0")
    clock = Clock(MORL_BUDGET, checkpoint)
    log = Log(clock)
    out = mobench.make_solver(solver).solve(problem, clock, 0, log)
    return out, clock, [(p["steps"], p["estimate"]) for p in log.points]


@pytest.mark.parametrize("solver,saves", [("c-morl:n_init=3,rounds=1,n_select=2,n_steps=64", 2),   # within the initialisation
                                          ("c-morl:n_init=3,rounds=1,n_select=2,n_steps=64", 5),   # within the extension round
                                          ("pgmorl:n_tasks=3,task_iterations=2,n_steps=64", 5),  # within a generation
                                          ("linear-ppo:n_weights=3,n_steps=64", 2)])
def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, solver, saves):
    ref, ref_clock, ref_curve = _solve(solver, None)
    with pytest.raises(_Interrupted):
        _solve(solver, _StopAfter(tmp_path / "ck.pt", saves))
    out, clock, curve = _solve(solver, Checkpoint(tmp_path / "ck.pt"))
    assert out.info.get("archive") == ref.info.get("archive") and len(out.policies) == len(ref.policies)
    assert clock.steps == ref_clock.steps and curve == ref_curve
    obs = torch.as_tensor([[r, c] for r in range(11) for c in range(10)], dtype=torch.float32)  # every cell
    for p, q in zip(out.policies, ref.policies):  # the same policies
        assert torch.equal(torch.as_tensor(p(obs)), torch.as_tensor(q(obs)))


def test_runner_resumes_from_the_checkpoint_then_removes_it(tmp_path):
    from mobench.runner import checkpoint_path, plan, run
    solver = "c-morl:n_init=3,rounds=1,n_select=2,n_steps=64"
    spec = plan(["mogym/deep-sea-treasure-v0"], [solver], 1, budget_steps=MORL_BUDGET.steps,
                budget_seconds=MORL_BUDGET.seconds)[0]
    ck = checkpoint_path(tmp_path, spec)
    clock = Clock(MORL_BUDGET, _StopAfter(ck, 2))
    with pytest.raises(_Interrupted):  # an earlier attempt at the same run, stopped after 2 policies
        mobench.make_solver(solver).solve(mobench.make(spec.problem), clock, spec.seed, Log(clock))
    assert ck.exists()
    rec = run([spec], tmp_path, progress=False)[0]
    assert rec["status"] == "ok" and not ck.exists()
    # the stored run is the uninterrupted one: the same curve, the two policies trained before
    # the interruption included, and the same steps
    problem = mobench.make(spec.problem)
    clock = Clock(MORL_BUDGET)
    log = Log(clock)
    mobench.make_solver(solver).solve(problem, clock, spec.seed, log)
    assert [(p["steps"], p["estimate"]) for p in rec["curve"]] == [(p["steps"], p["estimate"]) for p in log.points]
    assert rec["steps_used"] == clock.steps


def test_paper_task_options_name_registered_tasks_and_valid_c_morl_options():
    from mobench.registry import format_target
    from mobench.solvers.morl.c_morl import PAPER_TASK_OPTIONS, paper_options
    assert paper_options("mogym/deep-sea-treasure-v0") == {}  # not a task of the paper
    assert paper_options("mogym/fruit-tree-v0") == {"init_fraction": 0.2, "n_select": 6, "norm_obs": True}
    for task, options in PAPER_TASK_OPTIONS.items():
        mobench.make(task)  # a registered task
        solver = mobench.make_solver(format_target("c-morl", options))
        assert {k: solver.params[k] for k in options} == options
