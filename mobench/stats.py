"""Statistics over runs: bootstrap confidence intervals per (problem, solver), and, across
problems, the IQM of normalised scores, performance profiles and the probability of
improvement, with rliable's definitions (Agarwal et al., NeurIPS 2021).

Written here rather than taken from ``rliable``: that package is a 2024 source-only release
that pulls ``arch`` and wants a rectangular runs x tasks matrix, while a leaderboard has
ragged seed counts; the estimators are a few lines each and are tested against scipy.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_ci(x, conf: float = 0.95, n_boot: int = 2000, seed: int = 0,
                 stat: Callable = np.mean) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over the values ``x`` (NaN, NaN below 2 values)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), (n_boot, len(x)))
    boots = np.apply_along_axis(stat, 1, x[idx]) if stat is not np.mean else x[idx].mean(axis=1)
    a = (1 - conf) / 2
    return float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy's 25% trimmed mean:
    ``scipy.stats.trim_mean(x, 0.25)``, written here so that the CLI does not import scipy.stats)."""
    x = np.asarray(x, float).reshape(-1)
    if not len(x):
        return float("nan")
    cut = int(0.25 * len(x))
    return float(np.sort(x)[cut:len(x) - cut].mean())


def stratified_bootstrap(scores: dict[str, np.ndarray], stat: Callable, conf: float = 0.95,
                         n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``stat`` of the runs of every task pooled, with a CI from resampling runs within each
    task (the strata) independently. Returns (point, low, high)."""
    tasks = [np.asarray(v, float) for v in scores.values() if len(v)]
    point = stat(np.concatenate(tasks)) if tasks else float("nan")
    if not tasks or all(len(t) < 2 for t in tasks):
        return float(point), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        boots[b] = stat(np.concatenate([t[rng.integers(0, len(t), len(t))] for t in tasks]))
    a = (1 - conf) / 2
    return float(point), float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def task_bootstrap(scores: dict[str, np.ndarray], stat: Callable, conf: float = 0.95,
                   n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``stat`` of the runs of every task pooled, with a CI from resampling the tasks (each
    with all its runs): the interval when every task has a single run, where resampling runs
    within tasks has nothing to resample. Returns (point, low, high); NaN bounds below two tasks."""
    tasks = [np.asarray(v, float) for v in scores.values() if len(v)]
    point = stat(np.concatenate(tasks)) if tasks else float("nan")
    if len(tasks) < 2:
        return float(point), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        boots[b] = stat(np.concatenate([tasks[i] for i in rng.integers(0, len(tasks), len(tasks))]))
    a = (1 - conf) / 2
    return float(point), float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def performance_profile(scores: dict[str, np.ndarray], taus) -> np.ndarray:
    """Run-score distribution: for each tau, the mean over tasks of the fraction of runs
    whose score exceeds tau."""
    taus = np.asarray(taus, float)
    per_task = [np.mean(np.asarray(v, float)[:, None] > taus[None, :], axis=0)
                for v in scores.values() if len(v)]
    return np.mean(per_task, axis=0) if per_task else np.full(len(taus), np.nan)


def probability_of_improvement(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> float:
    """P(X > Y): per task, the Mann-Whitney statistic P(x > y) + P(x = y)/2 over all pairs of
    runs, averaged over the tasks both have."""
    vals = []
    for task in x.keys() & y.keys():
        a, b = np.asarray(x[task], float), np.asarray(y[task], float)
        if len(a) and len(b):
            gt = (a[:, None] > b[None, :]).mean()
            eq = (a[:, None] == b[None, :]).mean()
            vals.append(gt + 0.5 * eq)
    return float(np.mean(vals)) if vals else float("nan")


def normalised_score(gap_pct, feasible) -> np.ndarray:
    """1 at the reference, 0 at twice its cost (or worse), 0 when infeasible: 1 - gap/100
    clipped to [0, 1] (a noisy estimate may sit slightly above 1)."""
    g = np.asarray(gap_pct, float)
    s = np.clip(1.0 - g / 100.0, 0.0, None)
    s = np.minimum(s, 1.0 + 1e-2)
    return np.where(np.asarray(feasible, bool), s, 0.0)
