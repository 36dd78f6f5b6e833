"""Job-shop: mean gap to the best-known makespan on the Taillard groups, through the runner,
read back from the store.

    python benchmarks/jobshop_taillard.py [--store results/bench-jobshop] [--jobs 1]
        [--groups 15x15,20x20,30x20 --seconds 10,60 --long-groups 30x20 --solvers ...]

Without --groups, --solvers, --seconds or --long-groups it runs the suite `paper-cp-rl` (the
leaderboard's settings: problems/jobshop/__init__.py), i.e. `mobench run paper-cp-rl --seeds 1`
then the table; with any of them, that grid instead.

Groups: ta01-ta10 (15x15), ta21-ta30 (20x20), ta41-ta50 (30x20) by default; ta51-ta60 (50x15),
ta61-ta70 (50x20) and ta71-ta80 (100x20), where the paper's headline (an agent ahead of a CP
solver at equal time on very large instances) is tested, on request. The rules are deterministic
(one run each). The time-limited solvers (`cpsat`, `e2e-cp-rl`, `ppo-dispatch`) run once per
per-instance limit in --seconds: the first on every group, the longer ones on --long-groups
only (default: every group). `cpsat` uses one search worker per CPU core unless given
`cpsat:workers=1` (the output says which). The RL solvers use their shipped checkpoints and
sample schedules until the limit. Already-stored runs are reused.
Published numbers (Tassel et al. 2023) are not in results/published/ (see the issue note).
"""
from __future__ import annotations

import argparse
import os

import pandas as pd

from mobench.cli import split_solvers
from mobench.leaderboard import leaderboard
from mobench.problems.jobshop import TAILLARD_GROUPS
from mobench.registry import parse_target
from mobench.runner import plan, plan_suite, run

TIMED = {"cpsat", "e2e-cp-rl", "ppo-dispatch"}
GROUPS = {name.removeprefix("taillard-"): ids for name, ids in TAILLARD_GROUPS.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", help="default: the suite's, 15x15,20x20,30x20")
    ap.add_argument("--solvers", help="default: the suite's rules, cpsat:workers=1, e2e-cp-rl, ppo-dispatch")
    ap.add_argument("--seconds", help="per-instance limits of the time-limited solvers (the suite's: 10,60)")
    ap.add_argument("--long-groups", help="groups for the limits after the first (the suite's: 30x20; default: all)")
    ap.add_argument("--store", default="results/bench-jobshop")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    use_suite = all(v is None for v in (a.groups, a.solvers, a.seconds, a.long_groups))
    a.groups = a.groups or "15x15,20x20,30x20"
    a.solvers = a.solvers or "spt,mwkr,mor,fifo,cpsat:workers=1,e2e-cp-rl,ppo-dispatch"
    a.seconds = a.seconds or "10,60"
    a.long_groups = a.long_groups if a.long_groups is not None else ("30x20" if use_suite else "")
    groups = a.groups.split(",")
    if unknown := sorted(set(groups + a.long_groups.split(",")) - set(GROUPS) - {""}):
        ap.error(f"unknown groups {unknown}; the Taillard groups are {', '.join(GROUPS)}")
    targets = [f"jobshop/makespan-v0:instance=ta{i:02d}" for g in groups for i in GROUPS[g]]
    long_targets = [t for t in targets if any(int(t.split("=ta")[1]) in GROUPS[g]
                                              for g in (a.long_groups or a.groups).split(","))]
    solvers = split_solvers(a.solvers)
    timed = [s for s in solvers if s.split(":")[0] in TIMED]
    specs = plan(targets, [s for s in solvers if s not in timed], 1)
    for i, sec in enumerate(a.seconds.split(",") if timed else []):
        specs += plan(targets if i == 0 else long_targets, timed, 1, budget_seconds=float(sec))
    if use_suite:
        specs = plan_suite("paper-cp-rl", seeds=1)
    run(specs, a.store, jobs=a.jobs)
    board = leaderboard(a.store)
    board = board[board.problem.isin({s.problem for s in specs})].copy()
    board["instance"] = [parse_target(p)[1]["instance"] for p in board.problem]
    board["group"] = [next(g for g in groups if int(i[2:]) in GROUPS[g]) for i in board.instance]
    board["method"] = [s if s.split(":")[0] not in TIMED else f"{s} {b.split(', ')[-1]}"
                       for s, b in zip(board.solver, board.budget)]
    table = board.pivot_table(index="method", columns="group", values="gap_pct", aggfunc="mean")
    counts = board.pivot_table(index="method", columns="group", values="gap_pct", aggfunc="count")
    print(f"\nmean gap to the best-known makespan (%), store {a.store}; CP-SAT workers: as the "
          f"solver id says (`cpsat:workers=1`), else one per CPU core ({os.cpu_count()} here)")
    print(table.reindex(columns=groups).round(2).to_string())
    print("\ninstances per cell:")
    print(counts.reindex(columns=groups).to_string())
    print(f"\nreference kinds: {board.groupby('reference_kind').size().to_dict()}")
    pd.set_option("display.width", 200)


if __name__ == "__main__":
    main()
