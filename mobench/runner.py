"""Runner: expands a grid (problems x solvers x repetitions), derives each run's seed from
(problem, solver, repetition), skips runs already stored, isolates failures and time-outs, and
executes through joblib (loky by default; Ray or Dask on request).

Each run executes in a child process started from a forkserver, so that its time limit can be
enforced: the solver sees its deadline through its ``Clock``; a run still solving at
``seconds x (1 + TIME_SLACK) + TIME_MARGIN`` is killed and stored as ``timeout`` (joblib's own
``timeout`` is per call and does not stop the worker). Evaluation, done by the engine after
the solver returns, has its own limit ``EVAL_LIMIT``.

Before the runs start, each distinct problem's reference is computed once (``prepare_reference``,
in parallel over problems, without ``EVAL_LIMIT``) so that it is cached when the runs' evaluations
read it: a large test set's reference (e.g. 1,000 CVRP instances at a second each) can take
longer than one evaluation may, and runs of one problem started together would each compute it.

Runners may share a store (several at once on one machine, or on machines sharing a folder): a
worker claims each run just before making it (``store.claim_run``) and leaves it to the runner
that holds its claim; a claim whose process is gone, or older than the run's limits, is taken
over.

A run that did not end stored as ``ok`` is made again by the next ``run`` on the same store;
solvers that checkpoint (``Clock.checkpoint``, a file under ``<store>/checkpoints/``) go on from
their last checkpoint, with the steps and seconds already spent counted in the budget.

Stopping a runner (Ctrl-C, ``kill``, or even ``kill -9``) stops its runs: a worker exits when it
finds its runner gone, storing nothing, and a run's child exits when the worker holding it dies
(a "lifeline" pipe whose only writer is that worker). Runs already stored stay; the same
command resumes the rest (from their checkpoints where solvers keep them).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import platform
import re
import socket
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import forkserver
from .errors import InvalidParameter, MobenchError, UnsupportedPairing
from .registry import format_target, load_all, make, make_solver, parse_target, solver_entry
from .solver import Budget, Checkpoint, Clock, Log
from .store import (claim_run, default_store, finished_run_ids, has_finished, raw_table, release_claim,
                    write_run)
from .store import preload as store_preload

TIME_SLACK = 0.10      # fraction of the seconds budget a solver may overrun before it is killed
TIME_MARGIN = 15.0     # plus this many seconds (process start, imports); $MOBENCH_TIME_MARGIN overrides
NO_SECONDS_LIMIT = 3600.0  # hard limit for a run whose budget has no seconds
EVAL_LIMIT = 900.0     # limit on the engine's evaluation of one outcome; $MOBENCH_EVAL_LIMIT overrides
OWNER_POLL = 1.0       # seconds between a worker's checks that its runner still lives
PACKAGES = ("torch", "numpy", "gymnasium", "mo-gymnasium", "stable-baselines3", "pymoo",
            "moocore", "cvxpy", "pandas", "pyarrow", "joblib")


@dataclass(frozen=True)
class RunSpec:
    """One run's identity: problem + parameters, solver + parameters, budget, repetition."""
    problem: str                 # canonical problem key, e.g. 'inventory/lost-sales-v0:L=2,h=1,p=9'
    solver: str                  # canonical solver key, e.g. 'hdpo:lr=0.001'
    budget: Budget
    rep: int
    device: str = "cpu"
    solver_version: int = 1      # the solver class's ``version`` when planned

    @property
    def seed(self) -> int:
        """Deterministic in (problem, solver name, repetition): two parameter settings of the
        same solver see the same seeds (common random numbers)."""
        name = parse_target(self.solver)[0]
        h = hashlib.sha256(f"{self.problem}|{name}|{self.rep}".encode()).hexdigest()
        return int(h[:8], 16) % (2**31 - 1)

    @property
    def run_id(self) -> str:
        seconds = self.budget.seconds
        if seconds is not None and float(seconds).is_integer():
            seconds = int(seconds)   # 60 and 60.0 (a suite's budget, the CLI's) are one run
        ident = [self.problem, self.solver, self.budget.steps, seconds, self.rep]
        if self.solver_version != 1:  # version 1 keeps the identities of runs stored before versions
            ident.append(self.solver_version)
        ident = json.dumps(ident, sort_keys=True)
        return hashlib.sha256(ident.encode()).hexdigest()[:20]

    def time_limit(self) -> float:
        if self.budget.seconds is None:
            return NO_SECONDS_LIMIT
        margin = float(os.environ.get("MOBENCH_TIME_MARGIN", TIME_MARGIN))
        return self.budget.seconds * (1 + TIME_SLACK) + margin


