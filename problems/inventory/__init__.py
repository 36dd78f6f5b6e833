"""Single-store inventory control (HDPO paper: Alvo, Russo, Kanoria, arXiv 2306.11246, sec. 6.1).

``inventory/backlogged-v0``: demand Normal(5, 1.6) clipped at 0, backlogged; reference: the
optimal base-stock level (critical fractile of (L+1)-period demand), kind ``optimal``.
``inventory/lost-sales-v0``: demand Poisson(5), lost sales; reference: relative value
iteration (``optimal``, with the proved interval of the RVI span).
Parameters as in the paper: ``L`` lead time, ``p`` shortage cost, ``h`` holding cost.
Objective: long-run average cost per period (min), estimated on the fixed test scenarios below.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Objective, Reference, Spec, TestScenarios
from ...views import refine
from .dynamics import InventorySim, inventory_position
from .reference import backlogged_base_stock, lost_sales_reference

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

__all__ = ["Backlogged", "LostSales", "BackloggedTwoObjective", "StockView", "InventorySim", "inventory_position",
           "P_COSTS"]
