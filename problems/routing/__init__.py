"""Combinatorial BQ-MDPs (Drakulic, Michel, Mai, Sors, Andreoli, "BQ-NCO: Bisimulation
Quotienting for Efficient Neural Combinatorial Optimization", NeurIPS 2023).

``routing/tsp-v0``: the closed TSP on a fixed, seeded test set of ``N`` uniform points (1,000
instances for N <= 100, 128 above, as in the paper; seed 1000 + N), or on one TSPLIB file
(``instance`` = a shipped name such as ``eil51``, or a path). Answer: one tour per instance
(a permutation), verified; objective: tour length (min). Reference: LKH-3 through elkai
(``best-known``, per instance, cached under $MOBENCH_CACHE/routing keyed by the instances'
checksum); the shipped TSPLIB instances' proved optima (``optimal``).
``routing/knapsack-v0``: N items with weights and values uniform in (0, 1], capacity 25, the
same test-set sizes; answer: the chosen items per instance; objective: value (max);
reference: exact dynamic programming (``optimal``), cached.
``routing/cvrp-v0``: depot and N customers uniform in the unit square, demands 1..9, capacity by
N (Kool et al.; the paper for N >= 200); answer: routes per instance; objective: total length
(min); reference: PyVRP's iterated local search with a fixed seed and iteration count
(``best-known``; the same on every machine), cached.
``routing/op-v0``: orienteering with Kool et al.'s distance-based prizes and length budget;
answer: the visited nodes per instance; objective: prize (max); reference: up to N = 10 an MTZ MIP
(cvxpy + HiGHS) with a time limit per instance (``optimal`` when every instance is proved), above
it PyVRP's iterated local search with the CVRP's iteration counts (``best-known``), cached.
``count`` (all): the test-set size, 0 for the paper's.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ...cache import cached_json, peek_json
from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Objective, Reference, Spec
from ...views import refine
from .cvrp import CVRPBatch, CVRPEnv, PyVRPBudget, check_routes, pyvrp_routes, routes_length, solve_feasible
from .instances import (CVRPLIB_BEST_KNOWN, CVRPLIB_OPTIMA, TSPLIB_OPTIMA, WEIGHT_UNITS, CVRPInstance,
                        InstanceFileError, KnapsackInstance, OPInstance, TSPInstance, as_indices, cvrp_test_set, distance_matrix,
                        knapsack_test_set, load_cvrplib, load_tsplib, op_test_set, read_cvrplib,
                        read_cvrplib_solution, read_tsplib, tour_length, tsp_test_set)
from .knapsack import KnapsackBatch, KnapsackEnv, check_items, knapsack_dp
from .op import OP_MIP_NODES, OPBatch, OPEnv, check_op_tour, op_mip, pyvrp_op
from .tsp import TSPBatch, TSPEnv, check_tour, length, lkh_tour


# Views: every routing problem answers per instance and offers its instances as one batched
# BQ-MDP (``batch(device)``); which kind of instance is what a specialised solver relies on.
@runtime_checkable
class TSPView(Protocol):
    """TSP instances as one batched BQ-MDP: ``instances()`` (TSPInstance) and ``batch()``."""

    def instances(self) -> list[TSPInstance]: ...

    def batch(self, device="cpu") -> TSPBatch: ...


@runtime_checkable
class CVRPView(Protocol):
    """CVRP instances as one batched BQ-MDP: ``instances()`` (CVRPInstance) and ``batch()``."""

    def instances(self) -> list[CVRPInstance]: ...

    def batch(self, device="cpu") -> CVRPBatch: ...


@runtime_checkable
class OPView(Protocol):
    """Orienteering instances as one batched BQ-MDP: ``instances()`` (OPInstance) and ``batch()``."""

    def instances(self) -> list[OPInstance]: ...

    def batch(self, device="cpu") -> OPBatch: ...


@runtime_checkable
class KnapsackView(Protocol):
    """Knapsack instances as one batched BQ-MDP: ``instances()`` (KnapsackInstance) and ``batch()``."""

    def instances(self) -> list[KnapsackInstance]: ...

    def batch(self, device="cpu") -> KnapsackBatch: ...


for _view, _kind in ((TSPView, TSPInstance), (CVRPView, CVRPInstance), (OPView, OPInstance),
                     (KnapsackView, KnapsackInstance)):
    refine(_view, lambda p, kind=_kind: isinstance(p.instances()[0], kind))


def _progress(instances, what: str):
    """The instances, with a progress bar on a terminal (a test set's reference can take minutes)."""
    from tqdm import tqdm
    return tqdm(instances, desc=f"reference: {what}", unit="instance", leave=False, disable=None)


def test_set_size(n: int, count: int = 0) -> int:
    """The paper's sizes (1,000 instances for N <= 100, 128 above) unless ``count`` > 0."""
    return count if count > 0 else (1000 if n <= 100 else 128)


def _seed(n: int) -> int:
    return 1000 + n


class TSP(Problem):
    def __init__(self, target, N: int, instance: str, count: int):
        super().__init__(target)
        if instance == "generated":
            coords = tsp_test_set(N, test_set_size(N, count), _seed(N))
            self._instances = [TSPInstance(f"uniform-{N}-{i}", c) for i, c in enumerate(coords)]
            what = f"TSP, {len(coords)} instances of {N} uniform points"
        else:
            inst = load_tsplib(instance) if instance in TSPLIB_OPTIMA else read_tsplib(instance)
            self._instances = [inst]
            what = f"TSP, TSPLIB instance {inst.name} ({inst.n} nodes, EUC_2D)"
        self.spec = Spec(id=self.id, objectives=(Objective("length", "min"),), answer="solutions",
                         description=what, tags=("routing", "tsp"))

    def instances(self) -> list[TSPInstance]:
        return self._instances

    def batch(self, device="cpu") -> TSPBatch:
        """All instances as one batched BQ-MDP (they share N and the distance rule)."""
        insts = self._instances
        return TSPBatch(np.stack([i.coords for i in insts]), insts[0].rounding, device)

    def env(self) -> TSPEnv:
        return TSPEnv(self._instances[0])

    def verify(self, index, solution):
        inst = self._instances[index]
        tour = check_tour(solution, inst.n)
        return np.array([length(inst, tour)]), np.zeros(0), True

    def reference_kind(self) -> str:
        return "optimal" if all(i.optimum is not None for i in self._instances) else "best-known"

    def reference(self) -> Reference:
        insts = self._instances
        if all(i.optimum is not None for i in insts):
            return Reference("optimal", value=[float(i.optimum) for i in insts], source=insts[0].source)
        h = hashlib.sha256(b"".join(i.coords.tobytes() for i in insts) + insts[0].rounding.encode())
        r = cached_json("routing", f"tsp_lkh_{h.hexdigest()[:16]}_v1", lambda: {
            "lengths": [length(i, lkh_tour(i)) for i in _progress(insts, "LKH")]})
        return Reference("best-known", value=r["lengths"],
                         source="LKH-3 through elkai 2.0.1 (10 runs per instance)")


class Knapsack(Problem):
    def __init__(self, target, N: int, count: int):
        super().__init__(target)
        self._instances = knapsack_test_set(N, test_set_size(N, count), _seed(N))
        self.spec = Spec(id=self.id, objectives=(Objective("value", "max"),), answer="solutions",
                         description=f"0/1 knapsack, {len(self._instances)} instances of {N} items, capacity 25",
                         tags=("routing", "knapsack"))

    def instances(self) -> list[KnapsackInstance]:
        return self._instances

    def batch(self, device="cpu") -> KnapsackBatch:
        insts = self._instances
        return KnapsackBatch(np.stack([i.weights for i in insts]), np.stack([i.values for i in insts]),
                             insts[0].capacity, device)

    def env(self) -> KnapsackEnv:
        return KnapsackEnv(self._instances[0])

    def verify(self, index, solution):
        inst = self._instances[index]
        items, fits = check_items(solution, inst)
        return np.array([float(inst.values[items].sum())]), np.zeros(0), fits

    def reference_kind(self) -> str:
        return "optimal"

    def reference(self) -> Reference:
        insts = self._instances
        h = hashlib.sha256(b"".join(i.weights.tobytes() + i.values.tobytes() for i in insts))
        r = cached_json("routing", f"knapsack_dp_{h.hexdigest()[:16]}_v1",
                        lambda: {"values": [knapsack_dp(i) for i in _progress(insts, "dynamic programming")]})
        return Reference("optimal", value=r["values"], source="dynamic programming over integer capacity units")


class CVRP(Problem):
    def __init__(self, target, N: int, instance: str, count: int):
        super().__init__(target)
        if instance == "generated":
            self._instances = cvrp_test_set(N, test_set_size(N, count), _seed(N))
            what = f"CVRP, {len(self._instances)} instances of {N} customers, capacity {self._instances[0].capacity}"
        else:
            shipped = instance in CVRPLIB_OPTIMA or instance in CVRPLIB_BEST_KNOWN
            if not shipped and not Path(instance).is_file():
                raise InstanceFileError(f"instance {instance!r} is neither a shipped CVRPLIB instance ("
                                        f"{', '.join(sorted(CVRPLIB_OPTIMA) + sorted(CVRPLIB_BEST_KNOWN))}) "
                                        "nor a file")
            inst = load_cvrplib(instance) if shipped else read_cvrplib(instance)
            self._instances = [inst]
            what = (f"CVRP, CVRPLIB instance {inst.name} ({inst.n} customers, capacity {inst.capacity}, "
                    f"EUC_2D distances)")
        self.spec = Spec(id=self.id, objectives=(Objective("length", "min"),), answer="solutions",
                         description=what, tags=("routing", "cvrp"))

    def instances(self) -> list[CVRPInstance]:
        return self._instances

    def batch(self, device="cpu") -> CVRPBatch:
        insts = self._instances
        return CVRPBatch(np.stack([i.coords for i in insts]), np.stack([i.demand for i in insts]),
                         insts[0].capacity, device, insts[0].rounding)

    def env(self) -> CVRPEnv:
        return CVRPEnv(self._instances[0])

    def verify(self, index, solution):
        inst = self._instances[index]
        routes, fits = check_routes(solution, inst)
        return np.array([routes_length(inst, routes)]), np.zeros(0), fits

    def reference_kind(self) -> str:
        return "optimal" if all(i.optimum is not None for i in self._instances) else "best-known"

    def reference(self) -> Reference:
        insts = self._instances
        if all(i.optimum is not None for i in insts):
            return Reference("optimal", value=[float(i.optimum) for i in insts], source=insts[0].source)
        if all(i.best_known is not None for i in insts):
            return Reference("best-known", value=[float(i.best_known) for i in insts], source=insts[0].source)
        its = pyvrp_reference_iterations(insts[0].n)
        h = hashlib.sha256(b"".join(i.coords.tobytes() + i.demand.tobytes() for i in insts)
                           + (b"" if insts[0].rounding == "none" else insts[0].rounding.encode()))
        r = cached_json("routing", f"cvrp_pyvrp_{h.hexdigest()[:16]}_{its}it_v2", lambda: {
            "lengths": [routes_length(i, pyvrp_routes(i, iterations=its)) for i in _progress(insts, "PyVRP")]})
        return Reference("best-known", value=r["lengths"],
                         source=f"PyVRP 0.14.1 (iterated local search), {its} iterations per instance, seed 0")


class Orienteering(Problem):
    def __init__(self, target, N: int, count: int):
        super().__init__(target)
        self._instances = op_test_set(N, test_set_size(N, count), _seed(N))
        self.spec = Spec(id=self.id, objectives=(Objective("prize", "max"),), answer="solutions",
                         description=f"orienteering, {len(self._instances)} instances of {N} nodes, "
                                     f"length budget {self._instances[0].max_length:g}", tags=("routing", "op"))

    def instances(self) -> list[OPInstance]:
        return self._instances

    def batch(self, device="cpu") -> OPBatch:
        insts = self._instances
        return OPBatch(np.stack([i.coords for i in insts]), np.stack([i.prize for i in insts]),
                       insts[0].max_length, device)

    def env(self) -> OPEnv:
        return OPEnv(self._instances[0])

    def verify(self, index, solution):
        inst = self._instances[index]
        nodes, fits = check_op_tour(solution, inst)
        return np.array([float(inst.prize[nodes].sum())]), np.zeros(0), fits

    def _cache_name(self) -> str:
        insts = self._instances
        h = hashlib.sha256(b"".join(i.coords.tobytes() for i in insts) + str(insts[0].max_length).encode())
        if insts[0].n <= OP_MIP_MAX_N:
            return f"op_mip_{h.hexdigest()[:16]}_{OP_MIP_NODES}nodes_v2"
        return f"op_pyvrp_{h.hexdigest()[:16]}_{pyvrp_reference_iterations(insts[0].n)}it_v2"

    def reference_kind(self) -> str:
        """Up to N = 10 the MIP's: ``optimal`` once it has proved every instance (``best-known``
        before it has run, what a time-limited MIP promises); above, PyVRP's ``best-known``."""
        if self._instances[0].n > OP_MIP_MAX_N:
            return "best-known"
        r = peek_json("routing", self._cache_name())
        return "optimal" if r is not None and all(r["proved"]) else "best-known"

    def reference(self) -> Reference:
        insts = self._instances
        if insts[0].n > OP_MIP_MAX_N:
            its = pyvrp_reference_iterations(insts[0].n)
            r = cached_json("routing", self._cache_name(), lambda: {
                "prizes": [float(i.prize[pyvrp_op(i, iterations=its)].sum()) for i in _progress(insts, "PyVRP")]})
            return Reference("best-known", value=r["prizes"],
                             source=f"PyVRP 0.14.1 iterated local search (prize-collecting, one vehicle, the budget "
                                    f"as its max distance), two runs of {its} iterations per instance, seed 0")

        def compute():
            res = [op_mip(i, OP_MIP_NODES) for i in _progress(insts, "MIP")]
            return {"prizes": [v for v, _, _ in res], "proved": [p for _, _, p in res]}
        r = cached_json("routing", self._cache_name(), compute)
        proved = all(r["proved"])
        return Reference("optimal" if proved else "best-known", value=r["prizes"],
                         source=f"MIP (Miller-Tucker-Zemlin, cvxpy + HiGHS), at most {OP_MIP_NODES} nodes per instance, "
                                f"{sum(r['proved'])} of {len(insts)} proved optimal")


# The MTZ MIP proves N = 10 instances in about a second but N = 20 ones in 10-120 s each (hours
# for a 1,000-instance test set), so above N = 10 the reference is PyVRP's (it matched the MIP's
# proved optimum on 5 of 6 N = 20 instances at 0.3 s, and fell 0.05 short on the sixth).
OP_MIP_MAX_N = 10


def pyvrp_reference_iterations(n: int) -> int:
    """PyVRP's iterations per reference instance (per run for the OP): 2,000 up to 80 nodes,
    25 N above, at most 50,000. An iteration count, not a time limit, so that the reference is
    the same on any machine under any load (about a second per instance on one CPU core up to
    N = 50, N / 50 s above)."""
    return int(min(50_000, max(2_000, 25 * n)))


def _generated(values: dict) -> bool:
    return values["instance"] == "generated"


def _count_set(values: dict) -> bool:
    return values.get("count", 0) > 0 and values.get("instance", "generated") == "generated"


COUNT = Param(0, low=0, high=100_000, in_key=_count_set,
              doc="test instances (0: the paper's 1,000 for N <= 100, 128 above); fewer for quick runs")


register("routing/tsp-v0", TSP, params={
    "N": Param(50, low=5, high=1000, doc="nodes per generated instance", in_key=_generated),
    "instance": Param("generated", doc="'generated' (the seeded test set), a shipped TSPLIB name "
                                       f"({', '.join(sorted(TSPLIB_OPTIMA))}) or a path to a TSPLIB EUC_2D file"),
    "count": COUNT},
    description="closed TSP as a BQ-MDP; per-instance tours scored against LKH or the TSPLIB optimum",
    check_params={"count": 4})
register("routing/knapsack-v0", Knapsack, params={
    "N": Param(200, low=5, high=1000, doc="items per instance (capacity 25 binds for N well above 50)"),
    "count": COUNT},
    description="0/1 knapsack as a BQ-MDP; per-instance answers scored against the exact optimum",
    check_params={"count": 4})
register("routing/op-v0", Orienteering, params={
    "N": Param(20, low=5, high=1000, doc="nodes besides the depot (length budget 2/3/4 for N = 20/50/100)"),
    "count": COUNT},
    description="orienteering (distance-based prizes) as a BQ-MDP; scored against an exact MIP (N <= 10) or PyVRP",
    check_params={"count": 4})
register("routing/cvrp-v0", CVRP, params={
    "N": Param(50, low=5, high=1000, doc="customers (capacity 30/40/50/80/100/250 for N = 20/50/100/200/500/1000)",
               in_key=_generated),
    "instance": Param("generated", doc="'generated' (the seeded test set), a shipped CVRPLIB name "
                                       f"({', '.join(sorted(CVRPLIB_OPTIMA) + sorted(CVRPLIB_BEST_KNOWN))}) or a path to a "
                                       "CVRPLIB EUC_2D file",
                      in_key=lambda values: not _generated(values)),  # generated sets keep their keys
    "count": COUNT},
    description="capacitated VRP as a BQ-MDP; per-instance routes scored against PyVRP's HGS",
    check_params={"count": 4})

__all__ = ["TSP", "Knapsack", "CVRP", "Orienteering", "TSPView", "CVRPView", "OPView", "KnapsackView",
           "TSPBatch", "TSPEnv", "CVRPBatch", "CVRPEnv", "OPBatch", "OPEnv", "KnapsackBatch", "KnapsackEnv",
           "TSPInstance", "CVRPInstance", "OPInstance", "KnapsackInstance", "WEIGHT_UNITS", "TSPLIB_OPTIMA",
           "as_indices", "distance_matrix", "tour_length", "length", "routes_length", "check_tour", "check_routes",
           "check_op_tour", "check_items", "tsp_test_set", "cvrp_test_set", "op_test_set", "knapsack_test_set",
           "knapsack_dp", "lkh_tour", "pyvrp_routes", "pyvrp_op", "op_mip", "PyVRPBudget", "solve_feasible",
           "load_tsplib", "read_tsplib", "load_cvrplib", "read_cvrplib", "read_cvrplib_solution", "CVRPLIB_OPTIMA",
           "CVRPLIB_BEST_KNOWN", "InstanceFileError", "test_set_size"]

# The suite behind results/leaderboards/routing.md (`mobench run paper-bq-nco`; the benchmark
# benchmarks/routing_bq_nco.py runs it and prints the tables): the shipped models, greedy on the
# full test sets and beam-16 on their first instances, against the constructive baselines; one
# hour per run where decoding is long.
PAPER_BQ_NCO = {
    "tsp": ([20, 50, 100, 200], {20: 128, 50: 128, 100: 32, 200: 16}),
    "knapsack": ({100: 128, 200: 0, 500: 32}, {}),
    "cvrp": ({20: 128, 50: 128, 100: 128, 200: 32}, {20: 128, 50: 128, 100: 32, 200: 32}),
    "op": ({20: 128, 50: 128, 100: 128, 200: 32}, {20: 128, 50: 128, 100: 32, 200: 32}),
}
_HOUR = (None, 3600.0)
_TSP_BASELINES = ("nearest-neighbour", "farthest-insertion", "cheapest-insertion", "two-opt")
for _n in PAPER_BQ_NCO["tsp"][0]:
    register_suite("paper-bq-nco", f"routing/tsp-v0:N={_n}", {"bq-nco": None, **{b: None for b in _TSP_BASELINES}})
    _t = f"routing/tsp-v0:N={_n},count={PAPER_BQ_NCO['tsp'][1][_n]}"
    register_suite("paper-bq-nco", _t, {"bq-nco": None, "bq-nco:beam=16": _HOUR})
for _name in sorted(TSPLIB_OPTIMA):
    register_suite("paper-bq-nco", f"routing/tsp-v0:instance={_name}",
                   {"bq-nco": None, "bq-nco:beam=16": _HOUR, **{b: None for b in _TSP_BASELINES}})
for _kind, _baseline in (("knapsack", "greedy-ratio"), ("cvrp", "clarke-wright"), ("op", "greedy-prize")):
    _greedy, _beam = PAPER_BQ_NCO[_kind]
    for _n, _c in sorted(set(_greedy.items()) | set(_beam.items())):  # greedy and the baseline on every set
        _t = f"routing/{_kind}-v0:N={_n}" + (f",count={_c}" if _c else "")
        register_suite("paper-bq-nco", _t, {"bq-nco": _HOUR, _baseline: _HOUR,
                                            **({"bq-nco:beam=16": _HOUR} if _beam.get(_n) == _c else {})})
