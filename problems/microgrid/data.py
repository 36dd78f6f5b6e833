"""Demand and available wind at one-minute resolution: a seeded synthetic year, or a CSV file
in the paper's layout; the test, development and training days; the forecasts.

The paper's data (one-minute traces of a remote wind-diesel-battery microgrid, normalised;
chandar-lab/remote_microgrid_data, CC BY-NC) cannot be downloaded here, so the default is a
synthetic year with the same layout and the worst cases the paper's shield assumes (demand
<= 570 kW, demand rise <= 80 kW per minute, wind drop <= 18% of the rating per minute).

CSV layout (the paper's columns, one row per minute, consecutive):
``DateTime`` (e.g. 2018-02-01 07:00:00), ``Load`` (demand / 300 kW, the paper's normalisation),
``AvailableWindPower`` (available wind / 400 kW, in [0, 1]).
Forecasts (both sources): the truth plus an error that grows with the lead time, issued every
5 minutes for demand and every hour for wind (the paper's issue times), drawn once per issue
from a fixed seed, so a day always shows the same forecasts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ...errors import InvalidParameter

DEMAND_SCALE_KW = 300.0  # the paper's normalisation of Load
WIND_SCALE_KW = 400.0    # the turbine's rating
# forecast error: standard deviation at a lead of LEAD minutes after the issue, growing as sqrt(lead)
FORECAST = dict(demand_sigma_kw=25.0, demand_issue_min=5, demand_lead_min=35,
                wind_sigma_kw=40.0, wind_issue_min=60, wind_lead_min=90, seed=7)
# the synthetic year (our choice of shapes; the bounds are the paper's worst cases)
SYNTHETIC = dict(seed=2018, year=2018, days=367,
                 demand_mean_kw=290.0, demand_season=0.18, demand_noise=0.08, demand_noise_min=90.0,
                 demand_min_kw=60.0, demand_max_kw=570.0, demand_rise_kw=80.0,
                 wind_speed_ms=7.2, wind_season=0.15, wind_slow=0.45, wind_slow_min=360.0,
                 wind_fast=0.12, wind_fast_min=15.0, cut_in_ms=3.0, rated_ms=12.0, cut_out_ms=25.0,
                 wind_drop=0.18)
TEST_DAY, DEV_DAY, START_HOUR = 1, 15, 7   # 07:00 on the 1st (test) or the 15th (development)
TEST_MONTHS = range(2, 12)                   # February to November (the paper's test days)


@dataclass(frozen=True)
class GridData:
    """Demand and available wind (kW) per minute from ``t0``, and the per-issue forecast
    errors (standard normal draws)."""
    name: str
    t0: datetime
    demand: torch.Tensor        # [N] float64
    wind: torch.Tensor          # [N] float64
    demand_z: torch.Tensor      # [N // demand_issue + 1]
    wind_z: torch.Tensor        # [N // wind_issue + 1]
    checksum: str

    @property
    def minutes(self) -> int:
        return int(self.demand.shape[0])

    def day_starts(self, day: int, horizon: int, forecast: int) -> list[int]:
        """Minute indices of 07:00 on ``day`` of February..November, in date order, whose
        horizon and forecast window lie in the data."""
        out = []
        first, last = self.t0, self.t0 + timedelta(minutes=self.minutes - 1)
        for year in range(first.year, last.year + 1):
            for month in TEST_MONTHS:
                when = datetime(year, month, day, START_HOUR)
                i = int((when - self.t0).total_seconds() // 60)
                if i >= 0 and i + horizon + forecast < self.minutes:
                    out.append(i)
        return out

    def training_starts(self, horizon: int, forecast: int, held_out: list[int]) -> torch.Tensor:
        """Every start minute whose window (horizon and forecast) lies in the data and does not
        overlap a held-out (test or development) day's."""
        span = horizon + forecast
        ok = np.ones(max(self.minutes - span, 0), bool)
        for d in held_out:
            ok[max(d - span, 0):d + span] = False
        return torch.as_tensor(np.flatnonzero(ok))


