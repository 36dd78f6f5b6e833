"""The stage problem on the second-order-cone (SOC) relaxation of AC power flow, solved by
Clarabel (an interior-point conic solver). SDDP builds its cuts on it: the problem is convex,
so the duals of the water balance give valid Benders cuts.

Network model (Jabr's SOC relaxation in W-space, PowerModels' SOCWRConicPowerModel, the one
the source's SDDP uses for its cuts; the SOC branch-flow relaxation of Farivar and Low has the
same optimal value, Subhonmesh, Low and Chandy 2012): per bus w_i (= |V_i|^2) in [vmin^2, vmax^2];
per connected bus pair (i, j), wr = |V_i||V_j| cos(a_i - a_j), wi = |V_i||V_j| sin(a_i - a_j),
relaxed to the rotated cone wr^2 + wi^2 <= w_i w_j, with the angle limits as
tan(angmin) wr <= wi <= tan(angmax) wr. Branch flows (per unit, g + jb = 1 / (r + jx)):
    p_fr = g w_f - g wr - b wi,    q_fr = -(b + b_fr) w_f + b wr - g wi,
    p_to = g w_t - g wr + b wi,    q_to = -(b + b_to) w_t + b wr + g wi,
each end within its rating (p^2 + q^2 <= rate^2, a cone); per bus, active and reactive
generation + active deficit - load = the flows leaving the bus. The hydro part (water
balance, targets and their slacks, cuts on the end volumes) is the stage LP's
(``stage_lp.StageLP``), and so is the cost. An exact (tight) solution has
wr^2 + wi^2 = w_i w_j on every pair; on a radial network the voltages then follow.

Why Clarabel's own interface and not cvxpy: SDDP solves thousands of these problems, which
differ only in the right-hand side (``DefaultSolver.update(b=...)``); cvxpy would
re-canonicalise each one. ``tests/test_hydro_network.py`` checks this model against the AC
problem (never above it) and on a radial case where the relaxation is exact.
"""
from __future__ import annotations

import clarabel
import numpy as np
import scipy.sparse as sp

from .stage_lp import merge_cut, target_penalty
from .system import System


