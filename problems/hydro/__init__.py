"""Long-term hydrothermal dispatch (TS-DDR paper: Rosemberg, Street, Valladao, Van Hentenryck,
arXiv 2405.14973).

``hydro/bolivia-v0``: the Bolivian system (``data/``, see its README), ``network`` copper plate
(one bus), dc (DC power flow over its 28 buses and 31 branches), soc (the second-order-cone
relaxation of AC power flow) or ac (AC power flow), ``stage`` monthly (730 h, so k = 2.628 hm3
per m3/s; the default) or weekly (168 h), initial volumes half of capacity, the
0.6-scaled load of the source's training subproblems (``load=original`` for the network's
loads); ``stages`` (default 12; the 48 inflow rows cycle beyond 48).
``hydro/bolivia-v1``: the TS-DDR case study's setting: 126 weekly stages under AC power flow,
scored on 500 fixed inflow paths (``paths``).
``hydro/synthetic-v0``: seeded small cascades (``reservoirs``, ``thermals``, ``stages``,
``scenarios``, ``seed``).
Answer: a policy giving end-of-stage target volumes from [volumes, this stage's inflows,
t / T]; the stage LP implements it (penalised slack); objective: the total operating cost
over the horizon (min), on 200 fixed inflow paths; constraint: load shed <= 0.1% of the horizon's
demand energy. Reference: the SDDP lower bound (``bound``)
or, for trees of at most 20,000 nodes on the copper plate or DC, the deterministic equivalent
(``optimal``); the wait-and-see bound on the test paths in its details (copper plate and DC);
under AC the bound is SDDP's on the SOC relaxation (a relaxation's bound); cached.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ...cache import cached_json
from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Constraint, Objective, Reference, Spec, TestScenarios
from .dynamics import HydroSim
from .sddp import SDDP, deterministic_equivalent, sample_paths, wait_and_see
from .stage_lp import StageLP
from .stages import convex, stage_problem
from .system import NETWORKS, STAGE_HOURS, STAGES, System, load_bolivia, synthetic


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
# On the SOC relaxation (soc and ac networks) an iteration costs about a hundred times a linear
# one's (cone programs; 126 weekly stages): fewer iterations, and 100 simulated paths.
SDDP_REFERENCE_CONIC = dict(max_iterations=60, seconds=float("inf"), tol=0.0, sim_paths=100)


class Hydro(Problem):
    system: System

    def _spec(self, what: str, seed: int, paths: int = SCENARIOS["n"]):
        # a tree with no more paths than the sample would draw is scored on every path, each
        # equally likely: the exact expected cost, with no sampling error
        tree = self.system.inflows.shape[1] ** self.system.stages
        exact = tree <= paths
        self.spec = Spec(id=self.id, objectives=(Objective("cost", "min"),),
                         constraints=(Constraint("load_shed_pct", SHED_LIMIT_PCT),), answer="policy",
                         scenarios=TestScenarios(seed=seed, horizon=self.system.stages, dev_seed=seed + 1,
                                                 **{**SCENARIOS, "n": tree if exact else paths}, exact=exact),
                         description=what, tags=("hydro", "energy"))

    def sim(self) -> HydroSim:
        return HydroSim(self.system)

    def _exact(self) -> bool:
        s = self.system
        return s.model in ("copper", "dc") and s.inflows.shape[1] ** s.stages <= 20000

    def reference_kind(self) -> str:
        return "optimal" if self._exact() else "bound"

    def reference(self) -> Reference:
        s = self.system
        if s.model in ("soc", "ac"):
            return self._conic_reference()
        if self._exact():
            value = cached_json("hydro", f"de_{self.key_digest()}_v1",
                                lambda: {"value": deterministic_equivalent(s)})["value"]
            ws = self.wait_and_see_test_paths()
            return Reference("optimal", value=value, lower=value, upper=value,
                             source="deterministic equivalent on the full scenario tree (cvxpy + HiGHS)",
                             details={"wait_and_see_test_paths": ws}, scenario_bound=ws)

        def compute():
            r = SDDP(s).train(**SDDP_REFERENCE)
            lbs = r.lower_bounds
            return {"lb": lbs[-1], "iterations": r.iterations, "sim_mean": r.sim_mean, "sim_ci": list(r.sim_ci),
                    "last_100_change": (lbs[-1] - lbs[max(0, len(lbs) - 101)]) / abs(lbs[-1])}
        r = cached_json("hydro", f"sddp_{self.key_digest()}_{SDDP_REFERENCE['max_iterations']}it_v2", compute)
        ws = self.wait_and_see_test_paths()
        return Reference("bound", value=r["lb"], lower=r["lb"], upper=r["sim_ci"][1], scenario_bound=ws,
                         source=f"SDDP lower bound after {r['iterations']} iterations (no stopping rule; the bound "
                                f"rose {100 * r['last_100_change']:.3f}% over the last 100); upper: its simulated "
                                f"cost's 95% CI upper end",
                         details={**r, "wait_and_see_test_paths": ws})

    def _conic_reference(self) -> Reference:
        """SDDP on the SOC relaxation: its lower bound bounds the SOC policy problem and, every
        stage's SOC cost being at most its AC cost, the AC one too (a relaxation's bound)."""
        s, it = self.system, SDDP_REFERENCE_CONIC["max_iterations"]

        def compute():
            r = SDDP(s).train(**SDDP_REFERENCE_CONIC)
            lbs = r.lower_bounds
            back = max(0, len(lbs) - 21)
            return {"lb": lbs[-1], "iterations": r.iterations, "sim_mean_soc": r.sim_mean, "sim_ci_soc": list(r.sim_ci),
                    "last_20_change": (lbs[-1] - lbs[back]) / abs(lbs[-1]), "seconds": r.seconds}
        r = cached_json("hydro", f"sddp_soc_{self.system_digest()}_{it}it_v1", compute)
        ac = s.model == "ac"
        what = ("SDDP lower bound on the SOC relaxation of AC power flow (a relaxation's bound, not an optimum)"
                if ac else "SDDP lower bound on the SOC relaxation")
        return Reference("bound", value=r["lb"], lower=r["lb"], upper=None if ac else r["sim_ci_soc"][1],
                         source=f"{what} after {r['iterations']} iterations (no stopping rule; the bound rose "
                                f"{100 * r['last_20_change']:.3f}% over the last 20)"
                                + ("" if ac else "; upper: its simulated cost's 95% CI upper end"),
                         details=r)

    def test_paths(self):
        """The inflow scenario indices [n, T] of the fixed test scenarios (as the engine draws or,
        for an exact set, lists them)."""
        import torch
        sc = self.spec.scenarios
        if sc.exact:
            return self.sim().enumerate(horizon=sc.horizon)["paths"].numpy()
        return self.sim().reset(sc.n, torch.Generator().manual_seed(sc.seed), horizon=sc.horizon)["paths"].numpy()

    def wait_and_see_test_paths(self) -> float:
        """Mean over the test paths of each path's perfect-foresight optimum: no
        non-anticipative policy scores below it on these paths (path by path). Cached."""
        every = "_every_path" if self.spec.scenarios.exact else ""
        return cached_json("hydro", f"ws_{self.key_digest()}{every}_v1",
                           lambda: {"value": wait_and_see(self.system, self.test_paths())["value"]})["value"]

    def key_digest(self) -> str:
        import hashlib
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    def system_digest(self) -> str:
        """What the system is, without how it is scored (e.g. the number of test paths): the same
        system under two problem versions or test-set sizes shares its cached SDDP bound."""
        import hashlib
        p = {k: v for k, v in self.params.items() if k != "paths"}
        return hashlib.sha256(f"{self.system.name}|{sorted(p.items())}".encode()).hexdigest()[:16]


class Bolivia(Hydro):
    def __init__(self, target, network: str, stages: int, load: str, stage: str = "monthly"):
        super().__init__(target)
        self.system = load_bolivia(load, network, stage).truncated(stages)
        self._spec(f"Bolivian hydrothermal system, {network} network, {stages} {stage} stages, {load} load", 20240514)


class BoliviaPaper(Hydro):
    """The TS-DDR case study's setting (weekly stages, AC power flow, 500 test paths)."""

    def __init__(self, target, network: str, stages: int, load: str, stage: str, paths: int):
        super().__init__(target)
        self.system = load_bolivia(load, network, stage).truncated(stages)
        self._spec(f"Bolivian hydrothermal system (TS-DDR case study), {network} network, {stages} {stage} stages, "
                   f"{load} load, {paths} test paths", 20240601, paths)


