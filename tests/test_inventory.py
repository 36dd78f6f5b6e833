"""Inventory family: references against independent computations and published values,
dynamics invariants, the simulator's gradient, and the test scenarios' precision."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import mobench
from mobench.errors import InvalidAction
from mobench.problems.inventory.reference import (backlogged_base_stock, lost_sales_policy,
                                                  lost_sales_reference, lost_sales_rvi)

# Zipkin (2008): optimal average costs, Poisson(5) demand, h = 1 (results/published/).
PUBLISHED = pd.read_csv(Path(__file__).parents[1] / "results" / "published" / "zipkin2008_lost_sales_optimal.csv",
                        comment="#")
ZIPKIN = {(int(r.L), int(r.p)): float(r.optimal_cost) for r in PUBLISHED.itertuples()}


@pytest.mark.parametrize("L,p", sorted(k for k in ZIPKIN if k[0] <= 3))
def test_lost_sales_dp_matches_published_optima(L, p):
    r = lost_sales_rvi(L, p, 1.0)
    assert r["converged"] and r["lower"] <= r["g"] <= r["upper"]
    assert r["g"] == pytest.approx(ZIPKIN[L, p], abs=0.005 + 1e-9)
    # the order cap of the truncated MDP never binds
    assert r["policy_max"] < r["max_order"]


def test_lost_sales_l4_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBENCH_CACHE", str(tmp_path))
    lost_sales_reference.cache_clear()
    r = lost_sales_reference(4, 4.0, 1.0)
    assert r["g"] == pytest.approx(ZIPKIN[4, 4], abs=0.005)
    assert list(tmp_path.rglob("*.json")), "the DP result is cached on disk"
    lost_sales_reference.cache_clear()
    assert lost_sales_reference(4, 4.0, 1.0) == r


@pytest.mark.slow
@pytest.mark.parametrize("p", [9, 19, 39])
def test_lost_sales_dp_l4_matches_published(p):
    assert lost_sales_rvi(4, p, 1.0)["g"] == pytest.approx(ZIPKIN[4, p], abs=0.005)


def test_backlogged_reference_vs_normal_formula():
    # With the clipping at 0 ignored, D^{L+1} ~ Normal((L+1) mu, sqrt(L+1) sigma) and the optimal
    # cost is (h + p) sigma_L phi(z*). Clipping changes demand by ~1e-3: agreement to 0.1%.
    for L, p in [(1, 4.0), (4, 19.0), (10, 39.0)]:
        S, cost = backlogged_base_stock(L, p, 1.0)
        sd = 1.6 * np.sqrt(L + 1)
        z = stats.norm.ppf(p / (p + 1))
        assert S == pytest.approx(5 * (L + 1) + z * sd, abs=0.05)
        assert cost == pytest.approx((1 + p) * sd * stats.norm.pdf(z), rel=1e-3)


def _evaluate(problem, policy):
    s = mobench.evaluate(problem, policy).summary
    return s["obj:cost"], s["obj_se:cost"], s["reference_value"]


@pytest.mark.parametrize("L,p", [(1, 4), (10, 39)])
def test_optimal_base_stock_simulates_to_reference(L, p):
    """Simulated cost of the optimal policy = the analytic reference (within 3 standard errors),
    and the test scenarios are precise to 0.1% of the cost."""
    prob = mobench.make("inventory/backlogged-v0", L=L, p=p)
    S = prob.reference().details["S"]
    cost, se, ref = _evaluate(prob, lambda o: (S - o.sum(1, keepdim=True)).clamp(0, 30))
    assert abs(cost - ref) < 3 * se
    assert se / cost <= 1e-3


@pytest.mark.parametrize("L,p", [(1, 39), (4, 39)])
def test_dp_policy_simulates_to_dp_value(L, p):
    prob = mobench.make("inventory/lost-sales-v0", L=L, p=p)
    r = lost_sales_rvi(L, p, 1.0)
    cost, se, ref = _evaluate(prob, lost_sales_policy(r["policy"], L))
    assert ref == pytest.approx(r["g"])
    assert abs(cost - ref) < 3 * se
    assert se / cost <= 1e-3


def test_backlog_conservation_and_lost_sales_invariants():
    gen = torch.Generator().manual_seed(0)
    for lost in (False, True):
        prob = mobench.make("inventory/lost-sales-v0" if lost else "inventory/backlogged-v0", L=3)
        sim = prob.sim()
        st = sim.reset(64, gen)
        for t in range(40):
            obs = sim.observe(st)
            q = torch.rand(64, 1, generator=gen) * 10
            d = st["demand"][:, t]
            before = obs.sum(1)
            st, r, c, done = sim.step(st, q)
            after = sim.observe(st).sum(1)
            if not lost:  # inventory position: + order - demand, exactly
                torch.testing.assert_close(after, before + q[:, 0] - d)
                net = st["on_hand"]
                torch.testing.assert_close(-r[:, 0], torch.relu(net) * 1 + torch.relu(-net) * 9)
            else:  # on-hand never negative; sales + lost = demand
                assert (st["on_hand"] >= 0).all()
                level = obs[:, 0] + obs[:, 1]
                sold = level - st["on_hand"]
                lost_units = (d - level).clamp_min(0)
                torch.testing.assert_close(sold + lost_units, d)
            assert c.shape == (64, 0)
        assert done.all() is not None


def test_simulator_gradient_matches_finite_difference():
    prob = mobench.make("inventory/lost-sales-v0", L=2, p=9)
    sim = prob.sim()

    def total(q):
        st = sim.reset(32, torch.Generator().manual_seed(5), horizon=30)
        cost = 0
        for t in range(30):
            st, r, _, _ = sim.step(st, q[t].expand(32, 1))
            cost = cost - r.sum()
        return cost

    # integer demand: the cost has kinks where a stock level is an integer; with this order
    # size no sum of up to 30 orders comes within 0.026 of one, so the +-0.01 difference sees
    # no kink (4.3 x 10 = 43 did, on some demand paths)
    q = torch.full((30, 1), 4.31414, dtype=torch.float32, requires_grad=True)
    total(q).backward()
    g = q.grad[5, 0].item()
    e = torch.zeros_like(q)
    e[5, 0] = 1e-2
    fd = (total(q.detach() + e) - total(q.detach() - e)).item() / 2e-2
    assert g == pytest.approx(fd, rel=1e-3, abs=1e-3)


def test_invalid_actions_are_refused():
    prob = mobench.make("inventory/lost-sales-v0")
    env = prob.env()
    env.reset(seed=0)
    with pytest.raises(InvalidAction, match="outside the action space"):
        env.step(np.array([-1.0], np.float32))
    with pytest.raises(InvalidAction, match="outside the action space"):
        mobench.evaluate(prob, lambda o: torch.full((o.shape[0], 1), 99.0))
    with pytest.raises(InvalidAction, match="NaN"):
        mobench.evaluate(prob, lambda o: torch.full((o.shape[0], 1), float("nan")))
    with pytest.raises(InvalidAction, match="shape"):
        mobench.evaluate(prob, lambda o: torch.zeros(o.shape[0], 3))


def test_training_reset_spreads_states_and_keeps_scenarios():
    for target, lo in (("inventory/backlogged-v0:L=4", -10.0), ("inventory/lost-sales-v0:L=3", 0.0)):
        sim = mobench.make(target).sim()
        a = sim.training_reset(4096, torch.Generator().manual_seed(0))
        b = sim.reset(4096, torch.Generator().manual_seed(0))
        assert torch.equal(a["demand"], b["demand"])  # same demand draws as reset
        assert lo <= float(a["on_hand"].min()) < lo + 0.1 and 19.9 < float(a["on_hand"].max()) <= 20.0
        assert float(a["pipeline"].min()) >= 0 and 9.9 < float(a["pipeline"].max()) <= 10.0
        assert float(a["pipeline"].std(0).min()) > 2.5  # every slot varies (uniform on [0, 10]: 2.89)


def test_two_objective_view_matches_the_base_stock_front():
    """inventory/backlogged-2obj-v0: base-stock policies scored by the engine (2048 paths)
    land on the exact front computed by convolution (to sampling error), and the check passes."""
    import torch
    from mobench.check import check_problem
    torch.set_num_threads(1)
    p = mobench.make("inventory/backlogged-2obj-v0:L=4")
    front = p.reference().front
    pols = [lambda obs, S=S: torch.clamp(S - obs.sum(1, keepdim=True), min=0.0) for S in (23.0, 25.0, 28.0)]
    ev = mobench.evaluate(p, pols)
    for held, short in ev.objectives.mean(axis=1):
        gap = np.hypot(front[:, 0] - held, front[:, 1] - short).min()
        assert gap < 0.02 * (held + short)
    s = ev.summary
    assert s["cardinality"] == 3 and 0.5 * s["reference_hv"] < s["hv"] < s["reference_hv"]
    rep = check_problem("inventory/backlogged-2obj-v0:L=4")
    assert rep.ok, "\n".join(rep.lines)
