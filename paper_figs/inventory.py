"""Figures of the inventory report from a result store (default: the targets benchmark's).

    python paper_figs/inventory.py [--store results/bench-inventory] [--out paper_figs/inventory]

Writes gaps.png (gap to the optimal cost per setting and solver, 95% CIs when several seeds),
one anytime curve per setting, and leaderboard.md (the table the figures show).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mobench.leaderboard import format_board, leaderboard
from mobench.plots import plot_store


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="results/bench-inventory")
    ap.add_argument("--out", default="paper_figs/inventory")
    args = ap.parse_args()
    out = Path(args.out)
    paths = plot_store(args.store, out)
    (out / "leaderboard.md").write_text(format_board(leaderboard(args.store), "md") + "\n")
    for p in paths + [out / "leaderboard.md"]:
        print(p)


if __name__ == "__main__":
    main()