def eval_limit() -> float:
    """Seconds the engine may take to score one outcome ($MOBENCH_EVAL_LIMIT, else EVAL_LIMIT):
    scoring 100 paths x 126 AC stages of hydro/bolivia-v1 takes longer than the default."""
    value = os.environ.get("MOBENCH_EVAL_LIMIT")
    if value is None:
        return EVAL_LIMIT
    try:
        limit = float(value)
    except ValueError:
        limit = -1.0
    if not limit > 0:
        raise InvalidParameter(f"$MOBENCH_EVAL_LIMIT must be a positive number of seconds, not {value!r}")
    return limit


def plan(targets: list[str], solvers: list[str], seeds: int, budget_steps=None,
         budget_seconds=None, device="cpu", skipped: list | None = None) -> list[RunSpec]:
    """Expand explicit targets x solvers x seeds; refuse unsupported pairings, or, given a list
    ``skipped``, leave them out and append (solver, problem key, why) to it."""
    specs = []
    for target in targets:
        problem = make(target)
        for s in solvers:
            solver = make_solver(s, device=device)
            why = solver.unfit(problem)
            if why is not None:
                if skipped is None:
                    raise UnsupportedPairing(f"solver {solver.name!r} does not support {problem.key}: {why} "
                                             "(--skip-unfit leaves such pairs out)")
                skipped.append((s, problem.key, why))
                continue
            budget = solver.default_budget.merged(budget_steps, budget_seconds)
            skey = format_target(solver.name, {k: v for k, v in solver.params.items()
                                               if v != _default(solver.name, k)})
            version = int(getattr(type(solver), "version", 1))
            specs += [RunSpec(problem.key, skey, budget, r, device, version) for r in range(seeds)]
    return specs


