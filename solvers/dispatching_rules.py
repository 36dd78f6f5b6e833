"""Priority dispatching rules as solvers: `spt`, `mwkr`, `mor`, `fifo` (the rules themselves are
the job-shop family's ``dispatch``: see ``problems/jobshop/rules.py``). Each builds one
non-delay schedule on the problem's dispatching MDP, deterministically."""
from __future__ import annotations

from ..problems.jobshop import JobShopView, dispatch
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver


class DispatchingRule(Solver):
    rule: str = ""
    defaults: dict = {}
    default_budget = Budget(seconds=60)
    requires = (JobShopView,)

    def supports(self, problem):
        if problem.spec.answer != "solutions":
            return "single-objective per-instance scheduling problems only"
        return None

    def solve(self, problem, clock, seed, log):
        starts = dispatch(problem.dispatcher(), self.rule)
        log(0, float("nan"))
        return Outcome(solutions=[starts])


def _rule_solver(rule: str, text: str):
    return type(f"Rule_{rule}", (DispatchingRule,), {"rule": rule, "description": text,
                                                    "__module__": __name__})


SPT = _rule_solver("spt", "dispatching rule: shortest processing time of the next operation")
MWKR = _rule_solver("mwkr", "dispatching rule: most work remaining")
MOR = _rule_solver("mor", "dispatching rule: most operations remaining")
FIFO = _rule_solver("fifo", "dispatching rule: first in, first out (earliest ready)")
for _name, _cls in (("spt", SPT), ("mwkr", MWKR), ("mor", MOR), ("fifo", FIFO)):
    register_solver(_name, _cls)
