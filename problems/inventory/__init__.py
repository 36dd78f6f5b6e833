"""Single-store inventory control (HDPO paper: Alvo, Russo, Kanoria, arXiv 2306.11246, sec. 6.1).

``inventory/backlogged-v0``: demand Normal(5, 1.6) clipped at 0, backlogged; reference: the
optimal base-stock level (critical fractile of (L+1)-period demand), kind ``optimal``.
``inventory/lost-sales-v0``: demand Poisson(5), lost sales; reference: relative value
iteration (``optimal``, with the proved interval of the RVI span).
Parameters as in the paper: ``L`` lead time, ``p`` shortage cost, ``h`` holding cost.
Objective: long-run average cost per period (min), estimated on the fixed test scenarios below.

Networks (the same paper's sections 6.2-6.4 and its code's settings; ``settings.py``):
``inventory/serial-v0`` (Clark-Scarf, ``optimal``), ``inventory/one-warehouse-v0`` (per-store
newsvendor bound), ``inventory/transshipment-v0`` (balance-relaxation bound),
``inventory/real-lost-sales-v0`` (one store per product on sales-shaped demand; newsvendor bound
under the generator's law). Their objective is the cost per store and period.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Objective, Reference, Spec, TestScenarios
from ...views import refine
from .dynamics import InventorySim, inventory_position
from .network import NetworkSim, Topology
from .reference import backlogged_base_stock, lost_sales_reference
from .sales import SalesData, load_sales
from .settings import OneWarehouse, RealLostSales, Serial, Transshipment

# Test scenarios: 8192 demand paths of 2100 periods, the first 100 discarded (the start state is
# one mean demand on hand and in each pipeline slot); the cost is the per-period average over
# the remaining 2000. Standard error of the estimate: <= 0.1% of the cost for every paper
# setting (tests/test_inventory.py measures it on the optimal policies).
SCENARIOS = TestScenarios(seed=20230619, n=8192, horizon=2100, warmup=100, aggregate="mean",
                          dev_seed=20230620)
Q_MAX = 30.0  # largest order accepted (6x mean demand); optimal orders stay far below it
ENV_HORIZON = 200  # episode length of the Gymnasium view (training only)


@runtime_checkable
class StockView(Protocol):
    """One store's stock simulated by an InventorySim: ``sim()``.

    Its observation is the stock on hand, then the pipeline; the action is one order; it has
    the ``mean`` demand and the lead time ``L``."""

    def sim(self) -> InventorySim: ...


refine(StockView, lambda p: isinstance(p.sim(), InventorySim))


@runtime_checkable
class NetworkView(Protocol):
    """An inventory network simulated by a NetworkSim: ``sim()``.

    Its observation splits (``sim.split``) into each node's stock (on-hand, then pipeline), each
    store's observed features and the calendar; the action is one order per node (upstream
    first, stores last); ``sim.topo`` is the supply tree and ``sim.static_features()`` each
    node's parameters."""

    def sim(self) -> NetworkSim: ...


refine(NetworkView, lambda p: isinstance(p.sim(), NetworkSim))


class SingleStore(Problem):
    lost_sales: bool
    demand: str
    mean, std = 5.0, None

    def __init__(self, target, L: int, p: float, h: float):
        super().__init__(target)
        self.L, self.p, self.h = L, p, h
        kind = "lost sales" if self.lost_sales else "backlogged demand"
        self.spec = Spec(
            id=self.id, objectives=(Objective("cost", "min"),), answer="policy", scenarios=SCENARIOS,
            description=f"single store, {kind}, lead time {L}, p={p:g}, h={h:g}",
            tags=("inventory",))

    def sim(self) -> InventorySim:
        return InventorySim(self.L, self.p, self.h, self.lost_sales, self.demand, self.mean,
                            self.std, Q_MAX, ENV_HORIZON)

    def reference_kind(self) -> str:
        return "optimal"  # both references are exact; the catalogue need not compute them


class Backlogged(SingleStore):
    lost_sales, demand, mean, std = False, "normal", 5.0, 1.6

    def reference(self) -> Reference:
        level, cost = backlogged_base_stock(self.L, float(self.p), float(self.h), self.mean, self.std)
        return Reference("optimal", value=cost, source="base-stock at the critical fractile "
                         "of (L+1)-period demand (numerical convolution)", details={"S": level})


class LostSales(SingleStore):
    lost_sales, demand, mean = True, "poisson", 5.0

    def reference(self) -> Reference:
        r = lost_sales_reference(self.L, float(self.p), float(self.h), self.mean)
        return Reference("optimal", value=r["g"], lower=r["lower"], upper=r["upper"],
                         source="relative value iteration over integer orders", details=r)


