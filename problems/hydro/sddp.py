"""SDDP on the stage problems (``stages.stage_problem``: the stage LPs of the copper plate and
DC power flow, the SOC relaxation's cone programs), the deterministic equivalent for small
trees, and policy simulation with a 95% confidence interval.

On an AC system SDDP builds its cuts on the SOC relaxation (convex, so the duals give valid
cuts; the source does the same) and its lower bound is the relaxation's; ``policy_problems``
hands the cuts to the AC stage problems, on which the policy is simulated. The forward passes
run on the relaxation too (the source's run on AC): each AC forward solve would need the stage
model rebuilt with the new cuts.

Inflows are stagewise independent: at each stage one of the S equiprobable scenario rows is
drawn (all reservoirs together, keeping the spatial correlation of the data). Decisions are
made after the stage's inflow is seen (hazard-decision), as in the source's subproblems.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .stages import convex, stage_problem
from .system import System


@dataclass
class SDDPResult:
    lower_bounds: list = field(default_factory=list)
    iterations: int = 0
    converged: bool = False
    sim_mean: float = math.nan
    sim_ci: tuple = (math.nan, math.nan)
    seconds: float = 0.0


class SDDP:
    """Stage problems built once (one per stage, each keeps its own cuts); forward passes along
    sampled inflow paths, backward Benders cuts averaged over the stage's scenarios. ``lps``:
    the stage problems of the convex model the cuts are built on (``cut_system``)."""

    def __init__(self, system: System):
        self.sys = system
        self.cut_system = convex(system)
        self.lps = [stage_problem(self.cut_system) for _ in range(system.stages)]

    def policy_problems(self) -> list:
        """The system's own stage problems holding the cuts: ``lps`` themselves on a convex
        model, new AC stage problems with the SOC cuts on an AC system."""
        if self.cut_system is self.sys:
            return self.lps
        out = []
        for lp in self.lps:
            p = stage_problem(self.sys)
            p.set_cuts(lp.cut_alpha, lp.cut_beta)
            out.append(p)
        return out

    def lower_bound(self) -> float:
        s = self.cut_system
        return float(np.mean([self.lps[0].solve(s.v0, s.inflows[0, j])["objective"]
                              for j in range(s.inflows.shape[1])]))

    def forward(self, rng) -> list[np.ndarray]:
        s, v, trial = self.cut_system, self.sys.v0, []
        for t in range(s.stages):
            r = self.lps[t].solve(v, s.inflows[t, rng.integers(s.inflows.shape[1])])
            v = r["v_out"]
            trial.append(v)
        return trial

    def backward(self, trial: list[np.ndarray]) -> None:
        s = self.sys
        for t in range(s.stages - 1, 0, -1):
            x = trial[t - 1]  # stage t's incoming volumes
            objs, duals = [], []
            for j in range(s.inflows.shape[1]):
                r = self.lps[t].solve(x, s.inflows[t, j])
                objs.append(r["objective"])
                duals.append(r["dual_balance"])
            beta = np.mean(duals, axis=0)  # d E[cost_t..T] / d v_in = d / d v_out of stage t-1
            alpha = float(np.mean(objs) - beta @ x)
            self.lps[t - 1].add_cut(alpha, beta)

    def policy_step(self, t: int, v: np.ndarray, inflow: np.ndarray) -> dict:
        return self.lps[t].solve(v, inflow)

    def simulate(self, paths: np.ndarray, problems: list | None = None) -> np.ndarray:
        """Total operating cost of the SDDP policy on scenario-index paths [N, T], on the stage
        problems the cuts are built on (or on ``problems``, e.g. ``policy_problems()``)."""
        s = self.sys
        lps = self.lps if problems is None else problems
        costs = np.zeros(len(paths))
        for n, path in enumerate(paths):
            v = s.v0
            for t, j in enumerate(path):
                r = lps[t].solve(v, s.inflows[t, j])
                costs[n] += r["operating_cost"]
                v = r["v_out"]
        return costs

    def train(self, max_iterations: int = 500, seconds: float = 600.0, tol: float = 1e-3,
              window: int = 20, sim_paths: int = 200, forward_passes: int = 1, seed: int = 0,
              check_every: int = 20) -> SDDPResult:
        """Iterate until the lower bound changes by less than ``tol`` (relative) over ``window``
        iterations and lies inside the simulated cost's 95% CI, or a limit is hit."""
        rng = np.random.default_rng(seed)
        res, t0 = SDDPResult(), time.monotonic()
        sim_rng = np.random.default_rng(seed + 1)
        sim = sample_paths(self.sys, sim_paths, sim_rng)
        for it in range(1, max_iterations + 1):
            for _ in range(forward_passes):
                self.backward(self.forward(rng))
            res.lower_bounds.append(self.lower_bound())
            res.iterations = it
            if it >= window and it % check_every == 0:
                lb, old = res.lower_bounds[-1], res.lower_bounds[-window]
                if abs(lb - old) <= tol * abs(lb):
                    c = self.simulate(sim)
                    mean, half = c.mean(), 1.96 * c.std(ddof=1) / math.sqrt(len(c))
                    res.sim_mean, res.sim_ci = float(mean), (float(mean - half), float(mean + half))
                    if lb <= mean + half:
                        res.converged = True
                        break
            if time.monotonic() - t0 > seconds:
                break
        if math.isnan(res.sim_mean):
            c = self.simulate(sim)
            mean, half = c.mean(), 1.96 * c.std(ddof=1) / math.sqrt(len(c))
            res.sim_mean, res.sim_ci = float(mean), (float(mean - half), float(mean + half))
        res.seconds = time.monotonic() - t0
        return res


