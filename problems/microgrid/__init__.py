"""Remote wind-diesel-battery microgrid (Nekoei, Blondin Masse, Hassani, Chandar, Mai, "Shielded
controller units for RL with operational constraints", arXiv 2512.01046; code
chandar-lab/SCU_RL_MicroGrid).

``microgrid/remote-v0``: one policy, scored on the paper's evaluation reward: per day,
fuel [l] / 4 + battery degradation (the per-minute sum of fuel rate / 240 l/h and the rainflow
degradation increment), min; constraints (each <= 0 per day): unserved energy (kWh), minutes
with the SoC outside [0.05, 0.95], genset rule breaches. Reference: the mean over the test days
of the perfect-foresight fuel bound / 4 (``bound``: it relaxes degradation to 0, see bound.py).
``microgrid/remote-2obj-v0``: the same plant with fuel (litres per day) and degradation (per
day) as two objectives, answered by a set of policies; HV reference point (3000 l, 100).
Parameters: ``days`` (test days, 07:00 on the 1st of February, March, ...), ``hours`` (episode
length), ``forecast`` (minutes of demand and wind forecasts in the observation), ``data``
(``synthetic`` or a CSV file in the paper's layout, see data.py).
"""
from __future__ import annotations

import hashlib
import json
from typing import Protocol, runtime_checkable

import numpy as np

from ...cache import cached_json
from ...errors import InvalidParameter
from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Constraint, Objective, Reference, Spec, TestScenarios
from ...views import refine
from .bound import MIP_SETTINGS, fuel_bound
from .data import GridData, load, load_csv, synthetic
from .dynamics import TOL_KW, TOL_SOC, MicrogridSim
from .plant import (COOLDOWN, NONE, OFF, RUNNING, START, STOP, WARMUP, Plant, avg_cap, battery_limits, battery_step,
                    command_action, fuel_rate, genset_range, open_turning_points, power, rainflow_init, rainflow_step,
                    transition, wanted_command)

TEST_SEED, DEV_SEED = 20251201, 20251202
CONSTRAINTS = (Constraint("unserved_kwh", 0.0), Constraint("soc_band_min", 0.0), Constraint("genset_breaches", 0.0))
# HV reference point of the two-objective view: 3000 l is a day of the two sets sharing a
# 500 kW load (24 h x 2 x (0.25 x 250 + 10) l/h = 3480 l) less the share wind covers on an
# ordinary day; 100 is about fourteen full 0.05 <-> 0.95 half cycles (alpha (e^0.9 - 1) = 7.3
# each), far more than any battery schedule that cycles once or twice a day
HV_REF = (3000.0, 100.0)
BOUND_VERSION = 1


@runtime_checkable
class MicrogridView(Protocol):
    """The microgrid plant: ``sim()`` returns a MicrogridSim (its ``plant`` constants, ``decode``
    of an observation, ``core`` of a state), whose step is built from the pure functions of
    ``mobench.problems.microgrid.plant`` (``transition``, ``power``, ``battery_limits``,
    ``genset_range``), the pieces a look-ahead runs."""

    def sim(self) -> MicrogridSim: ...


refine(MicrogridView, lambda p: isinstance(p.sim(), MicrogridSim))


class Remote(Problem):
    split = False

    def __init__(self, target, days: int, hours: int, forecast: int, data: str):
        super().__init__(target)
        self.days, self.hours, self.forecast = days, hours, forecast
        self.data_name = data
        self.grid = load(data)
        self.plant = Plant()
        T = 60 * hours
        self.test_starts = self.grid.day_starts(1, T, forecast)
        if len(self.test_starts) < days:
            raise InvalidParameter(f"{self.id}: data {data!r} holds {len(self.test_starts)} test day(s) (07:00 on the "
                                   f"1st of February..November with {hours} h and {forecast} forecast minutes "
                                   f"after it); days={days} asks for more")
        self.test_starts = self.test_starts[:days]
        self.dev_starts = self.grid.day_starts(15, T, forecast)[:days]
        self.train_starts = self.grid.training_starts(T, forecast, self.test_starts + self.dev_starts)
        what = "fuel [l] / 4 + degradation per day" if not self.split else "fuel [l] and degradation per day"
        objectives = (Objective("fuel_l", "min"), Objective("degradation", "min")) if self.split else \
            (Objective("cost", "min"),)
        self.spec = Spec(id=self.id, objectives=objectives, constraints=CONSTRAINTS,
                         answer="pareto-policies" if self.split else "policy",
                         scenarios=TestScenarios(seed=TEST_SEED, n=days, horizon=T, aggregate="sum", dev_seed=DEV_SEED),
                         hv_ref_point=HV_REF if self.split else None,
                         description=f"remote wind-diesel-battery microgrid, {days} test day(s) of {hours} h, "
                                     f"{data} data: {what}", tags=("microgrid", "energy"))

    def sim(self) -> MicrogridSim:
        return MicrogridSim(self.grid, self.plant, self.forecast, 60 * self.hours, self.split, self.test_starts,
                            self.dev_starts, self.train_starts, TEST_SEED, DEV_SEED)

    # ------------------------------------------------------------------ reference
    def reference_kind(self) -> str:
        return "bound"

    def start_state(self) -> dict:
        """The test days' start state (as the simulator's reset gives it)."""
        import torch
        st = self.sim().reset(1, torch.Generator().manual_seed(TEST_SEED))
        return {k: st[k][0].tolist() for k in ("status", "tsw", "tsc", "tss")} | {"soc": float(st["soc"][0])}

    def day_bounds(self) -> list[dict]:
        """The perfect-foresight fuel bound of each test day (cached per day: keyed by the day's
        demand and wind, the start state, the plant constants and the MIP settings)."""
        T, init = 60 * self.hours, self.start_state()
        out = []
        for start in self.test_starts:
            demand = self.grid.demand[start:start + T].numpy()
            wind = self.grid.wind[start:start + T].numpy()
            h = hashlib.sha256(np.concatenate([demand, wind]).tobytes())
            h.update(json.dumps([init, self.plant.to_dict(), MIP_SETTINGS], sort_keys=True).encode())
            key = f"bound_{h.hexdigest()[:20]}_v{BOUND_VERSION}"
            r = cached_json("microgrid", key, lambda: {k: v for k, v in fuel_bound(self.plant, demand, wind, init).items()
                                                       if k != "schedule"})
            out.append(r)
        return out

    def reference(self) -> Reference:
        bounds = self.day_bounds()
        fuel = [b["bound"] for b in bounds]
        p = self.plant
        scale = 60.0 / (p.n_gensets * (p.fuel_per_kwh * p.cap_kw + p.fuel_idle))   # litres -> the scalar
        details = {"fuel_bound_per_day": fuel, "mip_gap_per_day": [b["gap"] for b in bounds],
                   "mip_nodes_per_day": [b["nodes"] for b in bounds], "mip_status": [b["status"] for b in bounds],
                   "incumbent_fuel_per_day": [b["incumbent"] for b in bounds], "mip_settings": MIP_SETTINGS}
        source = ("perfect-foresight MIP fuel bound per test day (HiGHS dual bound, node-limited); degradation, "
                  "the 48 h average and the battery's losses beyond a linear band relaxed")
        if self.split:
            f = float(np.mean(fuel))
            return Reference("bound", value=[f, 0.0], front=np.array([[f, 0.0]]), source=source, details=details)
        return Reference("bound", value=float(np.mean(fuel)) * scale, source=source + "; value = fuel / 4",
                         details=details)


