"""Hydrothermal systems: the Bolivian case (``data/``) and a seeded synthetic generator.

Units: volumes in hm3, flows in m3/s, power in MW, costs in money per MWh. A stage lasts
``System.hours`` hours (monthly: ``STAGE_HOURS`` = 730, weekly: 168), so 1 m3/s over a stage is
k = 0.0036 x hours hm3.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import MobenchError

DATA = Path(__file__).parent / "data"
STAGE_HOURS = 730.0          # monthly stages (the source README calls its stages monthly)
K = 0.0036 * STAGE_HOURS      # hm3 per (m3/s over one stage)
STAGES = {"monthly": STAGE_HOURS, "weekly": 168.0}  # stage length in hours (hydro.json: 168)
NETWORKS = ("copper", "dc", "soc", "ac")
INITIAL_FRACTION = 0.5        # initial volumes: half of each reservoir's capacity


class HydroDataError(MobenchError, ValueError):
    """A malformed or inconsistent data file."""


@dataclass(frozen=True, eq=False)
class Network:
    """A transmission network and the power-flow model its stage problems use (``model``):
    "dc": lossless DC power flow (angles in radians, flows in MW):
    flow on branch l = base x (theta[from] - theta[to]) / x[l], |theta[from] - theta[to]| <= max_angle[l],
    where max_angle = min(rating x x / base, the branch's angle-difference limit);
    "soc" / "ac": the second-order-cone relaxation / the exact AC power flow (``stage_soc``,
    ``stage_ac``), which also read the resistances, line charging, ratings, angle and voltage
    limits and reactive loads below (per unit, as in the data)."""
    n_bus: int
    ref: int                    # reference bus (angle 0)
    load: np.ndarray            # [B] MW
    hydro_bus: np.ndarray       # [R] bus index of each hydro plant
    thermal_bus: np.ndarray     # [G]
    br_from: np.ndarray         # [L]
    br_to: np.ndarray           # [L]
    br_x: np.ndarray            # [L] reactance, per unit
    max_angle: np.ndarray       # [L] rad
    base: float                 # MVA
    model: str = "dc"           # "dc", "soc" or "ac"
    br_r: np.ndarray | None = None      # [L] resistance, per unit
    br_b_fr: np.ndarray | None = None   # [L] line charging at the from end, per unit
    br_b_to: np.ndarray | None = None   # [L] line charging at the to end, per unit
    rate: np.ndarray | None = None      # [L] apparent-power rating, per unit
    angmin: np.ndarray | None = None    # [L] rad
    angmax: np.ndarray | None = None    # [L] rad
    vmin: np.ndarray | None = None      # [B] voltage magnitude limits, per unit
    vmax: np.ndarray | None = None      # [B]
    qload: np.ndarray | None = None     # [B] reactive load, MVAr

    def incidence(self) -> np.ndarray:
        """A[l, b] = +1 at the branch's from bus, -1 at its to bus."""
        A = np.zeros((len(self.br_x), self.n_bus))
        A[np.arange(len(self.br_x)), self.br_from] = 1.0
        A[np.arange(len(self.br_x)), self.br_to] = -1.0
        return A


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
    network: Network | None = None  # None: copper plate (one bus, demand = total load)
    hours: float = STAGE_HOURS      # stage length (k = 0.0036 x hours)

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

    @property
    def model(self) -> str:
        """The power-flow model of the stage problems: copper, dc, soc or ac."""
        return "copper" if self.network is None else self.network.model

    def truncated(self, stages: int) -> "System":
        """The first ``stages`` stages (the inflow rows cycle when more are asked for, as the
        source's loader repeats them: stage t takes row t mod 48)."""
        T = self.inflows.shape[0]
        rows = np.arange(stages) % T
        return System(**{**self.__dict__, "inflows": self.inflows[rows]})

    def with_model(self, model: str) -> "System":
        """The same system with the stage problems on another power-flow model of its network
        (e.g. the SOC relaxation of an AC system, on which SDDP builds its cuts)."""
        if self.network is None or model == "copper":
            raise HydroDataError(f"{self.name}: no network to model with {model!r}")
        from dataclasses import replace
        return System(**{**self.__dict__, "network": replace(self.network, model=model)})


class _Table:
    """A CSV file's columns as numpy arrays: integers, or floats, where every non-empty value
    parses as one (an empty value is NaN), else strings. The hydro data are seven small files;
    the csv module reads them without importing pandas (half a second that ``mobench list``,
    which builds every problem, would pay)."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self.cols = columns
        self.columns = list(columns)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.cols[key]
        return _Table({k: v[key] for k, v in self.cols.items()})  # a row mask or index

    def __len__(self) -> int:
        return len(next(iter(self.cols.values()))) if self.cols else 0


def _column(values: list[str]) -> np.ndarray:
    for kind in (int, float):
        try:
            return np.array([kind(v) if v.strip() else np.nan for v in values])
        except ValueError:
            continue
    return np.array(values, dtype=str)


def _read(name: str) -> _Table:
    import csv
    try:
        with open(DATA / name, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise HydroDataError(f"cannot read {DATA / name}: {e}") from None
    if not rows:
        raise HydroDataError(f"cannot read {DATA / name}: the file is empty")
    header, body = rows[0], [r for r in rows[1:] if r]
    ragged = next((i for i, r in enumerate(body) if len(r) != len(header)), None)
    if ragged is not None:
        raise HydroDataError(f"cannot read {DATA / name}: row {ragged + 2} has {len(body[ragged])} fields, "
                             f"the header {len(header)}")
    return _Table({h: _column([r[j] for r in body]) for j, h in enumerate(header)})


def load_bolivia(load_level: str = "training", network: str = "copper", stage: str = "monthly") -> System:
    """The Bolivian case. ``load_level``: "training" (0.6 x the network's loads, active and
    reactive, as in the source's exported subproblems) or "original". ``network``: "copper"
    (one bus), "dc" (DC power flow over the 28 buses and 31 branches), "soc" (its second-order
    cone relaxation of AC power flow) or "ac" (AC power flow), with a deficit variable per bus
    as in the source, each at most its bus's active load. ``stage``: "monthly" (730 h) or
    "weekly" (168 h); the inflow rows (m3/s) are the same either way."""
    hydro, thermal, loads = _read("hydro_plants.csv"), _read("thermal_plants.csv"), _read("loads.csv")
    p = _read("parameters.csv")
    params = dict(zip(p["key"], p["value"]))
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
    vmax = np.asarray(hydro["max_volume_hm3"], float)
    if network not in NETWORKS or stage not in STAGES:
        raise HydroDataError(f"network must be one of {list(NETWORKS)} and stage one of {list(STAGES)}; "
                             f"got network={network!r}, stage={stage!r}")
    net = _bolivia_network(hydro, thermal, loads, col, base, network) if network != "copper" else None
    hours = STAGES[stage]
    return System(
        name=f"bolivia-{load_level}", vmax=vmax, vmin=np.asarray(hydro["min_volume_hm3"], float),
        v0=INITIAL_FRACTION * vmax, qmax=np.asarray(hydro["max_turbine_flow_m3s"], float),
        prod=np.asarray(hydro["production_factor_MW_per_m3s"], float),
        down_turbine=link("downstream_turbine"), down_spill=link("downstream_spill"),
        thermal_cost=np.asarray(thermal["cost_per_MWh"], float), thermal_pmax=np.asarray(thermal["pmax_MW"], float),
        demand=float(loads[col].sum() * base), deficit_cost=float(params["cost_deficit"]),
        hydro_cost=float(params["hydro_gen_cost"]) / base, inflows=arr, network=net,
        k=0.0036 * hours, hours=hours)


def _bolivia_network(hydro, thermal, loads, load_col: str, base: float, model: str = "dc") -> Network:
    buses, branches = _read("buses.csv"), _read("branches.csv")
    need = {"from_bus", "to_bus", "x_pu", "rate_a_pu", "angmax_rad", "status"}
    if not need <= set(branches.columns):
        raise HydroDataError(f"branches.csv lacks columns {sorted(need - set(branches.columns))}")
    index = {int(b): i for i, b in enumerate(buses["bus"])}

    def bus_index(values, where):
        unknown = sorted({int(v) for v in values} - set(index))
        if unknown:
            raise HydroDataError(f"{where} names unknown buses {unknown}")
        return np.array([index[int(v)] for v in values])
    branches = branches[branches["status"] == 1]
    plain = ((branches["tap"] == 1) & (branches["shift_rad"] == 0) & (branches["g_fr_pu"] == 0)
             & (branches["g_to_pu"] == 0))
    if not plain.all():
        raise HydroDataError("branches.csv: the stage models take lines with tap 1, no phase shift and no "
                             f"shunt conductance; branches {list(branches['branch_id'][~plain])} have others")
    x = np.asarray(branches["x_pu"], float)
    if (x <= 0).any():
        raise HydroDataError("branches.csv: reactances must be positive")
    refs = np.flatnonzero(buses["bus_type"] == 3)
    if len(refs) != 1:
        raise HydroDataError(f"buses.csv: expected one reference bus (type 3), found {len(refs)}")
    load, qload = np.zeros(len(index)), np.zeros(len(index))
    np.add.at(load, bus_index(loads["bus"], "loads.csv"), np.asarray(loads[load_col], float) * base)
    qcol = load_col.replace("pd_", "qd_")
    np.add.at(qload, bus_index(loads["bus"], "loads.csv"), np.asarray(loads[qcol], float) * base)
    f = lambda c: np.asarray(branches[c], float)
    return Network(
        n_bus=len(index), ref=int(refs[0]), load=load,
        hydro_bus=bus_index(hydro["bus"], "hydro_plants.csv"),
        thermal_bus=bus_index(thermal["bus"], "thermal_plants.csv"),
        br_from=bus_index(branches["from_bus"], "branches.csv"),
        br_to=bus_index(branches["to_bus"], "branches.csv"), br_x=x,
        max_angle=np.minimum(np.asarray(branches["rate_a_pu"], float) * x, np.asarray(branches["angmax_rad"], float)),
        base=base, model=model, br_r=f("r_pu"), br_b_fr=f("b_fr_pu"), br_b_to=f("b_to_pu"), rate=f("rate_a_pu"),
        angmin=f("angmin_rad"), angmax=f("angmax_rad"), vmin=np.asarray(buses["vmin_pu"], float),
        vmax=np.asarray(buses["vmax_pu"], float), qload=qload)


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
