"""Figures from a store: gaps with 95% CIs, anytime curves, Pareto fronts, cost vs return
(PNG by default; ``ext="svg"`` for the report's site).

Every figure is drawn from the store (never from typed-in numbers); a Pareto front plot adds
the problem's reference front (read from its cache: the runs computed it)."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .leaderboard import leaderboard, newest_solver_versions  # noqa: E402
from .metrics import gap_pct  # noqa: E402
from .store import current_files, read_raw, records_frame  # noqa: E402

MARKERS = "osD^vP*Xph<>"
GAP_LINTHRESH = 0.1  # %: the anytime gap axis is logarithmic beyond +-0.1 %, linear inside


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:80]


def _finish(fig, ax, title: str, path: Path, outside: bool = False) -> Path:
    ax.set_title(title, fontsize=8)
    if outside:  # beside the axes: the curves fill them
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    else:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_gaps(board: pd.DataFrame, out: Path, ext: str = "png") -> Path | None:
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
        ends = [max(m + h, m, 0.0) for m, h in zip(g.gap_pct, hi)]
        for yi, v, end in zip(y, g.gap_pct, ends):  # the value, so that a zero gap is seen, not just no bar
            ax.annotate(f"{v:.3g}", (end, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=6)
        ax.set_xlim(right=max(ends) * 10 if max(ends) > 1 else 10)
        ax.set_yticks(y, [f"{s} [{bud}]" for s, bud in zip(g.solver, g.budget)], fontsize=7)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_title(f"{prob}  (reference: {g.reference_kind.iloc[0]})", fontsize=8)
    axes[-1, 0].set_xlabel("gap to reference (%), mean over seeds with 95% bootstrap CI")
    fig.tight_layout()
    path = out / f"gaps.{ext}"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _column(g: pd.DataFrame, name: str) -> pd.Series:
    return g[name] if name in g else pd.Series(np.nan, index=g.index)


def plot_anytime(df: pd.DataFrame, out: Path, ext: str = "png") -> list[Path]:
    """Per problem: each run's own estimates while it ran (lines: training or development data,
    as each solver logs them) and the engine's score of its answer at the end (a star per run).
    Single-objective problems with a reference show the gap to it in % on a symmetric log axis
    (so that 0.1 % and 100 % both read); multi-objective ones the size of each solver's current
    set of policies (what their solvers log), the stars the number of policies scored. The x
    axis is environment steps, or solve seconds where the problem's solvers count no steps."""
    paths = []
    ok = df[df.status == "ok"]
    for prob, g in ok.groupby("problem"):
        names = g.objective_names.iloc[0] if "objective_names" in g else None
        multi = isinstance(names, list) and len(names) > 1
        refs = _column(g, "reference_value").dropna()
        ref = float(refs.iloc[0]) if len(refs) and not multi else None
        senses = g.objective_senses.iloc[0] if "objective_senses" in g else None
        sense = senses[0] if isinstance(senses, list) and senses else "min"
        curves = [pd.DataFrame(c) for c in g.curve]
        by_steps = any(len(c) and (c.steps > 0).any() for c in curves) or (_column(g, "steps_used").fillna(0) > 0).any()
        fig, ax = plt.subplots(figsize=(8, 4.2))
        drawn, ys = False, []
        for i, (solver, gs) in enumerate(g.groupby("solver")):
            color, marker = f"C{i % 10}", MARKERS[i % len(MARKERS)]
            label = solver
            for curve in gs.curve:
                c = pd.DataFrame(curve)
                if c.empty or c.estimate.isna().all():
                    continue
                c = c[c.estimate.notna()]
                x = c.steps.clip(lower=1) if by_steps else c.seconds.clip(lower=1e-3)
                y = gap_pct(c.estimate, ref, sense) if ref is not None else c.estimate
                ax.plot(x, y, color=color, alpha=0.6, lw=1.2, marker="." if len(c) < 4 else None, label=label)
                ys.append(np.asarray(y, float))
                label, drawn = None, True
            end_x = (_column(gs, "steps_used").fillna(0).clip(lower=1) if by_steps
                     else _column(gs, "solve_seconds").fillna(0).clip(lower=1e-3))
            end_y = (_column(gs, "gap_pct") if ref is not None
                     else _column(gs, "n_answers") if multi
                     else _column(gs, f"obj:{names[0]}") if names else pd.Series(np.nan, index=gs.index))
            if end_y.notna().any():
                ax.scatter(end_x, end_y, marker="*", s=90, color=color, edgecolors="k", linewidths=0.5,
                           zorder=3, label=label)
                ys.append(end_y.to_numpy(float))
                drawn = True
        if not drawn:
            plt.close(fig)
            continue
        if ref is not None:
            ax.axhline(0.0, color="k", ls="--", lw=1, label=f"reference ({_column(g, 'reference_kind').iloc[0]})")
            ax.set_yscale("symlog", linthresh=GAP_LINTHRESH)
            y = np.concatenate(ys)
            y = y[np.isfinite(y)]
            low, high = min(float(y.min()), 0.0), max(float(y.max()), GAP_LINTHRESH)
            ax.set_ylim(low * 3 if low < -GAP_LINTHRESH else low - GAP_LINTHRESH / 2,
                        high * 3 if high > GAP_LINTHRESH else high + GAP_LINTHRESH / 2)
            ax.set_ylabel(f"gap to the reference (%), log beyond +-{GAP_LINTHRESH:g} %")
        elif multi:
            ax.set_ylabel("policies in the solver's current set\n(its own count; the score is the hypervolume)")
        else:
            ax.set_ylabel(f"{names[0] if names else 'objective'} (no reference)")
        ax.set_xscale("log")
        ax.set_xlabel("environment steps" if by_steps else "solve seconds")
        stars = ("the number of policies each run returned (the engine scores the set: hv in the leaderboard)"
                 if multi else "the engine's score of each run's answer on the test scenarios")
        title = (f"{prob}\nlines: each run's own estimates while it ran (training / development data)\n"
                 f"stars: {stars}")
        paths.append(_finish(fig, ax, title, out / f"anytime_{_slug(prob)}.{ext}", outside=True))
    return paths


