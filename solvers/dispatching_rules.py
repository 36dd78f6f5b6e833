"""Priority dispatching rules on the job-shop dispatching MDP: `spt`, `mwkr`, `mor`, `fifo`.

At every decision the rule picks, among the jobs whose next operation can start now (the
MDP's legal jobs; never No-Op, so the schedule is non-delay), the one with
  spt  - the shortest next operation,
  mwkr - the most work remaining (sum of the job's unscheduled durations),
  mor  - the most operations remaining (unscheduled),
  fifo - the earliest-ready next operation (first come, first served: smallest est, i.e.
         the job that has waited longest; then the lower operation index),
ties broken by the lowest job index. Works on any problem with a ``dispatcher()`` view.
"""
from __future__ import annotations

import numpy as np

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver


def _scores(rule: str, d) -> np.ndarray:
    """Higher is better; rows: jobs."""
    J, K = d.J, d.K
    k = np.minimum(d.next_op, K - 1)
    rows = np.arange(J)
    unscheduled = np.arange(K)[None, :] >= d.next_op[:, None]
    if rule == "spt":
        return -d.dur[rows, k].astype(float)
    if rule == "mwkr":
        return (d.dur * unscheduled).sum(1).astype(float)
    if rule == "mor":
        return unscheduled.sum(1).astype(float)
    if rule == "fifo":
        # waiting since: the job's ready time (its previous operation's end); the earliest wins
        return -d.job_ready.astype(float)
    raise ValueError(rule)


def dispatch(dispatcher, rule: str) -> np.ndarray:
    d = dispatcher.reset()
    while not d.done:
        legal = d.legal_jobs()
        s = np.where(legal, _scores(rule, d), -np.inf)
        d.step(int(np.argmax(s)))  # argmax: first (lowest-index) job among ties
    return d.starts.copy()


class DispatchingRule(Solver):
    rule: str = ""
    defaults: dict = {}
    default_budget = Budget(seconds=60)

    def supports(self, problem):
        if problem.spec.answer != "solutions" or not hasattr(problem, "dispatcher"):
            return "needs a per-instance scheduling problem with a dispatcher() view"
        return None

    def solve(self, problem, budget, seed, log):
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
