"""The job-shop CP model on OR-Tools CP-SAT: one interval variable per operation, precedences
within jobs, NoOverlap per machine. Used by the ``cpsat`` solvers and for the references of
generated instances."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from .instances import Instance
from .schedule import makespan, total_flow_time


@dataclass
class CPResult:
    starts: np.ndarray | None   # [J, K] start times, None when no solution was found
    objective: float | None
    bound: float | None         # proved lower bound on the objective
    optimal: bool
    status: str
    wall_seconds: float
    deterministic_time: float = 0.0  # CP-SAT's measure of work done, the same on any machine


class JobShopModel:
    """Build once; ``solve`` may be called again with other limits, hints or an objective
    cap (the model is never rebuilt)."""

    def __init__(self, instance: Instance):
        self.inst = instance
        d, m = instance.durations, instance.machines
        J, K = d.shape
        horizon = int(d.sum())
        md = self.model = cp_model.CpModel()
        self.start = [[md.NewIntVar(0, horizon, f"s{j}_{k}") for k in range(K)] for j in range(J)]
        self.end = [[self.start[j][k] + int(d[j, k]) for k in range(K)] for j in range(J)]
        per_machine: dict[int, list] = {}
        for j in range(J):
            for k in range(K):
                iv = md.NewFixedSizeIntervalVar(self.start[j][k], int(d[j, k]), f"i{j}_{k}")
                per_machine.setdefault(int(m[j, k]), []).append(iv)
                if k > 0:
                    md.Add(self.start[j][k] >= self.end[j][k - 1])
        for ivs in per_machine.values():
            md.AddNoOverlap(ivs)
        self.makespan = md.NewIntVar(int(instance.trivial_lower_bound()), horizon, "makespan")
        md.AddMaxEquality(self.makespan, [self.end[j][K - 1] for j in range(J)])
        self.flowtime = sum(self.end[j][K - 1] for j in range(J))
        self._caps = []

    def solve(self, seconds: float, objective: str = "makespan", hint: np.ndarray | None = None,
              makespan_cap: int | None = None, workers: int | None = None, seed: int = 0,
              fixed_prefix: dict | None = None, flowtime_cap: int | None = None,
              deterministic: bool = False) -> CPResult:
        """``objective``: "makespan" or "flowtime"; ``makespan_cap``: add makespan <= cap
        (the epsilon constraint); ``hint``: a start-time matrix to warm-start from;
        ``fixed_prefix``: {(j, k): start} operations fixed to these starts; ``deterministic``:
        ``seconds`` is CP-SAT's deterministic time and the workers' searches are interleaved
        (``interleave_search``), so the answer is the same on any machine under any load (what
        a reference needs; a solver's budget stays wall-clock time)."""
        md = self.model.Clone()
        if makespan_cap is not None:
            md.Add(self.makespan <= int(makespan_cap))
        if flowtime_cap is not None:
            md.Add(self.flowtime <= int(flowtime_cap))
        if fixed_prefix:
            for (j, k), s in fixed_prefix.items():
                md.Add(self.start[j][k] == int(s))
        md.Minimize(self.makespan if objective == "makespan" else self.flowtime)
        if hint is not None:
            for j, row in enumerate(np.asarray(hint)):
                for k, s in enumerate(row):
                    md.AddHint(self.start[j][k], int(s))
        solver = cp_model.CpSolver()
        if deterministic:
            solver.parameters.max_deterministic_time = float(seconds)
            solver.parameters.interleave_search = True
        else:
            solver.parameters.max_time_in_seconds = float(seconds)
        solver.parameters.num_workers = int(workers or max(1, os.cpu_count() or 1))
        solver.parameters.random_seed = int(seed) % (2**31 - 1)
        status = solver.Solve(md)
        name = solver.StatusName(status)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            J, K = self.inst.durations.shape
            starts = np.array([[solver.Value(self.start[j][k]) for k in range(K)] for j in range(J)])
            return CPResult(starts, solver.ObjectiveValue(), solver.BestObjectiveBound(),
                            status == cp_model.OPTIMAL, name, solver.WallTime(), solver.deterministic_time)
        return CPResult(None, None, solver.BestObjectiveBound() if status != cp_model.INFEASIBLE else None,
                        False, name, solver.WallTime(), solver.deterministic_time)


@dataclass
class FrontPoint:
    starts: np.ndarray
    makespan: int
    flowtime: int
    proved: bool  # both lexicographic solves proved optimal: the point is Pareto-optimal


def epsilon_constraint_front(model: JobShopModel, seconds_per_solve: float, deadline_seconds: float,
                             workers: int | None = None, seed: int = 0,
                             deterministic: bool = False) -> tuple[list[FrontPoint], bool]:
    """The (makespan, total flow time) Pareto front by the epsilon-constraint method: from
    the flow-time end, minimise flow time subject to makespan <= eps, then minimise makespan
    subject to that flow time (so no point is weakly dominated), and lower eps below the
    point's makespan, until the cap is infeasible. -> (points, complete): ``complete`` when the
    last cap was proved infeasible and every point proved. ``deterministic``: both limits are
    CP-SAT's deterministic time (see ``JobShopModel.solve``): the same front on any machine."""
    import time
    t0, pts, eps, work = time.monotonic(), [], None, 0.0
    spent = (lambda: work) if deterministic else (lambda: time.monotonic() - t0)
    while True:
        left = deadline_seconds - spent()
        if left <= 0:
            return pts, False
        a = model.solve(min(seconds_per_solve, left), "flowtime", makespan_cap=eps, workers=workers, seed=seed,
                        deterministic=deterministic)
        work += a.deterministic_time
        if a.starts is None:
            return pts, a.status == "INFEASIBLE" and all(p.proved for p in pts)
        left = deadline_seconds - spent()
        b = model.solve(max(0.1, min(seconds_per_solve, left)), "makespan", flowtime_cap=int(a.objective),
                        hint=a.starts, workers=workers, seed=seed, deterministic=deterministic)
        work += b.deterministic_time
        best = b if b.starts is not None else a
        mk, ft = makespan(model.inst, best.starts), total_flow_time(model.inst, best.starts)
        pts.append(FrontPoint(best.starts, mk, ft, a.optimal and b.optimal))
        eps = mk - 1
