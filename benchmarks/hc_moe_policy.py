"""The hard-constraint layer as a policy head (`hc-moe-policy`) against `ts-ddr` and
`ppo-lagrangian` on one hydro problem, the same budget and seed for each:

    python benchmarks/hc_moe_policy.py [--target hydro/bolivia-v0:stages=12] [--seconds 300] [--seed 0]

Each solver runs in this process (the store keeps scores, not policies, and the second measure
below needs the policies); the engine (``mobench.evaluate``) scores each on the 200 test paths:
operating cost, load shed (the problem's constraint: violation rate, worst excess). Then each
policy is replayed on the same test paths, stage by stage, through the stage LP: its targets'
water-balance violation is the slack the LP needs to meet them (|dp - dm| summed over
reservoirs, hm3), reported per path (mean) and as the share of stages with any slack (> 1e-6 hm3).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

import mobench
from mobench.problems.hydro import StageLP
from mobench.solver import Budget, Clock, Log


def replay_slack(problem, policy) -> tuple[float, float]:
    """(mean total target slack per test path in hm3, share of stages with slack > 1e-6 hm3)."""
    sim, sc = problem.sim(), problem.spec.scenarios
    lp = StageLP(problem.system)
    state = sim.reset(sc.n, torch.Generator().manual_seed(sc.seed), horizon=sc.horizon)
    total, stages_with = np.zeros(sc.n), 0
    for _ in range(sc.horizon):
        obs = sim.observe(state)
        with torch.no_grad():
            target = torch.as_tensor(policy(obs)).double().numpy()
        v, inflow = state["v"].numpy(), sim.inflow(state)
        for b in range(sc.n):
            dev = np.abs(lp.solve(v[b], inflow[b], target[b])["deviation"]).sum()
            total[b] += dev
            stages_with += dev > 1e-6
        state, *_ = sim.step(state, torch.as_tensor(target, dtype=torch.float32))
    return float(total.mean()), stages_with / (sc.n * sc.horizon)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="hydro/bolivia-v0:stages=12")
    ap.add_argument("--solvers", default="hc-moe-policy,ts-ddr,ppo-lagrangian")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    problem = mobench.make(a.target)
    rows = []
    for name in a.solvers.split(","):
        solver = mobench.make_solver(name)
        t0 = time.perf_counter()
        out = solver.solve(problem, Clock(Budget(seconds=a.seconds)), a.seed, Log())
        train_s = time.perf_counter() - t0
        ev = mobench.evaluate(problem, out).summary
        slack, share = replay_slack(problem, out.policies[0])
        rows.append({"solver": name, "train_s": train_s, "obj:cost": ev["obj:cost"], "cost_se": ev["obj_se:cost"],
                     "gap_pct_to_bound": ev.get("gap_pct"), "load_shed_pct": ev["cost:load_shed_pct"],
                     "violation_rate": ev["violation_rate"], "worst_violation": ev["worst_violation"],
                     "target_slack_hm3_per_path": slack, "stages_with_slack": share,
                     **({"worst_scaled_balance_in_training": out.info["worst_scaled_balance_in_training"]}
                        if "worst_scaled_balance_in_training" in out.info else {})})
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    pd.set_option("display.width", 250)
    ref = problem.reference()
    print(f"\n== {problem.key}: budget {a.seconds:g} s each, seed {a.seed}; reference {ref.kind} {ref.value:.6e} ==")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