def _checksum(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _ar1(rng, n: int, tau: float, sigma: float) -> np.ndarray:
    """Stationary AR(1) with correlation time ``tau`` steps and standard deviation ``sigma``."""
    from scipy.signal import lfilter
    phi = np.exp(-1.0 / tau)
    e = rng.standard_normal(n) * sigma * np.sqrt(1 - phi * phi)
    e[0] = rng.standard_normal() * sigma
    return lfilter([1.0], [1.0, -phi], e)


def limit_rise(x: np.ndarray, step: float) -> np.ndarray:
    """x'[t] = min(x[t], x'[t-1] + step): the series with rises capped (the recursion unrolls
    to a running minimum of x[s] + step (t - s), computed with one accumulate)."""
    t = np.arange(len(x)) * step
    return np.minimum.accumulate(x - t) + t


def limit_drop(x: np.ndarray, step: float) -> np.ndarray:
    """x'[t] = max(x[t], x'[t-1] - step): the series with drops capped."""
    return -limit_rise(-x, step)


def _forecast_errors(n: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    f = FORECAST
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) ^ f["seed"]
    rng = np.random.default_rng(seed)
    dz = rng.standard_normal(n // f["demand_issue_min"] + 2)
    wz = rng.standard_normal(n // f["wind_issue_min"] + 2)
    return torch.as_tensor(dz), torch.as_tensor(wz)


def _pack(name, t0, demand, wind) -> GridData:
    dz, wz = _forecast_errors(len(demand), name)
    return GridData(name, t0, torch.as_tensor(demand, dtype=torch.float64), torch.as_tensor(wind, dtype=torch.float64),
                    dz, wz, _checksum(demand, wind, dz.numpy(), wz.numpy()))


@lru_cache(maxsize=2)
def synthetic(seed: int = SYNTHETIC["seed"]) -> GridData:
    """The seeded synthetic year (``synthetic_series``), kept on disk under the reference cache:
    generating it takes most of a second, which every run of the family would pay."""
    import sys
    from ...cache import cached_tensors, source_digest
    key = hashlib.sha256(f"{seed}|{sorted(SYNTHETIC.items())}|{source_digest(sys.modules[__name__])}".encode())
    got = cached_tensors("microgrid", f"synthetic-{key.hexdigest()[:16]}",
                         lambda: dict(zip(("demand", "wind"), map(torch.as_tensor, synthetic_series(seed)))))
    return _pack(f"synthetic-{seed}", datetime(SYNTHETIC["year"], 1, 1), got["demand"].numpy(), got["wind"].numpy())


def synthetic_series(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded synthetic year (2018 and the first day of 2019), one value per minute.

    Demand: a daily profile (night trough, morning and evening peaks), a seasonal factor
    (highest in mid-January), multiplicative log-AR(1) noise at 5-minute resolution linearly
    interpolated to minutes (the paper's traces look like that), clipped to [60, 570] kW, rises
    capped at 80 kW per minute.
    Wind: a speed with a seasonal mean and two log-AR(1) components (hours and minutes), through
    a 400 kW power curve (cubic from cut-in to rated, cut-out above 25 m/s), drops capped at
    18% of the rating per minute."""
    p = SYNTHETIC
    rng = np.random.default_rng(seed)
    n = p["days"] * 1440
    minute = np.arange(n)
    doy = minute / 1440.0
    hour = (minute % 1440) / 60.0
    # demand on a 5-minute grid, then linear interpolation
    k5 = np.arange(0, n + 5, 5)
    h5, d5 = (k5 % 1440) / 60.0, k5 / 1440.0
    profile = (0.80 + 0.22 * np.exp(-((h5 - 8.0) / 2.0) ** 2) + 0.34 * np.exp(-((h5 - 19.0) / 2.5) ** 2)
               - 0.10 * np.exp(-((h5 - 3.5) / 2.5) ** 2))
    profile /= profile.mean()
    season = 1.0 + p["demand_season"] * np.cos(2 * np.pi * (d5 - 15.0) / 365.0)
    noise = _ar1(rng, len(k5), p["demand_noise_min"] / 5.0, p["demand_noise"])
    d = p["demand_mean_kw"] * season * profile * np.exp(noise)
    demand = np.interp(minute, k5, d)
    demand = limit_rise(np.clip(demand, p["demand_min_kw"], p["demand_max_kw"]), p["demand_rise_kw"])
    # wind
    season_w = 1.0 + p["wind_season"] * np.cos(2 * np.pi * (doy - 20.0) / 365.0)
    x = _ar1(rng, n, p["wind_slow_min"], p["wind_slow"]) + _ar1(rng, n, p["wind_fast_min"], p["wind_fast"])
    v = p["wind_speed_ms"] * season_w * np.exp(x - 0.5 * (p["wind_slow"] ** 2 + p["wind_fast"] ** 2))
    ci, r, co = p["cut_in_ms"], p["rated_ms"], p["cut_out_ms"]
    curve = np.where(v < ci, 0.0, np.where(v < r, (v ** 3 - ci ** 3) / (r ** 3 - ci ** 3), np.where(v < co, 1.0, 0.0)))
    wind = limit_drop(WIND_SCALE_KW * curve, p["wind_drop"] * WIND_SCALE_KW)
    del hour
    return demand, wind


def load_csv(path: str | Path) -> GridData:
    """Demand and wind from a CSV file in the paper's layout (see the module docstring)."""
    import pandas as pd
    path = Path(path)
    where = f"microgrid data file {str(path)!r}"
    if not path.is_file():
        raise InvalidParameter(f"{where} not found (data is 'synthetic' or the path of a CSV file)")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise InvalidParameter(f"{where} is not a readable CSV file: {exc}") from None
    need = ("DateTime", "Load", "AvailableWindPower")
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InvalidParameter(f"{where} lacks the column(s) {missing}; expected {list(need)} "
                               f"(found {list(frame.columns)[:8]})")
    if len(frame) < 2:
        raise InvalidParameter(f"{where} has {len(frame)} row(s); it needs one row per minute")
    try:
        when = pd.to_datetime(frame["DateTime"], format="mixed")
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"{where}: DateTime is not a date and time in every row ({exc})") from None
    steps = np.diff(when.to_numpy().astype("datetime64[s]").astype(np.int64))
    if (steps != 60).any():
        i = int(np.flatnonzero(steps != 60)[0])
        raise InvalidParameter(f"{where}: rows must be consecutive minutes; row {i + 2} "
                               f"({frame['DateTime'].iloc[i + 1]}) follows {frame['DateTime'].iloc[i]}")
    values = {}
    for col, hi in (("Load", np.inf), ("AvailableWindPower", 1.0 + 1e-9)):
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(v) | (v < 0) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            rule = "a finite number >= 0" + (" and <= 1" if np.isfinite(hi) else "")
            raise InvalidParameter(f"{where}: {col} in row {i + 2} is {frame[col].iloc[i]!r}; each must be {rule}")
        values[col] = v
    t0 = when.iloc[0].to_pydatetime().replace(second=0, microsecond=0)
    return _pack(f"csv-{path.name}", t0, values["Load"] * DEMAND_SCALE_KW,
                 np.minimum(values["AvailableWindPower"], 1.0) * WIND_SCALE_KW)


def load(data: str) -> GridData:
    """``synthetic`` or the path of a CSV file."""
    if data == "synthetic":
        return synthetic()
    return _load_csv_cached(str(Path(data).resolve()), _mtime(data))


def _mtime(data: str) -> float:
    try:
        return Path(data).stat().st_mtime
    except OSError:
        return -1.0


@lru_cache(maxsize=4)
def _load_csv_cached(path: str, mtime: float) -> GridData:
    return load_csv(path)


def forecasts(data: GridData, minute: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The demand and wind forecasts seen at ``minute`` [R] for the next ``steps`` minutes:
    -> two [R, steps] tensors (kW)."""
    f = FORECAST
    ahead = minute.unsqueeze(1) + torch.arange(1, steps + 1, device=minute.device)
    out = []
    for truth, z, issue, lead, sigma, top in (
            (data.demand, data.demand_z, f["demand_issue_min"], f["demand_lead_min"], f["demand_sigma_kw"], np.inf),
            (data.wind, data.wind_z, f["wind_issue_min"], f["wind_lead_min"], f["wind_sigma_kw"], WIND_SCALE_KW)):
        k = torch.div(minute, issue, rounding_mode="floor")
        since = (ahead - (k * issue).unsqueeze(1)).double()
        err = sigma * torch.sqrt(since / lead) * z[k].unsqueeze(1)
        out.append((truth[ahead] + err).clamp(0.0, top))
    return out[0], out[1]
