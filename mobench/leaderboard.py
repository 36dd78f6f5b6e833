"""The leaderboard: one row per (problem with parameters, solver with parameters and budget),
aggregated over seeds from the store; and the across-problems table: the IQM of normalised
scores of the solvers that ran on the same set of problems.

Times: ``solve_s`` is the solver's own time (what a budget limits, what solvers compare on);
``eval_s`` is the engine's scoring of the answer on the test scenarios, the same work for every
solver of a problem."""
from __future__ import annotations

import warnings
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd

from .errors import InvalidParameter
from .stats import bootstrap_ci, iqm, normalised_score, stratified_bootstrap, task_bootstrap
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


def select(df: pd.DataFrame, problems=None, solvers=None) -> pd.DataFrame:
    """The rows of ``df`` whose problem matches one of ``problems`` and whose solver matches one
    of ``solvers`` (None: all). A pattern matches a key exactly (``family/name-vN:k=v``), an id or
    solver name (all its parameter sets), or as a glob (``inventory/*``). A pattern that
    matches no stored run is refused, naming what is stored."""
    if df.empty:
        return df
    keep = pd.Series(True, index=df.index)
    for what, patterns, key, name in (("--problem", problems, "problem", "problem_id"),
                                      ("--solver", solvers, "solver", "solver_name")):
        if not patterns:
            continue
        names = df[name] if name in df else df[key].str.split(":").str[0]
        hit = pd.Series(False, index=df.index)
        for pat in patterns:
            m = (df[key] == pat) | (names == pat) | df[key].map(lambda k, pat=pat: fnmatchcase(k, pat))
            if not m.any():
                raise InvalidParameter(f"{what} {pat!r} matches no run in the store; stored: "
                                       f"{', '.join(sorted(set(names)))}")
            hit |= m
        keep &= hit
    return df[keep]


