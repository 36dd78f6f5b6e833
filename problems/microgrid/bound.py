"""The perfect-foresight fuel bound of one day: a mixed-integer program over the day's minutes
with the demand and available wind known in advance, solved by HiGHS (``highspy``) with a
node limit (never a wall-time limit), so the same bound comes out on any machine.

Kept from the plant: each set's on/off decisions with its warm-up (``warmup`` minutes at
``warmup_kw``, burning fuel), cool-down (``cooldown`` minutes at 0 kW, burning ``fuel_idle``),
minimum run time (a set that starts runs at least ``min_run - 1`` minutes), minimum load and
cap (``prime x overload``), the fuel curve, the start state; the battery's SoC limits (the
operating band) and power limits; wind up to what is available; no unserved energy (a
surplus may be dumped).
Relaxed (so the optimum is a lower bound on the fuel of every policy that meets the
constraints): the battery's current/voltage model is replaced by linear SoC changes bounded on
both sides over the band's voltage range (the program picks the most favourable rate each
minute, i.e. a battery at least as efficient as the real one); the battery's degradation is
ignored; the 48 h average limit, the overload being reserve-only, the sequencer's priority
order, its one command per minute and its refusal to stop while a set warms up are dropped.
The value reported is HiGHS's proved dual bound (below or equal to the optimum), with the
incumbent and the gap in the details.
"""
from __future__ import annotations

import numpy as np

from .plant import COOLDOWN, RUNNING, WARMUP, Plant

# no ``threads`` option: HiGHS refuses to run (status "Not Set") when a process's earlier HiGHS
# call started its scheduler with another thread count
MIP_SETTINGS = dict(mip_rel_gap=1e-2, mip_max_nodes=1, random_seed=0)


class _Model:
    """Columns with bounds, costs and integrality; rows as (lower, upper, {col: coef})."""

    def __init__(self):
        self.lo, self.hi, self.cost, self.integer = [], [], [], []
        self.rows_lo, self.rows_hi, self.r_idx, self.c_idx, self.vals = [], [], [], [], []

    def add(self, n: int, lo, hi, cost=0.0, integer=False) -> np.ndarray:
        start = len(self.lo)
        self.lo += list(np.broadcast_to(lo, n).astype(float))
        self.hi += list(np.broadcast_to(hi, n).astype(float))
        self.cost += list(np.broadcast_to(cost, n).astype(float))
        self.integer += [integer] * n
        return np.arange(start, start + n)

    def row(self, terms: list[tuple[int, float]], lo=-np.inf, hi=np.inf) -> None:
        r = len(self.rows_lo)
        self.rows_lo.append(lo)
        self.rows_hi.append(hi)
        for c, v in terms:
            self.r_idx.append(r)
            self.c_idx.append(int(c))
            self.vals.append(float(v))

    def solve(self, settings: dict) -> dict:
        import highspy
        import scipy.sparse as sp
        n, m = len(self.lo), len(self.rows_lo)
        A = sp.csc_matrix((self.vals, (self.r_idx, self.c_idx)), shape=(m, n))
        A.sum_duplicates()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = np.asarray(self.cost)
        lp.col_lower_, lp.col_upper_ = np.asarray(self.lo), np.asarray(self.hi)
        lp.row_lower_, lp.row_upper_ = np.asarray(self.rows_lo), np.asarray(self.rows_hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in self.integer]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float("inf"))
        for k, v in settings.items():
            h.setOptionValue(k, v)
        h.passModel(lp)
        if h.run() == highspy.HighsStatus.kError:
            raise RuntimeError(f"HiGHS could not solve the fuel-bound MIP (settings {settings}); see its log with "
                               "output_flag=True")
        info = h.getInfo()
        status = h.modelStatusToString(h.getModelStatus())
        sol = np.asarray(h.getSolution().col_value) if info.primal_solution_status else None
        return {"status": status, "dual_bound": float(info.mip_dual_bound), "objective": float(info.objective_function_value),
                "gap": float(info.mip_gap), "nodes": int(info.mip_node_count), "x": sol}


