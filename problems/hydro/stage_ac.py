"""The stage problem with the exact (non-convex) AC power flow, solved by Ipopt through CasADi
(its wheels ship Ipopt with MUMPS), warm-started from a previous solution.

Network model (polar form, PowerModels' ACPPowerModel, the model the source evaluates its
policies on): per bus a voltage magnitude vm in [vmin, vmax] and angle va (the reference bus's
at 0); per branch, with g + jb = 1 / (r + jx) and line charging b_fr, b_to at its two ends,
    p_fr = g vm_f^2 - g vm_f vm_t cos(va_f - va_t) - b vm_f vm_t sin(va_f - va_t)
    q_fr = -(b + b_fr) vm_f^2 + b vm_f vm_t cos(va_f - va_t) - g vm_f vm_t sin(va_f - va_t)
and the same at the to end with f and t swapped (b_to); p^2 + q^2 <= rate^2 at both ends,
angmin <= va_f - va_t <= angmax; per bus, active and reactive generation + active deficit -
load = the flows leaving the bus. Every generator's reactive output is free within the data's
limits (+-999 per unit). The hydro part (water balance, targets with penalised slacks, cuts on
the end volumes, the cost) is the stage LP's (``stage_lp.StageLP``).

The problem is non-convex: Ipopt returns a local optimum (a KKT point), and its duals give the
local sensitivities TS-DDR trains with. Its solutions are checked against an independent
power-flow package (PYPOWER's bus admittance matrix) in ``tests/test_hydro_network.py``.
"""
from __future__ import annotations

import numpy as np

from .stage_lp import merge_cut, target_penalty
from .stage_soc import admittance
from .system import System

IPOPT = {"ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False, "ipopt.tol": 1e-8,
         "ipopt.constr_viol_tol": 1e-9, "ipopt.max_iter": 500, "ipopt.linear_solver": "mumps"}
# a cold start that fails is retried with the adaptive barrier update and more iterations
RETRY = {"ipopt.mu_strategy": "adaptive", "ipopt.max_iter": 3000}
# warm starts: the previous solution with its multipliers, a small initial barrier parameter
WARM = {"ipopt.warm_start_init_point": "yes", "ipopt.mu_init": 1e-5, "ipopt.warm_start_bound_push": 1e-7,
        "ipopt.warm_start_mult_bound_push": 1e-7, "ipopt.warm_start_bound_frac": 1e-7,
        "ipopt.warm_start_slack_bound_push": 1e-7, "ipopt.warm_start_slack_bound_frac": 1e-7}


