"""`cpsat`: OR-Tools CP-SAT on the job-shop CP model (interval variables, precedences,
NoOverlap per machine, minimise the makespan), its time limit the run's seconds budget.
The Outcome records CP-SAT's status, whether the makespan is proved optimal, and its bound.

Hyper-parameters: ``workers`` (CP-SAT search workers; 0 = one per CPU core), ``seconds`` (the
time limit when the budget has none; the budget's seconds win, minus a small margin for model
building and scoring).
"""
from __future__ import annotations

from ..problems import jobshop
from ..problems.jobshop import JobShopView
from ..registry import Param, register_solver
from ..solver import Budget, Outcome, Solver

DEFAULTS = {"workers": Param(0, low=0), "seconds": Param(60.0, low=0.0)}


class CPSAT(Solver):
    defaults = DEFAULTS
    default_budget = Budget(seconds=60)
    description = "OR-Tools CP-SAT: interval variables, NoOverlap, minimise the makespan"

    requires = (JobShopView,)

    def supports(self, problem):
        if problem.spec.answer != "solutions" or problem.spec.n_obj != 1:
            return "single-objective job-shop problems (cpsat-eps handles makespan + flow time)"
        return None

    def solve(self, problem, clock, seed, log):
        sols, info = [], []
        for inst in problem.instances():
            model = jobshop.JobShopModel(inst)
            limit = clock.seconds_left if clock.budget.seconds is not None else self.seconds
            limit = max(0.1, limit - 0.5) / max(1, len(problem.instances()))
            r = model.solve(limit, workers=self.workers or None, seed=seed)
            if r.starts is None:
                raise RuntimeError(f"CP-SAT found no schedule for {inst.name} in {limit:.1f} s ({r.status})")
            log(0, float(r.objective), bound=float(r.bound))
            sols.append(r.starts)
            info.append({"instance": inst.name, "status": r.status, "proved_optimal": r.optimal,
                         "makespan": r.objective, "bound": r.bound, "cp_seconds": r.wall_seconds})
        return Outcome(solutions=sols, info={"instances": info})


class CPSATEpsilon(Solver):
    """`cpsat-eps`: the (makespan, flow time) front by CP-SAT's epsilon-constraint method
    (``epsilon_constraint_front``), each solve limited to ``seconds_per_solve``, all of them to
    the run's seconds budget. Info: whether the front is complete and which points are proved."""
    defaults = {"workers": Param(0, low=0), "seconds_per_solve": Param(10.0, low=0.0)}
    default_budget = Budget(seconds=120)
    description = "OR-Tools CP-SAT epsilon-constraint front (makespan, total flow time)"

    requires = (JobShopView,)

    def supports(self, problem):
        if problem.spec.answer != "pareto-solutions":
            return "two-objective job-shop problems only (jobshop/makespan-flowtime-v0)"
        return None

    def solve(self, problem, clock, seed, log):
        inst = problem.instances()[0]
        total = clock.seconds_left - 0.5 if clock.budget.seconds is not None else 600.0
        pts, complete = jobshop.epsilon_constraint_front(jobshop.JobShopModel(inst), self.seconds_per_solve,
                                                 max(0.5, total), workers=self.workers or None, seed=seed)
        if not pts:
            raise RuntimeError(f"CP-SAT found no schedule for {inst.name} in the budget")
        for p in pts:
            log(0, float(p.makespan), flowtime=float(p.flowtime))
        return Outcome(solutions=[p.starts for p in pts],
                       info={"complete": complete, "points": [[p.makespan, p.flowtime, p.proved] for p in pts]})


register_solver("cpsat", CPSAT)
register_solver("cpsat-eps", CPSATEpsilon)
