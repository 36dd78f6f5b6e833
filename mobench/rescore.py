"""Score stored runs again against their problems' current references, from the raw outcome
the store keeps: no solver runs again.

A reference can change after runs were scored against it: a new version of its computation
(e.g. an iteration-bounded search where a time-limited one was), a stronger best-known value,
a proof of optimality. ``rescore`` recomputes each run's summary (``evaluate.summarise``) from
its stored per-scenario values and the reference the problem gives now, and, where a number
changed, writes a new file for the run (the store is append-only: the old file stays, and the
leaderboard reads the newest one) whose record says when, from which file, and what changed.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .errors import MobenchError
from .evaluate import summarise
from .registry import load_all, make
from .store import current_files, raw_arrays, read_record, records_frame, write_run

# numbers that depend on nothing but the raw values: a difference there means the problem
# itself changed (its objectives, its checker), which re-scoring must not paper over
_RAW_ONLY = ("n_answers", "feasible_rate")


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            a, b = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def changes(old: dict, new: dict) -> dict:
    """{key: [old, new]} for the summary entries that differ. A run scored before summaries
    named their reference lacks ``reference_digest``: that is a change,
    so that re-scoring labels it once and the leaderboard can compare its reference with the
    other runs'."""
    out = {}
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        a = float("nan") if a is None and isinstance(b, float) else a  # the store writes NaN as null
        if not _same(a, b):
            out[k] = [a, b]
    return out


def rescore(store, targets=(), dry_run: bool = False, progress: bool = True) -> pd.DataFrame:
    """Re-score the successful runs of ``store`` whose problem matches one of ``targets`` (a
    problem with parameters, or a problem id, which matches all its parameter sets; none: every
    run). -> one row per run: problem, solver, seed, run_id, what happened
    (``rescored``, ``unchanged``, or ``error: ...``), and the gap / HV before and after."""
    store = Path(store)
    if not store.is_dir():
        raise MobenchError(f"no result store at {store}")
    load_all()
    df = current_files(records_frame(store))
    if df.empty:
        return pd.DataFrame()
    df = df[df.status == "ok"]
    if targets:
        # a target with parameters is matched in its canonical form (the one runs are stored under)
        wanted = {make(t).key if ":" in t else t for t in targets}
        df = df[df.problem.isin(wanted) | df.problem_id.isin(wanted)]
        unknown = wanted - set(df.problem) - set(df.problem_id)
        if unknown:
            raise MobenchError(f"no successful run of {', '.join(sorted(unknown))} in {store}")
    rows = []
    for problem_key, runs in df.groupby("problem", sort=True):
        try:
            if progress:
                print(f"{problem_key}: reference ...", flush=True)
            t0 = time.monotonic()
            problem = make(problem_key)
            ref = problem.reference()
            if progress:
                print(f"{problem_key}: reference ready ({time.monotonic() - t0:.0f} s), "
                      f"{len(runs)} run(s)", flush=True)
        except Exception as exc:  # one problem that cannot be built loses nothing of the others
            rows += [_row(r, f"error: {type(exc).__name__}: {exc}") for r in runs.to_dict("records")]
            continue
        for r in runs.to_dict("records"):
            rows.append(_rescore_run(store, problem, ref, r["path"], dry_run))
    return pd.DataFrame(rows)


def _row(rec: dict, what: str, new: dict | None = None) -> dict:
    old = rec.get("summary") or rec  # a records_frame row carries the summary flattened
    row = {"problem": rec["problem"], "solver": rec["solver"], "seed": rec.get("seed"),
           "run_id": rec["run_id"], "what": what}
    for k in ("gap_pct", "hv"):
        if k in old or (new and k in new):
            row[f"{k} before"] = old.get(k)
            row[f"{k} after"] = (new or old).get(k)
    return row


def _rescore_run(store: Path, problem, ref, path: str, dry_run: bool) -> dict:
    rec = read_record(path)
    try:
        objs, costs, feas = raw_arrays(path, rec["objective_names"], rec["constraint_names"])
        new = summarise(problem, objs, costs, feas, ref)
    except Exception as exc:
        return _row(rec, f"error: {type(exc).__name__}: {exc}")
    diff = changes(rec.get("summary") or {}, new)
    broken = [k for k in _RAW_ONLY if k in diff]
    if broken:
        return _row(rec, f"error: {', '.join(broken)} changed: the problem is not the one that was scored")
    if not diff:
        return _row(rec, "unchanged")
    if not dry_run:
        out = {k: v for k, v in rec.items() if k != "path"}
        out["summary"] = new
        out["rescored"] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "from": Path(path).name,
                           "changed": {k: v for k, v in diff.items() if not isinstance(v[1], (list, dict))}}
        write_run(store, out, pq.read_table(path))
    return _row(rec, "rescored" if not dry_run else "would be rescored", new)
