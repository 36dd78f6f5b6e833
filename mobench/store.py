"""Append-only result store: one Parquet file per finished run.

The table holds the raw outcome (one row per answer x test scenario: objective and cost
values, feasibility), so every metric can be recomputed without rerunning; the run record
(identity, status, summary, anytime curve, traceback, provenance) is JSON in the file's
metadata under the key ``mobench``. Files are written to a temporary name and atomically
renamed, and never overwritten: each file name carries the run id, its status and a unique
stamp. Stores from several machines merge by copying files into one folder.

A run in progress holds a claim, ``claims/<run id>.json`` (its owner's host, pid and start
time), so that runners sharing a store, on one machine or several on a shared folder, split
the work instead of each making every run (``claim_run``).
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

META_KEY = b"mobench"
CLAIM_MARGIN = 300.0  # seconds past a claim's own limit before a runner on another host takes it over


def preload() -> None:
    """Import what writing and reading runs needs (pandas, pyarrow: about a second), e.g. while
    a run's child process computes; each function below imports them on first use otherwise,
    so that a command that touches no store pays nothing."""
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401


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
    import pyarrow as pa
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
    import pyarrow as pa
    import pyarrow.parquet as pq
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
    import pyarrow.parquet as pq
    meta = pq.read_schema(path).metadata or {}
    if META_KEY not in meta:
        raise ValueError("no mobench record in the file's metadata")
    rec = json.loads(meta[META_KEY])
    rec["path"] = str(path)
    return rec


def read_raw(path: Path | str) -> pd.DataFrame:
    import pyarrow.parquet as pq
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


def has_finished(store: Path | str, run_id: str) -> bool:
    """Whether ``run_id`` has a successful file (a cheap look at its own file names only)."""
    return any(not p.name.startswith(".") for p in Path(store).glob(f"{run_id}.ok.*.parquet"))


def finished_run_ids(store: Path | str) -> set[str]:
    """Run ids with a readable successful file (what resume skips)."""
    import pyarrow.parquet as pq
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
    import pandas as pd
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
    import pandas as pd
    if df.empty:
        return df
    ok = df[df.status == "ok"].drop_duplicates("run_id", keep="last")
    rest = df[(df.status != "ok") & ~df.run_id.isin(ok.run_id)].drop_duplicates("run_id", keep="last")
    return pd.concat([ok, rest])


def _claim_path(store: Path | str, run_id: str) -> Path:
    return Path(store) / "claims" / f"{run_id}.json"


def _read_claim(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treated as a claim of unknown owner, stale once its file is old


def _alive(pid: int, since: float) -> bool:
    """Whether the process ``pid`` on this host is the one that wrote a claim at ``since`` (a
    dead pid, or one reused by a process started after the claim, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    try:
        import psutil
        return psutil.Process(pid).create_time() <= since + 1.0
    except ImportError:
        return True
    except Exception:  # noqa: BLE001 - the process ended between the two looks
        return False


def claim_stale(claim: dict, path: Path | None = None, now: float | None = None) -> bool:
    """A claim may be taken over when it is older than its run's limit plus ``CLAIM_MARGIN``
    (whatever its host: clocks of a shared folder's machines differ by less than the margin),
    or, on this host, when its process is gone or is its own (this process's) leftover."""
    now = time.time() if now is None else now
    if not claim:  # unreadable (a crash while it was written): by its file's age
        try:
            return path is not None and now - path.stat().st_mtime > CLAIM_MARGIN
        except FileNotFoundError:
            return True
    if now - float(claim.get("since", 0.0)) > float(claim.get("limit_s", 0.0)) + CLAIM_MARGIN:
        return True
    if claim.get("host") == socket.gethostname():
        pid = int(claim.get("pid", -1))
        return pid == os.getpid() or not _alive(pid, float(claim.get("since", 0.0)))
    return False


def claim_run(store: Path | str, run_id: str, limit_s: float) -> tuple[bool, dict]:
    """Claim ``run_id`` for this process before making it: -> (True, our claim) or (False, the
    claim of the runner making it now). ``limit_s``: how long the run may take (solve and
    evaluation limits); past that plus ``CLAIM_MARGIN`` any runner takes the claim over.

    The claim file is written whole under a temporary name and hard-linked into place, which
    succeeds for one process only, also on NFS (a file system without hard links falls back to
    an exclusive create). A stale claim is first renamed away (one taker wins) and checked to be
    the one judged stale; a fresh claim moved by mistake goes back. At worst (a claim replaced
    in the instant between those steps) a run is made twice, never lost or overwritten."""
    path = _claim_path(store, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
            "limit_s": float(limit_s), "token": uuid.uuid4().hex}
    for _ in range(5):
        if _create_exclusive(path, mine):
            return True, mine
        other = _read_claim(path)
        if other is None:
            continue  # released meanwhile: try again
        if not claim_stale(other, path):
            return False, other
        grave = path.with_name(f".{path.name}.{mine['token']}.stale")
        try:
            os.rename(path, grave)
        except FileNotFoundError:
            continue  # another runner took it over first
        moved = _read_claim(grave)
        if moved != other:  # a fresh claim made after we looked: put it back
            try:
                os.link(grave, path)
            except OSError:
                pass
            grave.unlink(missing_ok=True)
            return False, moved or {}
        grave.unlink(missing_ok=True)
    other = _read_claim(path)
    return False, other or {}


def _create_exclusive(path: Path, claim: dict) -> bool:
    tmp = path.with_name(f".{path.name}.{claim['token']}.tmp")
    tmp.write_text(json.dumps(claim))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here: an exclusive create (a reader may see it empty briefly)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(claim))
        return True
    finally:
        tmp.unlink(missing_ok=True)


def release_claim(store: Path | str, run_id: str, claim: dict) -> None:
    """Remove our claim on ``run_id`` (not one that another runner has taken over since)."""
    path = _claim_path(store, run_id)
    if (_read_claim(path) or {}).get("token") == claim.get("token"):
        path.unlink(missing_ok=True)


def check_store_path(path: Path | str, writing: bool, explicit: bool = True) -> Path:
    """The store folder ``path``, checked before any work: not a file; for reading, existing;
    for writing, its parent existing when the user named it (the default is created)."""
    from .errors import InvalidParameter
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidParameter(f"store {str(path)!r} is a file, not a store folder")
    if not writing and not path.exists():
        raise InvalidParameter(f"no store at {str(path)!r} (`mobench run` makes one; name another with --store)")
    if writing and explicit and not path.exists() and not path.absolute().parent.is_dir():
        raise InvalidParameter(f"store {str(path)!r}: its parent folder {str(path.absolute().parent)!r} does not "
                               "exist; create it first (mkdir -p) or name another --store")
    return path
