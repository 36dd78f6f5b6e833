"""The leaderboard: one row per (problem with parameters, solver with parameters and budget),
aggregated over seeds from the store; and cross-problem aggregates (IQM, profiles, P(improve))."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .stats import bootstrap_ci, iqm, normalised_score, stratified_bootstrap
from .store import current_files, records_frame

SET_METRICS = ("hv", "igd", "igd_plus", "eum", "sparsity", "cardinality")


def _budget_text(steps, seconds) -> str:
    parts = []
    if steps is not None and not pd.isna(steps):
        parts.append(f"{int(steps):.3g} steps".replace("e+0", "e").replace("e+", "e"))
    if seconds is not None and not pd.isna(seconds):
        parts.append(f"{seconds:g} s")
    return ", ".join(parts) or "-"


def newest_solver_versions(df: pd.DataFrame) -> pd.DataFrame:
    """Keep, per problem and solver name, the runs of the solver's newest version stored for
    that problem (runs stored before versions count as version 1); say how many older runs
    were left out. The kept version is the row's ``solver_version``."""
    version = df.get("solver_version", pd.Series(1, index=df.index)).fillna(1).astype(int)
    df = df.assign(solver_version=version)
    newest = version.groupby([df["problem"], df["solver_name"]]).transform("max")
    stale = version < newest
    if stale.any():
        names = sorted(df.loc[stale, "solver_name"].unique())
        warnings.warn(f"{int(stale.sum())} stored run(s) of older versions of {', '.join(names)} "
                      "left out of the leaderboard", stacklevel=3)
    return df[~stale]


def warn_mixed_references(df: pd.DataFrame) -> None:
    """Warn about problems whose successful runs were scored against different references
    (a reference computed again in another version, a run stored before summaries named their
    reference): their gaps do not compare; ``mobench rescore`` scores them all again."""
    if "reference_digest" not in df:
        return
    ok = df[df.status == "ok"]
    mixed = [p for p, g in ok.groupby("problem") if g.reference_digest.nunique(dropna=False) > 1]
    if mixed:
        warnings.warn(f"runs of {', '.join(sorted(mixed))} were scored against different references; "
                      f"`mobench rescore {' '.join(sorted(mixed))}` scores them against the current one",
                      stacklevel=3)


