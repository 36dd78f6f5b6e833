"""Shielded controller units (SCU, Nekoei et al., arXiv 2512.01046): small units that each
``project(state, proposal) -> safe proposal`` and keep a record of their interventions,
composed in order into a stack that can run behind any policy of the microgrid.

A proposal (``Plan``) is the agent's action in the plant's terms, the sequencer command and the
battery power, plus the set-points the units plan on the way (wind used, group output). The
stack ends with the battery power that makes the plant's own load sharing realise the plan, so
the safe action is again the problem's action (a0, a1).

The paper's stack, in order (0. is the authors' genset controller's own rule, a unit here
because the plant carries out any stop and counts the breach):
0. ``MinimumRun``: a stop of a set that has not run its minimum time becomes no change.
1. ``Recoverability``: a stop (or no change) stands only if, running the plant 9 minutes ahead
   with a start requested at every later minute, the demand is met in a nominal case (demand and
   wind held, normal SoC band, sets at prime rating) and a worst case (demand rising 80 kW/min
   up to 570 kW, wind dropping 18% of its rating per minute, reserve SoC band, overload
   allowed); otherwise a stop becomes no change, and no change becomes a start. The look-ahead
   runs the problem's own plant functions (``plant.transition``, ``plant.power``) on all rows,
   candidates and cases at once (at most 4 B rows: a proposed stop is tested together with
   no change, its fallback), with the dispatch units below.
2. ``WindCurtailment``: wind first; curtailed only where the sets' minimum output plus the
   battery's charging (when it charges) exceeds the demand.
3. ``GensetSetpoint`` (prime rating): the group output for the battery command clipped to the
   normal SoC band.
4. ``BatteryAdjust``: the battery takes what the wind and the sets' plan leave (the slack),
   within the reserve band.
5. ``GensetSetpoint`` (with overload): the group output that covers what the battery cannot.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ...problems import microgrid as pl
from ...problems.microgrid import NONE, START, STOP, TOL_KW

LOOKAHEAD = 9  # the longest warm-up plus the longest cool-down (3 + 6 minutes)


@dataclass
class Plan:
    """A proposal: ``cmd`` [B] (STOP, NONE or START), ``p`` [B] battery power (kW, + discharges),
    and the set-points planned so far: ``wind`` (kW used) and ``gen`` (group output, kW)."""
    cmd: torch.Tensor
    p: torch.Tensor
    wind: torch.Tensor | None = None
    gen: torch.Tensor | None = None


class Record(dict):
    """Interventions of one unit: ``minutes`` (rows x steps seen), ``count`` (minutes it changed
    the proposal), ``per_day`` (count per 1,440 minutes) and unit-specific counts."""

    def __init__(self):
        super().__init__(minutes=0, count=0, per_day=0.0)

    def add(self, changed: torch.Tensor, **extra: torch.Tensor) -> None:
        self["minutes"] += int(changed.numel())
        self["count"] += int(changed.sum())
        for k, v in extra.items():
            self[k] = self.get(k, 0) + int(v.sum())
        self["per_day"] = 1440.0 * self["count"] / max(1, self["minutes"])

    def reset(self) -> None:
        self.clear()
        self.update(minutes=0, count=0, per_day=0.0)


class Context:
    """What the units see at one minute: the plant state (``status``, counters, ``avg``,
    ``soc``, this minute's ``demand`` and ``wind``), the plant constants, and caches of the
    state after a command, the battery's limits (normal and reserve band, computed together)
    and the group's output range (prime rating and overload, computed together)."""

    def __init__(self, plant: pl.Plant, state: dict):
        self.plant, self.state = plant, state
        self._after, self._limits, self._range = None, None, None

    @property
    def demand(self):
        return self.state["demand"]

    @property
    def wind(self):
        return self.state["wind"]

    def after(self, cmd: torch.Tensor) -> dict:
        """The sets' state for this minute once ``cmd`` is applied (the plant's transition)."""
        if self._after is None or self._after[0] is not cmd:
            self._after = (cmd, pl.transition(self.plant, self.state, cmd)[0])
            self._range = None
        return self._after[1]

    def limits(self, reserve: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The battery's (min, max) power for the normal or the reserve band."""
        if self._limits is None:
            p = self.plant
            soc = self.state["soc"]
            lo = torch.tensor([p.soc_normal[0], p.soc_reserve[0]], dtype=soc.dtype, device=soc.device)
            hi = torch.tensor([p.soc_normal[1], p.soc_reserve[1]], dtype=soc.dtype, device=soc.device)
            self._limits = pl.battery_limits(p, soc.unsqueeze(1), (lo, hi))
        return self._limits[0][:, int(reserve)], self._limits[1][:, int(reserve)]

    def clip_battery(self, p: torch.Tensor, reserve: bool) -> torch.Tensor:
        lo, hi = self.limits(reserve)
        return torch.maximum(torch.minimum(p, hi), lo)

    def genset_range(self, cmd: torch.Tensor, overload: bool):
        """(least, most) group output after ``cmd``: minimum loads and warm-up power; caps at
        the prime rating (or with the overload), and each set's 48 h average limit."""
        after, p = self.after(cmd), self.plant
        if self._range is None:
            avg = after["avg"].unsqueeze(2)
            caps = torch.tensor([p.prime_kw, p.cap_kw], dtype=avg.dtype, device=avg.device)
            self._range = pl.genset_range(p, after["status"], torch.minimum(caps, pl.avg_cap(p, avg)))
        lo, hi = self._range
        return lo[:, 0], hi[:, int(overload)]


class Unit:
    """A shield unit: ``project(ctx, plan) -> plan`` and its ``record``."""
    name = "unit"

    def __init__(self):
        self.record = Record()

    def project(self, ctx: Context, plan: Plan, record: bool = True) -> Plan:
        raise NotImplementedError


class MinimumRun(Unit):
    """A stop of a set that has not yet run its minimum time becomes no change (the authors'
    genset controller refuses it inside its state machine; the plant here carries any stop out
    and counts the breach). Records the refused stops."""
    name = "min_run"

    def project(self, ctx, plan, record=True):
        p, s = ctx.plant, ctx.state["status"]
        running = s == pl.RUNNING
        last = running & (running.flip(1).cumsum(1).flip(1) == 1)
        young = (last & (ctx.state["tss"] < p.min_run - 1)).any(1)
        refuse = (plan.cmd == STOP) & young & ~(s == pl.WARMUP).any(1)
        if record:
            self.record.add(refuse)
        return replace(plan, cmd=torch.where(refuse, NONE, plan.cmd))


class WindCurtailment(Unit):
    """Wind has priority: curtailed only where the sets' minimum output (after this minute's
    command) plus the battery's charging exceeds the demand (a discharge command does not
    displace wind). Records the minutes with wind curtailed."""
    name = "wind"

    def project(self, ctx, plan, record=True):
        p = ctx.plant
        g_min, _ = ctx.genset_range(plan.cmd, overload=True)
        b = ctx.clip_battery(plan.p, reserve=True)
        target = torch.where(b <= 0, ctx.demand - b - g_min, ctx.demand - g_min)
        w = torch.minimum(ctx.wind, target.clamp(0.0, p.wind_kw))
        if record:
            self.record.add(w < ctx.wind - TOL_KW)
        return replace(plan, wind=w)


class GensetSetpoint(Unit):
    """The group output: what the demand leaves after the wind and the battery command
    (clipped to the normal band, or for the overload pass the reserve band), within the sets'
    range (prime rating, or with the overload). Records the minutes where the output hit a
    limit of that range (the overload pass: minutes in overload)."""

    def __init__(self, overload: bool):
        super().__init__()
        self.overload = overload
        self.name = "genset_overload" if overload else "genset"

    def project(self, ctx, plan, record=True):
        p = ctx.plant
        b = ctx.clip_battery(plan.p, reserve=self.overload)
        lo, hi = ctx.genset_range(plan.cmd, self.overload)
        want = ctx.demand - b - plan.wind
        g = torch.maximum(torch.minimum(want, hi), lo)
        if record:
            if self.overload:
                n_on = (ctx.after(plan.cmd)["status"] == pl.RUNNING).sum(1)
                self.record.add(g > n_on * p.prime_kw + (ctx.after(plan.cmd)["status"] == pl.WARMUP).sum(1)
                                * p.warmup_kw + TOL_KW)
            else:
                self.record.add((want < lo - TOL_KW) | (want > hi + TOL_KW))
        return replace(plan, gen=g)


class BatteryAdjust(Unit):
    """The battery is the slack: it takes what the wind and the group plan leave, within the
    reserve band. Records the minutes where that moved the command by more than 1 kW."""
    name = "battery"

    def project(self, ctx, plan, record=True):
        p = ctx.plant
        new = ctx.clip_battery(ctx.demand - plan.gen - plan.wind, reserve=True)
        if record:
            self.record.add((new - plan.p.clamp(-p.battery_kw, p.battery_kw)).abs() > 1.0)
        return replace(plan, p=new)


def dispatch_units() -> list[Unit]:
    return [WindCurtailment(), GensetSetpoint(overload=False), BatteryAdjust(), GensetSetpoint(overload=True)]


class Recoverability(Unit):
    """The 9-minute look-ahead (see the module docstring). Records the overrides: a stop kept
    as no change (``stop_to_none``), a stop or no change turned into a start (``to_start``)."""
    name = "recoverability"

    def __init__(self, horizon: int = LOOKAHEAD, dispatch: list[Unit] | None = None):
        super().__init__()
        self.horizon = horizon
        # the overload pass only plans the group output that the plant's load sharing gives
        # anyway (the battery power is final after BatteryAdjust), so the look-ahead skips it
        self.dispatch = dispatch or dispatch_units()[:3]

    @torch.inference_mode()
    def passes(self, state: dict, first: torch.Tensor, p0: torch.Tensor, plant: pl.Plant) -> torch.Tensor:
        """Whether the command ``first`` (with battery command ``p0``) followed by a start
        request at every later minute meets the demand in both cases: -> [n] bool."""
        p, n = plant, first.shape[0]
        dev = p0.device
        rep = lambda x: x.repeat_interleave(2, 0)       # rows: each row x (nominal, worst case)
        st = {k: rep(state[k]) for k in ("status", "tsw", "tsc", "tss", "avg", "soc")}
        worst = torch.tensor([False, True], device=dev).repeat(n)
        wc = worst.unsqueeze(1)
        k = torch.arange(1, self.horizon + 2, device=dev, dtype=torch.float64)
        d0, w0 = rep(state["demand"]).unsqueeze(1), rep(state["wind"]).unsqueeze(1)
        dseq = torch.where(wc, (d0 + p.demand_rise_kw * k).clamp(max=p.demand_max_kw), d0)   # [2n, horizon + 1]
        wseq = torch.where(wc, (w0 - p.wind_drop * p.wind_kw * k).clamp(min=0.0), w0)
        cmd, batt = rep(first), rep(p0)
        start_cmd = torch.full_like(cmd, START)
        inf = torch.full_like(batt, float("inf"))
        failed = torch.zeros_like(worst)
        for i in range(self.horizon):
            # worst case: the dispatch plans for the next minute's worse values, the plant meets
            # this minute's (the authors' one-minute offset)
            sub = Context(p, {**st, "demand": dseq[:, i + 1], "wind": wseq[:, i + 1]})
            step = Plan(cmd, batt)
            for unit in self.dispatch:
                step = unit.project(sub, step, record=False)
            after = sub.after(cmd)
            (n_lo, n_hi), (r_lo, r_hi) = sub.limits(False), sub.limits(True)
            (g_lo, g_hi), (_, o_hi) = sub.genset_range(cmd, False), sub.genset_range(cmd, True)
            # the plant as the case runs it: normal band and prime rating, or reserve and overload
            out = pl.power(p, after, step.p, dseq[:, i], wseq[:, i], None, None,
                           limits=(torch.where(worst, r_lo, n_lo), torch.where(worst, r_hi, n_hi)),
                           g_range=(g_lo, torch.where(worst, o_hi, g_hi)))
            failed |= out["bal"] < -TOL_KW
            if i + 1 < self.horizon and bool(failed.all()):
                break
            st = {**after, "avg": out["avg"], "soc": out["soc"]}
            cmd, batt = start_cmd, inf
        return ~failed.reshape(n, 2).any(1)

    def project(self, ctx, plan, record=True):
        cmd = plan.cmd
        test = cmd != START
        new = cmd
        if bool(test.any()):
            keys = ("status", "tsw", "tsc", "tss", "avg", "soc", "demand", "wind")
            every = bool(test.all())
            rows = None if every else test.nonzero().squeeze(1)
            take = (lambda x: x) if every else (lambda x: x[rows])
            sub = {k: take(ctx.state[k]) for k in keys}
            first, p0 = take(cmd), take(plan.p)
            # one look-ahead for every candidate: the proposal on each tested row, and no
            # change as the stand-in for each proposed stop (used where the stop fails)
            stops = (first == STOP).nonzero().squeeze(1)
            both = {k: torch.cat([v, v[stops]]) for k, v in sub.items()}
            ok = self.passes(both, torch.cat([first, torch.full_like(stops, NONE)]),
                             torch.cat([p0, p0[stops]]), ctx.plant)
            ok, ok_none = ok[:first.shape[0]], ok[first.shape[0]:]
            # a stop that fails: no change if that passes, else a start; no change that fails: a start
            fallback = torch.full_like(first, START).index_put((stops,), torch.where(ok_none, NONE, START))
            decided = torch.where(ok, first, fallback)
            new = decided if every else cmd.index_put((rows,), decided)
        if record:
            self.record.add(new != cmd, stop_to_none=(cmd == STOP) & (new == NONE),
                            to_start=(cmd != START) & (new == START))
        return replace(plan, cmd=new)


class ShieldStack:
    """Units in order; ``project(state, action) -> safe action`` on the problem's actions
    [B, 2] in [-1, 1], with ``state`` the plant state of ``MicrogridSim.decode`` (or ``core``).
    ``record``: each unit's interventions (a dict of plain numbers, updated in place)."""

    def __init__(self, plant: pl.Plant, units: list[Unit] | None = None):
        self.plant = plant
        self.units = units if units is not None else scu_units()
        self.record = {u.name: u.record for u in self.units}

    def plan(self, state: dict, action: torch.Tensor) -> tuple[Context, Plan]:
        p = self.plant
        a = action.double()
        cmd = pl.wanted_command(p, state["status"], a[:, 0])
        return Context(p, state), Plan(cmd, a[:, 1].clamp(-1.0, 1.0) * p.battery_kw)

    def project(self, state: dict, action: torch.Tensor) -> torch.Tensor:
        ctx, plan = self.plan(state, action)
        for unit in self.units:
            plan = unit.project(ctx, plan)
        a0 = pl.command_action(self.plant, state["status"], plan.cmd)
        a1 = (plan.p / self.plant.battery_kw).clamp(-1.0, 1.0)
        return torch.stack([a0, a1], 1).to(action.dtype)

    def reset_record(self) -> None:
        for u in self.units:
            u.record.reset()


def scu_units() -> list[Unit]:
    """The paper's stack: minimum run time, recoverability, wind, genset (prime), battery,
    genset (overload)."""
    return [MinimumRun(), Recoverability(), *dispatch_units()]
