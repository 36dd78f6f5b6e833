"""The remote microgrid as one batched torch simulator (one minute per step).

Action [B, 2] in [-1, 1]: a0 asks for a number of running gensets (``plant.wanted_command``),
a1 x 600 kW is the battery's grid-side power command (+ discharges). Rewards: minus the paper's
evaluation reward terms, either one scalar per minute (fuel rate / 240 l/h + degradation
increment: over a day, litres / 4 + degradation) or two (litres, degradation). Constraint
costs per minute: unserved energy (kWh), SoC outside its operating band [0.05, 0.95]
(minutes), genset rule breaches (a stop before the minimum run time, a set above its prime
rating while the battery could still have discharged within its operating band, a set's 48 h
average above 0.7 x its prime rating; a count per set and minute).

Observation (float32; G sets, F forecast minutes): the paper's 37 entries (2 + 11 G + 13:
group, per-set and battery state, this minute's demand and available wind, the last
minute's commands and what the plant did with them), the episode's elapsed fraction, F
demand forecasts, F wind forecasts and the newest 30 open rainflow turning points of the SoC
(-1 where fewer). ``decode`` reads the plant state back from it (what the shields use).
"""
from __future__ import annotations

import numpy as np
import torch

from ...errors import InvalidParameter
from ...problem import BatchedSim
from . import plant as pl
from .data import GridData, forecasts
from .plant import COOLDOWN, OFF, RUNNING, WARMUP, Plant

TOL_KW = 0.01        # a shortfall smaller than this (10 W) is numerical noise, not unserved energy
TOL_SOC = 1e-6
TURNING_POINTS = 30  # rainflow turning points in the observation (the paper's buffer size)
EVAL_START = dict(soc=0.2, avg0=270.0, avg_other=240.0)  # the paper's evaluation start state
PER_SET = 11


