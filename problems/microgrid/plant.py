"""The remote microgrid's plant, as pure batched torch functions: two diesel gensets with their
sequencer, a lithium battery with its current/voltage model, a wind turbine, and the rainflow
degradation counter. The simulator (``dynamics.py``) and the shields' look-ahead call the same
functions, so there is one copy of the dynamics.

Units: kW, minutes, litres, amperes, volts; state of charge (SoC) in [0, 1]. One step is one
minute. Every function works on a batch of rows (``R``) and, for gensets, ``G`` sets per row.

One step of the plant:
  1. ``wanted_command``: the action's first entry asks for a number of running sets; the
     sequencer turns the difference with the sets now running or warming into one command:
     start the next set, none, or stop the last one (``START``, ``NONE``, ``STOP``).
  2. ``transition``: the sequencer applies it (priority order, no stop while a set warms up,
     a cooling set restarts only once its cool-down ends) and each set's state machine advances
     (warm-up ``warmup`` minutes at ``warmup_kw``, cool-down ``cooldown`` minutes at 0 kW). A stop
     before the minimum run time is carried out and flagged (a rule breach).
  3. ``power``: the battery delivers its command within its limits; running sets share the
     rest of the demand equally (grid-forming load sharing), each between its minimum load and
     its cap; wind is curtailed only when the sets at minimum load, the warm-up power and the
     battery already exceed the demand; what still does not balance is unserved (negative
     balance) or dumped (positive).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch

from ...errors import InvalidParameter

OFF, WARMUP, RUNNING, COOLDOWN = 0, 1, 2, 3
STOP, NONE, START = -1, 0, 1
BIG = 1e9  # a cap that never binds


@dataclass(frozen=True)
class Plant:
    """Plant constants (the paper's configuration by default)."""
    n_gensets: int = 2
    prime_kw: float = 400.0          # prime rating of one set
    overload: float = 1.1            # 10% overload, usable as reserve only
    fuel_per_kwh: float = 0.25       # l/kWh
    fuel_idle: float = 10.0          # l/h per set running, warming up or cooling down
    min_load_kw: float = 120.0       # set-point floor of a running set
    avg_floor_kw: float = 120.0      # powers below this count as this in the 48 h average
    min_run: int = 30                # a stop is in the rules after min_run - 1 running minutes
    warmup: int = 3                  # minutes of warm-up
    warmup_kw: float = 100.0         # fixed output while warming up
    cooldown: int = 6                # minutes of cool-down at 0 kW
    avg_window: int = 2880           # the moving average's length (48 h of minutes)
    avg_limit: float = 0.7           # the average stays <= avg_limit x prime
    battery_kw: float = 600.0        # grid-side power limit
    battery_amp: float = 672.0       # current limit
    battery_ah: float = 672.0        # capacity
    eta: float = 0.95                # converter efficiency, each way
    r_ohm: float = 0.039375          # internal resistance
    v_slope: float = 39.6            # open-circuit voltage = v_slope x SoC + v_zero
    v_zero: float = 929.16
    soc_normal: tuple = (0.1, 0.9)   # planning band
    soc_reserve: tuple = (0.05, 0.95)  # operating limits (the constraint)
    soc_device: tuple = (0.0, 1.0)   # what the cells allow
    alpha: float = 5.0               # degradation: alpha x exp(beta x depth) per half cycle
    beta: float = 1.0
    rainflow_step: float = 0.01      # turning points on a 0.01 SoC grid
    wind_kw: float = 400.0           # turbine rating
    demand_max_kw: float = 570.0     # worst cases assumed by the recoverability look-ahead
    demand_rise_kw: float = 80.0     # per minute
    wind_drop: float = 0.18          # per minute, fraction of wind_kw

    def __post_init__(self):
        bad = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                if len(v) != 2 or not (0.0 <= v[0] < v[1] <= 1.0):
                    bad.append(f"{f.name}={v} (a band 0 <= low < high <= 1)")
            elif not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                bad.append(f"{f.name}={v!r} (a finite number >= 0)")
        if not bad:
            if self.n_gensets < 1 or self.warmup < 1 or self.cooldown < 1 or self.min_run < 1:
                bad.append("n_gensets, warmup, cooldown and min_run must be >= 1")
            if self.min_load_kw > self.prime_kw or self.overload < 1 or not 0 < self.eta <= 1:
                bad.append("need min_load_kw <= prime_kw, overload >= 1, 0 < eta <= 1")
            if not (self.soc_device[0] <= self.soc_reserve[0] <= self.soc_normal[0]
                    and self.soc_normal[1] <= self.soc_reserve[1] <= self.soc_device[1]):
                bad.append("the bands must nest: soc_device contains soc_reserve contains soc_normal")
            if self.battery_ah <= 0 or self.avg_window < 2 or self.rainflow_step <= 0:
                bad.append("battery_ah, rainflow_step must be > 0 and avg_window >= 2")
        if bad:
            raise InvalidParameter("microgrid plant: bad constant(s): " + "; ".join(bad))

    @property
    def cap_kw(self) -> float:
        """A set's largest output (prime rating with the overload)."""
        return self.prime_kw * self.overload

    @property
    def a_ohm(self) -> float:
        """Resistance plus the open-circuit voltage's rise over one minute per ampere."""
        return self.r_ohm + self.v_slope / (self.battery_ah * 60.0)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- battery


def battery_limits(plant: Plant, soc: torch.Tensor, band: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid-side power limits (kW; + = discharge) that keep the SoC in ``band`` after one
    minute, also capped by the current and power ratings. Outside the band the limits change
    sign: below it even the largest allowed 'discharge' is a charge back into the band."""
    lo, hi = band
    n = plant.battery_ah * 60.0
    v = plant.v_slope * soc + plant.v_zero
    a = plant.a_ohm
    i_dis = torch.clamp((soc - lo) * n, max=plant.battery_amp)
    i_ch = torch.clamp(-(hi - soc) * n, min=-plant.battery_amp)
    p_max = (i_dis * (v - a * i_dis) * (plant.eta / 1000.0)).clamp(-plant.battery_kw, plant.battery_kw)
    p_min = (i_ch * (v - a * i_ch) * (1.0 / (1000.0 * plant.eta))).clamp(-plant.battery_kw, plant.battery_kw)
    return p_min, p_max


def battery_step(plant: Plant, soc: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """SoC after one minute at grid-side power ``p`` (within the limits): the DC power (less on
    charge, more on discharge, by the converter's efficiency) drawn at the current I that
    solves V_oc x I - a x I^2 = P."""
    v = plant.v_slope * soc + plant.v_zero
    a = plant.a_ohm
    p_dc = torch.where(p < 0, plant.eta * p, p / plant.eta) * 1000.0
    i = 2.0 * p_dc / (v + torch.sqrt(v * v - 4.0 * a * p_dc))  # the small root, stable near 0
    return soc - i / (plant.battery_ah * 60.0)


# ---------------------------------------------------------------- gensets


def wanted_command(plant: Plant, status: torch.Tensor, a0: torch.Tensor) -> torch.Tensor:
    """The sequencer's command from the action's first entry: a0 in [-1, 1] asks for
    floor((a0 + 1) (G + 1) / 2) sets; started or stopped one at a time against the sets now
    warming up or running (a cooling set does not count)."""
    G = plant.n_gensets
    wanted = torch.floor((a0.double().clamp(-1, 1) + 1.0) * (G + 1) / 2.0)
    on = ((status == WARMUP) | (status == RUNNING)).sum(1)
    return torch.sign(wanted - on).long()


def command_action(plant: Plant, status: torch.Tensor, cmd: torch.Tensor) -> torch.Tensor:
    """The a0 (a bin's centre) that makes ``wanted_command`` give ``cmd``: the inverse map."""
    G = plant.n_gensets
    on = ((status == WARMUP) | (status == RUNNING)).sum(1)
    k = (on + cmd).clamp(0, G + 1).double()
    return torch.where(k > G, torch.ones_like(k), -1.0 + (k + 0.5) * 2.0 / (G + 1))


def _first(mask: torch.Tensor) -> torch.Tensor:
    return mask & (mask.cumsum(1) == 1)


def _last(mask: torch.Tensor) -> torch.Tensor:
    c = mask.cumsum(1)
    return mask & (c == c[:, -1:])


def transition(plant: Plant, core: dict, cmd: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Apply one sequencer command and advance every set's state machine by one minute.

    start: the lowest-index cooling set if any (restarted only if its cool-down ends this
    minute, else nothing: no other set starts while one cools), else the lowest-index set off.
    stop: nothing while a set warms up, else the highest-index running set.
    -> (core after the minute, the command carried out [R] in {-1, 0, 1}, premature [R]: a stop
    before the minimum run time)."""
    s, tsw, tsc, tss = core["status"], core["tsw"], core["tsc"], core["tss"]
    cooling, off, warm, running = s == COOLDOWN, s == OFF, s == WARMUP, s == RUNNING
    cool_done = cooling & (tsc >= plant.cooldown - 1)
    has_cool = cooling.any(1, keepdim=True)
    start = torch.where(has_cool, _first(cooling) & cool_done, _first(off)) & (cmd == START).unsqueeze(1)
    stop = _last(running) & ((cmd == STOP) & ~warm.any(1)).unsqueeze(1)
    premature = (stop & (tss < plant.min_run - 1)).any(1)

    tsw1 = tsw + 1
    warm_done = warm & (tsw1 >= plant.warmup)
    tss_cap = plant.min_run + 1
    new_s = torch.where(start, WARMUP, s)
    new_s = torch.where(warm_done, RUNNING, new_s)
    new_s = torch.where(cool_done & ~start, OFF, new_s)
    new_s = torch.where(stop, COOLDOWN, new_s)
    new_tsw = torch.where(warm & ~warm_done, tsw1, 0)
    new_tsc = torch.where(cooling & ~cool_done, tsc + 1, 0)
    new_tss = torch.where(stop, 0, torch.where(running | warm_done, (tss + 1).clamp(max=tss_cap), tss))
    done = start.any(1).long() - stop.any(1).long()
    return {**core, "status": new_s, "tsw": new_tsw, "tsc": new_tsc, "tss": new_tss}, done, premature


def avg_cap(plant: Plant, avg: torch.Tensor) -> torch.Tensor:
    """The output that would bring a set's 48 h average exactly to its limit this minute."""
    W = plant.avg_window
    return W * plant.avg_limit * plant.prime_kw - (W - 1) * avg


def genset_range(plant: Plant, status: torch.Tensor, cap: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """(least, most) group output for sets in ``status`` (after this minute's command):
    warming sets give ``warmup_kw``; running ones share equally between their minimum load and
    the smallest of their caps (``cap``: a number, one per set [R, G], or K per set [R, G, K]
    for K ranges at once: then the results are [R, K] and the least is repeated)."""
    run, warm = status == RUNNING, status == WARMUP
    n_run = run.sum(1).double()
    fixed = warm.sum(1).double() * plant.warmup_kw
    cap = torch.as_tensor(cap, dtype=torch.float64, device=status.device)
    if cap.dim() > status.dim():  # several caps per set (a trailing dimension): one range each
        run, n_run, fixed = run.unsqueeze(2), n_run.unsqueeze(1), fixed.unsqueeze(1)
    cap_min = torch.where(run, cap, BIG).amin(1)
    return fixed + n_run * plant.min_load_kw, fixed + n_run * cap_min


def power(plant: Plant, core: dict, p_cmd: torch.Tensor, demand: torch.Tensor, wind: torch.Tensor,
          cap: torch.Tensor | float, band: tuple, limits: tuple | None = None, g_range: tuple | None = None) -> dict:
    """One minute of power flows for sets already in their state for this minute (``core``
    from ``transition``): the battery follows ``p_cmd`` within its limits for ``band``; running
    sets share the rest of ``demand`` equally between their minimum load and ``cap``; wind
    fills what is left up to ``wind`` (curtailed otherwise); the balance is what still does not
    match (negative: unserved). Also the SoC and 48 h averages after the minute. ``limits`` and
    ``g_range``: the battery limits for ``band`` and the group range for ``cap`` when the caller
    already has them.
    -> dict: p (battery, kW), gen [R, G] (each set's output), wind (used), bal, soc, avg."""
    s, soc = core["status"], core["soc"]
    run, warm = s == RUNNING, s == WARMUP
    n_run = run.sum(1).double()
    p_min, p_max = battery_limits(plant, soc, band) if limits is None else limits
    p = torch.maximum(torch.minimum(p_cmd.double(), p_max), p_min)
    lo, hi = genset_range(plant, s, cap) if g_range is None else g_range
    fixed = warm.sum(1).double() * plant.warmup_kw
    g = torch.maximum(torch.minimum(demand - wind - p, hi), lo)   # group output
    w = torch.minimum(torch.clamp(demand - g - p, min=0.0), wind)
    share = (g - fixed) / n_run.clamp(min=1.0)
    gen = torch.where(run, share.unsqueeze(1), warm.double() * plant.warmup_kw)
    on = s != OFF
    W = plant.avg_window
    avg = torch.where(on, (core["avg"] * (W - 1) + gen.clamp(min=plant.avg_floor_kw)) / W, core["avg"])
    return {"p": p, "gen": gen, "wind": w, "bal": g + w + p - demand, "soc": battery_step(plant, soc, p),
            "avg": avg}


def fuel_rate(plant: Plant, status: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
    """Litres per hour of each set: fuel_per_kwh x output + fuel_idle while it turns."""
    return torch.where(status != OFF, plant.fuel_per_kwh * gen + plant.fuel_idle, torch.zeros_like(gen))


# ---------------------------------------------------------------- degradation


def round_grid(plant: Plant, x: torch.Tensor) -> torch.Tensor:
    return torch.round(x / plant.rainflow_step) * plant.rainflow_step


def rainflow_init(plant: Plant, soc: torch.Tensor, capacity: int = 32) -> dict:
    """The incremental rainflow counter's state: a hysteresis filter (f0: last confirmed
    extreme, f1: the running extreme) and the stack of open turning points (values on the
    0.01 grid, the first one the initial SoC as is; the stack grows when it fills)."""
    stack = torch.zeros(soc.shape[0], capacity, dtype=torch.float64, device=soc.device)
    stack[:, 0] = soc
    return {"f0": soc.clone(), "f1": soc.clone(), "stack": stack,
            "n": torch.ones(soc.shape[0], dtype=torch.long, device=soc.device)}


def rainflow_step(plant: Plant, rf: dict, soc_prev: torch.Tensor, soc_new: torch.Tensor,
                  closed: list | None = None) -> tuple[dict, torch.Tensor]:
    """One minute of incremental rainflow counting and its degradation cost.

    The new SoC (on the 0.01 grid) extends the current leg or confirms the running extreme as a
    turning point (pushed on the stack). With the new point pushed tentatively, the four-point
    rule closes cycles: while the last four points r1..r4 have [r2, r3] inside [r1, r4], the
    pair r2, r3 is a closed cycle and leaves the stack. The tentative point is then dropped.
    Cost: the rise of alpha x exp(beta x depth) of the open half cycle, the depth measured from
    the newest open turning point; a step that lowers it costs |dSoC| x alpha (e^(beta w) - 1)/w
    instead (w the grid step). ``closed``: a list that receives (rows, ranges) of closed cycles.
    -> (state, cost [R])."""
    f0, f1, stack, n = rf["f0"], rf["f1"], rf["stack"].clone(), rf["n"]
    if bool((n + 2 >= stack.shape[1]).any()):
        stack = torch.cat([stack, torch.zeros_like(stack)], 1)
    f2 = round_grid(plant, soc_new)
    down, up = f2 < f1, f2 > f1
    turn = (down & (f0 < f1)) | (up & (f0 > f1))
    f0n = torch.where(turn, f1, f0)
    f1n = torch.where(down | up, f2, f1)
    stack.scatter_(1, n.unsqueeze(1), round_grid(plant, f0n).unsqueeze(1))
    n = n + turn.long()
    stack.scatter_(1, n.unsqueeze(1), f2.unsqueeze(1))
    n = n + 1
    while True:
        idx = (n.unsqueeze(1) - torch.arange(4, 0, -1, device=n.device)).clamp(min=0)
        r1, r2, r3, r4 = stack.gather(1, idx).unbind(1)
        close = (n >= 4) & (torch.minimum(r1, r4) <= torch.minimum(r2, r3)) & \
                (torch.maximum(r2, r3) <= torch.maximum(r1, r4))
        if not bool(close.any()):
            break
        if closed is not None:
            rows = close.nonzero().squeeze(1)
            closed.append((rows, (r2 - r3).abs()[rows]))
        pos = (n - 3).clamp(min=0).unsqueeze(1)
        stack.scatter_(1, pos, torch.where(close, r4, stack.gather(1, pos).squeeze(1)).unsqueeze(1))
        n = n - 2 * close.long()
    n = n - 1
    last = stack.gather(1, (n - 1).unsqueeze(1)).squeeze(1)
    a, b, w = plant.alpha, plant.beta, plant.rainflow_step
    cost = a * (torch.exp(b * (soc_new - last).abs()) - torch.exp(b * (soc_prev - last).abs()))
    cost = torch.where(cost < 0, (soc_new - soc_prev).abs() * a * math.expm1(b * w) / w, cost)
    return {"f0": f0n, "f1": f1n, "stack": stack, "n": n}, cost


def open_turning_points(rf: dict, k: int) -> torch.Tensor:
    """The newest ``k`` open turning points [R, k], oldest first, left-padded with -1."""
    stack, n = rf["stack"], rf["n"]
    pos = n.unsqueeze(1) - torch.arange(k, 0, -1, device=n.device)
    vals = stack.gather(1, pos.clamp(min=0))
    return torch.where(pos >= 0, vals, torch.full_like(vals, -1.0))