def plan_suite(name: str, seeds: int = 3, budget_steps=None, budget_seconds=None,
               device="cpu", skipped: list | None = None, solvers=None) -> list[RunSpec]:
    """RunSpecs of a named suite; command-line budgets override the suite's; ``solvers``: only
    the cells of these solver names."""
    from .errors import UnknownId
    from .registry import suites
    all_suites = suites()
    if name not in all_suites:
        close = difflib.get_close_matches(name, list(all_suites), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownId(f"unknown suite {name!r}{hint} (suites: {', '.join(all_suites)}; a problem id "
                        "looks like family/name-vN)")
    specs = []
    for cell in all_suites[name]:
        if solvers is not None and parse_target(cell.solver)[0] not in solvers:
            continue
        steps, seconds = cell.budget if cell.budget else (None, None)
        specs += plan([cell.target], [cell.solver], seeds,
                      budget_steps if budget_steps is not None else steps,
                      budget_seconds if budget_seconds is not None else seconds, device, skipped)
    return specs


def check_device(device: str, remote: bool = False) -> str:
    """``device`` if runs can use it here: ``cpu``, or ``cuda``/``cuda:N`` with a CUDA build of
    torch that sees that GPU (with ``remote``, a cluster's workers have the devices: only the
    name is checked). Raises InvalidParameter otherwise."""
    import torch
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidParameter(f"--device {device!r} is not a device: use cpu, cuda or cuda:N") from None
    if dev.type == "cpu":
        return "cpu"
    if dev.type != "cuda":
        raise InvalidParameter(f"--device {device!r}: the runner supports cpu and cuda[:N]")
    if remote:
        return device
    if not torch.cuda.is_available():
        why = ("this torch is a CPU-only build" if torch.version.cuda is None
               else f"this torch (CUDA {torch.version.cuda}) sees no GPU")
        raise InvalidParameter(f"--device {device}: {why} (torch {torch.__version__}); use --device cpu, or "
                               "install a CUDA build of torch (see the README)")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InvalidParameter(f"--device {device}: only {torch.cuda.device_count()} GPU(s) visible")
    return device


def _host_port(address: str) -> tuple[str, int] | None:
    """'tcp://host:port', 'ray://host:port', 'host:port', '[::1]:port' -> (host, port); None when
    the address names no port (e.g. Ray's 'auto')."""
    rest = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def check_backend(backend: str, address: str | None, timeout: float = 5.0) -> None:
    """Refuse, before any work, a backend that is not installed, ``address`` with loky, and an
    address where nothing answers (Ray would wait for minutes, Dask 30 s and a traceback)."""
    import importlib.util
    if address and backend == "loky":
        raise InvalidParameter("--address names a Ray or Dask cluster: use it with --backend ray or dask")
    package = {"ray": "ray", "dask": "distributed"}.get(backend)
    if package and importlib.util.find_spec(package) is None:
        raise InvalidParameter(f"--backend {backend} needs the {package!r} package (pip install {package})")
    where = _host_port(address) if address else None
    if where is not None:
        try:
            socket.create_connection(where, timeout=timeout).close()
        except OSError as exc:
            raise InvalidParameter(f"--address {address}: no {backend} cluster answers there "
                                   f"({exc.strerror or exc})") from None


def estimate(specs: list[RunSpec]) -> tuple[float, int]:
    """An upper bound of the solvers' CPU time from the budgets: -> (seconds, runs counted at
    ``NO_SECONDS_LIMIT`` because their budget has steps only). Evaluation and references come
    on top; solvers that finish early take less."""
    total, unbounded = 0.0, 0
    for s in specs:
        if s.budget.seconds is None:
            unbounded += 1
            total += NO_SECONDS_LIMIT
        else:
            total += s.budget.seconds
    return total, unbounded


def _default(solver_name, key):
    d = solver_entry(solver_name).cls.defaults[key]
    return getattr(d, "default", d)


def provenance(device: str) -> dict:
    from . import __version__
    from .source import source_commit
    commit, dirty = source_commit(Path(__file__).parent)
    pkgs = {}
    for p in PACKAGES:
        try:
            pkgs[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    dev_name = device
    if device.startswith("cuda"):
        import torch
        if torch.cuda.is_available():
            dev_name = f"{device} ({torch.cuda.get_device_name()})"
    return {"mobench_version": __version__, "git_commit": commit, "git_dirty": dirty, "packages": pkgs,
            "device": dev_name, "host": socket.gethostname(), "python": platform.python_version(),
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def checkpoint_path(store: str | Path, spec: RunSpec) -> Path:
    """Where a run's solver may checkpoint (``Clock.checkpoint``); deleted once it is stored."""
    return Path(store) / "checkpoints" / f"{spec.run_id}.pt"


def _exit_when_cut(lifeline):
    """In a run's child: block until the worker's end of the lifeline closes, then exit at once
    (the worker died without killing this process, e.g. it was itself killed)."""
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    os._exit(3)


_WATCHED_OWNER = None


def _exit_with_owner(owner: int | None):
    """In a worker process whose parent is the runner ``owner``: start (once) a thread that ends
    this worker when that runner is gone, its run's child following through the lifeline. A dead
    parent's children are re-parented, so ``getppid`` changes even before the parent is reaped.
    Does nothing elsewhere (in the runner itself, or under Ray or Dask, whose workers have other
    parents and their own life cycle)."""
    global _WATCHED_OWNER
    if owner is None or owner != os.getppid() or _WATCHED_OWNER == owner:
        return
    _WATCHED_OWNER = owner

    def watch():
        while os.getppid() == owner:
            time.sleep(OWNER_POLL)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def device_used(requested: str) -> str:
    """In a run's process after its solver returned: the device the solver computed on. A
    process that never touched CUDA ran on the CPU, whatever was requested (a solver that
    uses no torch device, such as a dispatching rule, records ``cpu``)."""
    if requested.startswith("cuda"):
        import torch
        return requested if torch.cuda.is_initialized() else "cpu"
    return requested


MAX_WARNINGS = 20  # distinct warnings kept in a run's record
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Gymnasium colours its warnings


class KeptWarnings:
    """Inside ``with KeptWarnings() as kept:`` warnings are counted (the first ``MAX_WARNINGS``
    distinct ones) instead of printed: a run's go into its record, not the terminal (libraries
    such as Stable-Baselines3 warn from inside the solvers)."""

    def __enter__(self):
        self.counts: dict[str, int] = {}
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)

    def _show(self, message, category, filename, lineno, file=None, line=None):
        text = f"{category.__name__}: {_ANSI.sub('', str(message)).strip()}"
        if text in self.counts or len(self.counts) < MAX_WARNINGS:
            self.counts[text] = self.counts.get(text, 0) + 1

    def list(self) -> list[str]:
        return [t if n == 1 else f"{t} (x{n})" for t, n in self.counts.items()]


def _child(conn, lifeline, spec: RunSpec, store: str):
    """Runs in the child process: solve, report 'solved', evaluate, report the result."""
    threading.Thread(target=_exit_when_cut, args=(lifeline,), daemon=True).start()
    import torch
    torch.set_num_threads(1)
    with KeptWarnings() as kept:
        _solve_and_score(conn, spec, store, kept)


def _solve_and_score(conn, spec: RunSpec, store: str, kept: KeptWarnings):
    from .evaluate import evaluate
    try:
        name, params = parse_target(spec.solver)
        problem = make(spec.problem)
        solver = make_solver(name, device=spec.device, **params)
        clock = Clock(spec.budget, Checkpoint(checkpoint_path(store, spec)))
        log = Log(clock)
        outcome = solver.solve(problem, clock, spec.seed, log)
        solve_s = clock.elapsed
        conn.send(("solved", (solve_s, device_used(spec.device))))
        t0 = time.monotonic()
        ev = evaluate(problem, outcome, device=spec.device)
        result = {"summary": ev.summary, "curve": log.points, "steps_used": clock.steps,
                  "solve_seconds": solve_s, "eval_seconds": time.monotonic() - t0,
                  "warnings": kept.list(),
                  "outcome_info": outcome.info,
                  "objective_names": [o.name for o in problem.spec.objectives],
                  "objective_senses": list(problem.spec.senses),
                  "constraint_names": [c.name for c in problem.spec.constraints],
                  "constraint_thresholds": [c.threshold for c in problem.spec.constraints],
                  "raw": (ev.objectives, ev.costs, ev.feasible)}
        conn.send(("ok", result))
    except BaseException as exc:  # report everything, including KeyboardInterrupt in the child
        conn.send(("failed", {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                              "warnings": kept.list()}))
    finally:
        conn.close()


def execute(spec: RunSpec, store: str, owner: int | None = None, evaluation_limit: float | None = None) -> dict:
    """Claim one spec, run it in a child process with its time limit, store it, return its
    record; a run that another runner holds (or has stored meanwhile) is left to it: its record
    then has status ``claimed`` (or ``stored``) and no file.

    ``owner``: the pid of the runner that dispatched the run; if it exits mid-run, this worker
    and the run's child end and nothing is stored (``_exit_with_owner``). ``evaluation_limit``:
    the dispatching runner's ``eval_limit()`` (a reused worker keeps the environment it started with)."""
    _exit_with_owner(owner)
    limit = eval_limit() if evaluation_limit is None else evaluation_limit
    load_all()
    ident = {"run_id": spec.run_id, "problem": spec.problem, "solver": spec.solver,
             "solver_name": parse_target(spec.solver)[0], "rep": spec.rep}
    mine, claim = claim_run(store, spec.run_id, spec.time_limit() + limit)
    if not mine:
        return {**ident, "status": "claimed", "claimed_by": f"{claim.get('host', '?')} pid {claim.get('pid', '?')}"}
    try:
        if has_finished(store, spec.run_id):  # stored by another runner since this sweep began
            return {**ident, "status": "stored"}
        return _execute(spec, store, limit)
    finally:
        release_claim(store, spec.run_id, claim)


def _execute(spec: RunSpec, store: str, limit: float) -> dict:
    ctx = forkserver.context()
    parent, child = ctx.Pipe(duplex=False)
    lifeline, lifeline_w = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, lifeline, spec, store), daemon=False)
    started = time.monotonic()
    proc.start()
    child.close()
    lifeline.close()
    store_preload()  # pandas and pyarrow import here while the child computes
    status, payload = "failed", {"error": "child process ended without a result", "traceback": ""}
    solve_s, used = None, spec.device
    try:
        if parent.poll(spec.time_limit()):
            msg, data = parent.recv()
            if msg == "solved":
                solve_s, used = data
                if parent.poll(limit):
                    status, payload = parent.recv()
                else:
                    status, payload = "timeout", {"error": f"evaluation exceeded {limit:g} s "
                                                           "(raise it with $MOBENCH_EVAL_LIMIT)"}
            else:
                status, payload = msg, data
        else:
            status, payload = "timeout", {"error": f"solver still running after {spec.time_limit():.1f} s "
                                                   f"(budget {spec.budget.describe()})"}
    except EOFError:
        proc.join(5)
        payload = {"error": f"child process died (exit code {proc.exitcode})", "traceback": ""}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        parent.close()
        lifeline_w.close()
    record = {"run_id": spec.run_id, "problem": spec.problem, "problem_id": parse_target(spec.problem)[0],
              "solver": spec.solver, "solver_name": parse_target(spec.solver)[0],
              "solver_version": spec.solver_version,
              "budget_steps": spec.budget.steps, "budget_seconds": spec.budget.seconds,
              "rep": spec.rep, "seed": spec.seed, "status": status,
              "wall_seconds": time.monotonic() - started, "device_requested": spec.device,
              "eval_device": spec.device, "provenance": provenance(used)}
    table = None
    if status == "ok":
        raw = payload.pop("raw")
        table = raw_table(*raw, payload["objective_names"], payload["constraint_names"])
        record.update(payload)
    else:
        record.update({"error": payload.get("error"), "traceback": payload.get("traceback", ""),
                       "solve_seconds": solve_s, "warnings": payload.get("warnings", [])})
    path = write_run(store, record, table)
    record["path"] = str(path)
    if status == "ok":
        checkpoint_path(store, spec).unlink(missing_ok=True)
    return record


