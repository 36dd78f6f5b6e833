"""pgmorl: the prediction model, the performance buffers, the greedy task choice, a short run."""
import math

import numpy as np
import pytest
import torch

import mobench
from mobench.solvers.morl.pgmorl import Population, fit_improvement, hyperbolic, select_tasks

torch.set_num_threads(1)


def test_hyperbolic_model_is_the_papers_formula():
    A, a, b, c, x = 2.0, 1.0, 0.5, 0.1, 1.5
    z = a * (x - b)
    assert hyperbolic(x, A, a, b, c) == pytest.approx(A * (math.exp(z) - 1) / (math.exp(z) + 1) + c)
    assert hyperbolic(x, A, a, b, c) == pytest.approx(1.02423, abs=1e-5)  # by hand: 2 x 0.46212 + 0.1


def test_fit_recovers_a_noiseless_model_and_falls_back_to_the_mean():
    w = np.linspace(0, 1, 9)
    truth = hyperbolic(w, 3.0, 6.0, 0.4, -0.5)
    f = fit_improvement(w, truth, np.ones(9))
    x = np.array([0.05, 0.33, 0.71, 0.95])
    assert np.allclose(f(x), hyperbolic(x, 3.0, 6.0, 0.4, -0.5), atol=1e-3)
    g = fit_improvement(w[:3], np.array([1.0, 2.0, 6.0]), np.array([1.0, 1.0, 2.0]))  # too few records
    assert np.allclose(g(x), 3.75)  # the kernel-weighted mean: (1 + 2 + 12) / 4


def test_performance_buffers_keep_the_farthest_per_direction():
    pop = Population(2, buffers=2, size=1, seed=0)  # directions (0, 1) and (1, 0)
    for F in ([0.0, 0.0], [5.0, 0.1], [9.0, 0.2], [0.1, 4.0], [0.2, 7.0]):
        pop.add(np.array(F), agent=tuple(F))
    assert sorted(map(tuple, pop.F.tolist())) == [(0.2, 7.0), (9.0, 0.2)]
    assert sorted(pop.agents) == [(0.2, 7.0), (9.0, 0.2)]


def test_task_choice_goes_where_the_predicted_front_grows():
    """Two policies at (1, 0) and (0, 1), the archive the same; one record says training on any
    weight moves a policy by (0, 2) (fewer than four records: the mean is the prediction). The
    chosen task must be the one whose predicted point maximises HV - sparsity of the archive
    with it added, computed here independently (the two candidates score differently)."""
    pop_F = np.array([[1.0, 0.0], [0.0, 1.0]])
    history = (np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]]), np.array([[0.0, 2.0]]))
    cands = np.array([[0.0, 1.0]])
    chosen = select_tasks(pop_F, history, cands, pop_F.copy(), 1, np.array([-1.0, -1.0]), -1.0, 10.0)
    from mobench.metrics import hypervolume, sparsity
    q = [hypervolume(np.vstack([pop_F, p]), [-1, -1], ["max"] * 2) - sparsity(np.vstack([pop_F, p]), ["max"] * 2)
         for p in (pop_F[0] + [0, 2], pop_F[1] + [0, 2])]
    assert chosen == [(int(np.argmax(q)), 0)] and q[0] != q[1]


@pytest.mark.parametrize("target", ["mogym/deep-sea-treasure-v0", "mogym/minecart-v0:episodes=1",
                                    "mogym/mo-halfcheetah-v0:episodes=1",
                                    "inventory/backlogged-2obj-v0"])  # the last: continuous actions
def test_solver_contract(target):
    from mobench.check import check_solver
    rep = check_solver("pgmorl:n_tasks=2,task_iterations=1,n_steps=32", target, seconds=20)
    assert rep.ok, "\n".join(rep.lines)


def test_short_run_reaches_the_deep_sea_treasure_front():
    from mobench.solver import Budget, Clock, Log
    p = mobench.make("mogym/deep-sea-treasure-v0")
    clock = Clock(Budget(steps=40_000, seconds=300))
    out = mobench.make_solver("pgmorl").solve(p, clock, 0, Log(clock))
    assert clock.steps <= 40_000 and out.info["generations"] >= 1
    ev = mobench.evaluate(p, out)
    front = p.reference().front
    found = {tuple(np.round(r, 3)) for r in ev.objectives[:, 0] if np.abs(front - r).max(axis=1).min() < 1e-4}
    assert len(found) >= 2  # measured: 2 front points at 40k steps
