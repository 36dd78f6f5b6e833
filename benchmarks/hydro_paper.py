"""Hydro at the TS-DDR case study's scale: 126 weekly stages of the Bolivian system under AC
power flow (``hydro/bolivia-v1``), SDDP with cuts on the SOC relaxation, TS-DDR trained against
the AC stage problems, myopic and PPO-Lagrangian, through the runner (the family's
``paper-ts-ddr`` suite cells), read back from the store:

    python benchmarks/hydro_paper.py [--paths 100] [--stages 126] [--store results/bench-hydro-paper]
        [--eval-limit 3600] [--solvers sddp,ts-ddr,myopic,ppo-lagrangian]

Prints: each policy's mean cost on the test paths with its 95% CI, the SOC lower bound, the
paired difference TS-DDR - SDDP path by path with its 95% CI (the paper's statistic) and the
number of paths on which TS-DDR is cheaper, training and evaluation times, the inference time
per scenario of TS-DDR against SDDP's as a ratio, the measured time of one AC stage solve and
the full-scale (500 paths) evaluation time it implies, and the published figures beside them.

The runner's limit on one evaluation (``mobench.runner.EVAL_LIMIT``, 900 s) is raised to
``--eval-limit`` for these runs: with ``jobs=1`` the runs are executed in this process, and
100 paths x 126 stages of AC solves (twice per stage for the policies that solve a stage
problem to decide) take longer than 900 s on a 2-core machine.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mobench
import mobench.runner as runner
from mobench.leaderboard import leaderboard, runs_frame
from mobench.problems.hydro import PAPER_CELLS, sample_paths, stage_problem
from mobench.registry import parse_target
from mobench.runner import plan, run
from mobench.store import raw_arrays

PUBLISHED = Path(__file__).resolve().parents[1] / "results" / "published" / "rosemberg2024_tsddr.csv"


def per_path_costs(rec) -> np.ndarray:
    objs, _, _ = raw_arrays(rec["path"], rec["objective_names"], rec["constraint_names"])
    return objs[0, :, 0]


def ac_solve_ms(problem, n_paths: int = 2) -> float:
    """Milliseconds per AC stage solve, warm-started along development paths (never the test
    paths), with targets half-way between the volumes and their inflow-filled values."""
    s = problem.system
    lp = stage_problem(s)
    lp.solve(s.v0, s.inflows[0, 0])  # builds the model (not timed)
    paths = sample_paths(s, n_paths, np.random.default_rng(problem.spec.scenarios.dev_seed))
    t0, n = time.perf_counter(), 0
    for path in paths:
        v, warm = s.v0, None
        for t, j in enumerate(path):
            f = s.inflows[t, j]
            r = lp.solve(v, f, np.clip(v + 0.5 * s.k * f, s.vmin, s.vmax), warm=warm)
            v, warm, n = r["v_out"], r["warm"], n + 1
    return 1000 * (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=100)
    ap.add_argument("--stages", type=int, default=126)
    ap.add_argument("--solvers", default="sddp,ts-ddr,myopic,ppo-lagrangian")
    ap.add_argument("--store", default="results/bench-hydro-paper")
    ap.add_argument("--eval-limit", type=float, default=3600.0)
    ap.add_argument("--budget-scale", type=float, default=1.0, help="scale the suite's budgets (quick checks)")
    a = ap.parse_args()
    runner.EVAL_LIMIT = a.eval_limit
    target = f"hydro/bolivia-v1:paths={a.paths},stages={a.stages}"
    wanted = a.solvers.split(",")
    specs = []
    for cell, budget in PAPER_CELLS.items():
        if parse_target(cell)[0] in wanted:
            steps, seconds = budget if budget else (None, None)
            if a.budget_scale != 1.0:
                steps = None if steps is None else max(1, int(steps * a.budget_scale))
                seconds = None if seconds is None else max(1.0, seconds * a.budget_scale)
            specs += plan([target], [cell], 1, steps, seconds)
    t0 = time.time()
    run(specs, a.store, jobs=1)
    print(f"runs made in {time.time() - t0:.0f} s (runs already stored are not made again)")
    p = mobench.make(target)
    key = p.key
    board = leaderboard(a.store, problems=[key])
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 80)
    frame = runs_frame(a.store, problems=[key])
    frame = frame[frame.status == "ok"]
    recs = {parse_target(r.solver)[0]: r for r in frame.itertuples()}
    from mobench.store import read_record
    recs = {k: read_record(r.path) for k, r in recs.items()}
    ref = p.reference()
    print(f"\n{key}\nreference: {ref.kind} {ref.value:,.2f} ({ref.source})\n")
    rows = []
    for name, rec in recs.items():
        c = per_path_costs(rec)
        half = 1.96 * c.std(ddof=1) / math.sqrt(len(c))
        s = rec["summary"]
        rows.append({"solver": rec["solver"], "budget": f"{rec['budget_steps']} steps / {rec['budget_seconds']} s",
                     "mean cost": c.mean(), "ci95": f"[{c.mean() - half:,.0f}, {c.mean() + half:,.0f}]",
                     "std": c.std(ddof=1), "gap to SOC bound %": s.get("gap_pct"),
                     "load shed %": s.get("cost:load_shed_pct"), "feasible": s.get("feasible_rate"),
                     "train s": rec.get("solve_seconds"), "eval s": rec.get("eval_seconds"),
                     "eval s / path": rec.get("eval_seconds") / len(c)})
    table = pd.DataFrame(rows).sort_values("mean cost")
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.4g}" if abs(x) < 1e3 else f"{x:,.0f}"))
    if {"sddp", "ts-ddr"} <= set(recs):
        sd, ts = per_path_costs(recs["sddp"]), per_path_costs(recs["ts-ddr"])
        d = ts - sd
        se = d.std(ddof=1) / math.sqrt(len(d))
        m = sd.mean()
        lo, hi = 100 * (d.mean() - 1.96 * se) / m, 100 * (d.mean() + 1.96 * se) / m
        print(f"\npaired difference TS-DDR - SDDP over {len(d)} paths: {d.mean():+,.2f} (SE {se:,.2f}), "
              f"{100 * d.mean() / m:+.3f}% [{lo:+.3f}, {hi:+.3f}]%; "
              f"TS-DDR cheaper on {(d < 0).sum()} of {len(d)} paths (target: within 1%)")
        e_sd, e_ts = recs["sddp"]["eval_seconds"], recs["ts-ddr"]["eval_seconds"]
        print(f"inference per scenario (decision and AC dispatch, {len(d)} paths x {a.stages} stages): "
              f"TS-DDR {e_ts / len(d):.2f} s, SDDP {e_sd / len(d):.2f} s, ratio TS-DDR / SDDP {e_ts / e_sd:.2f}")
        ts_info, sd_info = recs["ts-ddr"].get("outcome_info", {}), recs["sddp"].get("outcome_info", {})
        print(f"training: TS-DDR {recs['ts-ddr']['solve_seconds']:.0f} s ({ts_info.get('iterations')} updates), "
              f"SDDP {recs['sddp']['solve_seconds']:.0f} s ({sd_info.get('iterations')} iterations, "
              f"lower bound {sd_info.get('lower_bound'):,.2f})")
    ms = ac_solve_ms(p)
    full = 500 * a.stages * ms / 1000
    print(f"\none AC stage solve (warm-started, development paths): {ms:.1f} ms; evaluating one target policy on "
          f"500 paths x {a.stages} stages: {full / 60:.0f} min of AC solves ({2 * full / 60:.0f} min for a policy "
          f"that solves a stage problem to decide)")
    if PUBLISHED.exists():
        print(f"\npublished ({PUBLISHED.name}):")
        print(pd.read_csv(PUBLISHED, comment="#").to_string(index=False))
    if not board.empty:
        cols = [c for c in ("solver", "budget", "obj:cost", "gap_pct", "reference_kind", "feasible_rate",
                            "solve_s", "eval_s") if c in board]
        print("\nleaderboard rows:\n" + board[cols].to_string(index=False))


if __name__ == "__main__":
    main()
