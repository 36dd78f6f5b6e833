"""Scale-out: one sweep on a Ray cluster and one on a Dask cluster, each started the way a user
starts it (separate processes: ``ray start --head`` and a worker node with ``ray start
--address``; ``dask scheduler`` and ``dask worker``), then ``mobench run --backend ...
--address ...``; and stores from several machines merged by copying their files into one
folder, which reads as the one store that would hold them all."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from mobench.leaderboard import aggregate, leaderboard
from mobench.report import Merged
from mobench.store import iter_files, read_records, write_run

BIN = Path(sys.executable).parent
TARGET = "inventory/lost-sales-v0:L=1,p=4"


# ------------------------------------------------------------------ merging stores (no cluster)

def _record(problem, solver, rep, status="ok", gap=None):
    import hashlib
    rid = hashlib.sha256(f"{problem}|{solver}|{rep}".encode()).hexdigest()[:20]
    rec = {"run_id": rid, "problem": problem, "problem_id": problem.split(":")[0], "solver": solver,
           "solver_name": solver, "solver_version": 1, "budget_steps": None, "budget_seconds": 10.0, "rep": rep,
           "seed": rep, "status": status, "wall_seconds": 3.0, "provenance": {"device": "cpu"}, "curve": []}
    if status == "ok":
        rec.update(solve_seconds=1.0 + rep, eval_seconds=0.5, objective_names=["cost"], objective_senses=["min"],
                   summary={"gap_pct": gap, "feasible": True, "feasible_rate": 1.0, "reference_kind": "optimal",
                            "reference_value": 10.0, "obj:cost": 10.0 * (1 + gap / 100)})
    else:
        rec.update(error="RuntimeError: out of memory", traceback="RuntimeError: out of memory")
    return rec


def test_stores_merged_by_copying_read_as_the_one_store_holding_them_all(tmp_path):
    """Machine A made some runs (one failed there), machine B others (it made A's failed run
    again, successfully); a file of A was also copied to B. Copying both stores' files into one
    folder gives the same tables as one store in which all those runs were made; so does the
    report's reading of several stores at once."""
    p1, p2 = "toy/one-v0", "toy/two-v0:n=3"
    on_a = [_record(p1, "a", 0, gap=1.0), _record(p1, "a", 1, gap=3.0), _record(p1, "b", 0, status="failed"),
            _record(p2, "a", 0, gap=20.0)]
    on_b = [_record(p1, "b", 0, gap=7.0), _record(p1, "b", 1, gap=9.0), _record(p2, "a", 1, gap=24.0),
            _record(p2, "b", 0, gap=30.0), _record(p2, "b", 1, gap=31.0), _record(p1, "c", 0, status="timeout")]
    one = tmp_path / "one"
    for rec in on_a + on_b:
        write_run(one, rec)
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    for rec in on_a:
        write_run(a, rec)
    for rec in on_b:
        write_run(b, rec)
    shutil.copy2(iter_files(a)[0], b)  # a file copied along to the other machine: read once

    merged = tmp_path / "merged"
    merged.mkdir()
    for store in (a, b):
        for f in iter_files(store):
            shutil.copy2(f, merged)

    expected, across = leaderboard(one), aggregate(one)
    assert len(read_records(merged)) == len(on_a) + len(on_b)  # the copied duplicate has the same file name
    assert set(expected.solver) == {"a", "b", "c"}
    row = expected.set_index(["problem", "solver"]).loc[(p1, "b")]
    assert row.n_seeds == 2 and row.n_failed == 0  # A's failure was made again on B: the ok file speaks for it
    for got in (leaderboard(merged), _report_read(a, b)):
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    pd.testing.assert_frame_equal(aggregate(merged), across)


def _report_read(*stores):
    m = Merged(stores)
    try:
        return leaderboard(m.path)
    finally:
        m.close()


# ------------------------------------------------------------------ clusters started like a user

CLUSTER_WAIT = 300.0  # seconds for a node or worker to come up (slow when the other tests load the cores)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _started():
    """Processes this test starts; each is stopped at the end (SIGTERM, then SIGKILL), by its
    own id: never `ray stop`, which stops every Ray process on the machine, other users' too."""
    procs = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def _start(procs, log: Path, *cmd, env=None):
    f = open(log, "w")
    procs.append(subprocess.Popen([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=False))
    f.close()
    return procs[-1]


def _wait(what: str, ready, procs, logs, timeout: float | None = None):
    timeout = CLUSTER_WAIT if timeout is None else timeout
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready():
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            break
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}:\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    pytest.fail(f"{what} not ready after {timeout:.0f} s\n{tails}")


