"""The inventory issue's targets, measured through the runner and read back from the store.

    python benchmarks/inventory_targets.py [--store results/bench-inventory] [--seeds 1]
        [--jobs 2] [--solvers hdpo,ppo,base-stock] [--quick]

Runs every target setting (lost sales: L in 1..4 x p in {4, 9}; backlogged: L in {1,4,7,10} x
p in {4,9,19,39}) with each solver at its documented default budget, then prints, per setting,
the reference, each solver's gap (mean over seeds) and whether HDPO's is within 1%.
Already-stored runs are reused (resume), so the script can be stopped and restarted;
--no-run prints what the store holds (each solver's newest version per setting).
--quick runs two settings only (a smoke test of the script itself); --only lost|backlogged
one family's settings.
"""
from __future__ import annotations

import argparse

import pandas as pd

from mobench.cli import split_solvers
from mobench.leaderboard import leaderboard
from mobench.registry import parse_target
from mobench.runner import plan, run

from mobench.problems.inventory import PAPER_SINGLE_STORE   # the cells of the suite paper-hdpo

LOST = [t for t in PAPER_SINGLE_STORE if t.startswith("inventory/lost-sales")]
BACK = [t for t in PAPER_SINGLE_STORE if t.startswith("inventory/backlogged")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="results/bench-inventory")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--solvers", default="hdpo,ppo,base-stock")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["lost", "backlogged"], help="one family's settings only")
    ap.add_argument("--no-run", action="store_true", help="only print what the store holds")
    args = ap.parse_args()
    targets = {"lost": LOST, "backlogged": BACK, None: LOST + BACK}[args.only]
    if args.quick:
        targets = LOST[:1] + BACK[:1]
    solvers = split_solvers(args.solvers)
    specs = plan(targets, solvers, args.seeds)
    if not args.no_run:
        run(specs, args.store, jobs=args.jobs)

    board = leaderboard(args.store)
    keys = {s.problem for s in specs}
    board = board[board.problem.isin(keys)]
    table = board.pivot_table(index="problem", columns="solver", values="gap_pct", aggfunc="first")
    ref = board.groupby("problem")["reference_kind"].first()
    out = pd.DataFrame({"reference": ref}).join(table)
    out = out.reindex(sorted(out.index, key=lambda k: (parse_target(k)[0], parse_target(k)[1]["L"],
                                                       parse_target(k)[1]["p"])))
    pd.set_option("display.width", 200)
    print("\ngap to the optimal cost (%), mean over seeds; store:", args.store)
    print(out.round(3).to_string())
    if "hdpo" in out:
        ok = out["hdpo"].dropna() <= 1.0
        print(f"\nhdpo within 1% of optimal: {int(ok.sum())} of {len(ok)} settings"
              + ("" if ok.all() else f"; missed: {', '.join(ok.index[~ok])}"))
    for s in out.columns[1:]:
        print(f"{s}: mean gap {out[s].mean():.3f}%, max {out[s].max():.3f}%")


if __name__ == "__main__":
    main()