def _as_finished(tasks):
    """The tasks' results as they finish (for the progress bars), or in order on backends
    without generator support (joblib's Ray backend)."""
    from joblib import Parallel
    try:
        return Parallel(return_as="generator_unordered")(tasks)
    except ValueError:
        return Parallel(return_as="list")(tasks)


def prepare_reference(problem: str, owner: int | None = None) -> tuple[str, str | None, float, list]:
    """Compute (and so cache) ``problem``'s reference; -> (problem, error or None, seconds,
    warnings). An
    error is reported, not raised: the problem's runs then record it in their evaluation.
    ``owner``: as for ``execute``."""
    _exit_with_owner(owner)
    load_all()
    t0 = time.monotonic()
    with KeptWarnings() as kept:  # the runner shows them, once each
        try:
            make(problem).reference()
        except Exception as exc:  # noqa: BLE001 - the runs of this problem will store the same error
            return problem, f"{type(exc).__name__}: {exc}", time.monotonic() - t0, kept.list()
    return problem, None, time.monotonic() - t0, kept.list()


def _backend(backend: str, address: str | None, jobs: int):
    """Return (joblib backend name, cleanup callable)."""
    if backend == "loky":
        return "loky", lambda: None
    if backend == "ray":
        import ray
        from ray.util.joblib import register_ray
        register_ray()
        started = not ray.is_initialized()
        if started:
            env = {"env_vars": {k: v for k, v in os.environ.items()
                                if k.startswith("MOBENCH_") or k == "PYTHONPATH"}}
            ray.init(address=address, num_cpus=None if address else jobs, include_dashboard=False,
                     runtime_env=env, log_to_driver=False)
        return "ray", (ray.shutdown if started else (lambda: None))
    if backend == "dask":
        import dask
        from dask.distributed import Client, LocalCluster
        dask.config.set({"distributed.worker.daemon": False})  # runs start child processes
        if address:
            try:
                client = Client(address, timeout=10)
            except (OSError, TimeoutError) as exc:
                raise MobenchError(f"--address {address}: could not connect to a Dask scheduler ({exc})") from None
            # each run is a child process of a worker, which a daemonic worker process may not start
            daemonic = client.run(lambda: __import__("multiprocessing").current_process().daemon)
            if any(daemonic.values()):
                client.close()
                raise MobenchError(f"--address {address}: the Dask workers run as daemonic processes, which cannot "
                                   "start the runs' child processes; start them with "
                                   "DASK_DISTRIBUTED__WORKER__DAEMON=False dask worker ...")
            return "dask", client.close
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()
        return "dask", close
    raise ValueError(f"unknown backend {backend!r}; choose loky, ray or dask")


