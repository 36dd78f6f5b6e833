"""Job-shop: mean gap to the best-known makespan on the Taillard groups, through the runner,
read back from the store.

    python benchmarks/jobshop_taillard.py [--groups 15x15,20x20,30x20] [--cp-seconds 10,60]
        [--solvers spt,mwkr,mor,fifo,cpsat] [--store results/bench-jobshop] [--jobs 1]

Groups: ta01-ta10 (15x15), ta21-ta30 (20x20), ta41-ta50 (30x20). The rules are deterministic
(one run each); `cpsat` runs once per time limit in --cp-seconds (CP-SAT uses one search
worker per CPU core of this machine; the output says how many). Already-stored runs are reused.
Published numbers (Tassel et al. 2023) are not yet in results/published/ (see the issue note).
"""
from __future__ import annotations

import argparse
import os

import pandas as pd

from mobench.cli import split_solvers
from mobench.leaderboard import leaderboard
from mobench.registry import parse_target
from mobench.runner import plan, run

GROUPS = {"15x15": range(1, 11), "20x20": range(21, 31), "30x20": range(41, 51)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", default="15x15,20x20,30x20")
    ap.add_argument("--solvers", default="spt,mwkr,mor,fifo,cpsat")
    ap.add_argument("--cp-seconds", default="10,60")
    ap.add_argument("--store", default="results/bench-jobshop")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    groups = a.groups.split(",")
    targets = [f"jobshop/makespan-v0:instance=ta{i:02d}" for g in groups for i in GROUPS[g]]
    solvers = split_solvers(a.solvers)
    specs = plan(targets, [s for s in solvers if not s.startswith("cpsat")], 1)
    if any(s.startswith("cpsat") for s in solvers):
        for sec in a.cp_seconds.split(","):
            specs += plan(targets, [s for s in solvers if s.startswith("cpsat")], 1,
                          budget_seconds=float(sec))
    run(specs, a.store, jobs=a.jobs)
    board = leaderboard(a.store)
    board = board[board.problem.isin({s.problem for s in specs})].copy()
    board["instance"] = [parse_target(p)[1]["instance"] for p in board.problem]
    board["group"] = [next(g for g in groups if int(i[2:]) in GROUPS[g]) for i in board.instance]
    board["method"] = [s if not s.startswith("cpsat") else f"{s} {b.split(', ')[-1]}"
                       for s, b in zip(board.solver, board.budget)]
    table = board.pivot_table(index="method", columns="group", values="gap_pct", aggfunc="mean")
    counts = board.pivot_table(index="method", columns="group", values="gap_pct", aggfunc="count")
    print(f"\nmean gap to the best-known makespan (%), store {a.store}; CP-SAT workers: "
          f"{os.cpu_count()} (one per CPU core)")
    print(table[groups].round(2).to_string())
    print("\ninstances per cell:")
    print(counts[groups].to_string())
    if "cpsat" in solvers:
        proved = board[board.solver == "cpsat"]
        print(f"\nreference kinds: {board.groupby('reference_kind').size().to_dict()}")
        print(f"cpsat runs: {len(proved)}")
    pd.set_option("display.width", 200)


if __name__ == "__main__":
    main()
