"""Pareto-set indicators for any number of objectives and any mix of senses.

Every function takes points ``F`` (rows = solutions, columns = objectives) and ``senses``
(``'min'``/``'max'`` per objective, default all ``'min'``); internally everything is turned into
minimisation by negating maximised columns. Hypervolume, IGD and IGD+ come from moocore.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import moocore
import numpy as np


@lru_cache(maxsize=64)
def _signs(senses: tuple) -> np.ndarray | None:
    """+1 per minimised objective, -1 per maximised one; None when all are minimised."""
    if not set(senses) <= {"min", "max"}:
        raise ValueError(f"senses must be 'min' or 'max', got {list(senses)}")
    sign = np.array([1.0 if s == "min" else -1.0 for s in senses])
    return None if (sign > 0).all() else sign


def _as_min(F, senses: Sequence[str] | None) -> np.ndarray:
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        F = np.atleast_2d(F)
    if senses is None:
        return F
    if len(senses) != F.shape[1]:
        raise ValueError(f"{len(senses)} senses given for {F.shape[1]} objectives")
    sign = _signs(senses if type(senses) is tuple else tuple(senses))
    return F if sign is None else F * sign


def nondominated_mask(F, senses=None) -> np.ndarray:
    """True for rows not dominated by another row (duplicates are all kept)."""
    G = _as_min(F, senses)
    if len(G) == 0:
        return np.zeros(0, bool)
    return np.asarray(moocore.is_nondominated(G, maximise=False, keep_weakly=True))


def nondominated(F, senses=None) -> np.ndarray:
    F = np.atleast_2d(np.asarray(F, dtype=float))
    return F[nondominated_mask(F, senses)]


def hypervolume(F, ref_point, senses=None) -> float:
    """Volume dominated by ``F`` and bounded by ``ref_point`` (points beyond it add nothing)."""
    G = _as_min(F, senses)
    r = np.asarray(ref_point, dtype=float)
    if senses is not None:
        sign = _signs(senses if type(senses) is tuple else tuple(senses))
        r = r if sign is None else r * sign
    if len(G) == 0:
        return 0.0
    return float(moocore.hypervolume(G, ref=r))  # moocore leaves out points that do not dominate r


def igd(F, front, senses=None) -> float:
    """Inverted generational distance of ``F`` to the reference ``front`` (lower is better)."""
    return float(moocore.igd(_as_min(F, senses), ref=_as_min(front, senses)))


def igd_plus(F, front, senses=None) -> float:
    """IGD+ (Ishibuchi et al. 2015): only the dominated part of each distance counts."""
    return float(moocore.igd_plus(_as_min(F, senses), ref=_as_min(front, senses)))


def cardinality(F, senses=None) -> int:
    """Number of distinct non-dominated points."""
    return int(len(np.unique(nondominated(F, senses), axis=0)))


def sparsity(F, senses=None) -> float:
    """PGMORL's sparsity (Xu et al. 2020): mean squared gap between consecutive points of the
    non-dominated set, sorted along each objective: sum_j sum_i (P_j(i) - P_j(i+1))^2 / (|P|-1).
    0 for fewer than two points."""
    P = np.unique(nondominated(F, senses), axis=0)
    if len(P) < 2:
        return 0.0
    s = sum(float(np.sum(np.diff(np.sort(P[:, j])) ** 2)) for j in range(P.shape[1]))
    return s / (len(P) - 1)


# Weight set for EUM / MUL: the Das-Dennis simplex lattice, with the number of partitions below
# (2 objectives: 100 weights; 3: 91; 4: 84; 5: 70; 6: 56). Fixed here so numbers are comparable.
EUM_PARTITIONS = {1: 1, 2: 99, 3: 12, 4: 6, 5: 4, 6: 3}


@lru_cache(maxsize=None)
def eum_weights(n_obj: int) -> np.ndarray:
    from pymoo.util.ref_dirs import get_reference_directions
    if n_obj == 1:
        return np.ones((1, 1))
    parts = EUM_PARTITIONS.get(n_obj, 2)
    return get_reference_directions("das-dennis", n_obj, n_partitions=parts)


def _utilities(F, senses, weights):
    # linear utility of maximisation-form values: u_w(F) = w . (-F_min)
    G = -_as_min(F, senses)
    W = eum_weights(G.shape[1]) if weights is None else np.asarray(weights, float)
    return G @ W.T  # [points, weights]


def eum(F, senses=None, weights=None) -> float:
    """Expected utility (Zintgraf et al. 2015): mean over the weight set of the best linear
    utility in ``F``. Objectives should be on comparable scales (normalise first if not)."""
    return float(np.mean(np.max(_utilities(F, senses, weights), axis=0)))


def mul(F, front, senses=None, weights=None) -> float:
    """Maximum utility loss against a reference ``front`` over the weight set (>= 0 if the
    front dominates F)."""
    return float(np.max(np.max(_utilities(front, senses, weights), axis=0)
                        - np.max(_utilities(F, senses, weights), axis=0)))
