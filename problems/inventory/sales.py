"""Weekly sales with the features of the source's real data (Corporacion Favorita, one store
per product): a documented synthetic generator, and a loader for sales files in the layout
the source's code reads.

Synthetic generator (``SyntheticSales``), per product k, every quantity drawn from the
simulator's generator:
- covariates: family f_k in 0..3 (probabilities 0.4, 0.3, 0.2, 0.1), perishable flag (0.3);
- scale: m_k = exp(N(log 8, 1)) clipped to [0.5, 400] units per week (heavy-tailed, as
  store-item sales are);
- intermittency: P(no sale in a week) z_k = sigmoid(-1.5 - 0.8 (log m_k - log 8) + 0.5 e)
  (small products sell in fewer weeks);
- seasonality: a yearly cosine peaking at Christmas, amplitude a_k ~ U(0, 0.3) (+ 0.2 for
  family 1), and a Christmas bump c_k ~ U(0, 0.5) in the two weeks before it;
- overdispersion: the week's Poisson rate is multiplied by a log-normal factor with log-sd
  s_k ~ U(0.2, 0.6) and mean 1;
- the order's lead time L_k uniform in {4, 5, 6}, the lost-sale cost p_k ~ U(6.3, 11.7) (the
  source's price range), holding cost 1 (the source's one-store real-data setting).
Demand in week w: D = B x Poisson(mu_k(w) / (1 - z_k) x exp(s_k e - s_k^2 / 2)), B ~ Bernoulli(1 - z_k),
mu_k(w) = m_k (1 + a_k cos(2 pi (w - 51) / 52)) (1 + c_k [w mod 52 in {49, 50}]); week 0 is the
first week of January, Christmas in week 51. Given the product's parameters, weeks are
independent: that is what makes the per-period newsvendor bound computable (``sales_bound``).

Sales files (``load_sales``): a directory with ``weekly_sales.pt`` (a torch tensor [products,
stores, weeks] or [products, weeks] of weekly unit sales), optionally ``dates_with_info.csv``
(one row per week, column ``days_from_christmas``) and ``tensors_row_info.csv`` (one row per
product; its numeric columns are not used as features here).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import InvalidParameter
from .network import Demand, days_to_christmas

HISTORY = 16                 # weeks of past sales in the observation (the source's past_periods)
FAMILIES = 4
N_STATIC = 3 + FAMILIES + 1  # p, h, L, family one-hot, perishable
LEADS = (4, 5, 6)
P_RANGE = (6.3, 11.7)


def _uniform(gen, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)


class SyntheticSales(Demand):
    history, n_static, calendar = HISTORY, N_STATIC, True

    def products(self, batch: int, generator: torch.Generator) -> dict:
        """Per-product parameters (float64 tensors [batch])."""
        g = generator
        fam = torch.multinomial(torch.tensor([0.4, 0.3, 0.2, 0.1]), batch, replacement=True, generator=g)
        perish = (torch.rand(batch, generator=g) < 0.3).double()
        m = torch.exp(np.log(8.0) + torch.randn(batch, generator=g, dtype=torch.float64)).clamp(0.5, 400.0)
        z = torch.sigmoid(-1.5 - 0.8 * (torch.log(m) - np.log(8.0)) + 0.5 * torch.randn(batch, generator=g, dtype=torch.float64))
        a = _uniform(g, batch, 0.0, 0.3) + 0.2 * (fam == 1)
        c = _uniform(g, batch, 0.0, 0.5)
        s = _uniform(g, batch, 0.2, 0.6)
        L = torch.tensor(LEADS)[torch.randint(len(LEADS), (batch,), generator=g)]
        p = _uniform(g, batch, *P_RANGE)
        return {"family": fam, "perishable": perish, "m": m, "z": z, "a": a, "c": c, "s": s, "L": L, "p": p}

    @staticmethod
    def seasonal_mean(prod: dict, week: torch.Tensor) -> torch.Tensor:
        """mu_k(w) for weeks [..., W] (broadcast against the products on the first axis)."""
        w = torch.remainder(week, 52).double()
        cyc = 1 + prod["a"][:, None] * torch.cos(2 * np.pi * (w - 51) / 52)
        bump = 1 + prod["c"][:, None] * ((w == 49) | (w == 50)).double()
        return prod["m"][:, None] * cyc * bump

    def draw(self, batch, periods, generator, extra=0):
        g = generator
        prod = self.products(batch, g)
        weeks = torch.arange(-HISTORY, periods + extra)
        mu = self.seasonal_mean(prod, weeks.expand(batch, -1))
        noise = torch.exp(prod["s"][:, None] * torch.randn(mu.shape, generator=g, dtype=torch.float64)
                          - prod["s"][:, None] ** 2 / 2)
        rate = mu / (1 - prod["z"][:, None]) * noise
        sells = torch.rand(mu.shape, generator=g, dtype=torch.float64) >= prod["z"][:, None]
        d = torch.poisson(rate, generator=g) * sells
        return _path_draw(d.float(), prod["L"], prod["p"], prod["family"], prod["perishable"],
                          days_to_christmas(weeks).expand(batch, -1) / 182.0, mu[:, HISTORY:HISTORY + periods].mean(1))


def _path_draw(demand, L, p, family, perishable, calendar, mean):
    """The per-path dictionary the simulator reads (one store per path)."""
    B = demand.shape[0]
    h = torch.ones(B, 1)
    static = torch.cat([p[:, None].float() / 10.0, h, L[:, None].float() / 5.0,
                        torch.nn.functional.one_hot(family.long(), FAMILIES).float(), perishable[:, None].float()], 1)
    return {"demand": demand.unsqueeze(-1), "L": L.long()[:, None], "h": h, "p": p.float()[:, None],
            "static": static.unsqueeze(1), "calendar": calendar.float(), "mean": mean.float().clamp_min(0.1)[:, None]}


def sales_bound(prod: dict, weeks: np.ndarray, h: float = 1.0, nodes: int = 40) -> np.ndarray:
    """Per product: the mean over ``weeks`` of the least expected period cost
    min_y E[h (y - D)^+ + p (D - y)^+] under the product's law of D in that week (integer y;
    the log-normal factor by Gauss-Hermite quadrature with ``nodes`` points). [products]"""
    from scipy import special, stats  # here, not at import: scipy.stats costs a second to import
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    K = len(prod["m"])
    woy = np.unique(np.remainder(weeks, 52))
    counts = np.array([np.sum(np.remainder(weeks, 52) == v) for v in woy], float)
    mu = SyntheticSales.seasonal_mean({k: torch.as_tensor(v) for k, v in prod.items()},
                                      torch.as_tensor(woy).expand(K, -1)).numpy()          # [K, W]
    z = prod["z"].numpy()[:, None, None]
    s = prod["s"].numpy()[:, None, None]
    lam = mu[:, :, None] / (1 - z) * np.exp(s * x[None, None, :] - s ** 2 / 2)        # [K, W, J]
    mean = (1 - z[:, :, 0]) * (lam * w).sum(-1)                                           # E D by the same quadrature
    q = (prod["p"].numpy() / (prod["p"].numpy() + h))[:, None]

    def cdf(y):   # P(D <= y), y integer [K, W]
        return z[:, :, 0] + (1 - z[:, :, 0]) * (stats.poisson.cdf(y[..., None], lam) * w).sum(-1)

    lo = np.zeros(mu.shape)
    hi = np.ceil(lam.max(-1) * 3 + 30)
    while np.any(hi - lo > 0):     # smallest integer y with P(D <= y) >= q
        mid = np.floor((lo + hi) / 2)
        ok = cdf(mid) >= q
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
    y = hi
    # E[(D - y)^+] = (1 - z) sum_j w_j (lam_j P(N >= y) - y P(N > y)), N ~ Poisson(lam_j)
    # P(N >= y) = P(Gamma(y, 1) <= lam) for y >= 1, and 1 for y = 0
    sf_ym1 = np.where(y[..., None] > 0, special.gammainc(np.maximum(y, 1)[..., None], lam), 1.0)
    sf_y = stats.poisson.sf(y[..., None], lam)
    short = (1 - z[:, :, 0]) * ((lam * sf_ym1 - y[..., None] * sf_y) * w).sum(-1)
    cost = h * (y - mean) + (h + prod["p"].numpy()[:, None]) * short                      # [K, W]
    return (cost * counts).sum(1) / counts.sum()


@dataclass
class SalesData:
    """Weekly sales [products, weeks] (float32), the calendar (days to the nearest Christmas
    per week, or None) and the per-product row information (a DataFrame, or None)."""
    sales: torch.Tensor
    days_from_christmas: np.ndarray | None = None
    row_info: object | None = None


def load_sales(directory: str | Path) -> SalesData:
    """Read a sales directory in the source's layout (module docstring); one message names
    what is wrong with a malformed one."""
    import pandas as pd
    d = Path(directory)
    f = d / "weekly_sales.pt"
    if not f.is_file():
        raise InvalidParameter(f"sales directory {str(d)!r}: no weekly_sales.pt in it")
    try:
        t = torch.load(f, weights_only=True)
    except Exception as e:   # a torn or foreign file: one message
        raise InvalidParameter(f"{f}: not a torch tensor file ({type(e).__name__}: {e})") from None
    if not torch.is_tensor(t) or t.dim() not in (2, 3) or (t.dim() == 3 and t.shape[1] != 1):
        raise InvalidParameter(f"{f}: expected a tensor [products, 1, weeks] or [products, weeks], "
                               f"got {tuple(t.shape) if torch.is_tensor(t) else type(t).__name__}")
    sales = t.reshape(t.shape[0], -1).float()
    if not torch.isfinite(sales).all():
        raise InvalidParameter(f"{f}: sales contain NaN or infinite values")
    sales = sales.clamp_min(0.0)          # negative weekly sales (returns) count as no demand
    dfc, info = None, None
    dates = d / "dates_with_info.csv"
    if dates.is_file():
        frame = pd.read_csv(dates)
        if "days_from_christmas" not in frame or len(frame) < sales.shape[1]:
            raise InvalidParameter(f"{dates}: needs a days_from_christmas column with one row per week "
                                   f"({sales.shape[1]} weeks)")
        dfc = frame["days_from_christmas"].to_numpy(float)[:sales.shape[1]]
    rows = d / "tensors_row_info.csv"
    if rows.is_file():
        info = pd.read_csv(rows)
    return SalesData(sales, dfc, info)


class FileSales(Demand):
    """Demand read from a sales file: paths are products, with per-path lead times and costs
    drawn as in the synthetic generator (the source samples them the same way). The last
    ``test_weeks`` weeks are the test window, the ``test_weeks`` before them the development
    window; training draws take windows from the weeks before those (repeated cyclically when
    a draw is longer). Which window a draw takes is read from the generator's seed."""
    history, n_static, calendar = HISTORY, N_STATIC, True

    def __init__(self, data: SalesData, test_weeks: int, test_seed: int, dev_seed: int):
        self.data, self.test_weeks = data, int(test_weeks)
        self.test_seed, self.dev_seed = test_seed, dev_seed
        W = data.sales.shape[1]
        if W < HISTORY + 3 * self.test_weeks:
            raise InvalidParameter(f"sales file has {W} weeks; needs at least {HISTORY + 3 * self.test_weeks} "
                                   f"({HISTORY} of history, then training, development and test windows of {self.test_weeks})")
        dfc = data.days_from_christmas
        self.calendar_all = torch.as_tensor(dfc if dfc is not None else
                                            days_to_christmas(torch.arange(W)).numpy(), dtype=torch.float32) / 182.0

    def draw(self, batch, periods, generator, extra=0):
        K, W = self.data.sales.shape
        seed = generator.initial_seed()
        if seed in (self.test_seed, self.dev_seed):
            end = W if seed == self.test_seed else W - self.test_weeks
            start = end - periods
            if start < HISTORY:
                raise InvalidParameter(f"sales file: {periods} periods do not fit before week {end}")
            rows = torch.arange(batch) % K
            cols = torch.arange(start - HISTORY, end + extra).expand(batch, -1)
            known = cols < end        # weeks after the window (peeked or observed at its end): zero demand
        else:
            train_end = W - 2 * self.test_weeks
            rows = torch.randint(K, (batch,), generator=generator)
            first = torch.randint(0, train_end - HISTORY, (batch,), generator=generator)
            cols = torch.remainder(first[:, None] + torch.arange(periods + extra + HISTORY), train_end)
            known = torch.ones_like(cols, dtype=torch.bool)   # a cyclic window over the training weeks
        cols = cols.clamp_max(W - 1)
        demand = self.data.sales[rows[:, None], cols] * known
        prod = SyntheticSales().products(batch, generator)
        fam = torch.zeros(batch, dtype=torch.long)
        mean = demand[:, :HISTORY].mean(1).clamp_min(0.1)
        return _path_draw(demand, prod["L"], prod["p"], fam, torch.zeros(batch), self.calendar_all[cols], mean)