def sample_paths(system: System, n: int, rng) -> np.ndarray:
    """Scenario indices [n, T], one uniform draw per stage (stagewise independence)."""
    return rng.integers(system.inflows.shape[1], size=(n, system.stages))


def _node(system: System, v_in, inflow, cp):
    """One stage's variables and constraints in cvxpy (written independently of StageLP):
    -> (end volumes, constraints, stage cost). ``inflow`` may be a constant or a Parameter."""
    s, R, G = system, system.n_res, len(system.thermal_cost)
    up_q, up_s = system.upstream()
    v, q, sp, g = cp.Variable(R), cp.Variable(R), cp.Variable(R), cp.Variable(G)
    cons = [v >= s.vmin, v <= s.vmax, q >= 0, q <= s.qmax, sp >= 0, g >= 0, g <= s.thermal_pmax,
            v == v_in + s.k * (inflow - q + up_q @ q) - sp + up_s @ sp]
    net = system.network
    if net is None:
        d = cp.Variable()
        cons += [d >= 0, s.prod @ q + cp.sum(g) + d == s.demand]
    else:  # bus-incidence formulation (StageLP writes the same rows bus by bus)
        A = net.incidence()                                   # [L, B]
        Y = np.diag(net.base / net.br_x) @ A                  # flows = Y @ angles (MW)
        H = np.zeros((net.n_bus, R)); H[net.hydro_bus, np.arange(R)] = 1.0
        Gm = np.zeros((net.n_bus, G)); Gm[net.thermal_bus, np.arange(G)] = 1.0
        d, ang = cp.Variable(net.n_bus), cp.Variable(net.n_bus)
        cons += [d >= 0, d <= net.load, ang[net.ref] == 0, cp.abs(A @ ang) <= net.max_angle,
                 H @ cp.multiply(s.prod, q) + Gm @ g + d - A.T @ (Y @ ang) == net.load]
    cost = s.hours * (s.thermal_cost @ g + s.deficit_cost * cp.sum(d) + s.hydro_cost * (s.prod @ q))
    return v, cons, cost


def _linear(system: System) -> None:
    if system.model not in ("copper", "dc"):
        raise ValueError(f"the horizon LPs model the copper plate and DC power flow, not {system.model!r}")


def _solve(prob, what: str) -> float:
    import cvxpy as cp
    with np.errstate(invalid="ignore"):  # cvxpy's bound propagation meets inf x 0 on free angles
        prob.solve(solver=cp.HIGHS)
    if prob.status != "optimal":
        raise RuntimeError(f"{what}: {prob.status}")
    return float(prob.value)


def deterministic_equivalent(system: System) -> float:
    """The scenario tree's expected-cost optimum as one LP (cvxpy + HiGHS): every node of the
    tree (S^t nodes at stage t) has its own variables. Only for tiny trees (S^T nodes), on the
    copper plate or DC power flow."""
    import cvxpy as cp
    _linear(system)
    S, T = system.inflows.shape[1], system.stages
    if S ** T > 20000:
        raise ValueError(f"tree too large for the deterministic equivalent: {S}^{T} nodes")
    cons, cost = [], 0
    frontier = [(system.v0, 1.0)]  # (incoming volume expression, probability)
    for t in range(T):
        nxt = []
        for v_in, prob in frontier:
            for j in range(S):
                v, c, stage = _node(system, v_in, system.inflows[t, j], cp)
                cons += c
                cost = cost + prob / S * stage
                nxt.append((v, prob / S))
        frontier = nxt
    return _solve(cp.Problem(cp.Minimize(cost), cons), "deterministic equivalent")


def wait_and_see(system: System, paths: np.ndarray | None = None) -> dict:
    """The wait-and-see (perfect information) bound: the mean over inflow paths of the
    horizon's optimum when the whole path is known in advance; a lower bound on any policy's
    expected cost. One parameterised cvxpy LP over the horizon (inflows are Parameters),
    compiled once and re-solved per path. ``paths`` [N, T] of scenario indices; None: every
    path of the tree (exact; at most 20,000 paths), else the mean over ``paths`` with its 95%
    confidence half-width."""
    import itertools
    import cvxpy as cp
    _linear(system)
    S, T = system.inflows.shape[1], system.stages
    exact = paths is None
    if exact:
        if S ** T > 20000:
            raise ValueError(f"{S}^{T} paths: pass sampled paths")
        paths = np.array(list(itertools.product(range(S), repeat=T)))
    inflow = [cp.Parameter(system.n_res) for _ in range(T)]
    cons, cost, v = [], 0, system.v0
    for t in range(T):
        v, c, stage = _node(system, v, inflow[t], cp)
        cons += c
        cost = cost + stage
    prob = cp.Problem(cp.Minimize(cost), cons)
    values = np.zeros(len(paths))
    for n, path in enumerate(paths):
        for t, j in enumerate(path):
            inflow[t].value = system.inflows[t, j]
        values[n] = _solve(prob, "wait-and-see path")
    half = 0.0 if exact or len(values) < 2 else 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    return {"value": float(values.mean()), "half_width": float(half), "paths": len(values), "exact": exact}
