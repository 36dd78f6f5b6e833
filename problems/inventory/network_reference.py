"""References for the inventory networks (derivations and proofs in README.md).

- Serial, backlogged: the Clark-Scarf echelon base-stock levels by the stage-by-stage
  recursion on echelon holding costs (``clark_scarf``; optimal), and a brute-force check of
  the same cost over pairs of echelon levels (``echelon_cost_2stage``).
- One warehouse, lost sales: per-store newsvendor bound (``newsvendor_bound``).
- Transshipment, backlogged: the balance relaxation, where the centre may also take stock
  back from the stores when it allocates (``transshipment_bound``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def clipped_normal_pmf(mean: float, std: float, delta: float) -> np.ndarray:
    """Normal(mean, std) clipped at 0, discretised on the grid k x delta (midpoint cells; the
    mass below delta/2, the clipped atom included, at 0); the tail beyond mean + 10 std dropped."""
    from scipy import stats  # here, not at import: scipy costs a second to import
    k = np.arange(0, int(np.ceil((mean + 10 * std) / delta)) + 1)
    hi = stats.norm.cdf((k * delta + delta / 2 - mean) / std)
    lo = stats.norm.cdf((k * delta - delta / 2 - mean) / std)
    pmf = hi - lo
    pmf[0] = hi[0]
    return pmf / pmf.sum()


@lru_cache(maxsize=64)
def _power_of(mean: float, std: float, delta: float, n: int) -> np.ndarray:
    return _power(clipped_normal_pmf(mean, std, delta), n)


def _power(pmf: np.ndarray, n: int) -> np.ndarray:
    """pmf of the sum of n i.i.d. copies (n = 0: the point mass at 0)."""
    from scipy import signal  # here, not at import: scipy costs a second to import
    out = np.ones(1)
    for _ in range(n):
        out = np.clip(signal.fftconvolve(out, pmf), 0.0, None)
    return out / out.sum()


def _expected_shortfall(pmf: np.ndarray, x: np.ndarray, delta: float) -> np.ndarray:
    """E[(D - y)^+] for every y in the grid ``x`` (D with the grid pmf ``pmf`` from 0)."""
    d = np.arange(len(pmf)) * delta
    mean = float(pmf @ d)
    # E[(y - D)^+] at grid points y >= 0: cumulative sums; y < 0: 0
    cdf = np.cumsum(pmf)
    part = np.cumsum(pmf * d)
    idx = np.clip(np.round(x / delta).astype(int), -1, len(pmf) - 1)
    over = np.where(idx >= 0, x * cdf[np.maximum(idx, 0)] - part[np.maximum(idx, 0)], 0.0)
    return over - (x - mean)


def clark_scarf(lead, h, p: float, mean: float, std: float, delta: float = 0.01) -> dict:
    """Optimal echelon base-stock levels of a serial system with backlogged demand at the
    last stage. ``lead[k]``, ``h[k]``: inbound lead time and installation holding cost of stage
    k, upstream first (the store last); ``p``: backlog cost per unit and period; per-period
    demand Normal(mean, std) clipped at 0 (grid ``delta``). Returns the echelon levels
    (upstream first), the optimal long-run average cost per period, and the recursion's grid."""
    from scipy import signal  # here, not at import: scipy costs a second to import
    lead, h = [int(x) for x in lead], [float(x) for x in h]
    J = len(lead)
    he = [h[0]] + [h[k] - h[k - 1] for k in range(1, J)]
    pmf = clipped_normal_pmf(mean, std, delta)
    dmax = (len(pmf) - 1) * delta
    mean = float(pmf @ (np.arange(len(pmf)) * delta))     # the clipped demand's mean
    lo = -sum(lead[:-1]) * dmax - 10.0
    hi = (sum(lead) + 1) * (mean + 4 * std) + 10.0
    x = np.arange(np.floor(lo / delta), np.ceil(hi / delta) + 1) * delta
    # store: G(y) = he y + (p + h) E[(D^{L+1} - y)^+]
    G = he[-1] * x + (p + h[-1]) * _expected_shortfall(_power(pmf, lead[-1] + 1), x, delta)
    valid = np.ones(len(x), bool)
    levels = [0.0] * J
    for k in range(J - 1, -1, -1):
        i = int(np.argmin(np.where(valid, G, np.inf)))
        levels[k] = float(x[i])
        if k == 0:
            break
        g = np.where(np.arange(len(x)) < i, G, G[i])            # G(min(S, x))
        P = _power(pmf, lead[k - 1])                              # demand during stage k-1's lead time
        conv = signal.fftconvolve(g, P)[:len(x)]                 # sum_d P(d) g(y - d)
        G = he[k - 1] * x + conv
        valid = valid & (np.arange(len(x)) >= len(P) - 1 + int(np.argmax(valid)))
    const = sum(he[k] * (lead[k] + 1) * mean for k in range(J)) + sum(h[k] * lead[k + 1] * mean for k in range(J - 1))
    cost = float(G[int(np.argmin(np.where(valid, G, np.inf)))] - const)
    return {"levels": levels, "cost": cost, "echelon_h": he, "delta": delta}


