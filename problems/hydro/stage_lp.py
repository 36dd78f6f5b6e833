"""The stage LP on HiGHS (``highspy``), built once per stage and re-solved with new bounds.

Columns: v_out[R] (end volumes), q[R] (turbined, m3/s), s[R] (spill, hm3), g[G] (thermal MW),
d (deficit MW; one per bus on a DC network, each at most its bus's load), dp[R], dm[R] (target
slacks), theta (future cost, bounded below by cuts), and on a DC network the bus angles a[B].
Rows: water balance per reservoir
    v_out + k q - k sum(q of plants turbining into it) + s - sum(s of plants spilling into it)
        = v_in + k inflow                                   (right-hand side set per solve)
demand balance: sum(prod q) + sum(g) + d = demand (copper plate) or, per bus b on a DC network,
    sum(prod q at b) + sum(g at b) + d_b - sum(flows leaving b) + sum(flows entering b) = load_b
with flow_l = base (a_from - a_to) / x_l and rows |a_from - a_to| <= max_angle_l; target rows (only when a target is given):
v_out + dp - dm = target; cuts: theta - beta . v_out >= alpha (a cut whose beta repeats an
existing cut's only raises that cut's alpha: SDDP's forward passes revisit the same trial points
once the policy settles, and the duplicated rows, linearly dependent, made the warm-started dual
simplex end in status Unknown after a few hundred iterations).
Cost per stage (money): hours x (thermal cost . g + deficit cost x d + hydro cost x hydro MW)
+ penalty x (dp + dm) + theta. ``operating_cost`` leaves out theta and the penalty.

Why HiGHS directly and not cvxpy: SDDP solves thousands of these LPs; changing bounds on a
model kept in HiGHS avoids cvxpy's per-solve canonicalisation (measured in
``benchmarks/hydro_lp_speed.py``).
"""
from __future__ import annotations

import highspy
import numpy as np

from .system import System

INF = highspy.kHighsInf
PENALTY_FACTOR = 10.0  # target slack cost: 10 x the most a hm3 of water can be worth in a stage


def target_penalty(system: System) -> float:
    """Money per hm3 of deviation from a target: PENALTY_FACTOR x the deficit cost of the
    energy one hm3 can produce in the best plant (so no deviation ever pays)."""
    return PENALTY_FACTOR * system.deficit_cost * system.hours * float(system.prod.max()) / system.k


def _quiet_highs() -> "highspy.Highs":
    """A Highs instance without its copyright banner, which HiGHS writes to the C-level
    stdout on construction (it would corrupt e.g. ``mobench list --format json``)."""
    import os
    import sys
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    h.setOptionValue("output_flag", False)
    return h


def merge_cut(alphas: np.ndarray, betas: np.ndarray, alpha: float, beta) -> tuple[np.ndarray, np.ndarray, str]:
    """Cut set (alphas [K], betas [K, R]) with theta >= alpha + beta . v added: a cut with the
    slope of a kept one (to 1e-9 relative) replaces it when its alpha is larger and is dropped
    otherwise, so that no two cuts are parallel (as ``StageLP.add_cut``). -> (alphas, betas,
    "added" | "raised" | "none")."""
    beta = np.asarray(beta, float)
    if len(alphas):
        same = np.abs(betas - beta).max(axis=1) <= 1e-9 * (1.0 + np.abs(beta).max())
        if same.any():
            i = int(np.flatnonzero(same)[0])
            if alpha <= alphas[i]:
                return alphas, betas, "none"
            alphas = alphas.copy()
            alphas[i] = alpha
            return alphas, betas, "raised"
    return np.append(alphas, float(alpha)), np.vstack([betas, beta]), "added"