def fuel_bound(plant: Plant, demand: np.ndarray, wind: np.ndarray, init: dict, battery: bool = True,
               settings: dict | None = None) -> dict:
    """Least fuel (litres) over ``len(demand)`` minutes, a lower bound (see the module docstring).

    The sets are identical, so the program counts them: per minute, how many start, stop, run,
    warm up and cool down (integers), which drops the symmetry between sets.
    ``init``: the start state, ``status``, ``tsw``, ``tsc``, ``tss`` (one per set) and ``soc``.
    ``battery=False`` fixes the battery's power at 0.
    -> {"bound": proved lower bound, "incumbent": the program's best schedule's fuel, "gap",
    "status", "nodes", "schedule": per-minute group output, battery power and sets on}."""
    p = plant
    demand, wind = np.asarray(demand, float), np.asarray(wind, float)
    T, G = len(demand), p.n_gensets
    ut = p.min_run - 1                      # running minutes before a stop is in the rules
    lo_soc, hi_soc = p.soc_reserve
    n_as = p.battery_ah * 60.0
    v_min, v_max = p.v_slope * lo_soc + p.v_zero, p.v_slope * hi_soc + p.v_zero
    k_d_lo = 1000.0 / (p.eta * v_max * n_as)
    k_d_hi = 1000.0 / (p.eta * (v_min - p.a_ohm * p.battery_amp) * n_as)
    k_c_lo = 1000.0 * p.eta / ((v_max + p.a_ohm * p.battery_amp) * n_as)
    k_c_hi = 1000.0 * p.eta / (v_min * n_as)

    # the start state as history: starts and stops before minute 0, sets running, and the
    # minutes until which sets already started must keep running
    hist_start, hist_stop, run_prev, must_run = {}, {}, 0.0, np.zeros(T)
    for k in range(G):
        st, tsw, tsc, tss = (int(init[key][k]) for key in ("status", "tsw", "tsc", "tss"))
        if st == RUNNING:
            run_prev += 1
            must_run[:max(0, min(T, ut - tss))] += 1
        elif st == WARMUP:
            s0 = -1 - tsw
            hist_start[s0] = hist_start.get(s0, 0.0) + 1
            begins = s0 + p.warmup
            must_run[max(0, begins):max(0, min(T, begins + max(1, ut - tss)))] += 1
        elif st == COOLDOWN:
            hist_stop[-1 - tsc] = hist_stop.get(-1 - tsc, 0.0) + 1

    m = _Model()
    start = m.add(T, 0, G, integer=True)
    stop = m.add(T, 0, G, integer=True)
    run = m.add(T, 0, G, p.fuel_idle / 60.0, integer=True)
    warm = m.add(T, 0, G, (p.fuel_per_kwh * p.warmup_kw + p.fuel_idle) / 60.0)
    cool = m.add(T, 0, G, p.fuel_idle / 60.0)
    gen = m.add(T, 0, G * p.cap_kw, p.fuel_per_kwh / 60.0)
    cap_b = p.battery_kw if battery else 0.0
    ch = m.add(T, 0, cap_b)
    dis = m.add(T, 0, cap_b)
    soc = m.add(T, lo_soc, hi_soc)
    net_wind = m.add(T, -np.inf, wind)       # wind used minus energy dumped
    soc0 = float(init["soc"])
    for t in range(T):
        # running: r[t] = r[t-1] + (warm-ups ending) - stops
        began = t - p.warmup
        terms = [(run[t], 1.0), (stop[t], 1.0)] + ([(start[began], -1.0)] if began >= 0 else [])
        rhs = hist_start.get(began, 0.0) + (run_prev if t == 0 else 0.0)
        if t:
            terms.append((run[t - 1], -1.0))
        m.row(terms, rhs, rhs)
        for var, src, hist, span in ((warm, start, hist_start, p.warmup), (cool, stop, hist_stop, p.cooldown)):
            terms, rhs = [(var[t], 1.0)], 0.0
            for i in range(span):
                if t - i >= 0:
                    terms.append((src[t - i], -1.0))
                else:
                    rhs += hist.get(t - i, 0.0)
            m.row(terms, rhs, rhs)
        m.row([(run[t], 1.0), (warm[t], 1.0), (cool[t], 1.0)], hi=G)
        m.row([(gen[t], 1.0), (run[t], -p.min_load_kw)], lo=0.0)
        m.row([(gen[t], 1.0), (run[t], -p.cap_kw)], hi=0.0)
        # minimum run time: sets that began running in the last ut minutes still run
        ups = [(start[i - p.warmup], 1.0) for i in range(max(t - ut + 1, p.warmup), t + 1)]
        m.row(ups + [(run[t], -1.0)], hi=-must_run[t])
        # balance and battery
        m.row([(gen[t], 1.0), (warm[t], p.warmup_kw), (net_wind[t], 1.0), (dis[t], 1.0), (ch[t], -1.0)],
              demand[t], demand[t])
        prev = [(soc[t - 1], -1.0)] if t else []
        const = 0.0 if t else soc0
        m.row([(soc[t], 1.0), *prev, (ch[t], -k_c_hi), (dis[t], k_d_lo)], hi=const)
        m.row([(soc[t], 1.0), *prev, (ch[t], -k_c_lo), (dis[t], k_d_hi)], lo=const)

    r = m.solve({**MIP_SETTINGS, **(settings or {})})
    out = {"bound": r["dual_bound"], "incumbent": r["objective"], "gap": r["gap"], "status": r["status"],
           "nodes": r["nodes"], "schedule": None}
    if r["x"] is not None:
        x = r["x"]
        out["schedule"] = {"gen": (x[gen] + p.warmup_kw * x[warm]).tolist(), "battery": (x[dis] - x[ch]).tolist(),
                           "on": np.round(x[run] + x[warm]).tolist()}
    return out
