"""Figures from a store: gaps with 95% CIs, anytime curves, Pareto fronts, cost vs return.

Every figure is drawn from the store (never from typed-in numbers)."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .leaderboard import leaderboard  # noqa: E402
from .store import current_files, read_raw, records_frame  # noqa: E402


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:80]


def _finish(fig, ax, title: str, path: Path) -> Path:
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_gaps(board: pd.DataFrame, out: Path) -> Path | None:
    if board.empty or "gap_pct" not in board or board.gap_pct.isna().all():
        return None
    b = board[board.gap_pct.notna()]
    problems = list(dict.fromkeys(b.problem))
    rows = int(b.groupby("problem").size().max())
    fig, axes = plt.subplots(len(problems), 1, figsize=(8, 0.6 + len(problems) * (0.5 + 0.3 * rows)),
                             squeeze=False)
    for ax, prob in zip(axes[:, 0], problems):
        g = b[b.problem == prob]
        y = np.arange(len(g))
        lo = [m - t[0] if isinstance(t, (tuple, list)) and np.isfinite(t[0]) else 0 for m, t in zip(g.gap_pct, g["gap_pct ci95"])]
        hi = [t[1] - m if isinstance(t, (tuple, list)) and np.isfinite(t[1]) else 0 for m, t in zip(g.gap_pct, g["gap_pct ci95"])]
        ax.barh(y, g.gap_pct, xerr=[lo, hi], color="tab:blue", alpha=0.7, capsize=3)
        ax.set_yticks(y, [f"{s} [{bud}]" for s, bud in zip(g.solver, g.budget)], fontsize=7)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_title(f"{prob}  (reference: {g.reference_kind.iloc[0]})", fontsize=8)
    axes[-1, 0].set_xlabel("gap to reference (%), mean over seeds with 95% bootstrap CI")
    fig.tight_layout()
    path = out / "gaps.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_anytime(df: pd.DataFrame, out: Path) -> list[Path]:
    paths = []
    ok = df[(df.status == "ok") & df.curve.map(lambda c: len(c) > 0)]
    for prob, g in ok.groupby("problem"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (solver, gs) in enumerate(g.groupby("solver")):
            color = f"C{i % 10}"
            for j, curve in enumerate(gs.curve):
                c = pd.DataFrame(curve)
                if c.empty or c.estimate.isna().all():
                    continue
                ax.plot(c.steps.clip(lower=1), c.estimate, color=color, alpha=0.6,
                        label=solver if j == 0 else None)
        if "reference_value" in g and g.reference_value.notna().any():
            ax.axhline(float(g.reference_value.dropna().iloc[0]), color="k", ls="--", lw=1, label="reference")
        ax.set_xscale("log")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("solver's own estimate (training / development)")
        paths.append(_finish(fig, ax, prob, out / f"anytime_{_slug(prob)}.png"))
    return paths


def plot_fronts(df: pd.DataFrame, out: Path) -> list[Path]:
    """Pareto fronts (two objectives) of Pareto-set answers, from the raw outcomes."""
    paths = []
    if "n_answers" not in df:
        return paths
    multi = df[(df.status == "ok") & (df.objective_names.map(lambda n: isinstance(n, list) and len(n) >= 2))]
    for prob, g in multi.groupby("problem"):
        fig, ax = plt.subplots(figsize=(5, 4))
        for i, (solver, gs) in enumerate(g.groupby("solver")):
            for j, path in enumerate(gs.path):
                raw = read_raw(path)
                names = gs.objective_names.iloc[0]
                pts = raw.groupby("answer")[[f"obj:{n}" for n in names[:2]]].mean().to_numpy()
                ax.scatter(pts[:, 0], pts[:, 1], s=12, color=f"C{i % 10}", alpha=0.7,
                           label=solver if j == 0 else None)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        paths.append(_finish(fig, ax, prob, out / f"front_{_slug(prob)}.png"))
    return paths


def plot_cost_return(df: pd.DataFrame, out: Path) -> list[Path]:
    """Constraint cost against the first objective, one point per answer, the budget drawn."""
    paths = []
    if "constraint_names" not in df:
        return paths
    con = df[(df.status == "ok") & df.constraint_names.map(lambda n: isinstance(n, list) and len(n) > 0)]
    for prob, g in con.groupby("problem"):
        cname, oname = g.constraint_names.iloc[0][0], g.objective_names.iloc[0][0]
        fig, ax = plt.subplots(figsize=(5, 4))
        for i, (solver, gs) in enumerate(g.groupby("solver")):
            for j, path in enumerate(gs.path):  # one point per answer (policy) of each run
                pts = read_raw(path).groupby("answer")[[f"cost:{cname}", f"obj:{oname}"]].mean()
                ax.scatter(pts.iloc[:, 0], pts.iloc[:, 1], s=14, color=f"C{i % 10}", alpha=0.7,
                           label=solver if j == 0 else None)
        thr = g.constraint_thresholds.iloc[0][0] if "constraint_thresholds" in g else None
        if thr is not None:
            ax.axvline(thr, color="r", ls="--", label=f"budget {thr:g}")
        ax.set_xlabel(f"cost: {cname}")
        ax.set_ylabel(oname)
        paths.append(_finish(fig, ax, prob, out / f"cost_return_{_slug(prob)}.png"))
    return paths


def plot_store(store, out) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = current_files(records_frame(store))
    if df.empty:
        return []
    paths = [plot_gaps(leaderboard(store), out)]
    paths += plot_anytime(df, out) + plot_fronts(df, out) + plot_cost_return(df, out)
    return [p for p in paths if p is not None]