class MicrogridSim(BatchedSim):
    n_con = 3
    differentiable = False

    def __init__(self, data: GridData, plant: Plant, forecast: int, horizon: int, split: bool,
                 test_starts: list[int], dev_starts: list[int], train_starts: torch.Tensor,
                 test_seed: int, dev_seed: int):
        self.data, self.plant, self.forecast, self.horizon = data, plant, int(forecast), int(horizon)
        self.split = bool(split)
        self.n_obj = 2 if split else 1
        self.test_starts, self.dev_starts, self.train_starts = list(test_starts), list(dev_starts), train_starts
        self.test_seed, self.dev_seed = test_seed, dev_seed
        G = plant.n_gensets
        self.base = 2 + PER_SET * G      # first battery/exogenous entry
        self.obs_dim = self.base + 14 + 2 * self.forecast + TURNING_POINTS
        self.act_dim = 2
        self.action_low, self.action_high = -np.ones(2), np.ones(2)
        self._exo: dict = {}

    # ------------------------------------------------------------------ scenarios
    def exogenous(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        key = str(device)
        if key not in self._exo:
            self._exo[key] = (self.data.demand.to(device), self.data.wind.to(device))
        return self._exo[key]

    def _starts(self, batch, generator):
        seed = generator.initial_seed()
        if seed in (self.test_seed, self.dev_seed):
            days = self.test_starts if seed == self.test_seed else self.dev_starts
            if not days:
                raise InvalidParameter(f"{self.data.name}: no {'test' if seed == self.test_seed else 'development'} "
                                       "day in the data (07:00 on the 1st / 15th of February..November)")
            return torch.as_tensor(days)[torch.arange(batch) % len(days)], True
        if len(self.train_starts) == 0:
            raise InvalidParameter(f"{self.data.name}: no training window outside the test and development days")
        pick = torch.randint(len(self.train_starts), (batch,), generator=generator)
        return self.train_starts[pick], False

    def reset(self, batch, generator, device="cpu", horizon=None):
        """Test (or development) scenarios when the generator was seeded with the test (or
        development) seed: the fixed days in order, from the paper's evaluation start state
        (genset 0 running with its minimum run time met, the others off, SoC 0.2). Any other
        seed: training windows drawn uniformly (any minute, away from the held-out days) from
        the paper's training start states (genset 0 on with probability 0.5, then running,
        warming up or cooling down w.p. 0.6/0.2/0.2 with random counters; SoC U(0.1, 0.9))."""
        T = self.horizon if horizon is None else int(horizon)
        p, G = self.plant, self.plant.n_gensets
        starts, fixed = self._starts(batch, generator)
        status = torch.full((batch, G), OFF, dtype=torch.long)
        tsw, tsc, tss = (torch.zeros((batch, G), dtype=torch.long) for _ in range(3))
        avg = torch.full((batch, G), EVAL_START["avg_other"], dtype=torch.float64)
        if fixed:
            status[:, 0] = RUNNING
            tss[:, 0] = p.min_run + 1
            avg[:, 0] = EVAL_START["avg0"]
            soc = torch.full((batch,), EVAL_START["soc"], dtype=torch.float64)
        else:
            u = torch.rand((batch, 6), generator=generator, dtype=torch.float64)
            on = u[:, 0] < 0.5
            kind = torch.where(u[:, 1] < 0.6, RUNNING, torch.where(u[:, 1] < 0.8, WARMUP, COOLDOWN))
            status[:, 0] = torch.where(on, kind, torch.full_like(kind, OFF))
            tsw[:, 0] = torch.where(status[:, 0] == WARMUP, (u[:, 2] * p.warmup).long(), 0)
            tsc[:, 0] = torch.where(status[:, 0] == COOLDOWN, (u[:, 3] * p.cooldown).long(), 0)
            tss[:, 0] = torch.where(status[:, 0] == RUNNING, (u[:, 4] * p.min_run).long(), 0)
            avg[:, 0] = 200.0 + 60.0 * u[:, 5]
            soc = 0.1 + 0.8 * torch.rand(batch, generator=generator, dtype=torch.float64)
        core = {k: v.to(device) for k, v in dict(status=status, tsw=tsw, tsc=tsc, tss=tss, avg=avg, soc=soc).items()}
        z = torch.zeros(batch, dtype=torch.float64, device=device)
        return {"t": 0, "T": T, "start": starts.to(device), **core,
                "rf": pl.rainflow_init(p, core["soc"]),
                "last": {"gen": torch.zeros((batch, G), dtype=torch.float64, device=device),
                         "fuel": torch.zeros((batch, G), dtype=torch.float64, device=device),
                         **{k: z for k in ("deg", "wind", "bal", "cmd", "p_cmd", "done", "p", "curtailed")}}}

    # ------------------------------------------------------------------ observation
    def now(self, state) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(minute index, demand, available wind) of the minute the next step serves."""
        D, A = self.exogenous(state["soc"].device)
        minute = state["start"] + state["t"]
        return minute, D[minute], A[minute]

    def available(self, status, avg) -> torch.Tensor:
        """Each set's available output (kW): running: its cap with the overload and the 48 h
        average's limit; warming up: the warm-up power; else 0."""
        p = self.plant
        cap = torch.minimum(torch.full_like(avg, p.cap_kw), pl.avg_cap(p, avg))
        return torch.where(status == RUNNING, cap,
                           torch.where(status == WARMUP, torch.full_like(avg, p.warmup_kw), torch.zeros_like(avg)))

    def observe(self, state):
        p, G = self.plant, self.plant.n_gensets
        last = state["last"]
        s, avg = state["status"], state["avg"]
        gmax, fmax = G * p.cap_kw, G * (p.fuel_per_kwh * p.cap_kw + p.fuel_idle)
        lin = lambda x, m: 2.0 * x / m - 1.0
        flag = lambda b: 2.0 * b.double() - 1.0
        per = torch.stack([
            flag(s != OFF), flag(s == WARMUP), flag(s == COOLDOWN), flag(last["gen"] > p.prime_kw),
            lin(state["tsw"].double(), p.warmup), lin(state["tsc"].double(), p.cooldown),
            lin(state["tss"].double(), p.min_run),
            lin(last["gen"], p.cap_kw), lin(self.available(s, avg), p.cap_kw), lin(avg, p.cap_kw),
            lin(last["fuel"], fmax / G)], 2).flatten(1)          # [R, 11 G], set by set
        minute, D, A = self.now(state)
        scale = gmax + p.battery_kw
        rest = torch.stack([
            2.0 * state["soc"] - 1.0, last["p"] / p.battery_kw, last["deg"],
            lin(A, p.wind_kw), lin(last["wind"], p.wind_kw), lin(D, scale), last["bal"] / scale,
            last["cmd"], last["p_cmd"] / p.battery_kw, last["done"],
            lin(last["gen"].sum(1), gmax), last["p"] / p.battery_kw, last["curtailed"] / p.wind_kw,
            torch.full_like(D, state["t"] / state["T"])], 1)
        head = torch.stack([lin(last["gen"].sum(1), gmax), lin(last["fuel"].sum(1), fmax)], 1)
        parts = [head, per, rest]
        if self.forecast:
            dfc, wfc = forecasts(self.data_on(D.device), minute, self.forecast)
            parts += [lin(dfc, scale), lin(wfc, p.wind_kw)]
        parts.append(pl.open_turning_points(state["rf"], TURNING_POINTS))
        return torch.cat(parts, 1).float()

    def data_on(self, device) -> GridData:
        D, A = self.exogenous(device)
        if D is self.data.demand:
            return self.data
        from dataclasses import replace
        return replace(self.data, demand=D, wind=A, demand_z=self.data.demand_z.to(device),
                       wind_z=self.data.wind_z.to(device))

    def decode(self, obs: torch.Tensor) -> dict:
        """The plant state an observation shows: status, tsw, tsc, tss [R, G] (long); avg [R, G],
        soc, demand and wind (this minute's, kW) [R] (float64); frac (elapsed share of the
        episode). The inverse of ``observe`` on these entries (to float32 rounding)."""
        p, G = self.plant, self.plant.n_gensets
        o = obs.double()
        per = o[:, 2:self.base].reshape(-1, G, PER_SET)
        on, warm, cool = per[..., 0] > 0, per[..., 1] > 0, per[..., 2] > 0
        status = torch.where(~on, OFF, torch.where(warm, WARMUP, torch.where(cool, COOLDOWN, RUNNING)))
        un = lambda x, m: (x + 1.0) * m / 2.0
        b = self.base
        scale = G * p.cap_kw + p.battery_kw
        return {"status": status.long(),
                "tsw": torch.round(un(per[..., 4], p.warmup)).long(),
                "tsc": torch.round(un(per[..., 5], p.cooldown)).long(),
                "tss": torch.round(un(per[..., 6], p.min_run)).long(),
                "avg": un(per[..., 9], p.cap_kw), "soc": (o[:, b] + 1.0) / 2.0,
                "wind": un(o[:, b + 3], p.wind_kw), "demand": un(o[:, b + 5], scale), "frac": o[:, b + 13]}

    def core(self, state) -> dict:
        """The plant state of a simulator state, exactly (what ``decode`` reads back)."""
        _, D, A = self.now(state)
        return {k: state[k] for k in ("status", "tsw", "tsc", "tss", "avg", "soc")} | {
            "demand": D, "wind": A, "frac": torch.full_like(D, state["t"] / state["T"])}

    # ------------------------------------------------------------------ dynamics
    def step(self, state, action):
        p = self.plant
        _, D, A = self.now(state)
        a = action.to(D.device).double()
        core = {k: state[k] for k in ("status", "tsw", "tsc", "tss", "avg", "soc")}
        cmd = pl.wanted_command(p, core["status"], a[:, 0])
        after, done_cmd, premature = pl.transition(p, core, cmd)
        p_cmd = a[:, 1].clamp(-1.0, 1.0) * p.battery_kw
        out = pl.power(p, after, p_cmd, D, A, p.cap_kw, p.soc_device)
        fuel = pl.fuel_rate(p, after["status"], out["gen"])
        rf, deg = pl.rainflow_step(p, state["rf"], core["soc"], out["soc"])
        # constraint costs
        short = -out["bal"]
        unserved = torch.where(short > TOL_KW, short, torch.zeros_like(short)) / 60.0
        lo, hi = p.soc_reserve
        soc_out = ((out["soc"] < lo - TOL_SOC) | (out["soc"] > hi + TOL_SOC)).double()
        headroom = pl.battery_limits(p, core["soc"], p.soc_reserve)[1] - out["p"] > TOL_KW
        overload = ((out["gen"] > p.prime_kw + TOL_KW) & headroom.unsqueeze(1)).sum(1)
        avg_high = (out["avg"] > p.avg_limit * p.prime_kw + 1e-3).sum(1)
        rules = (premature.long() + overload + avg_high).double()
        cost = torch.stack([unserved, soc_out, rules], 1)
        litres_h = fuel.sum(1)
        if self.split:
            reward = -torch.stack([litres_h / 60.0, deg], 1)
        else:
            reward = -(litres_h / (p.n_gensets * (p.fuel_per_kwh * p.cap_kw + p.fuel_idle)) + deg).unsqueeze(1)
        t = state["t"] + 1
        new = {**state, "t": t, **{k: after[k] for k in ("status", "tsw", "tsc", "tss")},
               "avg": out["avg"], "soc": out["soc"], "rf": rf,
               "last": {"gen": out["gen"], "fuel": fuel, "deg": deg, "wind": out["wind"], "bal": out["bal"],
                        "cmd": cmd.double(), "p_cmd": p_cmd, "done": done_cmd.double(), "p": out["p"],
                        "curtailed": A - out["wind"]}}
        done = torch.full((D.shape[0],), t >= state["T"], dtype=torch.bool, device=D.device)
        return new, reward, cost, done
