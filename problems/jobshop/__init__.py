"""Job-shop scheduling (Tassel, Gebser, Schekotihin, ICAPS 2023: end-to-end RL over a CP model).

``jobshop/makespan-v0``: one instance, chosen by ``instance`` (a benchmark name such as
``ta01``, a path to an OR-Library or Taillard file, or ``generated`` with ``jobs``,
``machines``, ``seed``); answer: one schedule (start times), checked by ``schedule.py``;
objective: makespan (min). Reference: the benchmark's optimum (``optimal``) or best-known
makespan (``best-known``, with its lower bound beside it); for files and generated instances,
CP-SAT with a limit on its deterministic time and interleaved workers, so that the same value
comes out on any machine (``optimal`` when proved, else ``best-known`` with CP-SAT's bound),
cached in $MOBENCH_CACHE.
The Gymnasium view is the dispatching MDP of the paper (``dispatch.py``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ...cache import cached_json
from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Objective, Reference, Spec
from .dispatch import FEATURES, WINDOW, BatchDispatch, Dispatch, JobShopEnv
from .instances import Instance, benchmark_names, generate, load_benchmark, read_instance
from .rules import RULES, dispatch, priority
from .schedule import makespan, total_flow_time, violations

# The reference of a file or generated instance: CP-SAT limited by deterministic time (its
# measure of work, not the clock, so that the same value comes out on any machine under any
# load), 8 interleaved workers.
REFERENCE_WORK = 10.0
REFERENCE_WORKERS = 8


@runtime_checkable
class JobShopView(Protocol):
    """Job-shop instances and their dispatching MDP: ``instances()`` and ``dispatcher()``."""

    def instances(self) -> list[Instance]: ...

    def dispatcher(self) -> Dispatch: ...


def __getattr__(name):
    """The CP model (OR-Tools) is imported when first used, not with the family."""
    if name in ("JobShopModel", "epsilon_constraint_front"):
        from . import cp_model
        return getattr(cp_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_instance(name: str, jobs: int = 10, machines: int = 10, seed: int = 0) -> Instance:
    if name == "generated":
        return generate(jobs, machines, seed)
    if "/" in name or name.endswith((".txt", ".jss", ".jsp")) or Path(name).is_file():
        return read_instance(name)
    return load_benchmark(name)


def cp_reference(instance: Instance, work: float = REFERENCE_WORK) -> dict:
    """CP-SAT's makespan and bound for an instance without a published value, computed once
    and cached under $MOBENCH_CACHE/jobshop, keyed by the instance's content and ``work``."""
    digest = hashlib.sha256(instance.durations.tobytes() + instance.machines.tobytes()).hexdigest()[:16]

    def compute():
        from .cp_model import JobShopModel
        r = JobShopModel(instance).solve(work, workers=REFERENCE_WORKERS, seed=0, deterministic=True)
        return {"makespan": r.objective, "bound": r.bound, "optimal": r.optimal, "work": work,
                "status": r.status}
    return cached_json("jobshop", f"cpsat_{digest}_{work:g}dt_v2", compute)


class Makespan(Problem):
    objectives = (Objective("makespan", "min"),)

    def __init__(self, target, instance: str, jobs: int, machines: int, seed: int, reward: str):
        super().__init__(target)
        self.instance = resolve_instance(instance, jobs, machines, seed)
        self.reward = reward
        self.spec = Spec(id=self.id, objectives=self.objectives, answer="solutions",
                         description=f"job shop {self.instance.name}: {self.instance.n_jobs} jobs x "
                                     f"{self.instance.n_machines} machines",
                         tags=("scheduling", "jobshop"))

    def instances(self) -> list[Instance]:
        return [self.instance]

    def env(self) -> JobShopEnv:
        return JobShopEnv(self.instance, reward=self.reward)

    def dispatcher(self) -> Dispatch:
        return Dispatch(self.instance)

    def verify(self, index, solution):
        inst = self.instances()[index]
        bad = violations(inst, solution)  # raises InvalidSolution on a malformed schedule
        return np.array([float(makespan(inst, solution))]), np.zeros(0), not bad

    def reference(self) -> Reference:
        inst = self.instance
        if inst.optimum is not None:
            return Reference("optimal", value=[float(inst.optimum)], lower=float(inst.optimum),
                             upper=float(inst.optimum), source=inst.source)
        if inst.upper_bound is not None:
            return Reference("best-known", value=[float(inst.upper_bound)],
                             lower=None if inst.lower_bound is None else float(inst.lower_bound),
                             upper=float(inst.upper_bound), source=inst.source)
        r = cp_reference(inst)
        if r["makespan"] is None:
            return Reference.none(f"CP-SAT found no schedule in {r['work']:g} units of deterministic time")
        return Reference("optimal" if r["optimal"] else "best-known", value=[float(r["makespan"])],
                         lower=r["bound"], upper=float(r["makespan"]),
                         source=f"CP-SAT, {r['work']:g} units of deterministic time, {REFERENCE_WORKERS} "
                                f"interleaved workers, seed 0 ({r['status']})")


FRONT_WORK = (10.0, 120.0)  # reference fronts: CP-SAT deterministic time per solve, in all


def cp_front_reference(instance: Instance) -> dict:
    """The epsilon-constraint front of (makespan, flow time), computed once and cached."""
    digest = hashlib.sha256(instance.durations.tobytes() + instance.machines.tobytes()).hexdigest()[:16]

    def compute():
        from .cp_model import JobShopModel, epsilon_constraint_front
        pts, complete = epsilon_constraint_front(JobShopModel(instance), *FRONT_WORK,
                                                 workers=REFERENCE_WORKERS, deterministic=True)
        return {"front": [[p.makespan, p.flowtime] for p in pts], "complete": complete,
                "proved": [p.proved for p in pts]}
    return cached_json("jobshop", f"front_{digest}_{FRONT_WORK[0]:g}_{FRONT_WORK[1]:g}dt_v2", compute)