class Synthetic(Hydro):
    def __init__(self, target, reservoirs: int, thermals: int, stages: int, scenarios: int, seed: int):
        super().__init__(target)
        self.system = synthetic(reservoirs, thermals, stages, scenarios, seed)
        self._spec(f"synthetic cascade: {reservoirs} reservoirs, {thermals} thermal units, "
                   f"{stages} stages x {scenarios} scenarios", 1000 + seed)


NETWORK_DOC = ("copper plate (one bus), DC power flow (28 buses, 31 branches), its SOC relaxation of AC power "
               "flow, or AC power flow")
register("hydro/bolivia-v0", Bolivia, params={
    "network": Param("copper", choices=NETWORKS, doc=NETWORK_DOC),
    "stages": Param(12, low=1, high=520, doc="stages (the 48 inflow rows cycle)"),
    "load": Param("training", choices=("training", "original"), doc="0.6-scaled load (training) or the network's"),
    # not in the key at its default, so the monthly keys stored before weekly stages existed keep their meaning
    "stage": Param("monthly", choices=tuple(STAGES), doc="stage length: monthly (730 h) or weekly (168 h)",
                   in_key=lambda v: v["stage"] != "monthly")},
    description="Bolivian hydrothermal dispatch (11 plants, 23 thermal units)")
