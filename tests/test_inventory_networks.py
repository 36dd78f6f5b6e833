"""Inventory networks: references against independent computations (brute force, closed forms,
simulation), conservation of stock in every setting, bounds below every policy on small
cases, the symmetry-aware and graph networks' permutation equivariance, the sales loader on a
file the test writes, and one message for each bad parameter."""
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import mobench
from mobench.errors import InvalidParameter, MobenchError, UnknownId
from mobench.problems.inventory import NetworkSim, NetworkView, load_sales
from mobench.problems.inventory.network_reference import (clark_scarf, echelon_cost_2stage, newsvendor_cost,
                                                          transshipment_bound)
from mobench.problems.inventory.reference import backlogged_base_stock
from mobench.problems.inventory.sales import SyntheticSales, sales_bound
from mobench.views import offers

SETTINGS = ["inventory/serial-v0", "inventory/serial-v0:stages=2", "inventory/one-warehouse-v0:n=3",
            "inventory/transshipment-v0:n=3", "inventory/real-lost-sales-v0",
            "inventory/real-lost-sales-v0:returns=true"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def echelon_policy(sim: NetworkSim, levels):
    """Echelon base-stock: q_n = (S_n - echelon position_n)^+ (independent of the solvers)."""
    lv = torch.as_tensor(levels, dtype=torch.float32)
    below = torch.eye(sim.N)
    for m in range(sim.N):
        p = sim.topo.parent[m]
        while p >= 0:
            below[m, p] = 1.0
            p = sim.topo.parent[p]
    high = torch.as_tensor(sim.action_high, dtype=torch.float32)

    def policy(obs):
        pos = sim.split(obs)[0].sum(-1) @ below
        return (lv - pos).clamp_min(0.0).minimum(high)
    return policy


# -- serial: Clark-Scarf -----------------------------------------------------------------------

def test_clark_scarf_one_stage_is_the_single_store_optimum():
    r = clark_scarf([4], [1.0], 9.0, 5.0, 1.6, delta=0.005)
    S, cost = backlogged_base_stock(4, 9.0, 1.0)
    assert r["levels"][0] == pytest.approx(S, abs=0.006) and r["cost"] == pytest.approx(cost, rel=1e-9)


def test_clark_scarf_levels_equal_brute_force_on_two_echelons():
    """The recursion's levels and cost = the best pair on a 0.1 grid of (upstream, store)
    echelon levels, each pair's cost from the policy's own law (no recursion)."""
    args = ([3, 4], [0.5, 1.0], 9.0, 5.0, 2.0)
    r = clark_scarf(*args)
    up, st = r["levels"]
    grid_up, grid_st = np.arange(up - 2, up + 2.01, 0.1), np.arange(st - 2, st + 2.01, 0.1)
    costs = np.stack([echelon_cost_2stage(a, grid_st, *args) for a in grid_up])
    i, j = np.unravel_index(np.argmin(costs), costs.shape)
    assert abs(grid_up[i] - up) < 0.051 and abs(grid_st[j] - st) < 0.051
    assert costs.min() == pytest.approx(r["cost"], rel=1e-9)
    # and the optimum is not an edge of the grid (a true minimum)
    assert 0 < i < len(grid_up) - 1 and 0 < j < len(grid_st) - 1


@pytest.mark.parametrize("target", ["inventory/serial-v0", "inventory/serial-v0:stages=2"])
def test_clark_scarf_policy_simulates_to_the_reference(target):
    prob = mobench.make(target)
    ref = prob.reference()
    assert ref.kind == "optimal"
    s = mobench.evaluate(prob, echelon_policy(prob.sim(), ref.details["levels"])).summary
    assert abs(s["obj:cost"] - ref.value) < 3 * s["obj_se:cost"]
    assert s["obj_se:cost"] / s["obj:cost"] < 4e-3


def test_serial_levels_beat_perturbed_levels_on_common_paths():
    prob = mobench.make("inventory/serial-v0:stages=2")
    lv = np.array(prob.reference().details["levels"])
    base = mobench.evaluate(prob, echelon_policy(prob.sim(), lv)).objectives[0, :, 0]
    for d in ([3, 0], [-3, 0], [0, 2], [0, -2]):
        other = mobench.evaluate(prob, echelon_policy(prob.sim(), lv + d)).objectives[0, :, 0]
        diff = other - base
        assert diff.mean() > 3 * diff.std(ddof=1) / np.sqrt(len(diff))


# -- conservation and physical invariants ------------------------------------------------------

@pytest.mark.parametrize("target", SETTINGS)
def test_stock_is_conserved_and_never_negative_where_sales_are_lost(target):
    """Per period: stock after = stock before + outside orders - sales (- returns); lost
    demand = demand - sales; on-hand >= 0 at every lost-sales store and every upstream node."""
    sim = mobench.make(target).sim()
    gen = torch.Generator().manual_seed(1)
    st = sim.training_reset(128, gen, horizon=40)
    lo = torch.as_tensor(sim.action_low, dtype=torch.float32)
    hi = torch.as_tensor(sim.action_high, dtype=torch.float32)
    roots = sim.roots.bool()
    for t in range(40):
        stock = sim.split(sim.observe(st))[0]
        a = lo + (hi - lo) * torch.rand(128, sim.act_dim, generator=gen) * 0.4
        if t % 5 == 0:
            a = torch.zeros_like(a)   # nobody orders: the transshipment centre splits equally
        d = st["demand"][:, sim.H + t]
        st, r, c, done = sim.step(st, a)
        after = sim.split(sim.observe(st))[0]
        enters = st["shipped"][:, roots].sum(1)
        leaves = st["sold"].sum(1) + st["returned"].sum(1)
        scale = stock.abs().sum((1, 2)) + enters.abs() + leaves + 1   # float32 rounding
        assert ((after.sum((1, 2)) - stock.sum((1, 2)) - enters + leaves).abs() / scale).max() < 1e-5
        torch.testing.assert_close(st["sold"] + st["lost_units"], d)
        fs = sim.first_store
        assert (after[:, :fs, 0] >= 0).all() and (after[..., 1:] >= 0).all()
        if sim.lost:
            assert (after[:, fs:, 0] >= 0).all() and (st["lost_units"] >= 0).all()
        assert c.shape == (128, 0) and (-r >= 0).all()
    assert done.all()


def test_rationing_and_transshipment_allocations():
    """Orders beyond the warehouse's stock are scaled down in proportion; a transshipment
    centre ships all it has, in proportion to the orders."""
    for target, transship in (("inventory/one-warehouse-v0:n=3", False), ("inventory/transshipment-v0:n=3", True)):
        sim = mobench.make(target).sim()
        avail = torch.tensor([[6.0, 0, 0, 0], [100.0, 0, 0, 0]])
        orders = torch.tensor([[0.0, 2, 4, 6], [0.0, 2, 4, 6]])
        ship, out = sim.ship(avail, orders)
        want = orders[:, 1:] * torch.tensor([[0.5], [100 / 12 if transship else 1.0]])
        torch.testing.assert_close(ship[:, 1:], want)
        torch.testing.assert_close(out[:, 0], want.sum(1))


def test_network_simulator_gradient_matches_finite_difference():
    sim = mobench.make("inventory/one-warehouse-v0:n=3").sim()

    def total(q):
        st = sim.reset(16, torch.Generator().manual_seed(5), horizon=20)
        cost = 0
        for t in range(20):
            st, r, _, _ = sim.step(st, q[t].expand(16, -1))
            cost = cost - r.sum()
        return cost

    q = torch.tensor([10.0, 3.0, 6.0, 4.0]).repeat(20, 1).requires_grad_(True)
    total(q).backward()
    for node in (0, 2):
        e = torch.zeros_like(q)
        e[3, node] = 1e-2
        fd = (total(q.detach() + e) - total(q.detach() - e)).item() / 2e-2
        assert q.grad[3, node].item() == pytest.approx(fd, rel=2e-2, abs=2e-2)


# -- bounds ------------------------------------------------------------------------------------

def test_newsvendor_cost_matches_monte_carlo():
    rng = np.random.default_rng(0)
    d = np.maximum(rng.normal(4.0, 1.8, 2_000_000), 0)
    y = np.quantile(d, 8.0 / 9.1)   # the empirical cost's minimiser
    best = np.mean(1.1 * np.maximum(y - d, 0) + 8.0 * np.maximum(d - y, 0))
    assert newsvendor_cost(4.0, 1.8, 1.1, 8.0) == pytest.approx(best, rel=2e-3)


def test_transshipment_bound_with_one_store_is_the_pass_through_optimum():
    """One store behind a centre that ships everything: the relaxation is exact, a base-stock
    store with lead time Lc + L (normal demand, not clipped: the closed form)."""
    r = transshipment_bound([5.0], [[4.0]], 1.0, 4.0, 2, 3)
    sd = 2.0 * np.sqrt(6)
    z = stats.norm.ppf(0.8)
    assert r["value"] == pytest.approx(5 * sd * stats.norm.pdf(z), rel=1e-6)


def _candidates(sim):
    """Policies to hold against a bound: echelon base-stock at several levels (each location's
    mean throughput x (its lead times down to a store + 1) x k), and a constant order of the
    mean throughput."""
    static = sim.static_features()
    lead, m = static[:, 0], static[:, 3]
    down = lead.clone()
    for n in range(sim.N - 1, -1, -1):
        kids = sim.topo.children(n)
        if kids:
            down[n] = lead[n] + max(down[k] for k in kids)
    pols = [echelon_policy(sim, (down + 1) * m * k) for k in (0.95, 1.15)]
    pols.append(lambda obs: m.expand(obs.shape[0], -1).clone())
    return pols


@pytest.mark.parametrize("target", ["inventory/one-warehouse-v0:n=3", "inventory/transshipment-v0:n=3",
                                    "inventory/transshipment-v0:n=1"])
def test_no_policy_beats_the_bound(target):
    prob = mobench.make(target)
    ref = prob.reference()
    assert ref.kind == "bound" and prob.reference_kind() == "bound"
    costs = []
    for pol in _candidates(prob.sim()):
        s = mobench.evaluate(prob, pol).summary
        assert s["obj:cost"] > ref.value - 3 * s["obj_se:cost"]
        costs.append(s["obj:cost"])
    if "transshipment" in target:   # the balance bound is close to a good policy
        assert min(costs) < 1.25 * ref.value


def test_sales_bound_matches_monte_carlo_and_holds():
    prod = SyntheticSales().products(3, torch.Generator().manual_seed(4))
    weeks = np.array([10, 49])
    b = sales_bound(prod, weeks)
    # Monte Carlo of the same per-week newsvendor problem, the best integer level per week
    rng = np.random.default_rng(1)
    mc = []
    for k in range(3):
        per_week = []
        for w in weeks:
            mu = SyntheticSales.seasonal_mean({x: v[k:k + 1] for x, v in prod.items()}, torch.tensor([[w]]))[0, 0].item()
            z, s, p = float(prod["z"][k]), float(prod["s"][k]), float(prod["p"][k])
            lam = mu / (1 - z) * np.exp(s * rng.standard_normal(400_000) - s * s / 2)
            d = rng.poisson(lam) * (rng.random(400_000) >= z)
            ys = np.arange(0, int(np.percentile(d, 99.9)) + 2)
            per_week.append(min(np.mean(np.maximum(y - d, 0) + p * np.maximum(d - y, 0)) for y in ys))
        mc.append(np.mean(per_week))
    np.testing.assert_allclose(b, mc, rtol=0.02)


def test_real_lost_sales_policies_stay_above_the_bound():
    prob = mobench.make("inventory/real-lost-sales-v0")
    ref = prob.reference()
    assert ref.kind == "bound"
    sim = prob.sim()

    def base_stock(k):
        def policy(obs):
            stock, feats, _ = sim.split(obs)
            hist = feats[:, 0, :sim.H].mean(1)
            L = feats[:, 0, sim.H + 2] * 5
            return (k * (L + 1) * hist - stock.sum((1, 2))).clamp(0, float(sim.action_high[0])).unsqueeze(1)
        return policy
    for k in (1.0, 1.4):
        s = mobench.evaluate(prob, base_stock(k)).summary
        assert s["obj:cost"] > ref.value - 3 * s["obj_se:cost"]


# -- sales data --------------------------------------------------------------------------------

def test_synthetic_sales_have_the_real_data_features():
    d = SyntheticSales().draw(2000, 104, torch.Generator().manual_seed(0))
    sales = d["demand"][..., 0]
    assert (sales == 0).float().mean() > 0.1                        # intermittent
    means = sales.mean(1)
    assert means.quantile(0.95) / means.quantile(0.05).clamp_min(0.05) > 20   # heterogeneous scales
    weeks = torch.arange(-16, 104)
    xmas = sales[:, ((weeks % 52) == 49) | ((weeks % 52) == 50)].mean()
    summer = sales[:, ((weeks % 52) >= 20) & ((weeks % 52) <= 30)].mean()
    assert xmas > 1.2 * summer                                      # seasonal, peaking at Christmas
    assert set(d["L"][:, 0].tolist()) == {4, 5, 6}
    again = SyntheticSales().draw(2000, 104, torch.Generator().manual_seed(0))
    assert torch.equal(again["demand"], d["demand"])


def _write_sales(tmp_path, products=6, weeks=64):
    g = torch.Generator().manual_seed(0)
    sales = torch.poisson(torch.full((products, 1, weeks), 7.0), generator=g)
    sales[0, 0, 3] = -2.0   # a return in the data counts as no demand
    torch.save(sales, tmp_path / "weekly_sales.pt")
    pd.DataFrame({"date": pd.date_range("2013-01-01", periods=weeks, freq="7D").astype(str),
                  "days_from_christmas": (np.arange(weeks) * 7 + 7) % 365 - 182}).to_csv(
        tmp_path / "dates_with_info.csv", index=False)
    pd.DataFrame({"store_nbr": [1] * products, "item_nbr": range(products)}).to_csv(
        tmp_path / "tensors_row_info.csv", index=False)
    return sales


def test_sales_file_loader_and_problem(tmp_path):
    sales = _write_sales(tmp_path)
    data = load_sales(tmp_path)
    assert data.sales.shape == (6, 64) and data.sales[0, 3] == 0 and len(data.row_info) == 6
    prob = mobench.make("inventory/real-lost-sales-v0", sales=str(tmp_path))
    sc = prob.spec.scenarios
    assert sc.n == 6 and prob.reference().kind == "none" and prob.reference_kind() == "none"
    sim = prob.sim()
    st = sim.reset(sc.n, torch.Generator().manual_seed(sc.seed), horizon=sc.horizon)
    # the test window is the file's last weeks, its 16 weeks of history before it
    torch.testing.assert_close(st["demand"][:, :sc.horizon + 16, 0], sales[:, 0, 64 - sc.horizon - 16:].clamp_min(0))
    s = mobench.evaluate(prob, lambda o: torch.full((o.shape[0], 1), 7.0)).summary
    assert np.isfinite(s["obj:cost"]) and "gap_pct" not in s
    # training windows stay before the development and test windows
    tr = sim.reset(64, torch.Generator().manual_seed(3), horizon=20)["demand"][..., 0]
    assert tr.shape == (64, 16 + 20 + 1)


def test_sales_file_errors_name_the_cause(tmp_path):
    with pytest.raises(InvalidParameter, match="no weekly_sales.pt"):
        mobench.make("inventory/real-lost-sales-v0", sales=str(tmp_path))
    torch.save(torch.zeros(3, 2, 40), tmp_path / "weekly_sales.pt")
    with pytest.raises(InvalidParameter, match=r"expected a tensor \[products, 1, weeks\]"):
        load_sales(tmp_path)
    (tmp_path / "weekly_sales.pt").write_text("not a tensor")
    with pytest.raises(InvalidParameter, match="not a torch tensor file"):
        load_sales(tmp_path)


# -- parameters --------------------------------------------------------------------------------

@pytest.mark.parametrize("target,error,message", [
    ("inventory/one-warehouse-v0:n=0", InvalidParameter, r"n=0 is out"),
    ("inventory/transshipment-v0:n=0", InvalidParameter, r"n=0 is out"),
    ("inventory/transshipment-v0:p=-1", InvalidParameter, r"p=-1.0 is out"),
    ("inventory/one-warehouse-v0:hw=-0.5", InvalidParameter, r"hw=-0.5 is out"),
    ("inventory/serial-v0:p=-9", InvalidParameter, r"p=-9.0 is out"),
    ("inventory/serial-v0:stages=7", InvalidParameter, r"stages=7 is out"),
    ("inventory/one-warehouse-v0:setting=many", InvalidParameter, r"unknown parameter\(s\) \['setting'\]"),
    ("inventory/many-warehouses-v0", UnknownId, "many-warehouses-v0"),
])
def test_bad_parameters_are_refused_with_one_message(target, error, message):
    with pytest.raises(error, match=message) as e:
        mobench.make(target)
    assert isinstance(e.value, MobenchError) and "\n" not in str(e.value)


def test_views_and_specs():
    for t in SETTINGS:
        p = mobench.make(t)
        assert offers(p, NetworkView) and p.spec.n_obj == 1 and "network" in p.spec.tags
    assert not offers(mobench.make("inventory/lost-sales-v0"), NetworkView)
    assert "oracle" in mobench.make("inventory/one-warehouse-v0:peek=7").spec.description


# -- network policies ----------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["symmetry", "gnn"])
def test_network_policies_are_permutation_equivariant_in_the_stores(arch):
    from mobench.solvers.hdpo import NETWORKS
    sim = mobench.make("inventory/one-warehouse-v0:n=4").sim()
    torch.manual_seed(0)
    net = NETWORKS[arch](sim, 16, 2)
    obs = sim.observe(sim.training_reset(8, torch.Generator().manual_seed(2)))
    perm = torch.tensor([2, 0, 3, 1])
    nodes = torch.cat([torch.zeros(1, dtype=torch.long), perm + 1])
    stock = sim.split(obs)[0][:, nodes]
    static = net.inputs.static[nodes]
    with torch.no_grad():
        a = net(obs)
        b = net(stock.reshape(8, -1), static=static)
    torch.testing.assert_close(b, a[:, nodes], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a[:, 1:], a[:, nodes[1:]])   # the stores do differ


@pytest.mark.parametrize("target", ["inventory/serial-v0:peek=14", "inventory/one-warehouse-v0:n=3,peek=7",
                                    "inventory/real-lost-sales-v0:peek=7"])
def test_perfect_foresight_costs_nothing(target):
    """Ordering up to exactly the demand until the order arrives leaves nothing held and
    nothing short once the start stock is used: a check of every lead-time offset."""
    from mobench.registry import make_solver
    from mobench.solver import Budget, Clock, Log
    prob = mobench.make(target)
    clock = Clock(Budget(steps=1))
    out = make_solver("just-in-time").solve(prob, clock, 0, Log(clock))
    s = mobench.evaluate(prob, out).summary
    assert s["obj:cost"] < 1e-3 and s["gap_pct"] < -99.9
    assert make_solver("just-in-time").unfit(mobench.make("inventory/serial-v0")) is not None


def test_vanilla_network_is_not_equivariant_but_runs():
    from mobench.solvers.hdpo import NETWORKS
    sim = mobench.make("inventory/transshipment-v0:n=3").sim()
    net = NETWORKS["mlp"](sim, 16, 2)
    obs = sim.observe(sim.reset(4, torch.Generator().manual_seed(0)))
    a = net(obs)
    sim.check_action(a.detach(), 4)


@pytest.mark.parametrize("solver,target", [("just-in-time", "inventory/one-warehouse-v0:n=3,peek=7"),
                                           ("returns-nv", "inventory/real-lost-sales-v0:returns=true"),
                                           ("capped-base-stock-per-store", "inventory/transshipment-v0:n=3")])
def test_solver_check_on_the_problems_they_need(solver, target):
    """`mobench check` tries default problems only; these solvers need a problem's variant."""
    from mobench.check import check_solver
    rep = check_solver(solver, target, seconds=10)
    assert rep.ok, "\n".join(rep.lines)