class MakespanFlowtime(Makespan):
    """Two objectives, makespan and total flow time (both min); answer: a set of schedules.
    HV reference point: 1.2 x the componentwise worst of the four dispatching rules' schedules
    (a fixed, solver-independent point that every sensible schedule improves on)."""
    objectives = (Objective("makespan", "min"), Objective("flowtime", "min"))

    def __init__(self, target, instance: str, jobs: int, machines: int, seed: int, reward: str):
        super().__init__(target, instance, jobs, machines, seed, reward)
        pts = [(makespan(self.instance, s), total_flow_time(self.instance, s))
               for s in (dispatch(Dispatch(self.instance), r) for r in RULES)]
        ref_point = tuple(1.2 * float(v) for v in np.max(pts, axis=0))
        self.spec = Spec(id=self.id, objectives=self.objectives, answer="pareto-solutions",
                         hv_ref_point=ref_point, description=self.spec.description + ", makespan and flow time",
                         tags=self.spec.tags)

    def verify(self, index, solution):
        inst = self.instances()[index]
        bad = violations(inst, solution)
        return (np.array([float(makespan(inst, solution)), float(total_flow_time(inst, solution))]),
                np.zeros(0), not bad)

    def reference(self) -> Reference:
        r = cp_front_reference(self.instance)
        if not r["front"]:
            return Reference.none("CP-SAT's epsilon-constraint method found no point in time")
        kind = "optimal" if r["complete"] and all(r["proved"]) else "best-known"
        return Reference(kind, front=np.array(r["front"], float),
                         source=f"CP-SAT epsilon-constraint front ({FRONT_WORK[0]:g} units of deterministic "
                                f"time per solve, {FRONT_WORK[1]:g} in all, {REFERENCE_WORKERS} interleaved workers)"
                                + ("" if r["complete"] else ", stopped by its limit"))


def _generated(values: dict) -> bool:
    return values["instance"] == "generated"


PARAMS = {
    "instance": Param("ft06", doc="benchmark name (ft06, la01, ta01, ...), a path to an OR-Library "
                                  "or Taillard file, or 'generated'"),
    "jobs": Param(10, low=1, high=1000, doc="generated instances: number of jobs", in_key=_generated),
    "machines": Param(10, low=1, high=100, doc="generated instances: number of machines", in_key=_generated),
    "seed": Param(0, low=0, doc="generated instances: generator seed", in_key=_generated),
    "reward": Param("sparse", choices=("sparse", "dense"), in_key=False,
                    doc="Gymnasium view: minus the makespan at the end, or minus the increase of "
                        "its lower bound at every step (not scored: left out of the problem key)"),
}
TAILLARD_GROUPS = {"taillard-15x15": range(1, 11), "taillard-20x20": range(21, 31),
                   "taillard-30x20": range(41, 51), "taillard-50x15": range(51, 61),
                   "taillard-50x20": range(61, 71), "taillard-100x20": range(71, 81)}
register("jobshop/makespan-v0", Makespan, params=PARAMS,
         description="job-shop scheduling, one instance, minimise the makespan",
         suites=("smoke", *TAILLARD_GROUPS))

register("jobshop/makespan-flowtime-v0", MakespanFlowtime, params=PARAMS,
         description="job-shop scheduling, one instance, makespan and total flow time (Pareto set)")

for _suite, _ids in TAILLARD_GROUPS.items():
    for _i in _ids:
        register_suite(_suite, f"jobshop/makespan-v0:instance=ta{_i:02d}",
                       {**{r: None for r in RULES}, "cpsat": (None, 10)})
register_suite("smoke", "jobshop/makespan-v0:instance=ft06", {"spt": None, "mwkr": None, "cpsat": (None, 5)})

# The suite behind results/leaderboards/jobshop-taillard.md (`mobench run paper-cp-rl --seeds 1`;
# benchmarks/jobshop_taillard.py runs it and prints the table): the rules, the two RL agents
# (shipped policies) and CP-SAT on one worker at 10 s per instance on three Taillard groups, and
# at 60 s on the 30 x 20 group.
PAPER_CP_RL = {"groups": ("taillard-15x15", "taillard-20x20", "taillard-30x20"), "long_groups": ("taillard-30x20",),
               "timed": ("cpsat:workers=1", "e2e-cp-rl", "ppo-dispatch"), "seconds": (10.0, 60.0)}
for _suite in PAPER_CP_RL["groups"]:
    for _i in TAILLARD_GROUPS[_suite]:
        _t = f"jobshop/makespan-v0:instance=ta{_i:02d}"
        register_suite("paper-cp-rl", _t, {**{r: None for r in RULES},
                                           **{s: (None, PAPER_CP_RL["seconds"][0]) for s in PAPER_CP_RL["timed"]}})
        if _suite in PAPER_CP_RL["long_groups"]:
            for _s in PAPER_CP_RL["timed"]:
                register_suite("paper-cp-rl", _t, {_s: (None, PAPER_CP_RL["seconds"][1])})

__all__ = ["Instance", "Makespan", "MakespanFlowtime", "JobShopView", "BatchDispatch", "Dispatch", "JobShopEnv",
           "FEATURES", "WINDOW", "RULES", "dispatch", "priority", "benchmark_names", "generate", "load_benchmark",
           "read_instance", "resolve_instance", "violations", "makespan", "total_flow_time", "JobShopModel",
           "epsilon_constraint_front", "TAILLARD_GROUPS"]
