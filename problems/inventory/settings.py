"""The network settings of the source's code (``config_files/settings``), as problems: serial
system, one warehouse with many stores, transshipment, and one store per product on sales data.
Cost conventions are the single-store ones (``network.py``); README.md says what follows the
source and what is our choice."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ...cache import cached_json
from ...errors import InvalidParameter
from ...problem import Problem
from ...spec import Objective, Reference, Spec, TestScenarios
from .network import NetworkSim, NormalDemand, Topology, one_warehouse, serial, stores_only
from .network_reference import clark_scarf, newsvendor_bound, transshipment_bound
from .sales import FileSales, SyntheticSales, load_sales, sales_bound

# Test scenarios: 2048 paths of 600 periods, the first 100 discarded (the source: 8192-32768
# paths of 5000 periods, 3000 discarded), or 16384 / stores paths where there are more than 8
# stores (a network policy's evaluation then costs about the same at every size, and the cost
# per store, an average over the stores, varies less: the standard error stays below 0.4% of
# the cost; tests measure it).
NET_SCENARIOS = TestScenarios(seed=20230623, n=2048, horizon=600, warmup=100, aggregate="mean",
                              dev_seed=20230624)


def net_scenarios(stores: int) -> TestScenarios:
    return replace(NET_SCENARIOS, n=max(256, min(NET_SCENARIOS.n, 16384 // stores)))
# Sales: 4096 products over three years of weeks, the first year discarded.
SALES_SCENARIOS = TestScenarios(seed=20230625, n=4096, horizon=156, warmup=52, aggregate="mean",
                                dev_seed=20230626)
ENV_HORIZON = 200
ORDER_BOX = 8.0   # each node orders at most 8 x its mean throughput per period

# serial_system: supplier -> echelon 0 -> echelon 1 -> warehouse -> store (upstream first)
SERIAL_LEAD = (2, 4, 3, 4)
SERIAL_H = (0.1, 0.2, 0.5, 1.0)
SERIAL_MEAN, SERIAL_STD = 5.0, 2.0


def paper_stores(n: int) -> dict:
    """The source's sampled store parameters for n stores (its seeds, in its call order, with
    numpy's legacy generator; n stores are the first n of any larger draw): demand means
    U[2.5, 7.5] and coefficients of variation U[0.25, 0.5] (rounded to 3 decimals, as there),
    lost-sale costs U[6.3, 11.7], holding costs U[0.7, 1.3], lead times in {2, 3}."""
    rs = np.random.RandomState
    mean = rs(33).uniform(2.5, 7.5, n).round(3)
    std = (mean * rs(92).uniform(0.25, 0.5, n)).round(3)
    return {"mean": mean, "std": std, "p": rs(28).uniform(6.3, 11.7, n), "h": rs(73).uniform(0.7, 1.3, n),
            "L": rs(41).randint(2, 4, n)}


class Network(Problem):
    """Common parts: the spec, the simulator, the order boxes."""
    topo: Topology
    scenarios: TestScenarios | None = None    # default: net_scenarios(stores)

    def _spec(self, what: str):
        self.spec = Spec(id=self.id, objectives=(Objective("cost", "min"),), answer="policy",
                         scenarios=self.scenarios or net_scenarios(self.topo.n_stores),
                         description=what + (
                             f"; oracle: the next {self.peek} periods' demand observed (non-admissible)"
                             if self.peek else ""), tags=("inventory", "network"))

    def _boxes(self, mean):
        m = np.asarray(mean, float)
        return tuple(ORDER_BOX * m[self.topo.stores_below(i)].sum() for i in range(self.topo.n))

    def sim(self) -> NetworkSim:
        raise NotImplementedError


def _check_costs(owner, **costs):
    for k, v in costs.items():
        if not np.all(np.asarray(v, float) >= 0):
            raise InvalidParameter(f"{owner}: {k} must be >= 0, got {v}")


class Serial(Network):
    """``stages`` locations in series (the source: 4), the last ``stages`` of the source's chain;
    Normal(5, 2) demand clipped at 0, backlogged at the store; reference: Clark-Scarf."""

    def __init__(self, target, stages: int, p: float, L: int, peek: int):
        super().__init__(target)
        _check_costs(self.id, p=p)
        self.stages, self.p, self.peek = stages, p, peek
        self.lead = SERIAL_LEAD[4 - stages:-1] + (L,)
        self.h = SERIAL_H[4 - stages:]
        self.topo = serial(stages)
        self._spec(f"serial system of {stages} stages, lead times {self.lead}, installation holding "
                   f"costs {self.h}, backlog cost {p:g}, Normal(5, 2) demand")

    def sim(self) -> NetworkSim:
        demand = NormalDemand([SERIAL_MEAN], [SERIAL_STD], clip=True)
        return NetworkSim(self.topo, self.lead, self.h, (self.p,), False, demand, (SERIAL_MEAN,),
                          self._boxes([SERIAL_MEAN]), horizon=ENV_HORIZON, peek=self.peek)

    def reference_kind(self) -> str:
        return "optimal"

    def reference(self) -> Reference:
        key = f"clark_scarf_lead={'-'.join(map(str, self.lead))}_h={'-'.join(f'{x:g}' for x in self.h)}_p={self.p:g}_v2"
        r = cached_json("inventory", key, lambda: clark_scarf(self.lead, self.h, self.p, SERIAL_MEAN, SERIAL_STD))
        return Reference("optimal", value=r["cost"], source="Clark-Scarf echelon base-stock levels, stage-by-stage "
                         "recursion on a 0.01 grid (numerical convolution)", details={"levels": r["levels"]})


class OneWarehouse(Network):
    """One warehouse supplying ``n`` stores (the source's sampled store parameters), correlated
    normal demand clipped at 0, lost sales; reference: the per-store newsvendor bound."""

    def __init__(self, target, n: int, rho: float, Lw: int, hw: float, peek: int):
        super().__init__(target)
        _check_costs(self.id, hw=hw)
        self.n, self.rho, self.Lw, self.hw, self.peek = n, rho, Lw, hw, peek
        self.stores = paper_stores(n)
        self.topo = one_warehouse(n)
        self._spec(f"one warehouse (lead time {Lw}, holding {hw:g}) and {n} stores, lost sales, "
                   f"correlated normal demand (rho {rho:g})")

    def sim(self) -> NetworkSim:
        st = self.stores
        demand = NormalDemand(st["mean"], st["std"], self.rho, clip=True)
        return NetworkSim(self.topo, (self.Lw,) + tuple(int(x) for x in st["L"]), (self.hw,) + tuple(st["h"]),
                          tuple(st["p"]), True, demand, tuple(st["mean"]), self._boxes(st["mean"]),
                          horizon=ENV_HORIZON, peek=self.peek)

    def reference_kind(self) -> str:
        return "bound"

    def reference(self) -> Reference:
        st = self.stores
        v = newsvendor_bound(st["mean"], st["std"], st["h"], st["p"])
        return Reference("bound", value=v, lower=v, source="per-store newsvendor bound (each store's "
                         "single-period cost at its critical fractile; warehouse costs >= 0)")


class Transshipment(Network):
    """A centre that holds nothing (it ships all it receives, in proportion to the stores'
    orders) and ``n`` stores; normal demand not clipped (as the source), backlogged;
    reference: the balance-relaxation bound."""

    def __init__(self, target, n: int, rho: float, L: int, Lc: int, p: float, h: float, hc: float, peek: int):
        super().__init__(target)
        _check_costs(self.id, p=p, h=h, hc=hc)
        self.n, self.rho, self.L, self.Lc, self.p, self.h, self.hc, self.peek = n, rho, L, Lc, p, h, hc, peek
        self.stores = paper_stores(n)
        self.topo = one_warehouse(n)
        self._spec(f"transshipment centre (lead time {Lc}) and {n} stores (lead time {L}), backlogged, "
                   f"p {p:g}, h {h:g}, correlated normal demand (rho {rho:g}, not clipped)")

    def _demand(self):
        st = self.stores
        return NormalDemand(st["mean"], st["std"], self.rho, clip=False)

    def sim(self) -> NetworkSim:
        st = self.stores
        return NetworkSim(self.topo, (self.Lc,) + (self.L,) * self.n, (self.hc,) + (self.h,) * self.n,
                          (self.p,) * self.n, False, self._demand(), tuple(st["mean"]), self._boxes(st["mean"]),
                          transship=True, horizon=ENV_HORIZON, peek=self.peek)

    def reference_kind(self) -> str:
        return "bound"

    def reference(self) -> Reference:
        chol = self._demand().chol.double()
        r = transshipment_bound(self.stores["mean"], (chol @ chol.T).numpy(), self.h, self.p, self.L, self.Lc)
        return Reference("bound", value=r["value"], lower=r["value"], source="balance relaxation (allocations "
                         "may take stock back): one base-stock problem on the system position", details=r)


class RealLostSales(Network):
    """One store per product, weekly demand with the features of the source's real data
    (synthetic generator, or a sales file in the source's layout), lost sales, lead times
    {4, 5, 6} and lost-sale costs U[6.3, 11.7] per product; reference: the per-period
    newsvendor bound under the generator's law (synthetic), none for a file."""
    scenarios = SALES_SCENARIOS

    def __init__(self, target, sales: str, returns: bool, peek: int):
        super().__init__(target)
        self.sales_dir, self.returns, self.peek = sales, returns, peek
        self.topo = stores_only(1)
        if sales:
            data = load_sales(sales)
            K, W = data.sales.shape
            test = max(8, (W - 16) // 6)
            self.scenarios = TestScenarios(seed=SALES_SCENARIOS.seed, n=K, horizon=test, warmup=min(16, test // 2),
                                           aggregate="mean", dev_seed=SALES_SCENARIOS.dev_seed)
            self.demand = FileSales(data, test, SALES_SCENARIOS.seed, SALES_SCENARIOS.dev_seed)
            self.q_top = float(ORDER_BOX * max(1.0, float(data.sales.max())))
        else:
            self.demand = SyntheticSales()
            self.q_top = 5000.0
        self._spec("one store per product, weekly " + (f"sales from {sales}" if sales else
                   "synthetic sales shaped like the source's real data") + ", lost sales"
                   + (", returns allowed (non-admissible)" if returns else ""))

    def sim(self) -> NetworkSim:
        return NetworkSim(self.topo, (6,), (1.0,), (9.0,), True, self.demand, (1.0,), (self.q_top,),
                          horizon=ENV_HORIZON, peek=self.peek, returns=self.returns, max_lead=6)

    def reference_kind(self) -> str:
        return "none" if self.sales_dir else "bound"

    def reference(self) -> Reference:
        if self.sales_dir:
            return Reference.none("sales read from a file: the demand's law is unknown, so no bound is computed")
        sc = self.scenarios

        def compute():
            prod = SyntheticSales().products(sc.n, torch.Generator().manual_seed(sc.seed))
            v = sales_bound(prod, np.arange(sc.warmup, sc.horizon))
            return {"value": float(v.mean()), "per_product_max": float(v.max())}
        r = cached_json("inventory", f"sales_bound_{sc.seed}_{sc.n}_{sc.horizon}_{sc.warmup}_v1", compute)
        return Reference("bound", value=r["value"], lower=r["value"], source="per-period newsvendor cost under "
                         "the generator's law of each product's weekly demand", details=r)


__all__ = ["Serial", "OneWarehouse", "Transshipment", "RealLostSales", "paper_stores", "NET_SCENARIOS",
           "SALES_SCENARIOS"]
