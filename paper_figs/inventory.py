"""Figures of the inventory report from a result store (default: the targets benchmark's).

    python paper_figs/inventory.py [--store results/bench-inventory] [--out paper_figs/inventory]

Writes summary.png (gap per setting and solver, one panel per family, log scale), gaps.png
(the same with 95% CIs when several seeds), one anytime curve per setting, and leaderboard.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mobench.leaderboard import format_board, leaderboard  # noqa: E402
from mobench.plots import plot_store  # noqa: E402
from mobench.registry import parse_target  # noqa: E402


def summary(board, path: Path) -> Path:
    """One panel per family: gap (log scale) per setting, one bar per solver."""
    board = board[board.gap_pct.notna()].copy()
    board["family"] = board.problem.map(lambda k: parse_target(k)[0])
    fams = sorted(board.family.unique())
    fig, axes = plt.subplots(len(fams), 1, figsize=(11, 3.2 * len(fams)), squeeze=False)
    for ax, fam in zip(axes[:, 0], fams):
        g = board[board.family == fam]
        settings = sorted(g.problem.unique(), key=lambda k: (parse_target(k)[1]["L"], parse_target(k)[1]["p"]))
        solvers = sorted(g.solver.unique())
        w = 0.8 / len(solvers)
        for i, s in enumerate(solvers):
            v = np.array([g[(g.problem == k) & (g.solver == s)].gap_pct.mean() for k in settings])
            x = np.arange(len(settings)) + i * w
            ran = ~np.isnan(v)  # settings a solver was not run on get no bar
            ax.bar(x[ran], np.clip(v[ran], 1e-3, None), w, label=s, color=f"C{i}")
        ax.axhline(1.0, color="k", ls="--", lw=0.8, label="1% target")
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(settings)) + 0.4 - w / 2,
                      [",".join(f"{a}={b}" for a, b in parse_target(k)[1].items() if a != "h") for k in settings],
                      rotation=45, fontsize=7)
        ax.set_ylabel("gap to optimal (%; <= 0.001 drawn at 0.001)")
        ax.set_title(fam, fontsize=9)
        ax.legend(fontsize=7, ncol=len(solvers) + 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="results/bench-inventory")
    ap.add_argument("--out", default="paper_figs/inventory")
    args = ap.parse_args()
    out = Path(args.out)
    paths = plot_store(args.store, out)
    paths.append(summary(leaderboard(args.store), out / "summary.png"))
    (out / "leaderboard.md").write_text(format_board(leaderboard(args.store), "md") + "\n")
    for p in paths + [out / "leaderboard.md"]:
        print(p)


if __name__ == "__main__":
    main()