class StageLP:
    def __init__(self, system: System, penalty: float | None = None):
        if system.model not in ("copper", "dc"):
            raise ValueError(f"StageLP models the copper plate and DC power flow, not {system.model!r}: "
                             "stages.stage_problem(system) gives the stage problem of any model")
        self.sys = sys_ = system
        self.penalty = penalty = target_penalty(system) if penalty is None else float(penalty)
        R, G = sys_.n_res, len(sys_.thermal_cost)
        h = self.h = _quiet_highs()
        h.setOptionValue("presolve", "off")  # warm starts from the previous basis
        hours = sys_.hours
        # columns
        self.iv = self._cols(np.zeros(R), sys_.vmin, sys_.vmax)
        self.iq = self._cols(hours * sys_.hydro_cost * sys_.prod, np.zeros(R), sys_.qmax)
        self.is_ = self._cols(np.zeros(R), np.zeros(R), np.full(R, INF))
        self.ig = self._cols(hours * sys_.thermal_cost, np.zeros(G), sys_.thermal_pmax)
        net = sys_.network
        if net is None:
            self.id = self._cols(np.array([hours * sys_.deficit_cost]), np.zeros(1), np.full(1, INF))
        else:  # a deficit per bus, at most the bus's load
            self.id = self._cols(np.full(net.n_bus, hours * sys_.deficit_cost), np.zeros(net.n_bus), net.load)
        self.idp = self._cols(np.full(R, penalty), np.zeros(R), np.zeros(R))  # slacks off (ub 0) until a target is set
        self.idm = self._cols(np.full(R, penalty), np.zeros(R), np.zeros(R))
        self.itheta = self._cols(np.ones(1), np.zeros(1), np.zeros(1))  # theta fixed at 0 until a cut arrives
        k = sys_.k
        # water balance rows
        self.rbal = []
        for i in range(R):
            idx, val = [self.iv[i], self.iq[i], self.is_[i]], [1.0, k, 1.0]
            for j in range(R):
                if sys_.down_turbine[j] == i:
                    idx.append(self.iq[j]), val.append(-k)
                if sys_.down_spill[j] == i:
                    idx.append(self.is_[j]), val.append(-1.0)
            self.rbal.append(self._row(0.0, 0.0, idx, val))
        if net is None:
            idx = list(self.iq) + list(self.ig) + list(self.id)
            val = list(sys_.prod) + [1.0] * G + [1.0]
            self.rdem = [self._row(sys_.demand, sys_.demand, idx, val)]
        else:
            self._dc_rows(net)
        # target rows: free (-inf, inf) until a target is set
        self.rtar = [self._row(-INF, INF, [self.iv[i], self.idp[i], self.idm[i]], [1.0, 1.0, -1.0]) for i in range(R)]
        self.cuts = []
        self.cut_alpha, self.cut_beta = np.zeros(0), np.zeros((0, R))
        self.hours = hours

    def _dc_rows(self, net) -> None:
        B = net.n_bus
        lo, hi = np.full(B, -INF), np.full(B, INF)
        lo[net.ref] = hi[net.ref] = 0.0
        self.iang = self._cols(np.zeros(B), lo, hi)
        rows = [([], []) for _ in range(B)]
        for i, b in enumerate(net.hydro_bus):
            rows[b][0].append(self.iq[i]), rows[b][1].append(float(self.sys.prod[i]))
        for g, b in enumerate(net.thermal_bus):
            rows[b][0].append(self.ig[g]), rows[b][1].append(1.0)
        for b in range(B):
            rows[b][0].append(self.id[b]), rows[b][1].append(1.0)
        coef = {}  # (bus, angle column) -> coefficient of the net injection
        for f, t, x in zip(net.br_from, net.br_to, net.br_x):
            y = net.base / x  # MW per rad
            for bus, sign in ((f, -1.0), (t, 1.0)):  # the flow leaves f and enters t
                coef[bus, f] = coef.get((bus, f), 0.0) + sign * y
                coef[bus, t] = coef.get((bus, t), 0.0) - sign * y
        for (bus, a), c in coef.items():
            rows[bus][0].append(self.iang[a]), rows[bus][1].append(c)
        self.rdem = [self._row(float(net.load[b]), float(net.load[b]), *rows[b]) for b in range(B)]
        self.rflow = [self._row(-float(m), float(m), [self.iang[f], self.iang[t]], [1.0, -1.0])
                      for f, t, m in zip(net.br_from, net.br_to, net.max_angle)]

    def _cols(self, cost, lb, ub):
        start = self.h.getNumCol()
        for c, lo, hi in zip(cost, lb, ub):
            self.h.addCol(float(c), float(lo), float(hi), 0, np.array([], np.int32), np.array([], np.float64))
        return list(range(start, start + len(cost)))

    def _row(self, lo, hi, idx, val):
        r = self.h.getNumRow()
        self.h.addRow(float(lo), float(hi), len(idx), np.array(idx, np.int32), np.array(val, np.float64))
        return r

    def add_cut(self, alpha: float, beta: np.ndarray) -> bool:
        """theta >= alpha + beta . v_out. A cut with the slope of an existing one (to 1e-9
        relative) replaces it when its alpha is larger and is dropped otherwise: the model never
        holds two parallel cut rows. -> whether a row was added."""
        beta = np.asarray(beta, float)
        if len(self.cuts):
            same = np.abs(self.cut_beta - beta).max(axis=1) <= 1e-9 * (1.0 + np.abs(beta).max())
            if same.any():
                i = int(np.flatnonzero(same)[0])
                if alpha > self.cut_alpha[i]:
                    self.cut_alpha[i] = alpha
                    self.h.changeRowBounds(self.cuts[i], float(alpha), INF)
                return False
        if not self.cuts:
            self.h.changeColBounds(self.itheta[0], 0.0, INF)
        idx = [self.itheta[0]] + list(self.iv)
        self.cuts.append(self._row(float(alpha), INF, idx, [1.0] + list(-beta)))
        self.cut_alpha = np.append(self.cut_alpha, float(alpha))
        self.cut_beta = np.vstack([self.cut_beta, beta])
        return True

    def solve(self, v_in: np.ndarray, inflow: np.ndarray, target: np.ndarray | None = None) -> dict:
        sys_ = self.sys
        rhs = np.asarray(v_in, float) + sys_.k * np.asarray(inflow, float)
        for i, r in enumerate(self.rbal):
            self.h.changeRowBounds(r, float(rhs[i]), float(rhs[i]))
        for i, r in enumerate(self.rtar):
            if target is None:
                self.h.changeRowBounds(r, -INF, INF)
                self.h.changeColBounds(self.idp[i], 0.0, 0.0)
                self.h.changeColBounds(self.idm[i], 0.0, 0.0)
            else:
                self.h.changeRowBounds(r, float(target[i]), float(target[i]))
                self.h.changeColBounds(self.idp[i], 0.0, INF)
                self.h.changeColBounds(self.idm[i], 0.0, INF)
        self.h.run()
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            # a warm-started solve can stop short: from scratch, then with presolve (which
            # removes dependent rows), before giving up
            for presolve in ("off", "on"):
                self.h.clearSolver()
                self.h.setOptionValue("presolve", presolve)
                self.h.run()
                status = self.h.getModelStatus()
                if status == highspy.HighsModelStatus.kOptimal:
                    break
            self.h.setOptionValue("presolve", "off")
            if status != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError(f"stage LP not optimal: {self.h.modelStatusToString(status)}")
        sol = self.h.getSolution()
        x, y = np.asarray(sol.col_value), np.asarray(sol.row_dual)
        obj = self.h.getInfo().objective_function_value
        theta = x[self.itheta[0]]
        penalty = float(x[self.idp].sum() + x[self.idm].sum()) * self.penalty if target is not None else 0.0
        # end volumes inside their bounds: HiGHS may return them off by its primal tolerance
        # (-2.8e-14 was seen), which would put the next observation outside its space
        v_out = np.clip(x[self.iv], sys_.vmin, sys_.vmax)
        return {"objective": obj, "v_out": v_out, "q": x[self.iq], "s": x[self.is_],
                "g": x[self.ig], "deficit": float(x[self.id].sum()), "theta": theta,
                "operating_cost": obj - theta - penalty,
                "dual_balance": y[self.rbal],  # d objective / d v_in
                "dual_target": y[self.rtar] if target is not None else None,  # d objective / d target
                "deviation": x[self.idp] - x[self.idm] if target is not None else None,
                **(self._flows(x) if sys_.network is not None else {})}

    def _flows(self, x) -> dict:
        net, a = self.sys.network, x[self.iang]
        return {"angle": a, "bus_deficit": x[self.id],
                "flow": net.base * (a[net.br_from] - a[net.br_to]) / net.br_x}
