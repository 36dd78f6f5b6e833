"""Exact references for the single-store inventory problems.

Backlogged demand: a base-stock policy is optimal (no fixed order cost), with level S* the
p/(p+h) quantile of demand over L+1 periods, and average cost
h E[(S* - D^{L+1})^+] + p E[(D^{L+1} - S*)^+]. Demand is Normal(5, 1.6) clipped at 0, whose
(L+1)-fold sum is not normal: its law is computed numerically (midpoint discretisation on a
0.005 grid, FFT convolutions), accurate to about 1e-5 in cost.

Lost sales: relative value iteration over the post-arrival state (on-hand after the arriving
order, then the L-1 orders still in transit), integer orders 0..A, Poisson demand truncated
where its tail is below 1e-12. The span of T V - V brackets the optimal average cost
(Odoni's bounds), so the value comes with a proved interval [lower, upper]; iteration stops
when the interval is narrower than 1e-6 relative.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...cache import cached_json


@lru_cache(maxsize=None)
def backlogged_base_stock(L: int, p: float, h: float, mean: float = 5.0, std: float = 1.6,
                          delta: float = 0.005) -> tuple[float, float]:
    """Optimal base-stock level and its long-run average cost per period."""
    x, over, under = base_stock_tradeoff(L, mean, std, delta)
    cost = h * over + p * under
    i = int(np.argmin(cost))
    return float(x[i]), float(cost[i])


def base_stock_tradeoff(L: int, mean: float = 5.0, std: float = 1.6, delta: float = 0.005):
    """For every base-stock level S on a grid of ``delta``: (S, E[units held], E[units
    backlogged]) per period, i.e. E[(S - X)^+] and E[(X - S)^+] with X the demand over L + 1
    periods (clipped-Normal periods, numerical convolution)."""
    from scipy import signal, stats  # here, not at import: scipy.signal/stats cost a second to import
    hi = mean + 10 * std
    k = np.arange(0, int(np.ceil(hi / delta)) + 1)
    edges_hi = stats.norm.cdf((k * delta + delta / 2 - mean) / std)
    edges_lo = stats.norm.cdf((k * delta - delta / 2 - mean) / std)
    pmf = edges_hi - edges_lo
    pmf[0] = edges_hi[0]  # the clipped mass P(D <= 0) and the cell (0, delta/2) sit at 0
    pmf /= pmf.sum()
    total = pmf
    for _ in range(L):
        total = np.clip(signal.fftconvolve(total, pmf), 0.0, None)
    total /= total.sum()
    x = np.arange(len(total)) * delta
    cdf = np.cumsum(total)
    mean_x = float(np.dot(total, x))
    # E[(S - X)^+] = sum_{x <= S} (S - x) P(x), evaluated for every grid level S
    partial_mass = cdf
    partial_mean = np.cumsum(total * x)
    over = x * partial_mass - partial_mean            # E[(S-X)^+]
    under = over - (x - mean_x)                       # E[(X-S)^+] = E[(S-X)^+] - (S - E X)
    return x, over, under


def _poisson_pmf(rate: float, tail: float = 1e-12) -> np.ndarray:
    from scipy import stats  # here, not at import: scipy.signal/stats cost a second to import
    dmax = int(stats.poisson.isf(tail, rate)) + 1
    pmf = stats.poisson.pmf(np.arange(dmax + 1), rate)
    pmf[-1] += stats.poisson.sf(dmax, rate)
    return pmf


def lost_sales_rvi(L: int, p: float, h: float, rate: float = 5.0, max_order: int | None = None,
                   max_onhand: int | None = None, tol: float = 1e-6, max_iter: int = 20000,
                   tau: float = 0.9) -> dict:
    """Optimal average cost of the lost-sales system by relative value iteration.

    State (x, q_1..q_{L-1}): x = on-hand after this period's arrival, q_i = orders arriving in
    i periods. Action a in 0..A (arrives in L periods). Returns the gain ``g`` (midpoint of the
    proved interval ``lower``/``upper``), the greedy policy table, the grid bounds and the count
    of iterations.
    """
    from scipy import stats  # here, not at import: scipy.signal/stats cost a second to import
    pmf = _poisson_pmf(rate)
    dmax = len(pmf) - 1
    # orders above the 1 - 1e-6 quantile of one period's demand are never optimal here (the
    # computed policy's largest order is checked to stay below A: `policy_max` in the result)
    A = int(max_order if max_order is not None else stats.poisson.isf(1e-6, rate) + 1)
    X = int(max_onhand if max_onhand is not None else A + dmax)
    xs = np.arange(X + 1)
    # expected period cost given post-arrival on-hand x
    d = np.arange(dmax + 1)
    cost = (h * np.maximum(xs[:, None] - d[None, :], 0) + p * np.maximum(d[None, :] - xs[:, None], 0)) @ pmf
    # Py[x, y] = P((x - D)^+ = y)
    Py = np.zeros((X + 1, X + 1))
    for x in xs:
        for dd, pr in enumerate(pmf):
            Py[x, max(x - dd, 0)] += pr
    n_pipe = L - 1
    shape = (X + 1,) + (A + 1,) * n_pipe
    V = np.zeros(shape)
    # next on-hand index: y + (arriving order) clipped at X
    add = np.arange(A + 1)
    idx = np.minimum(xs[:, None] + add[None, :], X)  # [y, q]
    lower = upper = np.nan
    for it in range(1, max_iter + 1):
        if n_pipe == 0:
            U = V[idx]                                    # [y, a]
            Q = cost[:, None] + Py @ U                    # [x, a]
        else:
            # U[y, q1, q2..q_{L-1}, a] = V[min(y + q1, X), q2, ..., a]
            U = V[idx]                                    # [y, q1, q2.., a]  (V's tail dims reused)
            Q = cost.reshape((-1,) + (1,) * L) + np.tensordot(Py, U, axes=(1, 0))
        TV = Q.min(axis=-1)
        diff = TV - V
        lower, upper = float(diff.min()), float(diff.max())
        V = V + tau * diff
        V -= V.flat[0]
        if upper - lower <= tol * max(abs(upper), 1e-12):
            break
    policy = Q.argmin(axis=-1)
    return {"g": 0.5 * (lower + upper), "lower": lower, "upper": upper, "iterations": it,
            "policy": policy, "policy_max": int(policy.max()), "max_order": A, "max_onhand": X, "converged": upper - lower <= tol * abs(upper)}


def lost_sales_policy(table: np.ndarray, L: int):
    """The DP's greedy policy as a batched callable on observations [I, q_{t-L}, ..., q_{t-1}]."""
    import torch
    t = torch.as_tensor(table, dtype=torch.float32)
    X = table.shape[0] - 1

    def policy(obs):
        o = obs.round().long()
        x = (o[:, 0] + o[:, 1]).clamp(0, X)
        if L == 1:
            return t.to(obs.device)[x].unsqueeze(1)
        rest = [o[:, 2 + i].clamp(0, table.shape[1 + i] - 1) for i in range(L - 1)]
        return t.to(obs.device)[(x, *rest)].unsqueeze(1)
    return policy


@lru_cache(maxsize=None)
def lost_sales_reference(L: int, p: float, h: float, rate: float = 5.0) -> dict:
    """Certified optimal average cost (seconds to compute), cached on disk under
    $MOBENCH_CACHE (default ~/.cache/mobench) so that every run does not redo it."""
    def compute():
        r = lost_sales_rvi(L, p, h, rate)
        return {k: r[k] for k in ("g", "lower", "upper", "iterations", "max_order", "max_onhand",
                                  "policy_max", "converged")}
    return cached_json("inventory", f"lost_sales_L={L}_p={p:g}_h={h:g}_rate={rate:g}_v1", compute)