def bus_pairs(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connected bus pairs (from, to) in the orientation of their first branch, and each
    branch's pair index (parallel branches share a pair)."""
    pairs, index = {}, []
    for f, t in zip(net.br_from, net.br_to):
        key = (int(f), int(t)) if (int(f), int(t)) in pairs or (int(t), int(f)) not in pairs else (int(t), int(f))
        pairs.setdefault(key, len(pairs))
        index.append(pairs[key])
    fp = np.array([k[0] for k in pairs]), np.array([k[1] for k in pairs])
    return fp[0], fp[1], np.array(index)


def admittance(net) -> tuple[np.ndarray, np.ndarray]:
    """Series conductance and susceptance of each branch (per unit)."""
    y = 1.0 / (net.br_r + 1j * net.br_x)
    return y.real, y.imag


class _Rows:
    """Clarabel's constraint rows A x + s = b, s in a cone, assembled by blocks."""

    def __init__(self, n):
        self.n, self.rows, self.cols, self.vals, self.b, self.cones, self.m = n, [], [], [], [], [], 0

    def add(self, entries: list[list[tuple[int, float]]], b, cone) -> list[int]:
        start = self.m
        for i, row in enumerate(entries):
            for c, v in row:
                self.rows.append(start + i), self.cols.append(c), self.vals.append(v)
        self.b += list(np.asarray(b, float))
        self.cones.append(cone)
        self.m += len(entries)
        return list(range(start, self.m))

    def matrix(self):
        return sp.csc_matrix((self.vals, (self.rows, self.cols)), shape=(self.m, self.n))


class StageSOC:
    """The stage problem on the SOC relaxation; ``solve`` returns what ``StageLP.solve`` does
    (objective, end volumes, operating cost, duals of the water balance and of the targets),
    plus the network's solution (w, wr, wi, generation, flows)."""

    def __init__(self, system: System, penalty: float | None = None):
        net = system.network
        if net is None or net.br_r is None:
            raise ValueError(f"{system.name}: the SOC stage problem needs a network with AC data")
        self.sys, self.net = system, net
        self.penalty = target_penalty(system) if penalty is None else float(penalty)
        R, G, B, L = system.n_res, len(system.thermal_cost), net.n_bus, len(net.br_x)
        self.pf, self.pt, self.pair = bus_pairs(net)
        P = len(self.pf)
        names = [("v", R), ("q", R), ("s", R), ("pg", G), ("qg", G + R), ("d", B), ("dp", R), ("dm", R),
                 ("theta", 1), ("w", B), ("wr", P), ("wi", P)]
        self.ix, n = {}, 0
        for name, size in names:
            self.ix[name] = np.arange(n, n + size)
            n += size
        self.n = n
        self.cut_alpha, self.cut_beta = np.zeros(0), np.zeros((0, R))
        self.scale = 1.0 / (system.hours * system.deficit_cost * net.base)  # objective ~ 1 for the solver
        self._models = {}  # targeted (bool) -> Clarabel's data, rebuilt after a cut

    # the model -------------------------------------------------------------------------------
    def _build(self, targeted: bool, tol: float = 1e-9) -> dict:
        """Clarabel's data with or without the target rows (without: the slacks fixed at 0)."""
        s, net, ix = self.sys, self.net, self.ix
        R = s.n_res
        base, h = net.base, s.hours
        q = np.zeros(self.n)  # linear cost (money)
        q[ix["q"]] = h * s.hydro_cost * s.prod
        q[ix["pg"]] = h * s.thermal_cost * base
        q[ix["d"]] = h * s.deficit_cost * base
        q[ix["dp"]] = q[ix["dm"]] = self.penalty
        # theta in the solver's objective units (theta x scale): the cuts' right-hand sides are
        # then of the order of the other rows' (in money they reach 1e5 and stall the solver)
        q[ix["theta"]] = 1.0 / self.scale  # theta >= 0: 0 until a cut lifts it
        rows = _Rows(self.n)
        up_q, up_s = s.upstream()
        k = s.k
        # equalities: water balance, targets, bus balances (P then Q)
        bal = []
        for i in range(R):
            row = [(ix["v"][i], 1.0), (ix["q"][i], k), (ix["s"][i], 1.0)]
            row += [(ix["q"][j], -k) for j in np.flatnonzero(up_q[i])]
            row += [(ix["s"][j], -1.0) for j in np.flatnonzero(up_s[i])]
            bal.append(row)
        tar = [[(ix["v"][i], 1.0), (ix["dp"][i], 1.0), (ix["dm"][i], -1.0)] for i in range(R)] if targeted else []
        kp, kq = self._bus_rows()
        eq = bal + tar + kp + kq
        b_eq = np.concatenate([np.zeros(len(bal) + len(tar)), -net.load / base, -net.qload / base])
        r_eq = rows.add(eq, b_eq, clarabel.ZeroConeT(len(eq)))
        # inequalities: bounds, angle limits, cuts (-x <= -lb as rows of the nonnegative cone)
        ineq, b_in = [], []

        def bound(name, lo, hi):
            n = len(ix[name])
            for c, a, z in zip(ix[name], np.broadcast_to(lo, n), np.broadcast_to(hi, n)):
                if np.isfinite(a):
                    ineq.append([(c, -1.0)]), b_in.append(-a)
                if np.isfinite(z):
                    ineq.append([(c, 1.0)]), b_in.append(z)
        bound("v", s.vmin, s.vmax)
        bound("q", 0.0, s.qmax)
        bound("s", 0.0, np.inf)
        bound("pg", 0.0, s.thermal_pmax / base)
        bound("d", 0.0, net.load / base)
        bound("w", net.vmin ** 2, net.vmax ** 2)
        bound("dp", 0.0, np.inf if targeted else 0.0)
        bound("dm", 0.0, np.inf if targeted else 0.0)
        bound("theta", 0.0, np.inf)
        lo, hi = self._angle_limits()
        for p in range(len(self.pf)):  # tan(lo) wr <= wi <= tan(hi) wr
            ineq.append([(ix["wi"][p], 1.0), (ix["wr"][p], -np.tan(hi[p]))]), b_in.append(0.0)
            ineq.append([(ix["wi"][p], -1.0), (ix["wr"][p], np.tan(lo[p]))]), b_in.append(0.0)
        sc = self.scale
        for a, beta in zip(self.cut_alpha, self.cut_beta):  # theta - beta . v >= alpha, times scale
            ineq.append([(ix["theta"][0], -1.0)] + [(c, sc * float(v)) for c, v in zip(ix["v"], beta)])
            b_in.append(-sc * a)
        rows.add(ineq, b_in, clarabel.NonnegativeConeT(len(ineq)))
        # cones: the rotated cone per pair, ||(2 wr, 2 wi, w_i - w_j)|| <= w_i + w_j
        w, wr, wi = ix["w"], ix["wr"], ix["wi"]
        for p, (i, j) in enumerate(zip(self.pf, self.pt)):
            rows.add([[(w[i], -1.0), (w[j], -1.0)], [(wr[p], -2.0)], [(wi[p], -2.0)], [(w[i], -1.0), (w[j], 1.0)]],
                     np.zeros(4), clarabel.SecondOrderConeT(4))
        # thermal limits at both ends: ||(p, q)|| <= rate
        for l in range(len(net.br_x)):
            for end in ("fr", "to"):
                pe, qe = self._flow(l, end)
                rows.add([[], [(c, -v) for c, v in pe], [(c, -v) for c, v in qe]], [net.rate[l], 0.0, 0.0],
                         clarabel.SecondOrderConeT(3))
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.presolve_enable = False  # keeps every row, so the right-hand side can be updated
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
        settings.max_threads = 1
        solver = clarabel.DefaultSolver(sp.csc_matrix((self.n, self.n)), q * self.scale, rows.matrix(),
                                        np.array(rows.b), rows.cones, settings)
        return {"solver": solver, "q": q, "b": np.array(rows.b), "bal": r_eq[:R],
                "tar": r_eq[R:2 * R] if targeted else None}

    def _angle_limits(self):
        net = self.net
        lo, hi = np.full(len(self.pf), -np.inf), np.full(len(self.pf), np.inf)
        for l, p in enumerate(self.pair):
            same = (net.br_from[l], net.br_to[l]) == (self.pf[p], self.pt[p])
            a, z = (net.angmin[l], net.angmax[l]) if same else (-net.angmax[l], -net.angmin[l])
            lo[p], hi[p] = max(lo[p], a), min(hi[p], z)
        return lo, hi

    def _flow(self, l: int, end: str):
        """The active and reactive flow at one end of branch l, as [(column, coefficient)]."""
        net, ix = self.net, self.ix
        g, b = admittance(net)
        g, b = g[l], b[l]
        p = self.pair[l]
        f, t = net.br_from[l], net.br_to[l]
        sgn = 1.0 if (f, t) == (self.pf[p], self.pt[p]) else -1.0  # wi of the pair is odd in the orientation
        wr, wi = ix["wr"][p], ix["wi"][p]
        if end == "fr":
            w = ix["w"][f]
            return ([(w, g), (wr, -g), (wi, -b * sgn)],
                    [(w, -(b + net.br_b_fr[l])), (wr, b), (wi, -g * sgn)])
        w = ix["w"][t]
        return ([(w, g), (wr, -g), (wi, b * sgn)],
                [(w, -(b + net.br_b_to[l])), (wr, b), (wi, g * sgn)])

    def _bus_rows(self):
        """Per bus: generation + deficit - flows leaving = load, as rows -(...) + s = -load."""
        s, net, ix = self.sys, self.net, self.ix
        B = net.n_bus
        kp, kq = [[] for _ in range(B)], [[] for _ in range(B)]
        for i, bus in enumerate(net.hydro_bus):
            kp[bus].append((ix["q"][i], -s.prod[i] / net.base))
        for g, bus in enumerate(net.thermal_bus):
            kp[bus].append((ix["pg"][g], -1.0))
        gen_bus = np.concatenate([net.thermal_bus, net.hydro_bus])
        for g, bus in enumerate(gen_bus):
            kq[bus].append((ix["qg"][g], -1.0))
        for b in range(B):
            kp[b].append((ix["d"][b], -1.0))
        for l in range(len(net.br_x)):
            for end, bus in (("fr", net.br_from[l]), ("to", net.br_to[l])):
                pe, qe = self._flow(l, end)
                kp[bus] += pe
                kq[bus] += qe
        return kp, kq

    # cuts and solves ---------------------------------------------------------------------------
    def add_cut(self, alpha: float, beta: np.ndarray) -> bool:
        """theta >= alpha + beta . v_out; a cut parallel to a kept one replaces it when larger
        (as ``StageLP.add_cut``). The model is rebuilt at the next solve."""
        self.cut_alpha, self.cut_beta, what = merge_cut(self.cut_alpha, self.cut_beta, alpha, beta)
        if what != "none":
            self._models = {}
        return what == "added"

    @property
    def cuts(self):
        return list(range(len(self.cut_alpha)))

    def solve(self, v_in: np.ndarray, inflow: np.ndarray, target: np.ndarray | None = None) -> dict:
        targeted = target is not None
        if targeted not in self._models:
            self._models[targeted] = self._build(targeted)
        m = self._models[targeted]
        b = m["b"].copy()
        b[m["bal"]] = np.asarray(v_in, float) + self.sys.k * np.asarray(inflow, float)
        if targeted:
            b[m["tar"]] = target
        m["solver"].update(b=b)
        sol = m["solver"].solve()
        status = str(sol.status)
        if status not in ("Solved", "AlmostSolved"):  # once more from a new model, at Clarabel's default tolerance
            m2 = self._build(targeted, tol=1e-8)
            m2["solver"].update(b=b)
            sol = m2["solver"].solve()
            status = str(sol.status)
            if status not in ("Solved", "AlmostSolved"):
                raise RuntimeError(f"SOC stage problem not solved: {status}")
        return self._result(np.asarray(sol.x), np.asarray(sol.z), m, target)

    def _result(self, x, z, m, target) -> dict:
        s, ix, net = self.sys, self.ix, self.net
        obj = float(m["q"] @ x)
        theta = float(x[ix["theta"][0]]) / self.scale
        pen = float(self.penalty * (x[ix["dp"]].sum() + x[ix["dm"]].sum())) if target is not None else 0.0
        d = np.maximum(x[ix["d"]], 0.0)  # an interior point may end a hair below 0
        return {"objective": obj, "v_out": np.clip(x[ix["v"]], s.vmin, s.vmax), "q": x[ix["q"]], "s": x[ix["s"]],
                "g": x[ix["pg"]] * net.base, "deficit": float(d.sum() * net.base), "bus_deficit": d * net.base,
                "theta": theta, "operating_cost": obj - theta - pen,
                "dual_balance": -z[m["bal"]] / self.scale,  # d objective / d v_in
                "dual_target": -z[m["tar"]] / self.scale if target is not None else None,
                "deviation": x[ix["dp"]] - x[ix["dm"]] if target is not None else None,
                "w": x[ix["w"]], "wr": x[ix["wr"]], "wi": x[ix["wi"]], "qg": x[ix["qg"]] * net.base, "x": x}
