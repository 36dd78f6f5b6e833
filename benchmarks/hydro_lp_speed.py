"""Stage-LP solves per second: the suite's HiGHS model (built once, bounds changed per solve)
against a parameterised cvxpy model of the same stage (built once, parameter values changed
per solve, HiGHS as the solver), on the Bolivian system, same inflows and volumes, one run:

    python benchmarks/hydro_lp_speed.py [--solves 300]
"""
from __future__ import annotations

import argparse
import time

import cvxpy as cp
import numpy as np

from mobench.problems.hydro import load_bolivia
from mobench.problems.hydro.stage_lp import StageLP
from mobench.problems.hydro.system import STAGE_HOURS


def cvxpy_stage(s):
    R, G = s.n_res, len(s.thermal_cost)
    v_in, inflow = cp.Parameter(R), cp.Parameter(R)
    v, q, sp, g, d = cp.Variable(R), cp.Variable(R), cp.Variable(R), cp.Variable(G), cp.Variable()
    up_q, up_s = s.upstream()
    cons = [v >= s.vmin, v <= s.vmax, q >= 0, q <= s.qmax, sp >= 0, g >= 0, g <= s.thermal_pmax, d >= 0,
            v == v_in + s.k * (inflow - q + up_q @ q) - sp + up_s @ sp,
            s.prod @ q + cp.sum(g) + d == s.demand]
    cost = STAGE_HOURS * (s.thermal_cost @ g + s.deficit_cost * d + s.hydro_cost * (s.prod @ q))
    return cp.Problem(cp.Minimize(cost), cons), v_in, inflow


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--solves", type=int, default=300)
    n = ap.parse_args().solves
    s = load_bolivia()
    rng = np.random.default_rng(0)
    cases = [(rng.uniform(s.vmin, s.vmax), s.inflows[rng.integers(48), rng.integers(15)]) for _ in range(n)]
    lp = StageLP(s)
    t = time.perf_counter()
    a = [lp.solve(v, f)["objective"] for v, f in cases]
    t_h = time.perf_counter() - t
    prob, v_in, inflow = cvxpy_stage(s)
    t = time.perf_counter()
    b = []
    for v, f in cases:
        v_in.value, inflow.value = v, f
        prob.solve(solver=cp.HIGHS)
        b.append(prob.value)
    t_c = time.perf_counter() - t
    gap = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b))
    print(f"Bolivian stage LP, {n} solves (same volumes and inflows); largest relative difference of the optima: {gap:.1e}")
    print(f"highspy, model kept, bounds changed : {n / t_h:9.1f} solves/s ({1000 * t_h / n:.2f} ms each)")
    print(f"cvxpy Parameters + HiGHS            : {n / t_c:9.1f} solves/s ({1000 * t_c / n:.2f} ms each)")
    print(f"ratio: highspy is {t_c / t_h:.1f}x faster")


if __name__ == "__main__":
    main()
