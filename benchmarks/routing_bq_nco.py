"""Routing: bq-nco's shipped TSP model (trained at N = 100, fine-tuned at N = 50) against the
constructive baselines, on the test sets of N = 20, 50, 100, 200 (generalisation) and on the
TSPLIB instances; its shipped knapsack model (trained at N = 200) against the value / weight
rule at N = 100, 200 and 500 (the first 128, all 128 and the first 32 test instances: greedy
decoding re-encodes the remaining items at every step, about 10 CPU-minutes for 128 instances at
N = 200 on one core); through the runner, read back from the store.

    python benchmarks/routing_bq_nco.py [--sizes 20,50,100,200] [--beam-counts 20:128,50:128,100:32,200:16]
        [--beam-seconds 3600] [--tsplib eil51,berlin52,kroA100,ch150] [--knapsack-counts 100:128,200:0,500:32]
        [--knapsack-seconds 3600] [--cvrp-counts 20:128,50:128,100:128,200:32]
        [--cvrp-beam-counts 20:128,50:128,100:32,200:32] [--op-counts 20:128,50:128,100:128,200:32]
        [--op-beam-counts 20:128,50:128,100:32,200:32]
        [--store results/bench-routing] [--jobs 1]

Greedy decoding and the baselines run on the full test sets (1,000 instances for N <= 100, 128
above); beam search (width 16) and greedy again on the first instances of each, as many as
--beam-counts says (the same instances: a smaller `count` draws the first ones of the same
seeded stream), with a budget of --beam-seconds: re-encoding 16 sub-problems per instance at
every step costs 16 times the greedy pass, about 25 CPU-minutes for 32 instances at N = 100. Gaps are to LKH-3 (`best-known`) on generated instances and to the proved
optimum on TSPLIB (`optimal`); knapsack gaps to the exact optimum (dynamic programming,
`optimal`). CVRP: the shipped CVRP model (trained at N = 50) against Clarke-Wright savings on
the first instances of each test set (--cvrp-counts; same budget as knapsack), greedy and, on
--cvrp-beam-counts, beam-16; gaps to PyVRP's iterated local search (`best-known`). OP: the
shipped OP model (trained at N = 50) against the greedy prize / length rule, the same way
(--op-counts, --op-beam-counts); gaps (prize short of the reference, %) to PyVRP on the OP as a
prize-collecting problem (`best-known`). The paper's Table 1 is not in results/published/ (see
the issue note). Already-stored runs are reused.
"""
from __future__ import annotations

import argparse

import pandas as pd

from mobench.leaderboard import _budget_text, leaderboard
from mobench.registry import make
from mobench.runner import plan, run

BASELINES = ["nearest-neighbour", "farthest-insertion", "cheapest-insertion", "two-opt"]