class RemoteTwoObjective(Remote):
    split = True


PARAMS = {
    "days": Param(10, low=1, high=10, doc="test days: 07:00 on the 1st of February, March, ... (the paper's 10)"),
    "hours": Param(24, low=1, high=24, doc="episode length in hours (the paper: 24, i.e. 1,440 one-minute steps)"),
    "forecast": Param(30, low=0, high=120, doc="minutes of demand and wind forecasts in the observation"),
    "data": Param("synthetic", doc="'synthetic' (the seeded synthetic year) or the path of a CSV file in the paper's "
                                   "layout (DateTime, Load x 300 kW, AvailableWindPower x 400 kW, one row per minute)"),
}
register("microgrid/remote-v0", Remote, params=PARAMS,
         description="remote microgrid (2 gensets, battery, wind): fuel/4 + degradation per day, 3 constraints")
register("microgrid/remote-2obj-v0", RemoteTwoObjective, params=PARAMS,
         description="remote microgrid: fuel and battery degradation as two objectives (Pareto set)")

# smoke: two hours of one test day, the rule-based controller and random actions behind the SCU stack
# (seconds, no training); paper-scu: the leaderboard's cells (benchmarks/microgrid.py)
register_suite("smoke", "microgrid/remote-v0:days=1,hours=2", {"mg-rule-based": None, "mg-random": None})
# the leaderboard's cells: every solver on the two-objective view (fuel, degradation, HV; the
# scalar objective follows from them), the cheap ones also on remote-v0 (the engine's gap)
SAC_BUDGET = (10_000, 1500)      # steps (about 7 days of experience; the paper's: 500,000), seconds
PPO_BUDGET = (60_000, 900)
register_suite("paper-scu", "microgrid/remote-2obj-v0", {
    "mg-rule-based": None, "mg-rule-based:quirks=true": None, "mg-rule-based:shield=none": None,
    "mg-greedy": None, "mg-greedy:quirks=true": None, "mg-random": None,
    "mg-constant:genset=none,battery=idle": None, "mg-constant:genset=stop,battery=idle": None,
    "mg-constant:genset=start,battery=charge": None,
    "mg-wrap:inner=random": None, "mg-wrap:inner=random,shield=none": None,
    "sac-scu": SAC_BUDGET, "sac": SAC_BUDGET,
    "mg-wrap:inner=ppo-lagrangian": PPO_BUDGET, "mg-wrap:inner=ppo-lagrangian,shield=none": PPO_BUDGET})
register_suite("paper-scu", "microgrid/remote-v0", {
    "mg-rule-based": None, "mg-greedy": None, "mg-wrap:inner=random": None, "random": None})

__all__ = ["Remote", "RemoteTwoObjective", "MicrogridView", "MicrogridSim", "Plant", "GridData",
           "fuel_bound", "load", "load_csv", "synthetic", "TOL_KW", "TOL_SOC", "TEST_SEED", "DEV_SEED", "HV_REF",
           "OFF", "WARMUP", "RUNNING", "COOLDOWN", "STOP", "NONE", "START", "avg_cap", "battery_limits",
           "battery_step", "command_action", "fuel_rate", "genset_range", "open_turning_points", "power",
           "rainflow_init", "rainflow_step", "transition", "wanted_command"]