def runs_frame(store, problems=None, solvers=None) -> pd.DataFrame:
    """The store's runs as the leaderboard counts them: one file per run (a retried or re-scored
    run counts once), each solver's newest version, the selection applied; with a ``budget``
    text column."""
    df = records_frame(store)
    if df.empty:
        return df
    for c in ("budget_steps", "budget_seconds"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df["budget"] = [_budget_text(s, t) for s, t in zip(df["budget_steps"], df["budget_seconds"])]
    return select(newest_solver_versions(current_files(df)), problems, solvers)


def leaderboard(store, problems=None, solvers=None) -> pd.DataFrame:
    """One row per (problem, solver, budget); ``problems`` / ``solvers``: see ``select``."""
    df = runs_frame(store, problems, solvers)
    if df.empty:
        return pd.DataFrame()
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
            if "gap_se_pct" in g and g["gap_se_pct"].notna().any():  # the test scenarios' sampling error
                row["gap_se_pct"] = float(g["gap_se_pct"].astype(float).mean())
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
            for col, name in (("solve_seconds", "solve_s"), ("eval_seconds", "eval_s")):
                if col in g and g[col].notna().any():
                    row[name] = float(g[col].astype(float).mean())
            row["solver_version"] = int(g["solver_version"].max())
            row["device"] = ",".join(sorted(set(g["device"].astype(str))))
        rows.append(row)
    board = pd.DataFrame(rows)
    return rank(board)


def rank(board: pd.DataFrame) -> pd.DataFrame:
    """Order rows within each problem: feasible results first (feasible_rate == 1), then by
    gap (or hypervolume, higher first), equal ones by solve time; rows whose runs all failed
    come last and get no rank. Gaps measured on a sample of scenarios are not ranked apart when
    they differ by less than the standard error of their difference (``gap_se_pct``, the test
    scenarios' sampling error; zero when the scenarios are a whole, exact set): such rows share
    a rank ("1, 1, 3")."""
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
    b["_time"] = b["solve_s"].fillna(np.inf) if "solve_s" in b else 0.0
    b = b.sort_values(["problem", "_empty", "_infeasible", "_key", "_time"], kind="stable")
    se = b["gap_se_pct"].fillna(0.0) if "gap_se_pct" in b and "gap_pct" in b else pd.Series(0.0, index=b.index)
    ranks, leader, pos = [], None, 0
    for i, (problem, empty, infeasible, key, s) in enumerate(zip(b["problem"], b["_empty"], b["_infeasible"],
                                                                 b["_key"], se)):
        pos = 1 if leader is None or leader[0] != problem else pos + 1
        tied = (leader is not None and leader[:3] == (problem, empty, infeasible) and np.isfinite(key)
                and abs(key - leader[3]) < np.hypot(leader[4], s))
        if not tied:
            leader = (problem, empty, infeasible, key, s, pos)
        ranks.append(leader[5])
    b["rank"] = pd.Series(ranks, index=b.index).where(b["_empty"] == 0).astype("Int64")
    return b.drop(columns=["_infeasible", "_empty", "_key", "_time"]).reset_index(drop=True)


def scores_by_solver(store, problems=None, solvers=None) -> dict[str, dict[str, np.ndarray]]:
    """Normalised scores (see ``stats.normalised_score``) per solver key+budget, per problem."""
    df = runs_frame(store, problems, solvers)
    if df.empty or "gap_pct" not in df:
        return {}
    df = df[(df.status == "ok") & df.gap_pct.notna()]
    feas = df["feasible"] if "feasible" in df else pd.Series(True, index=df.index)
    df = df.assign(score=normalised_score(df.gap_pct.astype(float), feas.fillna(False).astype(bool)))
    out: dict[str, dict[str, np.ndarray]] = {}
    for (solver, steps, seconds), g in df.groupby(["solver", "budget_steps", "budget_seconds"], dropna=False):
        label = f"{solver} [{_budget_text(steps, seconds)}]"
        out[label] = {p: gg.score.to_numpy() for p, gg in g.groupby("problem")}
    return out


def _set_name(i: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA', ..."""
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def iqm_ci(by_problem: dict[str, np.ndarray]) -> tuple[float, float, float, str]:
    """IQM of the pooled scores with a 95% CI and what the CI resamples: the runs within each
    problem (rliable's stratified bootstrap) when some problem has several runs, else the
    problems (one run each), else nothing (a single run has no interval)."""
    if any(len(v) > 1 for v in by_problem.values()):
        return (*stratified_bootstrap(by_problem, iqm), "runs within problems")
    if len(by_problem) > 1:
        return (*task_bootstrap(by_problem, iqm), "problems")
    point = iqm(np.concatenate([np.asarray(v, float) for v in by_problem.values()]))
    return point, float("nan"), float("nan"), "none (1 run)"


def aggregate(store, problems=None, solvers=None) -> pd.DataFrame:
    """Across problems, compared only on the problems solvers share: for each distinct set of
    problems some solver ran on (``set``, its members in ``problems``), every solver that ran on
    all of them, ranked by the IQM of its normalised scores on exactly those problems, with a
    bootstrap 95% CI (``ci_over``: what it resamples). A solver appears in each set it covers.
    Only problems scored by a gap to a reference (single-objective) have normalised scores."""
    scores = scores_by_solver(store, problems, solvers)
    sets = sorted({frozenset(v) for v in scores.values()}, key=lambda m: (-len(m), sorted(m)))
    rows = []
    for i, members in enumerate(sets):
        for label, by_problem in scores.items():
            if not members <= by_problem.keys():
                continue
            part = {p: by_problem[p] for p in sorted(members)}
            point, lo, hi, over = iqm_ci(part)
            rows.append({"set": _set_name(i), "solver": label, "n_problems": len(part),
                         "n_runs": int(sum(len(v) for v in part.values())), "iqm": point,
                         "iqm ci95": (lo, hi), "ci_over": over, "problems": "; ".join(part)})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows).sort_values(["set", "iqm"], ascending=[True, False], kind="stable")
    df["rank"] = (df.groupby("set").cumcount() + 1).astype("Int64")
    return df.reset_index(drop=True)


def set_legend(agg: pd.DataFrame) -> list[str]:
    """One line per problem set of ``aggregate``: its name and members."""
    if agg.empty:
        return []
    first = agg.drop_duplicates("set")
    return [f"set {s} ({n} problem{'s' if n != 1 else ''}): {p}"
            for s, n, p in zip(first.set, first.n_problems, first.problems)]


FRONT = ("rank", "problem", "set", "solver", "budget", "n_seeds")


def _front(df: pd.DataFrame) -> pd.DataFrame:
    front = [c for c in FRONT if c in df]
    return df[front + [c for c in df.columns if c not in front]]


def flat_board(board: pd.DataFrame) -> pd.DataFrame:
    """``board`` with each ``X ci95`` column split into ``X lo`` and ``X hi`` (csv, md)."""
    flat = board.copy()
    for c in [c for c in flat.columns if c.endswith(" ci95")]:
        lo_hi = flat[c].apply(lambda t: t if isinstance(t, (tuple, list)) else (np.nan, np.nan))
        base = c[:-5]
        flat[base + " lo"] = [t[0] for t in lo_hi]
        flat[base + " hi"] = [t[1] for t in lo_hi]
        flat = flat.drop(columns=[c])
    for c in flat.columns:  # counts stay integers when tables are stacked (csv of both tables)
        if flat[c].dtype.kind == "i":
            flat[c] = flat[c].astype("Int64")
    return _front(flat)


def format_board(board: pd.DataFrame, fmt: str = "table") -> str:
    if board.empty:
        return "(no runs in the store)" if fmt in ("table", "md") else ("[]" if fmt == "json" else "")
    if fmt == "json":
        return _front(board).to_json(orient="records", indent=1)
    if fmt == "csv":
        return flat_board(board).to_csv(index=False)
    if fmt == "md":
        return flat_board(board).to_markdown(index=False, floatfmt=".4g")
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
        elif isinstance(show[c].dtype, pd.Int64Dtype):
            show[c] = show[c].map(lambda v: "-" if pd.isna(v) else str(v))
    if "set" in show:  # the across-problems table: the sets' members are in its legend
        show = show.drop(columns=["problems"], errors="ignore")
    return _front(show).to_string(index=False)