class Records(list):
    """The records of the runs made now; ``left`` holds those left to other runners sharing
    the store (status ``claimed``: in progress there; ``stored``: stored there meanwhile)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.left: list[dict] = []


def run(specs: list[RunSpec], store: str | Path | None = None, backend: str = "loky",
        address: str | None = None, jobs: int = 1, progress: bool = True) -> Records:
    """Execute every spec not already stored; returns the records of the runs made now."""
    from joblib import delayed, parallel_config
    from tqdm.auto import tqdm
    store = str(store or default_store())
    done = finished_run_ids(store)
    todo, seen = [], set()
    for s in specs:
        if s.run_id not in done and s.run_id not in seen:
            todo.append(s)
            seen.add(s.run_id)
    records = Records()
    if not todo:
        return records
    name, cleanup = _backend(backend, address, jobs)
    limit = eval_limit()  # read here: a reused worker keeps the environment it started with
    try:
        with parallel_config(backend=name, n_jobs=jobs):
            problems = sorted({s.problem for s in todo})
            bar = tqdm(total=len(problems), desc="references", disable=not progress, unit="problem")
            for problem, error, seconds, caught in _as_finished([delayed(prepare_reference)(p, os.getpid())
                                                                 for p in problems]):
                bar.update()
                for text in caught:
                    warnings.warn(f"reference of {problem}: {text}")
                if error is not None:
                    warnings.warn(f"reference of {problem} failed ({error}); its runs will record the error")
                elif seconds > 60 and progress:
                    tqdm.write(f"reference of {problem}: {seconds:.0f} s (cached)")
            bar.close()
            bar = tqdm(total=len(todo), desc="runs", disable=not progress, unit="run")
            for rec in _as_finished([delayed(execute)(s, store, os.getpid(), limit) for s in todo]):
                (records.left if rec["status"] in ("claimed", "stored") else records).append(rec)
                bar.set_postfix_str(f"{rec['solver']} on {rec['problem'][:40]}: {rec['status']}")
                bar.update()
            bar.close()
    finally:
        cleanup()
    return records
