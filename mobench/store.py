"""Append-only result store: one Parquet file per finished run.

The table holds the raw outcome (one row per answer x test scenario: objective and cost
values, feasibility), so every metric can be recomputed without rerunning; the run record
(identity, status, summary, anytime curve, traceback, provenance) is JSON in the file's
metadata under the key ``mobench``. Files are written to a temporary name and atomically
renamed, and never overwritten: each file name carries the run id, its status and a unique
stamp. Stores from several machines merge by copying files into one folder.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"mobench"


def default_store() -> Path:
    return Path(os.environ.get("MOBENCH_STORE", "results/runs"))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def raw_table(objectives, costs, feasible, obj_names, con_names) -> pa.Table:
    """[answers, scenarios, k] arrays -> long table (answer, scenario, obj:*, cost:*, feasible)."""
    objectives = np.asarray(objectives, float)
    A, S = objectives.shape[:2]
    cols = {"answer": np.repeat(np.arange(A), S).astype(np.int32),
            "scenario": np.tile(np.arange(S), A).astype(np.int32)}
    for j, n in enumerate(obj_names):
        cols[f"obj:{n}"] = objectives[:, :, j].reshape(-1)
    costs = np.asarray(costs, float)
    for j, n in enumerate(con_names):
        cols[f"cost:{n}"] = costs[:, :, j].reshape(-1)
    cols["feasible"] = np.asarray(feasible, bool).reshape(-1)
    return pa.table(cols)


def write_run(store: Path | str, record: dict, table: pa.Table | None = None) -> Path:
    """Write one run atomically; returns the final path. Never replaces an existing file."""
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    table = table if table is not None else pa.table({"answer": pa.array([], pa.int32())})
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(_jsonable(record)).encode()
    table = table.replace_schema_metadata(meta)
    stamp = f"{time.time_ns():x}-{os.getpid()}"
    final = store / f"{record['run_id']}.{record['status']}.{stamp}.parquet"
    tmp = store / f".{final.name}.tmp"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)  # atomic on POSIX: a reader sees the whole file or none
    return final


def read_record(path: Path | str) -> dict:
    meta = pq.read_schema(path).metadata or {}
    if META_KEY not in meta:
        raise ValueError("no mobench record in the file's metadata")
    rec = json.loads(meta[META_KEY])
    rec["path"] = str(path)
    return rec


def read_raw(path: Path | str) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def iter_files(store: Path | str):
    store = Path(store)
    if not store.exists():
        return []
    return sorted(p for p in store.glob("*.parquet") if not p.name.startswith("."))


def read_records(store: Path | str, warn: bool = True) -> list[dict]:
    """Every readable run record; a corrupt file is skipped with a warning naming it (it is
    never deleted or overwritten)."""
    out = []
    for p in iter_files(store):
        try:
            out.append(read_record(p))
        except Exception as exc:
            if warn:
                warnings.warn(f"skipping corrupt store file {p}: {exc}", stacklevel=2)
    return out


def raw_arrays(path: Path | str, objective_names, constraint_names):
    """A stored run's raw outcome as the engine scored it: -> (objectives [answers, scenarios,
    n_obj], costs [answers, scenarios, n_con], feasible [answers, scenarios]); the inverse of
    ``raw_table``."""
    t = read_raw(path)
    A, S = int(t["answer"].max()) + 1, int(t["scenario"].max()) + 1
    a, s = t["answer"].to_numpy(), t["scenario"].to_numpy()
    objs = np.full((A, S, len(objective_names)), np.nan)
    costs = np.full((A, S, len(constraint_names)), np.nan)
    feas = np.zeros((A, S), bool)
    for j, n in enumerate(objective_names):
        objs[a, s, j] = t[f"obj:{n}"].to_numpy()
    for j, n in enumerate(constraint_names):
        costs[a, s, j] = t[f"cost:{n}"].to_numpy()
    feas[a, s] = t["feasible"].to_numpy()
    return objs, costs, feas


def finished_run_ids(store: Path | str) -> set[str]:
    """Run ids with a readable successful file (what resume skips)."""
    done = set()
    for p in iter_files(store):
        if ".ok." not in p.name:
            continue
        try:
            pq.read_schema(p)
        except Exception:
            continue  # corrupt: the run is redone into a new file; the bad one stays untouched
        done.add(p.name.split(".", 1)[0])
    return done


def records_frame(store: Path | str) -> pd.DataFrame:
    """One row per run file: identity, status, provenance and the flattened summary."""
    rows = []
    for r in read_records(store):
        row = {k: v for k, v in r.items() if k not in ("summary", "curve", "provenance", "traceback")}
        row.update({k: v for k, v in (r.get("summary") or {}).items() if not isinstance(v, (list, dict))})
        for k, v in (r.get("provenance") or {}).items():
            if not isinstance(v, dict):
                row[k] = v
        row["curve"] = r.get("curve") or []
        rows.append(row)
    return pd.DataFrame(rows)


def current_files(df: pd.DataFrame) -> pd.DataFrame:
    """Of ``records_frame``'s rows, the one file that speaks for each run: its newest successful
    file (a run re-scored by ``mobench rescore`` has several), else, for a run that never
    succeeded, its newest failed or timed-out one."""
    if df.empty:
        return df
    ok = df[df.status == "ok"].drop_duplicates("run_id", keep="last")
    rest = df[(df.status != "ok") & ~df.run_id.isin(ok.run_id)].drop_duplicates("run_id", keep="last")
    return pd.concat([ok, rest])
