"""PDE family and the hard-constraint solvers: the reference solver against physics (mass
balance, the exact steady state, boundary conditions), against scipy's BDF and under grid
refinement; the LM solve and its implicit gradients; the hard-constraint layer; the MoE's
K = 1 case; verification of submitted fields; the shipped models."""
import numpy as np
import pytest
import torch

import mobench
from mobench.errors import InvalidSolution
from mobench.problems.pde import (D, TEST_SEED, FVSolver, cell_centres, mass, pdebench_ic, retardation,
                                  solve_ivp_reference)
from mobench.solvers.hard_constraints import lm
from mobench.solvers.hard_constraints.model import OperatorModel, load, predict, relative_l2
from mobench.solvers.hard_constraints.physics import HardConstraint, constraint_residual, terms


# --- the reference solver ---------------------------------------------------------------

def test_mass_balance_interior_and_whole_domain():
    """d/dt of the sorbed + dissolved mass M(u) in a window of cells equals the diffusive
    fluxes through its two faces (trapezoid rule between 1 s snapshots), inside and for the
    whole domain with the boundary fluxes of u(0) = 1 and u(1) = -D u_x(1)."""
    nx, nt = 64, 501
    s = FVSolver(nx, nt)
    u = s.solve([0.07])[0]
    dx, t = 1.0 / nx, s.t_out
    m = mass(u)
    keep = t >= 20.0  # after the boundary layer at x = 0 has formed
    for a, b in ((10, 40), (0, nx)):
        stored = m[:, a:b].sum(1) * dx
        f_in = (2 * D * (1.0 - u[:, 0]) / dx) if a == 0 else -D * (u[:, a] - u[:, a - 1]) / dx
        f_out = (2 * D * u[:, -1] / (dx + 2 * D)) if b == nx else -D * (u[:, b] - u[:, b - 1]) / dx
        net = f_in - f_out
        flow = np.cumsum(0.5 * (net[1:] + net[:-1]) * np.diff(t))
        change = stored[1:] - stored[0]
        k = np.flatnonzero(keep[1:])
        gained = change[k] - change[k[0]]
        counted = flow[k] - flow[k[0]]
        assert np.abs(gained - counted).max() < 2e-3 * np.abs(gained).max()
        assert np.abs(gained).max() > 1e-3  # the window's mass does change


def test_exact_steady_state_and_boundary_conditions():
    """Long after t = 0 the solution is the steady profile u = 1 - x / (1 + D), which meets
    u(0) = 1 and u(1) + D u_x(1) = 0 exactly; finite volumes reproduce linear profiles exactly."""
    x = cell_centres(64)
    u = FVSolver(64, 3, t_end=2e5, dt_max=500.0).solve([0.1])[0, -1]
    assert np.abs(u - (1.0 - x / (1.0 + D))).max() < 1e-10
    p = mobench.make("pde/diffusion-sorption-v0", count=3, nx=64, nt=11)
    for field in p.reference_fields():
        res, bc = p.measures(field.astype(float))
        assert bc < 1e-3 and res < p.residual_limit
        assert field.min() >= 0.0 and field.max() <= 1.0  # maximum principle


