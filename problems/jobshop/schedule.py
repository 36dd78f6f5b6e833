"""The schedule checker the engine runs on every scored schedule, written independently of the
dispatching environment and of the CP model.

A schedule is an integer matrix ``starts[j][k]``: the start time of job j's k-th operation.
"""
from __future__ import annotations

import numpy as np

from ...errors import InvalidSolution
from .instances import Instance


def as_starts(instance: Instance, schedule) -> np.ndarray:
    """The schedule as an int matrix of the instance's shape, or one clear error."""
    try:
        s = np.asarray(schedule, dtype=float)
    except (TypeError, ValueError):
        raise InvalidSolution(f"{instance.name}: a schedule must be a matrix of start times") from None
    if s.shape != instance.durations.shape:
        raise InvalidSolution(f"{instance.name}: schedule has shape {s.shape}, expected "
                              f"{instance.durations.shape} (jobs x operations)")
    if not np.isfinite(s).all() or (s != np.round(s)).any():
        raise InvalidSolution(f"{instance.name}: start times must be finite integers")
    return s.astype(np.int64)


def violations(instance: Instance, schedule) -> list[str]:
    """Every violated rule, in words (empty list: the schedule is feasible)."""
    s = as_starts(instance, schedule)
    d, m = instance.durations, instance.machines
    out = []
    if (s < 0).any():
        j, k = np.argwhere(s < 0)[0]
        out.append(f"job {j} operation {k} starts at {s[j, k]} < 0")
    end = s + d
    # precedence within each job: operation k+1 starts after operation k ends
    late = s[:, 1:] < end[:, :-1]
    for j, k in np.argwhere(late)[:5]:
        out.append(f"job {j}: operation {k + 1} starts at {s[j, k + 1]} before operation {k} "
                   f"ends at {end[j, k]}")
    # no overlap on a machine: sort its operations by start, each must end before the next
    for mach in range(instance.n_machines):
        jj, kk = np.nonzero(m == mach)
        order = np.lexsort((end[jj, kk], s[jj, kk]))
        st, en = s[jj, kk][order], end[jj, kk][order]
        # zero-length operations occupy no time and cannot overlap
        busy = d[jj, kk][order] > 0
        st, en, jb, kb = st[busy], en[busy], jj[order][busy], kk[order][busy]
        clash = np.nonzero(st[1:] < en[:-1])[0]
        for i in clash[:5]:
            out.append(f"machine {mach}: job {jb[i]} op {kb[i]} [{st[i]}, {en[i]}) overlaps "
                       f"job {jb[i + 1]} op {kb[i + 1]} [{st[i + 1]}, {en[i + 1]})")
    return out


def makespan(instance: Instance, schedule) -> int:
    s = as_starts(instance, schedule)
    return int((s + instance.durations).max())


def total_flow_time(instance: Instance, schedule) -> int:
    """Sum over jobs of their completion times (all jobs released at 0)."""
    s = as_starts(instance, schedule)
    return int((s + instance.durations)[:, -1].sum())