def leaderboard(store) -> pd.DataFrame:
    df = records_frame(store)
    if df.empty:
        return pd.DataFrame()
    for c in ("budget_steps", "budget_seconds"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df["budget"] = [_budget_text(s, t) for s, t in zip(df["budget_steps"], df["budget_seconds"])]
    df = newest_solver_versions(current_files(df))  # a retried or re-scored run counts once
    warn_mixed_references(df)
    ok, failed = df[df.status == "ok"], df[df.status != "ok"]
    rows = []
    keys = ["problem", "solver", "budget"]
    groups = {k: g for k, g in ok.groupby(keys, sort=False)}
    for k, g in failed.groupby(keys, sort=False):
        groups.setdefault(k, ok.iloc[0:0])
    for (problem, solver, budget), g in groups.items():
        n_failed = int(((failed.problem == problem) & (failed.solver == solver) & (failed.budget == budget)).sum())
        row = {"problem": problem, "solver": solver, "budget": budget, "n_seeds": len(g), "n_failed": n_failed}
        obj_cols = [c for c in g.columns if c.startswith("obj:") and g[c].notna().any()]
        for c in obj_cols:
            v = g[c].astype(float).to_numpy()
            lo, hi = bootstrap_ci(v)
            row[c] = float(np.mean(v))
            row[c + " ci95"] = (lo, hi)
        if "gap_pct" in g and g["gap_pct"].notna().any():
            v = g["gap_pct"].astype(float).to_numpy()
            row["gap_pct"] = float(np.mean(v))
            row["gap_pct ci95"] = bootstrap_ci(v)
        if "reference_kind" in g and len(g):
            row["reference_kind"] = g["reference_kind"].iloc[0]
        if "feasible" in g and len(g):
            row["feasible_rate"] = float(g["feasible"].astype(float).mean())
        elif "feasible_rate" in g and len(g):
            row["feasible_rate"] = float(g["feasible_rate"].astype(float).mean())
        for c in ("violation_rate", "worst_violation", *SET_METRICS):
            if c in g and g[c].notna().any():
                v = g[c].astype(float).dropna().to_numpy()
                row[c] = float(np.mean(v))
                if c in SET_METRICS:  # a policy set's HV, EUM, ... vary over seeds like objectives
                    row[c + " ci95"] = bootstrap_ci(v)
        if len(g):
            row["wall_s"] = float(g["wall_seconds"].astype(float).mean())
            row["solver_version"] = int(g["solver_version"].max())
            row["device"] = ",".join(sorted(set(g["device"].astype(str))))
        rows.append(row)
    board = pd.DataFrame(rows)
    return rank(board)


def rank(board: pd.DataFrame) -> pd.DataFrame:
    """Order rows within each problem: feasible results first (feasible_rate == 1), then by
    gap (or hypervolume, higher first), failed-only rows last."""
    if board.empty:
        return board
    b = board.copy()
    feas = b.get("feasible_rate", pd.Series(1.0, index=b.index)).fillna(0.0)
    b["_infeasible"] = (feas < 1.0).astype(int)
    b["_empty"] = (b["n_seeds"] == 0).astype(int)
    if "gap_pct" in b:
        b["_key"] = b["gap_pct"].fillna(np.inf)
    elif "hv" in b:
        b["_key"] = -b["hv"].fillna(-np.inf)
    else:
        b["_key"] = 0.0
    b = b.sort_values(["problem", "_empty", "_infeasible", "_key"], kind="stable")
    b["rank"] = b.groupby("problem").cumcount() + 1
    return b.drop(columns=["_infeasible", "_empty", "_key"]).reset_index(drop=True)


def scores_by_solver(store) -> dict[str, dict[str, np.ndarray]]:
    """Normalised scores (see ``stats.normalised_score``) per solver key+budget, per problem."""
    df = records_frame(store)
    if df.empty or "gap_pct" not in df:
        return {}
    df = current_files(df)
    df = df[(df.status == "ok") & df.gap_pct.notna()]
    feas = df["feasible"] if "feasible" in df else pd.Series(True, index=df.index)
    df = df.assign(score=normalised_score(df.gap_pct.astype(float), feas.fillna(False).astype(bool)))
    out: dict[str, dict[str, np.ndarray]] = {}
    for (solver, steps, seconds), g in df.groupby(["solver", "budget_steps", "budget_seconds"], dropna=False):
        label = f"{solver} [{_budget_text(steps, seconds)}]"
        out[label] = {p: gg.score.to_numpy() for p, gg in g.groupby("problem")}
    return out


def aggregate(store) -> pd.DataFrame:
    """Across problems: IQM of normalised scores with a stratified-bootstrap 95% CI."""
    rows = []
    for label, by_problem in scores_by_solver(store).items():
        point, lo, hi = stratified_bootstrap(by_problem, iqm)
        rows.append({"solver": label, "n_problems": len(by_problem), "iqm": point,
                     "iqm ci95": (lo, hi)})
    return pd.DataFrame(rows).sort_values("iqm", ascending=False) if rows else pd.DataFrame()


def format_board(board: pd.DataFrame, fmt: str = "table") -> str:
    if board.empty:
        return "(no runs in the store)" if fmt in ("table", "md") else ("[]" if fmt == "json" else "")
    if fmt == "json":
        return board.to_json(orient="records", indent=1)
    flat = board.copy()
    for c in [c for c in flat.columns if c.endswith(" ci95")]:
        lo_hi = flat[c].apply(lambda t: t if isinstance(t, (tuple, list)) else (np.nan, np.nan))
        base = c[:-5]
        flat[base + " lo"] = [t[0] for t in lo_hi]
        flat[base + " hi"] = [t[1] for t in lo_hi]
        flat = flat.drop(columns=[c])
    if fmt == "csv":
        return flat.to_csv(index=False)
    if fmt == "md":
        return flat.to_markdown(index=False, floatfmt=".4g")
    # human table: "mean [lo, hi]" cells
    show = board.copy()
    for c in [c for c in show.columns if c.endswith(" ci95")]:
        base = c[:-5]
        show[base] = [(f"{m:.4g} [{t[0]:.4g}, {t[1]:.4g}]" if isinstance(t, (tuple, list)) and np.isfinite(t[0])
                       else (f"{m:.4g}" if pd.notna(m) else "-")) for m, t in zip(show[base], show[c])]
        show = show.drop(columns=[c])
    for c in show.columns:
        if show[c].dtype.kind == "f":
            show[c] = show[c].map(lambda v: "-" if pd.isna(v) else f"{v:.4g}")
    front = [c for c in ("rank", "problem", "solver", "budget", "n_seeds") if c in show]
    show = show[front + [c for c in show.columns if c not in front]]
    return show.to_string(index=False)
