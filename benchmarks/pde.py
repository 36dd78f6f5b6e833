"""PDE (diffusion-sorption): the PI-HC-MoE paper's comparison through the runner, read back from
the store, then the constraint-scaling timings measured in this process, and the paper's
numbers beside ours:

    python benchmarks/pde.py [--target pde/diffusion-sorption-v0:count=200] [--seeds 3]
        [--store results/bench-pde] [--jobs 2] [--timing-grid 101x1024] [--timing-batch 2]
        [--points 100,1000,10000,100000] [--skip-runs] [--skip-timing]

1. The suite `paper-pi-hc-moe` (pi-sc, pi-hc, pi-hc-moe with the shipped models, fno trained
   within its budget, numerical), ``--seeds`` runs each: the seed of a shipped model's run draws
   its constraint points (the paper's evaluation samples them too), fno's seed is its training
   seed. Per solver: relative L2 (mean over seeds with a 95% bootstrap CI over seeds; mean and std
   over test instances as the paper reports), PDE residual and boundary error (the problem's
   constraint costs), feasible rate and wall time.
2. Train step (forward, LM solve, implicit backward) and inference time of PI-HC against
   PI-HC-MoE (K = 4, the same total number of points split over the experts) at each point
   count, on the paper's 101 x 1024 grid, an untrained model of the shipped architecture,
   batch ``--timing-batch``, median of 3 repetitions after one warm-up, one thread.
3. The paper's figures (results/published/chalapathi2024_pihc_moe.csv).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mobench.leaderboard import leaderboard
from mobench.runner import plan_suite, run
from mobench.stats import bootstrap_ci
from mobench.store import current_files, raw_arrays, records_frame

ROOT = Path(__file__).resolve().parent.parent


def runs_table(store: str, target: str) -> pd.DataFrame:
    df = current_files(records_frame(store))
    df = df[(df.problem == target) & (df.status == "ok")]
    rows = []
    for solver, g in df.groupby("solver", sort=False):
        err = 100 * g["obj:rel_l2"].astype(float).to_numpy()
        per_instance = np.concatenate([100 * raw_arrays(p, ["rel_l2"], ["pde_residual", "bc_error"])[0][0, :, 0]
                                       for p in g["path"]])
        lo, hi = bootstrap_ci(err)
        rows.append({"solver": solver, "budget": f"{g['budget_seconds'].iloc[0]:g} s", "seeds": len(g),
                     "rel_l2_%": err.mean(), "ci95_over_seeds": f"[{lo:.2f}, {hi:.2f}]",
                     "instances_mean+-std_%": f"{per_instance.mean():.2f} +- {per_instance.std():.2f}",
                     "pde_residual": g["cost:pde_residual"].astype(float).mean(),
                     "bc_error": g["cost:bc_error"].astype(float).mean(),
                     "within_limits": g["violation_rate"].astype(float).rsub(1).mean(),
                     "wall_s": g["wall_seconds"].astype(float).mean()})
    return pd.DataFrame(rows).sort_values("rel_l2_%")


def timing(grid: str, batch: int, points: list[int]) -> pd.DataFrame:
    from mobench.solvers.hard_constraints.model import OperatorModel
    from mobench.solvers.hard_constraints.physics import physics_loss
    torch.manual_seed(0)
    nt, nx = (int(v) for v in grid.split("x"))
    t, x = np.linspace(0, 500, nt), (np.arange(nx) + 0.5) / nx
    u0 = torch.full((batch, nx), 0.1, dtype=torch.float64)
    rows = []
    for n in points:
        row = {"points": n}
        for variant, experts in (("pi-hc", 1), ("pi-hc-moe", 4)):
            model = OperatorModel(variant, points=max(1, n // experts))
            opt = torch.optim.Adam(model.parameters(), 1e-4)
            gen = torch.Generator().manual_seed(0)
            train_s, infer_s, lm_steps = [], [], []
            for rep in range(4):
                t0 = time.perf_counter()
                u = model(u0, t, x, gen)
                loss, _ = physics_loss(u, u0, t, x)
                opt.zero_grad()
                loss.backward()
                opt.step()
                t1 = time.perf_counter()
                with torch.no_grad():
                    model(u0, t, x, gen)
                t2 = time.perf_counter()
                if rep:
                    train_s.append(t1 - t0)
                    infer_s.append(t2 - t1)
                    lm_steps.append(float(model.constraint.stats["steps"].float().mean()))
            row[f"{variant} train_s"] = float(np.median(train_s))
            row[f"{variant} infer_s"] = float(np.median(infer_s))
            row[f"{variant} lm_steps"] = float(np.mean(lm_steps))
        row["train speed-up"] = row["pi-hc train_s"] / row["pi-hc-moe train_s"]
        row["inference speed-up"] = row["pi-hc infer_s"] / row["pi-hc-moe infer_s"]
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def main():
    from mobench.problems.pde import PAPER_TARGET
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--store", default="results/bench-pde")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timing-grid", default="101x1024")
    ap.add_argument("--timing-batch", type=int, default=2)
    ap.add_argument("--points", default="100,1000,10000,100000")
    ap.add_argument("--skip-runs", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    a = ap.parse_args()
    pd.set_option("display.width", 250)
    published = pd.read_csv(ROOT / "results/published/chalapathi2024_pihc_moe.csv", comment="#")
    if not a.skip_runs:
        specs = plan_suite("paper-pi-hc-moe", a.seeds)
        run(specs, a.store, jobs=a.jobs)
        target = specs[0].problem
        board = leaderboard(a.store)
        board = board[board.problem == target]
        print(f"== {target}: leaderboard (mobench.leaderboard) ==")
        print(board[[c for c in ("solver", "budget", "n_seeds", "n_failed", "obj:rel_l2", "obj:rel_l2 ci95",
                                 "feasible_rate", "violation_rate", "wall_s") if c in board]].to_string(index=False))
        print(f"\n== {target}: relative L2 in %, PDE residual and boundary error (constraint costs) ==")
        print(runs_table(a.store, target).to_string(index=False))
        ds = published[(published.pde == "diffusion-sorption") & (published.kind == "rel_l2_pct")
                       & published.setting.str.startswith("1000")]
        print("\npaper (1,000 test ICs, 1024 x 101, A100 budget):",
              ", ".join(f"{r.method} {r.mean:.2f} +- {r.std:.2f}%" for r in ds.itertuples()))
    if not a.skip_timing:
        print(f"\n== constraint scaling on a {a.timing_grid} grid, batch {a.timing_batch} (seconds per batch) ==")
        tab = timing(a.timing_grid, a.timing_batch, [int(p) for p in a.points.split(",")])
        print(tab.round(3).to_string(index=False))
        sp = published[(published.pde == "diffusion-sorption") & (published.kind == "speedup")]
        print("paper (A100):", ", ".join(f"{r.phase} at {r.points:g} points {r.mean:.3f}x" for r in sp.itertuples()))


if __name__ == "__main__":
    main()