class StageAC:
    """The stage problem under AC power flow; ``solve`` returns what ``StageLP.solve`` does
    (objective, end volumes, operating cost, duals of the water balance and of the targets),
    plus the voltages (vm, va), generation and ``warm`` (the solution to warm-start the next
    solve of the same scenario from)."""

    def __init__(self, system: System, penalty: float | None = None):
        net = system.network
        if net is None or net.br_r is None:
            raise ValueError(f"{system.name}: the AC stage problem needs a network with AC data")
        self.sys, self.net = system, net
        self.penalty = target_penalty(system) if penalty is None else float(penalty)
        R, G, B = system.n_res, len(system.thermal_cost), net.n_bus
        names = [("v", R), ("q", R), ("s", R), ("pg", G), ("qg", G + R), ("d", B), ("dp", R), ("dm", R),
                 ("theta", 1), ("va", B), ("vm", B)]
        self.ix, n = {}, 0
        for name, size in names:
            self.ix[name] = np.arange(n, n + size)
            n += size
        self.n = n
        self.scale = 1.0 / (system.hours * system.deficit_cost * net.base)  # objective ~ 1 for Ipopt
        self.cut_alpha, self.cut_beta = np.zeros(0), np.zeros((0, R))
        self._solvers = {}  # "warm", "cold", "retry" -> casadi nlpsol, rebuilt after a cut
        self.iterations = 0  # Ipopt iterations of the last solve
        self._bounds()

    # the model ---------------------------------------------------------------------------------
    def _bounds(self):
        s, net, ix = self.sys, self.net, self.ix
        lbx, ubx = np.full(self.n, -np.inf), np.full(self.n, np.inf)

        def put(name, lo, hi):
            lbx[ix[name]], ubx[ix[name]] = lo, hi
        gq = np.concatenate([np.full(len(s.thermal_cost), -999.0), np.full(s.n_res, -999.0)])
        put("v", s.vmin, s.vmax), put("q", 0.0, s.qmax), put("s", 0.0, np.inf)
        put("pg", 0.0, s.thermal_pmax / net.base), put("qg", gq, -gq), put("d", 0.0, net.load / net.base)
        put("dp", 0.0, np.inf), put("dm", 0.0, np.inf), put("theta", 0.0, np.inf)
        put("vm", net.vmin, net.vmax)
        lbx[ix["va"][net.ref]] = ubx[ix["va"][net.ref]] = 0.0
        self.lbx, self.ubx = lbx, ubx

    def _build(self, mode: str):
        import casadi as ca
        s, net, ix = self.sys, self.net, self.ix
        R, B, L = s.n_res, net.n_bus, len(net.br_x)
        x = ca.SX.sym("x", self.n)
        h, base = s.hours, net.base
        cost = np.zeros(self.n)
        cost[ix["q"]] = h * s.hydro_cost * s.prod
        cost[ix["pg"]] = h * s.thermal_cost * base
        cost[ix["d"]] = h * s.deficit_cost * base
        cost[ix["dp"]] = cost[ix["dm"]] = self.penalty
        cost[ix["theta"]] = 1.0 / self.scale  # theta in the solver's objective units (as in stage_soc)
        self.cost = cost
        f = ca.dot(ca.DM(cost * self.scale), x)
        up_q, up_s = s.upstream()
        v, q, sp_ = x[ix["v"]], x[ix["q"]], x[ix["s"]]
        bal = v + s.k * q - s.k * ca.mtimes(ca.DM(up_q), q) + sp_ - ca.mtimes(ca.DM(up_s), sp_)
        tar = v + x[ix["dp"]] - x[ix["dm"]]
        va, vm = x[ix["va"]], x[ix["vm"]]
        g_, b_ = admittance(net)
        fr, to = net.br_from, net.br_to
        vf, vt, df = vm[fr], vm[to], va[fr] - va[to]
        c, sn = ca.cos(df), ca.sin(df)
        G_, B_ = ca.DM(g_), ca.DM(b_)
        p_fr = G_ * vf ** 2 - G_ * vf * vt * c - B_ * vf * vt * sn
        q_fr = -(B_ + ca.DM(net.br_b_fr)) * vf ** 2 + B_ * vf * vt * c - G_ * vf * vt * sn
        p_to = G_ * vt ** 2 - G_ * vt * vf * c + B_ * vt * vf * sn
        q_to = -(B_ + ca.DM(net.br_b_to)) * vt ** 2 + B_ * vt * vf * c + G_ * vt * vf * sn
        # bus balances: generation + deficit - flows leaving = load
        Af = np.zeros((B, L)); Af[fr, np.arange(L)] = 1.0
        At = np.zeros((B, L)); At[to, np.arange(L)] = 1.0
        Ht = np.zeros((B, len(s.thermal_cost))); Ht[net.thermal_bus, np.arange(len(s.thermal_cost))] = 1.0
        Hh = np.zeros((B, R)); Hh[net.hydro_bus, np.arange(R)] = 1.0
        Hq = np.hstack([Ht, Hh])
        kp = (ca.mtimes(ca.DM(Ht), x[ix["pg"]]) + ca.mtimes(ca.DM(Hh * s.prod / base), q) + x[ix["d"]]
              - ca.mtimes(ca.DM(Af), p_fr) - ca.mtimes(ca.DM(At), p_to))
        kq = ca.mtimes(ca.DM(Hq), x[ix["qg"]]) - ca.mtimes(ca.DM(Af), q_fr) - ca.mtimes(ca.DM(At), q_to)
        parts = [bal, tar, kp, kq, df, p_fr ** 2 + q_fr ** 2, p_to ** 2 + q_to ** 2]
        if len(self.cut_alpha):  # theta - beta . v >= alpha, times scale
            parts.append(x[ix["theta"]] - ca.mtimes(ca.DM(self.scale * self.cut_beta), v))
        g = ca.vertcat(*parts)
        self.fg = ca.Function("stage", [x], [f, g])
        self.rows = {"bal": np.arange(R), "tar": np.arange(R, 2 * R), "kp": np.arange(2 * R, 2 * R + B),
                     "kq": np.arange(2 * R + B, 2 * R + 2 * B)}
        K = len(self.cut_alpha)
        lbg = np.concatenate([np.zeros(2 * R), net.load / base, net.qload / base, net.angmin,
                              np.full(2 * L, -np.inf), self.scale * self.cut_alpha])
        ubg = np.concatenate([np.zeros(2 * R), net.load / base, net.qload / base, net.angmax,
                              np.tile(net.rate ** 2, 2), np.full(K, np.inf)])
        self.lbg, self.ubg = lbg, ubg
        opts = dict(IPOPT, **{"warm": WARM, "cold": {}, "retry": RETRY}[mode])
        return ca.nlpsol("stage_ac", "ipopt", {"x": x, "f": f, "g": g}, opts)

    # cuts and solves -----------------------------------------------------------------------------
    def add_cut(self, alpha: float, beta: np.ndarray) -> bool:
        """theta >= alpha + beta . v_out; a cut parallel to a kept one replaces it when larger
        (as ``StageLP.add_cut``). The model is rebuilt at the next solve."""
        self.cut_alpha, self.cut_beta, what = merge_cut(self.cut_alpha, self.cut_beta, alpha, beta)
        if what != "none":
            self._solvers = {}
        return what == "added"

    def set_cuts(self, alpha: np.ndarray, beta: np.ndarray) -> None:
        """Replace every cut (e.g. with those SDDP built on the SOC relaxation)."""
        self.cut_alpha, self.cut_beta = np.asarray(alpha, float).copy(), np.asarray(beta, float).copy()
        self._solvers = {}

    @property
    def cuts(self):
        return list(range(len(self.cut_alpha)))

    def start(self, v_in: np.ndarray) -> np.ndarray:
        """A cold start: flat voltages, volumes at v_in, no generation."""
        x0 = np.zeros(self.n)
        x0[self.ix["vm"]] = 1.0
        x0[self.ix["v"]] = np.clip(v_in, self.sys.vmin, self.sys.vmax)
        return x0

    def solve(self, v_in: np.ndarray, inflow: np.ndarray, target: np.ndarray | None = None,
              warm: tuple | None = None) -> dict:
        """``warm``: (x, lam_x, lam_g) of an earlier solve of this model (the ``warm`` entry of
        its result); a warm start that fails is retried from a cold start, and a cold start with
        the adaptive barrier update (``RETRY``)."""
        s, ix, R = self.sys, self.ix, self.sys.n_res
        lbx, ubx = self.lbx.copy(), self.ubx.copy()
        if not len(self.cut_alpha):
            ubx[ix["theta"]] = 0.0
        rhs = np.asarray(v_in, float) + s.k * np.asarray(inflow, float)
        for mode in (("warm",) if warm is not None else ()) + ("cold", "retry"):
            use_warm = mode == "warm"
            if mode not in self._solvers:
                self._solvers[mode] = self._build(mode)
            lbg, ubg = self.lbg.copy(), self.ubg.copy()
            lbg[self.rows["bal"]] = ubg[self.rows["bal"]] = rhs
            if target is None:
                lbg[self.rows["tar"]], ubg[self.rows["tar"]] = -np.inf, np.inf
                ubx[ix["dp"]] = ubx[ix["dm"]] = 0.0
            else:
                lbg[self.rows["tar"]] = ubg[self.rows["tar"]] = target
            args = {"lbx": lbx, "ubx": ubx, "lbg": lbg, "ubg": ubg}
            if use_warm:  # multipliers of a model with other cuts: the shared rows' and zeros
                lam_g = np.zeros(len(lbg))
                m = min(len(lbg), len(warm[2]))
                lam_g[:m] = warm[2][:m]
                args.update(x0=warm[0], lam_x0=warm[1], lam_g0=lam_g)
            else:
                args["x0"] = self.start(v_in)
            solver = self._solvers[mode]
            out = solver(**args)
            stats = solver.stats()
            self.iterations = stats.get("iter_count", 0)
            if stats["success"]:
                break
        else:
            raise RuntimeError(f"AC stage problem not solved: {stats['return_status']}")
        x = np.asarray(out["x"]).ravel()
        lam_g = np.asarray(out["lam_g"]).ravel()
        lam_x = np.asarray(out["lam_x"]).ravel()
        return self._result(x, lam_g, lam_x, target)

    def _result(self, x, lam_g, lam_x, target) -> dict:
        s, ix, net = self.sys, self.ix, self.net
        obj = float(self.cost @ x)
        theta = float(x[ix["theta"][0]]) / self.scale
        pen = float(self.penalty * (x[ix["dp"]].sum() + x[ix["dm"]].sum())) if target is not None else 0.0
        d = np.maximum(x[ix["d"]], 0.0)  # an interior point may end a hair below 0
        # CasADi's multipliers: grad f + J' lam_g = 0, so d f* / d (right-hand side) = -lam_g
        return {"objective": obj, "v_out": np.clip(x[ix["v"]], s.vmin, s.vmax), "q": x[ix["q"]], "s": x[ix["s"]],
                "g": x[ix["pg"]] * net.base, "deficit": float(d.sum() * net.base), "bus_deficit": d * net.base,
                "theta": theta, "operating_cost": obj - theta - pen,
                "dual_balance": -lam_g[self.rows["bal"]] / self.scale,
                "dual_target": -lam_g[self.rows["tar"]] / self.scale if target is not None else None,
                "deviation": x[ix["dp"]] - x[ix["dm"]] if target is not None else None,
                "vm": x[ix["vm"]], "va": x[ix["va"]], "qg": x[ix["qg"]] * net.base,
                "pg_hydro": s.prod * x[ix["q"]], "iterations": self.iterations, "warm": (x, lam_x, lam_g)}