def sized_targets(problem: str, counts: str) -> list[str]:
    """"100:128,200:0" -> the problem's targets of those sizes (count 0: the full test set)."""
    return [f"routing/{problem}-v0:N={n}" + (f",count={c}" if int(c) else "")
            for n, c in (item.split(":") for item in counts.split(",") if item)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20,50,100,200")
    ap.add_argument("--beam-counts", default="20:128,50:128,100:32,200:16")
    ap.add_argument("--beam-seconds", type=float, default=3600.0)
    ap.add_argument("--tsplib", default="eil51,berlin52,kroA100,ch150")
    ap.add_argument("--knapsack-counts", default="100:128,200:0,500:32",
                    help="N:count (0: the full test set) of the knapsack sets")
    ap.add_argument("--knapsack-seconds", type=float, default=3600.0,
                    help="budget per knapsack run (greedy decoding of 128 instances at N = 500 is long on one core)")
    ap.add_argument("--cvrp-counts", default="20:128,50:128,100:128,200:32",
                    help="N:count (0: the full test set) of the CVRP sets (PyVRP's reference costs 1-4 s per instance)")
    ap.add_argument("--cvrp-beam-counts", default="20:128,50:128,100:32,200:32",
                    help="N:count of the CVRP sets decoded by beam search (width 16) too")
    ap.add_argument("--op-counts", default="20:128,50:128,100:128,200:32",
                    help="N:count of the OP sets (PyVRP's reference costs 1-4 s per instance)")
    ap.add_argument("--op-beam-counts", default="20:128,50:128,100:32,200:32",
                    help="N:count of the OP sets decoded by beam search (width 16) too")
    ap.add_argument("--store", default="results/bench-routing")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    sizes = [int(n) for n in a.sizes.split(",") if n]
    full = [f"routing/tsp-v0:N={n}" for n in sizes]
    counts = dict(item.split(":") for item in a.beam_counts.split(","))
    beam = [f"routing/tsp-v0:N={n},count={counts[str(n)]}" for n in sizes]
    tsplib = [f"routing/tsp-v0:instance={name}" for name in a.tsplib.split(",") if name]
    specs = plan(full + tsplib, ["bq-nco"] + BASELINES, 1)
    specs += plan(sorted(set(beam) - set(full)), ["bq-nco"], 1)
    specs += plan(beam + tsplib, ["bq-nco:beam=16"], 1, budget_seconds=a.beam_seconds)
    knapsack = sized_targets("knapsack", a.knapsack_counts)
    specs += plan(knapsack, ["bq-nco", "greedy-ratio"], 1, budget_seconds=a.knapsack_seconds)
    cvrp, cvrp_beam = sized_targets("cvrp", a.cvrp_counts), sized_targets("cvrp", a.cvrp_beam_counts)
    cvrp_sets = cvrp + sorted(set(cvrp_beam) - set(cvrp))  # greedy and Clarke-Wright on every set
    specs += plan(cvrp_sets, ["bq-nco", "clarke-wright"], 1, budget_seconds=a.knapsack_seconds)
    specs += plan(cvrp_beam, ["bq-nco:beam=16"], 1, budget_seconds=a.beam_seconds)
    op, op_beam = sized_targets("op", a.op_counts), sized_targets("op", a.op_beam_counts)
    op_sets = op + sorted(set(op_beam) - set(op))
    specs += plan(op_sets, ["bq-nco", "greedy-prize"], 1, budget_seconds=a.knapsack_seconds)
    specs += plan(op_beam, ["bq-nco:beam=16"], 1, budget_seconds=a.beam_seconds)
    run(specs, a.store, jobs=a.jobs)
    board = leaderboard(a.store)
    wanted = {(s.problem, s.solver, _budget_text(s.budget.steps, s.budget.seconds)) for s in specs}
    board = board[[k in wanted for k in zip(board.problem, board.solver, board.budget)]].copy()
    label = {make(t).key: t.split(":", 1)[1] for t in full + beam + tsplib}  # key -> short name
    label.update({make(t).key: "knapsack " + t.split(":", 1)[1] for t in knapsack})
    label.update({make(t).key: "cvrp " + t.split(":", 1)[1] for t in cvrp_sets})
    label.update({make(t).key: "op " + t.split(":", 1)[1] for t in op_sets})
    board["set"] = [label.get(p, p) for p in board.problem]
    pd.set_option("display.width", 200)
    for title, names in (("generated test sets", [t.split(":", 1)[1] for t in full + sorted(set(beam) - set(full))]),
                         ("TSPLIB", [t.split(":", 1)[1] for t in tsplib]),
                         ("knapsack test sets", ["knapsack " + t.split(":", 1)[1] for t in knapsack]),
                         ("CVRP test sets", ["cvrp " + t.split(":", 1)[1] for t in cvrp_sets]),
                         ("OP test sets", ["op " + t.split(":", 1)[1] for t in op_sets])):
        part = board[board.set.isin(names)]
        print(f"\nmean gap (%) on the {title}, store {a.store}")
        print(part.pivot_table(index="solver", columns="set", values="gap_pct", aggfunc="mean")
              .reindex(columns=names).round(4 if title.startswith("knapsack") else 3).to_string())
        print(f"\nsolve seconds per run ({title})")
        print(part.pivot_table(index="solver", columns="set", values="solve_s", aggfunc="mean")
              .reindex(columns=names).round(1).to_string())
    print(f"\nreference kinds: {board.groupby('reference_kind').size().to_dict()}")


if __name__ == "__main__":
    main()
