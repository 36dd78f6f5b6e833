"""Hydrothermal systems: the Bolivian case (``data/``) and a seeded synthetic generator.

Units: volumes in hm3, flows in m3/s, power in MW, costs in money per MWh. A stage lasts
``STAGE_HOURS`` hours, so 1 m3/s over a stage is k = 0.0036 x STAGE_HOURS hm3.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import MobenchError

DATA = Path(__file__).parent / "data"
STAGE_HOURS = 730.0          # monthly stages (the source README calls its stages monthly)
K = 0.0036 * STAGE_HOURS      # hm3 per (m3/s over one stage)
INITIAL_FRACTION = 0.5        # initial volumes: half of each reservoir's capacity


class HydroDataError(MobenchError, ValueError):
    """A malformed or inconsistent data file."""


@dataclass(frozen=True, eq=False)
class System:
    name: str
    vmax: np.ndarray            # [R] hm3
    vmin: np.ndarray            # [R]
    v0: np.ndarray              # [R] initial volumes
    qmax: np.ndarray            # [R] m3/s
    prod: np.ndarray            # [R] MW per m3/s
    down_turbine: np.ndarray    # [R] index of the plant receiving the turbined flow, -1 if none
    down_spill: np.ndarray      # [R] index of the plant receiving the spill, -1 if none
    thermal_cost: np.ndarray    # [G] money per MWh
    thermal_pmax: np.ndarray    # [G] MW
    demand: float               # MW (copper plate)
    deficit_cost: float         # money per MWh
    hydro_cost: float           # money per MWh of hydro generation
    inflows: np.ndarray         # [T, S, R] m3/s: S equiprobable scenarios per stage (stagewise independent)
    k: float = K

    @property
    def n_res(self) -> int:
        return len(self.vmax)

    @property
    def stages(self) -> int:
        return self.inflows.shape[0]

    def upstream(self) -> tuple[np.ndarray, np.ndarray]:
        """(U_q, U_s): U[i, j] = 1 when plant j turbines (spills) into plant i."""
        R = np.arange(self.n_res)
        return ((self.down_turbine[None, :] == R[:, None]).astype(float),
                (self.down_spill[None, :] == R[:, None]).astype(float))

    def truncated(self, stages: int) -> "System":
        """The first ``stages`` stages (the inflow rows cycle when more are asked for)."""
        T = self.inflows.shape[0]
        rows = np.arange(stages) % T
        return System(**{**self.__dict__, "inflows": self.inflows[rows]})


def _read(name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(DATA / name)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise HydroDataError(f"cannot read {DATA / name}: {e}") from None


def load_bolivia(load_level: str = "training") -> System:
    """The Bolivian case. ``load_level``: "training" (0.6 x the network's loads, as in the
    source's exported subproblems) or "original"."""
    hydro, thermal, loads = _read("hydro_plants.csv"), _read("thermal_plants.csv"), _read("loads.csv")
    params = _read("parameters.csv").set_index("key")["value"]
    inflows = _read("inflows.csv")
    need = {"hydro_id", "max_volume_hm3", "min_volume_hm3", "max_turbine_flow_m3s",
            "production_factor_MW_per_m3s", "downstream_turbine", "downstream_spill", "name"}
    if not need <= set(hydro.columns):
        raise HydroDataError(f"hydro_plants.csv lacks columns {sorted(need - set(hydro.columns))}")
    names = list(hydro["name"])
    index = {n: i for i, n in enumerate(names)}

    def link(col):
        out = []
        for v in hydro[col]:
            if isinstance(v, str) and v.strip():
                if v not in index:
                    raise HydroDataError(f"hydro_plants.csv: {col} names unknown plant {v!r}")
                out.append(index[v])
            else:
                out.append(-1)
        return np.array(out)
    T, S, R = inflows["stage"].max(), inflows["scenario"].max(), len(hydro)
    if len(inflows) != T * S * R:
        raise HydroDataError(f"inflows.csv has {len(inflows)} rows, expected {T} x {S} x {R}")
    arr = np.zeros((T, S, R))
    arr[inflows["stage"] - 1, inflows["scenario"] - 1, inflows["hydro_id"] - 1] = inflows["inflow_m3s"]
    if (arr < 0).any() or not np.isfinite(arr).all():
        raise HydroDataError("inflows.csv: inflows must be finite and non-negative")
    col = {"training": "pd_pu_x0.6_training", "original": "pd_pu"}[load_level]
    base = float(params["baseMVA"])
    vmax = hydro["max_volume_hm3"].to_numpy(float)
    return System(
        name=f"bolivia-{load_level}", vmax=vmax, vmin=hydro["min_volume_hm3"].to_numpy(float),
        v0=INITIAL_FRACTION * vmax, qmax=hydro["max_turbine_flow_m3s"].to_numpy(float),
        prod=hydro["production_factor_MW_per_m3s"].to_numpy(float),
        down_turbine=link("downstream_turbine"), down_spill=link("downstream_spill"),
        thermal_cost=thermal["cost_per_MWh"].to_numpy(float), thermal_pmax=thermal["pmax_MW"].to_numpy(float),
        demand=float(loads[col].sum() * base), deficit_cost=float(params["cost_deficit"]),
        hydro_cost=float(params["hydro_gen_cost"]) / base, inflows=arr)


def synthetic(reservoirs: int, thermals: int, stages: int, scenarios: int, seed: int) -> System:
    """A seeded small system: a cascade of ``reservoirs`` (each turbines and spills into the
    next), ``thermals`` units with increasing costs, demand about 80% of total capacity,
    lognormal inflows with a seasonal mean."""
    rng = np.random.default_rng(seed)
    R, G = reservoirs, thermals
    qmax = rng.uniform(20, 60, R)
    prod = rng.uniform(0.5, 1.5, R)
    vmax = qmax * K * rng.uniform(1.0, 4.0, R)  # one to four stages of full turbining
    season = 1 + 0.5 * np.sin(2 * np.pi * np.arange(stages) / 12)
    mean = 0.6 * qmax[None, :] * season[:, None]
    inflows = mean[:, None, :] * rng.lognormal(-0.18, 0.6, (stages, scenarios, R))
    hydro_cap = float((prod * qmax).sum())
    pmax = np.full(G, hydro_cap / G)
    return System(
        name=f"synthetic-r{R}-g{G}-t{stages}-s{scenarios}-{seed}", vmax=vmax, vmin=np.zeros(R),
        v0=INITIAL_FRACTION * vmax, qmax=qmax, prod=prod,
        down_turbine=np.array([i + 1 if i + 1 < R else -1 for i in range(R)]),
        down_spill=np.array([i + 1 if i + 1 < R else -1 for i in range(R)]),
        thermal_cost=np.sort(rng.uniform(10, 100, G)), thermal_pmax=pmax,
        demand=0.8 * (hydro_cap + pmax.sum()) * 0.75, deficit_cost=500.0, hydro_cost=0.0,
        inflows=inflows)