def _mobench(*args, env=None, timeout=300):
    return subprocess.run([str(BIN / "mobench"), *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _check_sweep(out, store: Path, seeds: int):
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    recs = read_records(store)
    assert sorted(r["rep"] for r in recs) == list(range(seeds)) and {r["status"] for r in recs} == {"ok"}
    board = leaderboard(store)
    assert list(board.solver) == ["random"] and board.n_seeds.iloc[0] == seeds


@pytest.mark.cluster
def test_sweep_on_a_ray_cluster_started_like_a_user(tmp_path):
    pytest.importorskip("ray")
    # Ray's socket paths must stay short: its session folder goes under a short temporary folder
    ray_tmp = Path(tempfile.mkdtemp(prefix="mbray", dir="/tmp"))
    port = _free_port()
    # loopback only; Ray's token authentication (the default of recent Ray versions) is for
    # clusters on a network: see the README
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1",
           "MOBENCH_TIME_MARGIN": "300"}  # Ray workers start at low priority on a loaded machine
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", f"--temp-dir={ray_tmp}", "--block",
              "--disable-usage-stats"]
    logs = [tmp_path / "head.log", tmp_path / "worker.log"]
    try:
        with _started() as procs:
            _start(procs, logs[0], BIN / "ray", "start", "--head", f"--port={port}", "--include-dashboard=false",
                   f"--ray-client-server-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
                   f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}", *common,
                   env=env)
            _wait("ray head", lambda: "Ray runtime started" in logs[0].read_text(), procs, logs)
            _start(procs, logs[1], BIN / "ray", "start", f"--address=127.0.0.1:{port}",
                   f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}",
                   f"--runtime-env-agent-port={_free_port()}", *common, env=env)
            _wait("ray worker node", lambda: "Ray runtime started" in logs[1].read_text(), procs, logs)
            # the autoscaler lists the worker node a moment after the worker says it started
            def two_nodes():
                status = subprocess.run([str(BIN / "ray"), "status", f"--address=127.0.0.1:{port}"],
                                        capture_output=True, text=True, env=env, timeout=60)
                return status.stdout.count(" node_") == 2    # two nodes: head and worker
            _wait("ray status listing two nodes", two_nodes, procs, logs, timeout=CLUSTER_WAIT)
            store = tmp_path / "store"
            out = _mobench("run", TARGET, "--solvers", "random", "--seeds", 2, "--backend", "ray", "--address",
                           f"127.0.0.1:{port}", "--jobs", 2, "--store", store, "--quiet", env=env)
            _check_sweep(out, store, 2)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.cluster
def test_sweep_on_a_dask_cluster_started_like_a_user(tmp_path):
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logs = [tmp_path / "scheduler.log", tmp_path / "worker.log", tmp_path / "worker2.log"]
    worker = ["dask", "worker", address, "--nworkers", 2, "--nthreads", 1, "--no-dashboard", "--local-directory",
              tmp_path / "dask"]
    store = tmp_path / "store"

    def registered(log, n):
        return lambda: log.read_text().count("Registered to:") >= n
    with _started() as procs:
        _start(procs, logs[0], BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard",
               env=env)
        _wait("dask scheduler", lambda: "Scheduler at:" in logs[0].read_text(), procs, logs)
        # workers started as daemonic processes (Dask's default) cannot start the runs' child
        # processes: refused, saying how to start them, before any run
        plain = _start(procs, logs[1], BIN / worker[0], *worker[1:], env=env)
        _wait("dask workers", registered(logs[1], 2), procs, logs)
        out = _mobench("run", TARGET, "--solvers", "random", "--seeds", 2, "--backend", "dask", "--address", address,
                       "--store", store, env=env)
        assert out.returncode == 2 and "DASK_DISTRIBUTED__WORKER__DAEMON=False" in out.stderr, out.stderr[-3000:]
        assert not iter_files(store)
        plain.send_signal(signal.SIGTERM)
        plain.wait(30)
        procs.remove(plain)  # stopped on purpose: not a process that died while the others start
        _start(procs, logs[2], BIN / worker[0], *worker[1:], env={**env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"})
        _wait("dask workers", registered(logs[2], 2), procs, logs)
        out = _mobench("run", TARGET, "--solvers", "random", "--seeds", 2, "--backend", "dask", "--address", address,
                       "--jobs", 2, "--store", store, "--quiet", env=env)
        _check_sweep(out, store, 2)