register("hydro/bolivia-v1", BoliviaPaper, params={
    "network": Param("ac", choices=NETWORKS, doc=NETWORK_DOC),
    "stages": Param(126, low=1, high=520, doc="stages (the 48 inflow rows cycle, as in the source)"),
    "load": Param("training", choices=("training", "original"), doc="0.6-scaled load (training) or the network's"),
    "stage": Param("weekly", choices=tuple(STAGES), doc="stage length: weekly (168 h) or monthly (730 h)"),
    "paths": Param(500, low=2, high=100000, doc="fixed test inflow paths")},
    description="Bolivian hydrothermal dispatch at the TS-DDR case study's scale (126 weekly stages, AC power flow)")
register("hydro/synthetic-v0", Synthetic, params={
    "reservoirs": Param(2, low=1, high=5, doc="reservoirs in one cascade"),
    "thermals": Param(3, low=1, high=10, doc="thermal units"),
    "stages": Param(4, low=1, high=48, doc="stages"),
    "scenarios": Param(3, low=1, high=50, doc="equiprobable inflow scenarios per stage"),
    "seed": Param(0, low=0, doc="generator seed")},
    description="seeded small hydrothermal cascades with exact references")

# Suites. smoke: two AC stages on 4 test paths, myopic and SDDP (seconds). paper-ts-ddr: the
# leaderboard's cells (results/leaderboards/hydro.md, "126 weekly stages under AC"): 126 weekly
# AC stages on 100 of the 500 test paths (the first 100: the same draws), budgets for 2 CPU cores.
register_suite("smoke", "hydro/bolivia-v1:paths=4,stages=2", {"myopic": None, "sddp": (None, 20)})
PAPER_TARGET = "hydro/bolivia-v1:paths=100"
PAPER_CELLS = {"sddp:sim_paths=50": (None, 1200),
               "ts-ddr:batch=4,dev_paths=8,eval_every=10,lr=0.003,patience=6": (None, 2400),
               "myopic": None,
               "ppo-lagrangian": (20_000, 900)}
register_suite("paper-ts-ddr", PAPER_TARGET, PAPER_CELLS)

__all__ = ["PAPER_CELLS", "PAPER_TARGET", "SDDP_REFERENCE", "SDDP_REFERENCE_CONIC", "Bolivia", "BoliviaPaper", "Synthetic",
           "HydroView", "HydroSim",
           "SDDP", "StageLP", "System", "STAGE_HOURS", "STAGES", "NETWORKS", "convex", "deterministic_equivalent",
           "load_bolivia", "sample_paths", "stage_problem", "synthetic", "wait_and_see"]