def test_grid_convergence_order_is_two():
    c = [0.05, 0.15]
    fine = FVSolver(256, 6, dt_max=1.0).solve(c)
    err = {}
    for nx in (16, 32, 64):
        u = FVSolver(nx, 6, dt_max=1.0).solve(c)
        v = fine.reshape(2, 6, nx, 256 // nx).mean(-1)  # cell averages of the fine grid
        err[nx] = np.linalg.norm((u - v)[:, 1:]) / np.linalg.norm(v[:, 1:])
    orders = [np.log2(err[n] / err[2 * n]) for n in (16, 32)]
    assert all(1.8 < o < 2.3 for o in orders), (err, orders)


def test_agrees_with_scipy_bdf():
    s = FVSolver(64, 11)
    c = [0.01, 0.1, 0.19]
    u = s.solve(c)
    for i, ci in enumerate(c):
        ref = solve_ivp_reference(ci, 64, 11)
        assert np.linalg.norm(u[i] - ref) / np.linalg.norm(ref) < 2e-5


def test_instances_follow_pdebench_and_training_seeds_are_disjoint():
    p = mobench.make("pde/diffusion-sorption-v0", count=5, nx=32, nt=6)
    assert [i.c for i in p.instances()] == [np.random.default_rng(TEST_SEED + i).uniform(0, 0.2) for i in range(5)]
    train = set(p.training_ics(200, 3).tolist())
    assert not train & {pdebench_ic(TEST_SEED + i) for i in range(1000)}
    np.testing.assert_array_equal(p.training_ics(7, 1), p.training_ics(7, 1))
    assert not np.array_equal(p.training_ics(7, 1), p.training_ics(7, 2))
    c, u = p.training_data(2, 0)
    assert u.shape == (2, 6, 32) and np.allclose(u[:, 0], c[:, None])


# --- verification -----------------------------------------------------------------------

def test_verify_scores_the_reference_and_rejects_bad_fields():
    p = mobench.make("pde/diffusion-sorption-v0", count=2, nx=32, nt=6)
    ref = p.reference_fields()
    obj, cost, ok = p.verify(0, ref[0])
    assert ok and obj[0] < 1e-7 and cost[0] <= p.residual_limit / 2 + 1e-12
    obj, cost, ok = p.verify(0, ref[0] * 1.1)
    assert obj[0] == pytest.approx(0.1, rel=1e-5)
    for bad, says in ((ref[0][:, :-1], "shape"), (np.full((6, 32), np.nan), "NaN"), ("field", "numeric")):
        with pytest.raises(InvalidSolution, match=says):
            p.verify(0, bad)
    ev = mobench.evaluate(p, [ref[0], np.full((6, 32), np.inf)])
    assert ev.feasible.tolist() == [[True, False]]
    assert ev.summary["obj:rel_l2"] < 1e-7


# --- the LM solve and its gradients ------------------------------------------------------

def _system(w, a, b):
    return torch.stack([w[:, 0] ** 2 + w[:, 1] - a, w[:, 0] - w[:, 1] ** 3 - b], 1)


def test_lm_reaches_the_known_root():
    root = torch.tensor([[1.5, 0.5], [0.3, -1.2], [-2.0, 0.7]], dtype=torch.float64)
    a, b = root[:, 0] ** 2 + root[:, 1], root[:, 0] - root[:, 1] ** 3
    stats = {}
    start = root + torch.tensor([[0.4, -0.3], [-0.2, 0.3], [0.3, 0.2]], dtype=torch.float64)
    w = lm.solve(_system, start, a, b, opts=lm.LMOptions(100, 1e-12, 1e-12), stats=stats)
    assert torch.allclose(w, root, atol=1e-10) and bool(stats["converged"].all())
    assert _system(w, a, b).abs().max() < 1e-10


def test_implicit_gradients_equal_finite_differences():
    torch.manual_seed(0)
    root = torch.tensor([[1.5, 0.5], [0.3, -1.2]], dtype=torch.float64)
    a = (root[:, 0] ** 2 + root[:, 1]).requires_grad_()
    b = (root[:, 0] - root[:, 1] ** 3).requires_grad_()
    start = root + 0.1
    f = lambda a, b: lm.solve(_system, start, a, b, opts=lm.LMOptions(100, 0.0, 0.0))
    assert torch.autograd.gradcheck(f, (a, b), atol=1e-6)
    # the constraint residual: an overdetermined problem whose optimum leaves a residual (so
    # the full Hessian differs from Gauss-Newton's: a Gauss-Newton backward fails this check)
    P, M, N = 2, 6, 3
    f64 = dict(dtype=torch.float64)
    w_true = torch.tensor([[0.6, 0.3, 0.2], [0.2, 0.5, 0.4]], **f64)
    phi = torch.rand(P, M, N, **f64) + 0.5
    phixx = 500 * torch.randn(P, M, N, **f64)  # D u_xx / R of order 0.1: phi and phixx matter
    phit = torch.zeros(P, M, N, **f64)
    u = (phi @ w_true[..., None])[..., 0]
    phit[:, :, 0] = D * (phixx @ w_true[..., None])[..., 0] / retardation(u) / w_true[:, :1]
    phit += 0.1 * torch.randn(P, M, N, **f64)
    ic = torch.rand(P, 2, N, **f64)
    u0 = (ic @ w_true[..., None])[..., 0] + 0.05 * torch.rand(P, 2, **f64)
    left = torch.rand(P, 1, N, **f64)
    left = left / (left @ w_true[..., None]) + 0.1 * torch.randn(P, 1, N, **f64)
    right = 0.1 * torch.randn(P, 1, N, **f64)
    theta = [t.requires_grad_() for t in (phi, phit, phixx, ic)]
    g = lambda *th: lm.solve(constraint_residual, w_true + 0.05, *th, u0, left, right,
                             opts=lm.LMOptions(100, 0.0, 0.0))  # every step: FD needs the exact optimum
    assert torch.autograd.gradcheck(g, tuple(theta), eps=1e-4, atol=1e-7, rtol=1e-4, fast_mode=True)


def test_hard_constrained_output_satisfies_the_residual_at_its_points():
    """A basis that contains an exact solution (the linear steady profile meeting both
    boundary conditions at the end cells) plus random functions: the layer's output has zero
    residual at the sampled points and is that profile."""
    nt, nx, N = 11, 32, 8
    t, x = np.linspace(0, 500, nt), cell_centres(nx)
    slope = -1.0 / (x[-1] - x[0] + D)
    exact = 1.0 + slope * (torch.as_tensor(x) - x[0])
    torch.manual_seed(1)
    phi = torch.rand(1, N, nt, nx, dtype=torch.float64)
    phi[0, 0] = 1.0
    phi[0, 1] = torch.as_tensor(x)[None, :]
    u0 = exact[None, :]
    layer = HardConstraint(points=120, experts=1, opts=lm.LMOptions(200, 1e-12, 1e-12))
    u = layer(phi, u0, t, x, torch.Generator().manual_seed(0))
    assert torch.allclose(u[0], exact.expand(nt, nx), atol=1e-6)
    assert bool(layer.stats["converged"].all())
    # the same layer on a random basis leaves a residual: the property is not automatic
    ut, _, uxx = terms(u, t, x)
    assert (ut - D / retardation(u) * uxx).abs().max() < 1e-6
    bad = layer(torch.rand(1, N, nt, nx, dtype=torch.float64), u0, t, x, torch.Generator().manual_seed(0))
    ut, _, uxx = terms(bad, t, x)
    assert (ut - D / retardation(bad) * uxx).abs().max() > 1e-4


def test_moe_with_one_expert_is_pi_hc():
    torch.manual_seed(0)
    hc = OperatorModel("pi-hc", lm_steps=20, points=60)
    moe = OperatorModel("pi-hc-moe", lm_steps=20, points=60, experts=1)
    moe.load_state_dict(hc.state_dict())
    t, x = np.linspace(0, 500, 9), cell_centres(16)
    u0 = torch.full((2, 16), 0.1, dtype=torch.float64)
    a = hc(u0, t, x, torch.Generator().manual_seed(5))
    b = moe(u0, t, x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    four = OperatorModel("pi-hc-moe", lm_steps=20, points=15)
    four.load_state_dict(hc.state_dict())
    c = four(u0, t, x, torch.Generator().manual_seed(5))
    assert not torch.allclose(a, c)  # four experts' own weights change the field


@pytest.mark.parametrize("variant,limit", [("pi-sc", 1.0), ("pi-hc", 0.5), ("pi-hc-moe", 0.5)])
def test_shipped_models_load_and_score(variant, limit):
    """Each shipped checkpoint, on the first 4 test instances: a field of the right shape and
    a relative L2 error below the stated limit (the leaderboard has the full figures)."""
    from mobench.solvers.hard_constraints import checkpoint_path
    model = load(checkpoint_path(variant))
    p = mobench.make("pde/diffusion-sorption-v0", count=4)
    t, x = p.grid()
    u = predict(model, p.initial_values(), t, x, seed=0)
    err = relative_l2(torch.as_tensor(u), torch.as_tensor(p.reference_fields(), dtype=torch.float64))
    assert u.shape == (4, 51, 128) and float(err.mean()) < limit


# --- the hard-constraint policy head on the hydro family ---------------------------------

def test_policy_head_meets_every_water_balance_and_its_targets_are_reachable():
    from mobench.problems.hydro import StageLP, load_bolivia
    from mobench.solvers.hard_constraints.policy import BalanceHead, expert_groups
    s = load_bolivia()
    assert expert_groups(s, 0) == [[0, 1], [2], [3], [4, 5], [6], [7, 8], [9], [10]]
    assert sorted(sum(expert_groups(s, 3), [])) == list(range(s.n_res)) and len(expert_groups(s, 3)) == 3
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    scale = np.concatenate([np.maximum(s.vmax, 1.0), np.maximum(s.inflows.mean((0, 1)), 1.0), [1.0]])
    head = BalanceHead(s, 32, 2, expert_groups(s, 0), scale, 100)
    B = 16
    v_in = rng.uniform(s.vmin, s.vmax, (B, s.n_res))
    inflow = s.inflows[2][rng.integers(0, s.inflows.shape[1], B)]
    obs = torch.as_tensor(np.concatenate([v_in, inflow, np.full((B, 1), 0.2)], 1))
    with torch.no_grad():
        v, q, sp = (a.numpy() for a in head(obs))
    up_q, up_s = s.upstream()
    balance = v - (v_in + s.k * (inflow - q + q @ up_q.T) - sp + sp @ up_s.T)  # independent of the head's code
    assert np.abs(balance).max() < 1e-4 * max(1.0, s.vmax.max())
    assert (v >= s.vmin).all() and (v <= s.vmax).all() and (q >= 0).all() and (q <= s.qmax).all() and (sp >= 0).all()
    lp = StageLP(s)
    for b in range(4):  # the stage LP meets these targets without slack
        assert np.abs(lp.solve(v_in[b], inflow[b], v[b])["deviation"]).sum() < 1e-5
    # an unconstrained target (the same bounds, no balance) generally needs slack
    assert np.abs(lp.solve(v_in[0], inflow[0], s.vmax)["deviation"]).sum() > 1e-3
