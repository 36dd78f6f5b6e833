"""Routing: bq-nco's shipped models against the constructive baselines (TSP, knapsack, CVRP, OP),
through the runner, read back from the store: the suite `paper-bq-nco`
(problems/routing/__init__.py: the test sets, solvers and budgets), then its tables.

    python benchmarks/routing_bq_nco.py [--store results/bench-routing] [--jobs 1] [--no-run]

which is `mobench run paper-bq-nco --seeds 1 --store STORE` followed by the tables below. Greedy
decoding and the baselines run on the full test sets (1,000 instances for N <= 100, 128 above)
or their first instances (a smaller `count` draws the first ones of the same seeded stream);
beam search (width 16) re-encodes 16 sub-problems per instance at every step, 16 times the
greedy pass, with an hour per run. Gaps: to LKH-3 (`best-known`) on generated TSP instances, to
the proved optimum on TSPLIB and knapsack (`optimal`), to PyVRP's iterated local search on CVRP
and OP (`best-known`). The paper's Table 1 could not be read (results/published/README.md).
Already-stored runs are reused.
"""
from __future__ import annotations

import argparse

import pandas as pd

from mobench.leaderboard import _budget_text, leaderboard
from mobench.runner import plan_suite, run
from mobench.targets import parse_target

SUITE = "paper-bq-nco"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="results/bench-routing")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-run", action="store_true", help="only print what the store holds")
    a = ap.parse_args()
    specs = plan_suite(SUITE, seeds=1)
    if not a.no_run:
        run(specs, a.store, jobs=a.jobs)
    board = leaderboard(a.store)
    wanted = {(s.problem, s.solver, _budget_text(s.budget.steps, s.budget.seconds)) for s in specs}
    board = board[[k in wanted for k in zip(board.problem, board.solver, board.budget)]].copy()
    kind = lambda key: parse_target(key)[0].split("/")[1].rsplit("-v", 1)[0]
    board["set"] = [f"{kind(p)} {p.split(':', 1)[1]}" for p in board.problem]
    pd.set_option("display.width", 200)
    for k, title in (("tsp", "TSP sets (generated and TSPLIB)"), ("knapsack", "knapsack test sets"),
                     ("cvrp", "CVRP test sets"), ("op", "OP test sets")):
        part = board[[kind(p) == k for p in board.problem]]
        if part.empty:
            continue
        names = sorted(part.set.unique(), key=lambda n: (("instance=" in n), n))
        print(f"\nmean gap (%) on the {title}, store {a.store}")
        print(part.pivot_table(index="solver", columns="set", values="gap_pct", aggfunc="mean")
              .reindex(columns=names).round(4 if k == "knapsack" else 3).to_string())
        print(f"\nsolve seconds per run ({title})")
        print(part.pivot_table(index="solver", columns="set", values="solve_s", aggfunc="mean")
              .reindex(columns=names).round(1).to_string())
    print(f"\nreference kinds: {board.groupby('reference_kind').size().to_dict()}")


if __name__ == "__main__":
    main()