def echelon_cost_2stage(S_up: float, S_store, lead, h, p: float, mean: float, std: float,
                        delta: float = 0.01):
    """Long-run average cost of the echelon base-stock policy (S_up, S_store) in a two-stage
    serial system, from the policy's own law, without the recursion: the store's post-order
    echelon position is Y = min(S_store, S_up - D^(L_up)), its ending net inventory
    Y - D^(L_store + 1), the upstream's ending echelon stock S_up - D^(L_up + 1).
    ``S_store`` may be an array (one cost per level)."""
    (L1, L2), (h1, h2) = lead, h
    P_up = _power_of(float(mean), float(std), delta, L1)
    P_store = _power_of(float(mean), float(std), delta, L2 + 1)
    pmf = clipped_normal_pmf(mean, std, delta)
    mean = float(pmf @ (np.arange(len(pmf)) * delta))     # the clipped demand's mean
    d = np.arange(len(P_up)) * delta
    Y = np.minimum(np.asarray(S_store, float)[..., None], S_up - d)            # [..., |D_up|]
    short = _expected_shortfall(P_store, np.round(Y / delta) * delta, delta)
    EY = Y @ P_up
    # installation costs: upstream on hand = echelon stock - in transit - store net inventory
    store_net = EY - (L2 + 1) * mean
    up_echelon = S_up - (L1 + 1) * mean
    up_onhand = up_echelon - L2 * mean - store_net
    store_cost = h2 * store_net + (p + h2) * (short @ P_up)
    return h1 * up_onhand + store_cost


def newsvendor_cost(mean, std, h, p) -> np.ndarray:
    """min_y E[h (y - D)^+ + p (D - y)^+] for D ~ Normal(mean, std) clipped at 0 (vectorised)."""
    from scipy import stats  # here, not at import: scipy costs a second to import
    mean, std, h, p = (np.asarray(a, float) for a in (mean, std, h, p))
    z0 = -mean / std
    q = p / (p + h)
    z = stats.norm.ppf(np.maximum(q, stats.norm.cdf(z0)))   # the critical quantile (the atom at 0 aside)
    y = np.maximum(mean + std * z, 0.0)
    zz = (y - mean) / std
    short = std * (stats.norm.pdf(zz) - zz * stats.norm.sf(zz))                 # E[(D - y)^+], y >= 0
    clipped_mean = mean * stats.norm.cdf(mean / std) + std * stats.norm.pdf(mean / std)
    over = y - clipped_mean + short                                              # E[(y - max(D, 0))^+]
    return h * over + p * short


def newsvendor_bound(mean, std, h, p) -> float:
    """Lower bound on the cost per store and period of any policy of a lost-sales network: the
    mean over stores of each store's single-period newsvendor cost (README: proof)."""
    return float(np.mean(newsvendor_cost(mean, std, h, p)))


def transshipment_bound(mean, cov, h: float, p: float, lead_store: int, lead_centre: int) -> dict:
    """Lower bound on the cost per store and period of a transshipment network (centre lead
    time ``lead_centre``, every store ``lead_store``, normal demand with covariance ``cov``
    across stores, i.i.d. over periods, not clipped): the balance relaxation collapses to one
    base-stock problem on the system's inventory position (README: derivation).

    phi(Y): the least expected store cost of splitting Y over the stores' positions, with
    D_i over lead_store + 1 periods; the bound is min_X E[phi(X - D_total over lead_centre)]."""
    from scipy import optimize, stats  # here, not at import: scipy costs a second to import
    mean = np.asarray(mean, float)
    cov = np.asarray(cov, float)
    S = len(mean)
    m = (lead_store + 1) * mean
    s = np.sqrt((lead_store + 1) * np.diag(cov))
    z = stats.norm.ppf(p / (p + h))       # equal h and p: every store at the same z (KKT)

    def loss(zz):
        return stats.norm.pdf(zz) - zz * stats.norm.sf(zz)

    def phi(Y):
        zz = (Y - m.sum()) / s.sum()       # the common standardised level that splits Y
        return s.sum() * (h * zz + (h + p) * loss(zz))

    mu_c = lead_centre * mean.sum()
    sd_c = np.sqrt(lead_centre * cov.sum())
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()

    def psi(X):
        return float(weights @ phi(X - mu_c - sd_c * nodes))

    centre = mu_c + m.sum() + z * (s.sum() + sd_c)
    width = 10 * (s.sum() + sd_c) + 1.0
    r = optimize.minimize_scalar(psi, bounds=(centre - width, centre + width), method="bounded",
                                 options={"xatol": 1e-9})
    _ = z
    return {"value": r.fun / S, "X": float(r.x), "total": float(r.fun)}