class BackloggedTwoObjective(Problem):
    """The backlogged single store with its two cost terms as objectives: units held and units
    backlogged per period (both min), answered by a set of policies. Every stationary policy's
    pair is dominated by a base-stock policy's (each weighted sum h x held + p x short is
    minimised by a base-stock level, and both terms are convex in it), so the exact front is
    traced by the base-stock levels (``optimal``). HV reference point (10, 5): two periods'
    mean demand held, one period's backlogged."""
    mean, std = 5.0, 1.6

    def __init__(self, target, L: int):
        super().__init__(target)
        self.L = L
        self.spec = Spec(id=self.id, objectives=(Objective("held", "min"), Objective("short", "min")),
                         answer="pareto-policies", scenarios=MO_SCENARIOS, hv_ref_point=(10.0, 5.0),
                         description=f"single store, backlogged demand, lead time {L}: units held vs units short",
                         tags=("inventory",))

    def sim(self) -> InventorySim:
        return InventorySim(self.L, 1.0, 1.0, False, "normal", self.mean, self.std, Q_MAX, ENV_HORIZON, split=True)

    def reference_kind(self) -> str:
        return "optimal"  # without tracing the front (the catalogue asks every problem)

    def reference(self) -> Reference:
        from .reference import base_stock_tradeoff
        S, held, short = base_stock_tradeoff(self.L, self.mean, self.std)
        keep = (held < 10.0) & (short < 5.0)
        idx = np.flatnonzero(keep)[::max(1, keep.sum() // 400)]  # about 400 points along the curve
        return Reference("optimal", front=np.stack([held[idx], short[idx]], 1),
                         source="base-stock levels on a 0.005 grid (numerical convolution)",
                         details={"S": S[idx].tolist()})


# Fewer, shorter paths than the single-objective versions (several policies are scored per answer).
MO_SCENARIOS = TestScenarios(seed=20230621, n=2048, horizon=1100, warmup=100, aggregate="mean",
                             dev_seed=20230622)
P_COSTS = (4.0, 9.0, 19.0, 39.0)
register("inventory/backlogged-v0", Backlogged, params={
    "L": Param(1, low=1, high=10, doc="lead time (periods); paper: 1, 4, 7, 10"),
    "p": Param(9.0, low=1e-9, doc="shortage (backlog) cost per unit per period; paper: 4, 9, 19, 39"),
    "h": Param(1.0, low=1e-9, doc="holding cost per unit per period")},
    description="single store, Normal(5, 1.6) demand clipped at 0, backlogged",
    suites=("smoke", "standard"))
register("inventory/backlogged-2obj-v0", BackloggedTwoObjective, params={
    "L": Param(1, low=1, high=10, doc="lead time (periods)")},
    description="single store, backlogged: units held and units short as two objectives (Pareto set)")
register("inventory/lost-sales-v0", LostSales, params={
    "L": Param(1, low=1, high=4, doc="lead time (periods); paper: 1, 2, 3, 4"),
    "p": Param(9.0, low=1e-9, doc="lost-sale cost per unit; paper: 4, 9, 19, 39"),
    "h": Param(1.0, low=1e-9, doc="holding cost per unit per period")},
    description="single store, Poisson(5) demand, lost sales",
    suites=("smoke", "standard"))

# Suites. smoke: two settings x four solvers with small budgets (minutes on 2 CPU cores);
# standard: every paper setting with each solver's default budget.
SMOKE_BUDGETS = {"base-stock": None, "hdpo": (12_000_000, 120), "ppo": (40_000, 120), "random": None}
for _target in ("inventory/backlogged-v0:L=1,p=9", "inventory/lost-sales-v0:L=2,p=9"):
    register_suite("smoke", _target, SMOKE_BUDGETS)
for _L in (1, 4, 7, 10):
    for _p in P_COSTS:
        register_suite("standard", f"inventory/backlogged-v0:L={_L},p={_p:g}",
                       {"base-stock": None, "hdpo": None, "ppo": None})
for _L in (1, 2, 3, 4):
    for _p in P_COSTS:
        register_suite("standard", f"inventory/lost-sales-v0:L={_L},p={_p:g}",
                       {"base-stock": None, "capped-base-stock": None, "hdpo": None, "ppo": None})

# paper-hdpo: the single-store leaderboard's cells (results/leaderboards/inventory-targets.md):
# the paper's 16 backlogged and 8 lost-sales settings (the lost-sales ones with p = 4, 9, whose
# optima Zipkin (2008) tabulates), HDPO, base-stock and PPO at their default budgets.
PAPER_SINGLE_STORE = ([f"inventory/backlogged-v0:L={L},p={p}" for L in (1, 4, 7, 10) for p in (4, 9, 19, 39)]
                      + [f"inventory/lost-sales-v0:L={L},p={p}" for L in (1, 2, 3, 4) for p in (4, 9)])
for _target in PAPER_SINGLE_STORE:
    register_suite("paper-hdpo", _target, {"hdpo": None, "base-stock": None, "ppo": None})

_NO_PEEK = Param(0, low=0, high=16, in_key=lambda v: v["peek"] > 0,
                 doc="oracle: periods of future demand in the observation (non-admissible; 0 = none)")
register("inventory/serial-v0", Serial, params={
    "stages": Param(4, low=1, high=4, doc="locations in series (the last ones of the source's 4-stage chain)"),
    "p": Param(9.0, low=0.0, doc="backlog cost per unit and period at the store"),
    "L": Param(4, low=1, high=10, doc="the store's lead time"),
    "peek": _NO_PEEK},
    description="serial system (source: serial_system), Normal(5, 2) demand, backlogged; Clark-Scarf optimum")
register("inventory/one-warehouse-v0", OneWarehouse, params={
    "n": Param(5, low=1, high=100, doc="stores; source: 3, 5, 10, 20, 30, 50"),
    "rho": Param(0.5, low=0.0, high=0.99, doc="correlation of store demands"),
    "Lw": Param(3, low=1, high=10, doc="warehouse lead time (source: 3; 6 in its 2024 settings)"),
    "hw": Param(0.3, low=0.0, doc="warehouse holding cost"),
    "peek": _NO_PEEK},
    description="one warehouse, n stores, lost sales (source: one_warehouse_lost_demand); newsvendor bound")
register("inventory/transshipment-v0", Transshipment, params={
    "n": Param(5, low=1, high=100, doc="stores; source: 3, 5, 10"),
    "rho": Param(0.5, low=0.0, high=0.99, doc="correlation of store demands; source: 0, 0.5"),
    "L": Param(2, low=1, high=10, doc="store lead time; source: 2, 6"),
    "Lc": Param(3, low=1, high=10, doc="centre lead time"),
    "p": Param(4.0, low=0.0, doc="backlog cost; source: 4, 9"),
    "h": Param(1.0, low=0.0, doc="store holding cost"),
    "hc": Param(0.5, low=0.0, doc="centre holding cost (never incurred: the centre ships everything)"),
    "peek": _NO_PEEK},
    description="transshipment centre and n stores, backlogged (source: transshipment_backlogged); balance bound")
register("inventory/real-lost-sales-v0", RealLostSales, params={
    "sales": Param("", in_key=lambda v: bool(v["sales"]),
                   doc="directory of a sales file in the source's layout; empty: the synthetic generator"),
    "returns": Param(False, in_key=lambda v: v["returns"], doc="stores may return stock (negative orders; non-admissible)"),
    "peek": _NO_PEEK},
    description="one store per product, sales-shaped weekly demand, lost sales (source: one_store_real_data_lost_demand)")

# Network suites. smoke: one warehouse with 3 stores, two solvers, ten seconds each.
# paper-hdpo-networks: the leaderboard's cells (results/leaderboards/inventory-networks.md): the
# source's settings at its sizes (one warehouse: n = 3..50; transshipment: its default n = 5),
# budgets in (steps, seconds) that fit a shared 2-core CPU (3 seeds in about 90 minutes).
register_suite("smoke", "inventory/one-warehouse-v0:n=3", {"echelon-base-stock": (None, 10),
                                                          "hdpo:arch=symmetry": (None, 10)})


def _s(seconds):
    return (10**10, seconds)   # a seconds budget (the steps never bind)


_HEUR = {"echelon-base-stock": _s(60), "capped-base-stock-per-store": _s(60)}
_NETS = {"hdpo": _s(90), "hdpo:arch=symmetry": _s(120), "hdpo:arch=gnn": _s(90)}
NETWORK_CELLS = {
    "inventory/serial-v0": {"hdpo": _s(240), "hdpo:arch=gnn": _s(90), **_HEUR, "ppo": _s(60)},
    "inventory/serial-v0:peek=14": {"just-in-time": None},
    "inventory/one-warehouse-v0:n=3": {**_NETS, **_HEUR, "ppo": _s(60)},
    **{f"inventory/one-warehouse-v0:n={n}": {"hdpo:arch=symmetry": _s(120), "echelon-base-stock": _s(45),
                                             "capped-base-stock-per-store": _s(45)} for n in (5, 10, 20, 30)},
    "inventory/one-warehouse-v0:n=50": {"hdpo": _s(150), "hdpo:arch=symmetry": _s(180), "hdpo:arch=gnn": _s(150),
                                        "echelon-base-stock": _s(90), "capped-base-stock-per-store": _s(90)},
    "inventory/one-warehouse-v0:n=3,peek=7": {"just-in-time": None},
    "inventory/transshipment-v0": {"hdpo": _s(90), "hdpo:arch=symmetry": _s(90), "hdpo:arch=gnn": _s(90),
                                   "echelon-base-stock": _s(45), "capped-base-stock-per-store": _s(45), "ppo": _s(60)},
    "inventory/real-lost-sales-v0": {"hdpo": _s(90), "quantile-nv": _s(45), "fixed-quantile": _s(45),
                                     "transformed-nv": _s(45), "ppo": _s(60)},
    "inventory/real-lost-sales-v0:returns=true": {"returns-nv": _s(45)},
    "inventory/real-lost-sales-v0:peek=7": {"just-in-time": None},
}
for _target, _cells in NETWORK_CELLS.items():
    register_suite("paper-hdpo-networks", _target, _cells)

__all__ = ["PAPER_SINGLE_STORE", "Backlogged", "LostSales", "BackloggedTwoObjective", "StockView", "InventorySim", "inventory_position",
           "P_COSTS", "NetworkView", "NetworkSim", "Topology", "Serial", "OneWarehouse", "Transshipment",
           "RealLostSales", "SalesData", "load_sales"]
