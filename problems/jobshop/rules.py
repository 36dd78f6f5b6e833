"""Priority dispatching rules on the dispatching MDP (``dispatch.py``): ``spt``, ``mwkr``,
``mor``, ``fifo``.

At every decision the rule picks, among the jobs whose next operation can start now (the
MDP's legal jobs; never No-Op, so the schedule is non-delay), the one with
  spt  - the shortest next operation,
  mwkr - the most work remaining (sum of the job's unscheduled durations),
  mor  - the most operations remaining (unscheduled),
  fifo - the earliest-ready next operation (first come, first served: smallest est, i.e.
         the job that has waited longest; then the lower operation index),
ties broken by the lowest job index. They belong to the family (not only to the solvers that
wrap them) because the two-objective problem's HV reference point is defined by their schedules.
"""
from __future__ import annotations

import numpy as np

RULES = ("spt", "mwkr", "mor", "fifo")


def priority(rule: str, d) -> np.ndarray:
    """Each job's priority under ``rule`` in the dispatcher's current state (higher first)."""
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
    raise ValueError(f"unknown dispatching rule {rule!r}; known: {list(RULES)}")


def dispatch(dispatcher, rule: str) -> np.ndarray:
    """The schedule (start times [jobs, operations]) that ``rule`` builds on ``dispatcher``."""
    d = dispatcher.reset()
    while not d.done:
        legal = d.legal_jobs()
        s = np.where(legal, priority(rule, d), -np.inf)
        d.step(int(np.argmax(s)))  # argmax: first (lowest-index) job among ties
    return d.starts.copy()
