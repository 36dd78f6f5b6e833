"""Long-term hydrothermal dispatch (TS-DDR paper: Rosemberg, Street, Valladao, Van Hentenryck,
arXiv 2405.14973).

``hydro/bolivia-v0``: the Bolivian system (``data/``, see its README), ``network`` copper plate
(one bus) or dc (DC power flow over its 28 buses and 31 branches), monthly stages (730 h, so k = 2.628 hm3 per m3/s), initial volumes half of capacity, the
0.6-scaled load of the source's training subproblems (``load=original`` for the network's
loads); ``stages`` (default 12; the 48 inflow rows cycle beyond 48).
``hydro/synthetic-v0``: seeded small cascades (``reservoirs``, ``thermals``, ``stages``,
``scenarios``, ``seed``).
Answer: a policy giving end-of-stage target volumes from [volumes, this stage's inflows,
t / T]; the stage LP implements it (penalised slack); objective: the total operating cost
over the horizon (min), on 200 fixed inflow paths; constraint: load shed <= 0.1% of the horizon's
demand energy. Reference: the SDDP lower bound (``bound``)
or, for trees of at most 20,000 nodes, the deterministic equivalent (``optimal``); the
wait-and-see bound on the test paths in its details; cached.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ...cache import cached_json
from ...problem import Problem
from ...registry import Param, register
from ...spec import Constraint, Objective, Reference, Spec, TestScenarios
from .dynamics import HydroSim
from .sddp import SDDP, deterministic_equivalent, sample_paths, wait_and_see
from .stage_lp import StageLP
from .system import STAGE_HOURS, System, load_bolivia, synthetic


@runtime_checkable
class HydroView(Protocol):
    """The hydrothermal system behind the simulator: ``system`` (reservoirs, plants, inflows)."""
    system: System

SCENARIOS = dict(n=200, warmup=0, aggregate="sum")
# A reliability criterion (our choice; the source has none): the load shed over the horizon,
# in % of its demand energy, at most 0.1% in every scenario. The constraint cost is reported
# by the simulator and the Gymnasium view (info["cost"]); the deficit cost stays in the objective.
SHED_LIMIT_PCT = 0.1
# The SDDP reference: a fixed number of iterations, no time limit and no stopping rule, so that
# the same bound comes out on any machine under any load; its details give how much the bound
# still moved over the last 100 iterations (a measure of how far it may be from converged).
SDDP_REFERENCE = dict(max_iterations=300, seconds=float("inf"), tol=0.0)


class Hydro(Problem):
    system: System

    def _spec(self, what: str, seed: int):
        self.spec = Spec(id=self.id, objectives=(Objective("cost", "min"),),
                         constraints=(Constraint("load_shed_pct", SHED_LIMIT_PCT),), answer="policy",
                         scenarios=TestScenarios(seed=seed, horizon=self.system.stages,
                                                 dev_seed=seed + 1, **SCENARIOS),
                         description=what, tags=("hydro", "energy"))

    def sim(self) -> HydroSim:
        return HydroSim(self.system)

    def reference_kind(self) -> str:
        s = self.system
        return "optimal" if s.inflows.shape[1] ** s.stages <= 20000 else "bound"

    def reference(self) -> Reference:
        s = self.system
        S, T = s.inflows.shape[1], s.stages
        if S ** T <= 20000:
            value = cached_json("hydro", f"de_{self.key_digest()}_v1",
                                lambda: {"value": deterministic_equivalent(s)})["value"]
            return Reference("optimal", value=value, lower=value, upper=value,
                             source="deterministic equivalent on the full scenario tree (cvxpy + HiGHS)",
                             details={"wait_and_see_test_paths": self.wait_and_see_test_paths()})

        def compute():
            r = SDDP(s).train(**SDDP_REFERENCE)
            lbs = r.lower_bounds
            return {"lb": lbs[-1], "iterations": r.iterations, "sim_mean": r.sim_mean, "sim_ci": list(r.sim_ci),
                    "last_100_change": (lbs[-1] - lbs[max(0, len(lbs) - 101)]) / abs(lbs[-1])}
        r = cached_json("hydro", f"sddp_{self.key_digest()}_{SDDP_REFERENCE['max_iterations']}it_v2", compute)
        return Reference("bound", value=r["lb"], lower=r["lb"], upper=r["sim_ci"][1],
                         source=f"SDDP lower bound after {r['iterations']} iterations (no stopping rule; the bound "
                                f"rose {100 * r['last_100_change']:.3f}% over the last 100); upper: its simulated "
                                f"cost's 95% CI upper end",
                         details={**r, "wait_and_see_test_paths": self.wait_and_see_test_paths()})

    def test_paths(self):
        """The inflow scenario indices [n, T] of the fixed test scenarios (as the engine draws them)."""
        import torch
        sc = self.spec.scenarios
        return self.sim().reset(sc.n, torch.Generator().manual_seed(sc.seed), horizon=sc.horizon)["paths"].numpy()

    def wait_and_see_test_paths(self) -> float:
        """Mean over the test paths of each path's perfect-foresight optimum: no
        non-anticipative policy scores below it on these paths (path by path). Cached."""
        return cached_json("hydro", f"ws_{self.key_digest()}_v1",
                           lambda: {"value": wait_and_see(self.system, self.test_paths())["value"]})["value"]

    def key_digest(self) -> str:
        import hashlib
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]


class Bolivia(Hydro):
    def __init__(self, target, network: str, stages: int, load: str):
        super().__init__(target)
        self.system = load_bolivia(load, network).truncated(stages)
        self._spec(f"Bolivian hydrothermal system, {network} network, {stages} monthly stages, {load} load", 20240514)


class Synthetic(Hydro):
    def __init__(self, target, reservoirs: int, thermals: int, stages: int, scenarios: int, seed: int):
        super().__init__(target)
        self.system = synthetic(reservoirs, thermals, stages, scenarios, seed)
        self._spec(f"synthetic cascade: {reservoirs} reservoirs, {thermals} thermal units, "
                   f"{stages} stages x {scenarios} scenarios", 1000 + seed)


register("hydro/bolivia-v0", Bolivia, params={
    "network": Param("copper", choices=("copper", "dc"), doc="copper plate (one bus) or DC power flow (28 buses, 31 branches)"),
    "stages": Param(12, low=1, high=96, doc="monthly stages (the 48 inflow rows cycle)"),
    "load": Param("training", choices=("training", "original"), doc="0.6-scaled load (training) or the network's")},
    description="Bolivian hydrothermal dispatch (11 plants, 23 thermal units)")
register("hydro/synthetic-v0", Synthetic, params={
    "reservoirs": Param(2, low=1, high=5, doc="reservoirs in one cascade"),
    "thermals": Param(3, low=1, high=10, doc="thermal units"),
    "stages": Param(4, low=1, high=48, doc="stages"),
    "scenarios": Param(3, low=1, high=50, doc="equiprobable inflow scenarios per stage"),
    "seed": Param(0, low=0, doc="generator seed")},
    description="seeded small hydrothermal cascades with exact references")

__all__ = ["SDDP_REFERENCE", "Bolivia", "Synthetic", "HydroView", "HydroSim", "SDDP", "StageLP", "System", "STAGE_HOURS",
           "deterministic_equivalent", "load_bolivia", "sample_paths", "synthetic", "wait_and_see"]
