"""`cpsat`: OR-Tools CP-SAT on the job-shop CP model (interval variables, precedences,
NoOverlap per machine, minimise the makespan), its time limit the run's seconds budget.
The Outcome records CP-SAT's status, whether the makespan is proved optimal, and its bound.

Hyper-parameters: ``workers`` (CP-SAT search workers; 0 = one per CPU core), ``seconds`` (the
time limit when the budget has none; the budget's seconds win, minus a small margin for model
building and scoring).
"""
from __future__ import annotations

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver

DEFAULTS = {"workers": 0, "seconds": 60.0}


class CPSAT(Solver):
    defaults = DEFAULTS
    default_budget = Budget(seconds=60)
    description = "OR-Tools CP-SAT: interval variables, NoOverlap, minimise the makespan"

    def supports(self, problem):
        if "jobshop" not in problem.spec.tags or problem.spec.answer != "solutions":
            return "job-shop problems only (the CP model is the job-shop one)"
        if problem.spec.n_obj != 1:
            return "single-objective job-shop problems (cpsat-eps handles two objectives)"
        return None

    def solve(self, problem, budget, seed, log):
        from ..problems.jobshop.cp_model import JobShopModel
        sols, info = [], []
        for inst in problem.instances():
            model = JobShopModel(inst)
            limit = budget.seconds_left if budget.budget.seconds is not None else self.seconds
            limit = max(0.1, limit - 0.5) / max(1, len(problem.instances()))
            r = model.solve(limit, workers=self.workers or None, seed=seed)
            if r.starts is None:
                raise RuntimeError(f"CP-SAT found no schedule for {inst.name} in {limit:.1f} s ({r.status})")
            log(0, float(r.objective), bound=float(r.bound))
            sols.append(r.starts)
            info.append({"instance": inst.name, "status": r.status, "proved_optimal": r.optimal,
                         "makespan": r.objective, "bound": r.bound, "cp_seconds": r.wall_seconds})
        return Outcome(solutions=sols, info={"instances": info})


register_solver("cpsat", CPSAT)
