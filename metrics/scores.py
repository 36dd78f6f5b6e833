"""Single-objective scores: regret/gap against a reference, and constraint-violation measures."""
from __future__ import annotations

import numpy as np


def gap_pct(value, reference, sense: str = "min"):
    """Relative regret in %: how much worse ``value`` is than ``reference`` (negative = better,
    which only an estimate's noise or a bound-type reference can produce)."""
    value, reference = np.asarray(value, float), np.asarray(reference, float)
    if np.any(reference == 0):
        raise ValueError("gap_pct is undefined for a reference value of 0")
    diff = value - reference if sense == "min" else reference - value
    return 100.0 * diff / np.abs(reference)


def constraint_measures(costs, thresholds, senses=None) -> dict:
    """``costs``: [scenarios, constraints] aggregated cost per scenario.

    mean_excess: mean cost minus budget, per constraint (negative = slack);
    violation_rate: fraction of scenarios where some constraint is violated;
    worst_violation: largest positive excess over scenarios and constraints (0 if none);
    feasible: every constraint's mean cost is within its budget.
    """
    C = np.atleast_2d(np.asarray(costs, float))
    t = np.asarray(thresholds, float)
    if C.shape[1] != t.shape[0]:
        raise ValueError(f"costs have {C.shape[1]} columns for {t.shape[0]} thresholds")
    sign = np.array([1.0 if s == "le" else -1.0 for s in (senses or ["le"] * len(t))])
    excess = (C - t) * sign  # positive = violation
    mean_excess = excess.mean(axis=0) if len(C) else np.zeros(len(t))
    return {
        "mean_excess": mean_excess,
        "violation_rate": float(np.mean(np.any(excess > 1e-12, axis=1))) if len(t) else 0.0,
        "worst_violation": float(max(0.0, excess.max())) if excess.size else 0.0,
        "feasible": bool(np.all(mean_excess <= 1e-12)),
    }