def _reference_front(problem: str):
    """The problem's reference front and kind (None when it has none or it cannot be read)."""
    from .registry import make
    try:
        ref = make(problem).reference()
    except Exception:  # noqa: BLE001 - a figure without its reference, not no figure
        return None, None
    return (None, None) if ref.front is None else (np.asarray(ref.front, float), ref.kind)


def plot_fronts(df: pd.DataFrame, out: Path, ext: str = "png") -> list[Path]:
    """Pareto fronts (first two objectives) of Pareto-set answers, from the raw outcomes, with the
    problem's reference front. Each solver has its own hollow marker, and a point's area grows
    with the number of runs' answers on it, so that coinciding answers stay visible."""
    paths = []
    if "n_answers" not in df:
        return paths
    multi = df[(df.status == "ok") & (df.objective_names.map(lambda n: isinstance(n, list) and len(n) >= 2))]
    for prob, g in multi.groupby("problem"):
        names = g.objective_names.iloc[0]
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        front, kind = _reference_front(prob)
        if front is not None:
            order = np.argsort(front[:, 0])
            ax.plot(front[order, 0], front[order, 1], color="0.3", lw=0.8, ls=":", marker="x", ms=5,
                    label=f"reference front ({kind})", zorder=1)
        solvers = list(g.groupby("solver"))
        for i, (solver, gs) in enumerate(solvers):
            pts = []
            for path in gs.path:
                raw = read_raw(path)
                pts.append(raw.groupby("answer")[[f"obj:{n}" for n in names[:2]]].mean().to_numpy())
            pts = np.concatenate(pts) if pts else np.zeros((0, 2))
            uniq, counts = np.unique(np.round(pts, 9), axis=0, return_counts=True)
            # larger markers drawn for the first solvers, so later (smaller) ones sit inside them
            size = (90 - 50 * i / max(1, len(solvers) - 1)) * np.sqrt(counts)
            ax.scatter(uniq[:, 0], uniq[:, 1], s=size, marker=MARKERS[i % len(MARKERS)], facecolors="none",
                       edgecolors=f"C{i % 10}", linewidths=1.3, zorder=2 + i,
                       label=f"{solver} ({len(gs)} run{'s' if len(gs) != 1 else ''})")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        title = f"{prob}\neach answer's mean on the test scenarios; marker area ~ answers on the point"
        paths.append(_finish(fig, ax, title, out / f"front_{_slug(prob)}.{ext}"))
    return paths


def plot_cost_return(df: pd.DataFrame, out: Path, ext: str = "png") -> list[Path]:
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
        paths.append(_finish(fig, ax, prob, out / f"cost_return_{_slug(prob)}.{ext}"))
    return paths


def plot_store(store, out) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = current_files(records_frame(store))
    if df.empty:
        return []
    df = newest_solver_versions(df)
    paths = [plot_gaps(leaderboard(store), out)]
    paths += plot_anytime(df, out) + plot_fronts(df, out) + plot_cost_return(df, out)
    return [p for p in paths if p is not None]
