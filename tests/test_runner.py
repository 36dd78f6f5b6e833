"""Runner and store: identity, resume, failure isolation, enforced time limits, crash safety,
corrupt files, Ray and Dask backends."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mobench
from mobench.errors import InvalidParameter, UnsupportedPairing
from mobench.leaderboard import leaderboard
from mobench.runner import plan, run
from mobench.store import finished_run_ids, iter_files, read_raw, read_record, read_records

TARGET = "inventory/lost-sales-v0:L=1,p=4"
CHEAP_BS = "base-stock:grid=6,refinements=0,paths=8,horizon=200"


def test_identity_and_seeds():
    a = plan([TARGET], ["random", CHEAP_BS], 2)
    assert len(a) == 4 and len({s.run_id for s in a}) == 4
    # seeds depend on (problem, solver name, repetition) only
    b = plan([TARGET], ["base-stock:grid=7"], 2)
    assert [s.seed for s in a if s.solver.startswith("base-stock")] == [s.seed for s in b]
    assert {s.run_id for s in b}.isdisjoint({s.run_id for s in a})
    # the budget is part of a run's identity
    c = plan([TARGET], ["random"], 1, budget_seconds=10)
    assert c[0].run_id != a[0].run_id and c[0].seed == a[0].seed
    # 10 seconds from a suite and 10.0 from the command line are one run; 10.5 is another
    assert plan([TARGET], ["random"], 1, budget_seconds=10.0)[0].run_id == c[0].run_id
    assert plan([TARGET], ["random"], 1, budget_seconds=10.5)[0].run_id != c[0].run_id
    assert a == plan([TARGET], ["random", CHEAP_BS], 2)  # deterministic


def _git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_provenance_names_the_commit_of_the_code_that_ran(tmp_path):
    """git answers for the repository's own package folder only; a copy installed inside some
    other checkout reports what its build recorded, not that checkout's commit."""
    from mobench.source import BUILD_INFO, source_commit
    repo = tmp_path / "repo"
    (repo / "mobench").mkdir(parents=True)
    (repo / "mobench" / "a.py").write_text("x = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    assert source_commit(repo / "mobench") == (head, False)
    (repo / "mobench" / "a.py").write_text("x = 2\n")
    assert source_commit(repo / "mobench") == (head, True)
    copy = repo / ".venv" / "site-packages" / "mobench"   # inside the checkout, not its package
    copy.mkdir(parents=True)
    assert source_commit(copy) == (None, None)
    (copy / BUILD_INFO).write_text('{"git_commit": "abc123", "git_dirty": false}')
    assert source_commit(copy) == ("abc123", False)


def test_unsupported_pairing_is_refused():
    with pytest.raises(UnsupportedPairing, match="hdpo.*testfam/knapsack-v0"):
        plan(["testfam/knapsack-v0"], ["hdpo"], 1)


def test_run_resume_and_raw_outcome(store):
    specs = plan([TARGET], ["random", CHEAP_BS], 2)
    recs = run(specs, store, progress=False)
    assert sorted(r["status"] for r in recs) == ["ok"] * 4
    assert run(specs, store, progress=False) == []  # resume: everything already stored
    rec = read_record(recs[0]["path"])
    assert rec["provenance"]["mobench_version"] == mobench.__version__
    assert "git_commit" in rec["provenance"] and "git_dirty" in rec["provenance"]
    assert {"torch", "numpy", "gymnasium"} <= set(rec["provenance"]["packages"])
    raw = read_raw(recs[0]["path"])
    n = mobench.make(TARGET).spec.scenarios.n
    assert len(raw) == n and list(raw.columns) == ["answer", "scenario", "obj:cost", "feasible"]
    # the summary is recomputable from the raw outcome
    assert raw["obj:cost"].mean() == pytest.approx(rec["summary"]["obj:cost"])
    board = leaderboard(store)
    assert set(board.solver) == {"random", "base-stock:grid=6,horizon=200,paths=8,refinements=0"}
    assert (board.n_seeds == 2).all()
    assert board.iloc[0].solver.startswith("base-stock")  # ranked by gap


def test_failures_and_timeouts_are_isolated(store, monkeypatch):
    monkeypatch.setenv("MOBENCH_TIME_MARGIN", "2")
    specs = (plan([TARGET], ["test-crashy", "random"], 1)
             + plan([TARGET], ["test-sleepy:seconds=60"], 1, budget_seconds=1))
    t0 = time.monotonic()
    recs = {r["solver_name"]: r for r in run(specs, store, jobs=2, progress=False)}
    assert time.monotonic() - t0 < 40, "the sleeping run was not stopped at its limit"
    assert recs["random"]["status"] == "ok"
    assert recs["test-crashy"]["status"] == "failed"
    assert "deliberate failure" in recs["test-crashy"]["traceback"]
    assert recs["test-sleepy"]["status"] == "timeout"
    assert recs["test-sleepy"]["wall_seconds"] < 20
    # failed runs are kept and retried on the next sweep; the ok one is not redone
    again = run(specs, store, progress=False, jobs=2)
    assert sorted(r["solver_name"] for r in again) == ["test-crashy", "test-sleepy"]
    board = leaderboard(store)
    assert int(board.loc[board.solver == "test-crashy", "n_failed"].iloc[0]) == 1


def test_the_evaluation_limit_is_set_by_the_environment_in_every_worker(store, monkeypatch):
    """$MOBENCH_EVAL_LIMIT reaches the workers (jobs=2): a limit far below the evaluation's time
    stores the run as a timeout that says how to raise it; a malformed value is refused."""
    import mobench.runner as runner
    monkeypatch.setenv("MOBENCH_EVAL_LIMIT", "1e-6")
    assert runner.eval_limit() == 1e-6
    recs = run(plan([TARGET], ["random"], 2), store, jobs=2, progress=False)
    assert [r["status"] for r in recs] == ["timeout", "timeout"]
    assert all("evaluation exceeded" in r["error"] and "MOBENCH_EVAL_LIMIT" in r["error"] for r in recs)
    for bad in ("soon", "0", "-5"):
        monkeypatch.setenv("MOBENCH_EVAL_LIMIT", bad)
        with pytest.raises(InvalidParameter, match="MOBENCH_EVAL_LIMIT must be a positive number"):
            runner.eval_limit()
    monkeypatch.delenv("MOBENCH_EVAL_LIMIT")
    assert runner.eval_limit() == runner.EVAL_LIMIT


def test_references_are_computed_once_before_the_runs(store, tmp_path, monkeypatch):
    """A reference that takes longer than one evaluation may (3 s against a 2 s limit here, as
    1,000 CVRP instances at a second each against 900 s) is computed once, before the runs, so
    that both runs of the problem read it from the cache and score."""
    import mobench.runner as runner
    monkeypatch.setattr(runner, "EVAL_LIMIT", 2.0)  # jobs=1: the runs' limits are applied here
    ref = tmp_path / "ref.json"
    specs = plan([f"testfam/slow-reference-v0:seconds=3,path={ref}"], ["test-greedy"], 2)
    recs = run(specs, store, progress=False)
    assert [r["status"] for r in recs] == ["ok", "ok"], [r.get("error") for r in recs]
    assert Path(f"{ref}.log").read_text() == "computed\n"
    assert all(r["summary"]["reference_kind"] == "optimal" for r in recs)


def test_solutions_answers_are_verified(store):
    recs = run(plan(["testfam/knapsack-v0"], ["test-greedy", "test-greedy:overfill=True"], 1),
               store, progress=False)
    by = {r["solver"]: r for r in recs}
    good = by["test-greedy"]["summary"]
    # by hand: greedy by value/weight takes values 7, 3, 3; the optima are 9, 4, 3
    assert good["feasible_rate"] == 1.0 and good["reference_kind"] == "optimal"
    ref = np.array([9.0, 4.0, 3.0])
    vals = np.array([7.0, 3.0, 3.0])
    assert good["gap_pct"] == pytest.approx(np.mean(100 * (ref - vals) / ref))
    bad = by["test-greedy:overfill=True"]["summary"]
    assert bad["feasible_rate"] == 0.0 and bad["feasible"] is False


def test_corrupt_store_file_is_skipped_not_touched(store):
    run(plan([TARGET], ["random"], 1), store, progress=False)
    bad = Path(store) / "0123456789abcdef0123.ok.ffff-1.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.warns(UserWarning, match=bad.name):
        recs = read_records(store)
    assert len(recs) == 1
    assert "0123456789abcdef0123" not in finished_run_ids(store)
    with pytest.warns(UserWarning, match=bad.name):
        assert len(leaderboard(store)) == 1
    assert bad.read_bytes() == b"not a parquet file"


def test_sigkill_mid_sweep_loses_only_runs_in_flight(tmp_path):
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "mobench.cli", "run", TARGET, "--solvers", "random", "--seeds", "6",
           "--store", str(store), "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(iter_files(store)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    files = iter_files(store)
    assert 2 <= len(files) < 6, f"{len(files)} runs finished before the kill"
    before = {p.name: p.stat().st_mtime_ns for p in files}
    for p in files:  # every finished run is intact
        assert read_record(p)["status"] == "ok"
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{6 - len(files)} runs made" in out.stdout and f"{len(files)} already in the store" in out.stdout
    after = {p.name: p.stat().st_mtime_ns for p in iter_files(store)}
    assert len(after) == 6 and all(after[k] == v for k, v in before.items())


def _stop_and_check_everything_ends(proc, sig):
    """Signal the runner alone (not its process group); every process it started (workers,
    forkservers, run children) must end within 30 s."""
    psutil = pytest.importorskip("psutil")
    started = psutil.Process(proc.pid).children(recursive=True)
    assert started
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "interrupted" in err, err

    def alive(p):
        try:
            return p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    deadline = time.monotonic() + 30
    while any(map(alive, started)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [" ".join(p.cmdline())[:100] for p in started if alive(p)]
    assert not left, f"outlived their runner: {left}"


def _wait_for(condition, proc, seconds=180):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    if not condition():
        proc.send_signal(signal.SIGTERM)
        pytest.fail(f"not ready after {seconds} s; the runner said: {proc.communicate(timeout=60)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_the_runner_stops_its_runs(tmp_path, sig):
    """The finished run stays stored, the interrupted one is not stored, and nothing goes on."""
    store, pids = tmp_path / "store", tmp_path / "pids"
    pids.mkdir()
    cmd = [sys.executable, "-m", "mobench.cli", "run", TARGET, "--solvers",
           "test-sleepy:seconds=0,test-sleepy:seconds=600", "--seeds", "1", "--budget-seconds", "900", "--jobs", "2",
           "--store", str(store), "--quiet"]
    env = dict(os.environ, MOBENCH_TEST_PID_DIR=str(pids))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(list(pids.iterdir())) == 2 and len(iter_files(store)) == 1, proc)
    _stop_and_check_everything_ends(proc, sig)
    files = iter_files(store)
    assert len(files) == 1 and read_record(files[0])["solver"] == "test-sleepy:seconds=0"


def test_stopping_the_runner_stops_its_reference_computations(tmp_path):
    refs = [tmp_path / "a.json", tmp_path / "b.json"]
    cmd = [sys.executable, "-m", "mobench.cli", "run",
           *[f"testfam/slow-reference-v0:seconds=600,path={r}" for r in refs],
           "--solvers", "test-greedy", "--seeds", "1", "--jobs", "2", "--store", str(tmp_path / "store"), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: all(Path(f"{r}.started").exists() for r in refs), proc)
    _stop_and_check_everything_ends(proc, signal.SIGKILL)
    assert not any(Path(f"{r}.log").exists() for r in refs)
    assert not iter_files(tmp_path / "store")


@pytest.mark.cluster
def test_ray_backend(store, monkeypatch):
    pytest.importorskip("ray")
    # Ray runs its workers at low priority: on a loaded machine starting one (imports of torch
    # and every family) can take longer than the default margin; this test is about the backend
    monkeypatch.setenv("MOBENCH_TIME_MARGIN", "300")
    recs = run(plan([TARGET], ["random"], 2), store, backend="ray", jobs=2, progress=False)
    assert [r["status"] for r in recs] == ["ok", "ok"]


@pytest.mark.cluster
def test_dask_backend(store):
    pytest.importorskip("distributed")
    recs = run(plan([TARGET], ["random"], 2), store, backend="dask", jobs=2, progress=False)
    assert [r["status"] for r in recs] == ["ok", "ok"]


def test_pareto_answers_scored_with_set_metrics(store, tmp_path):
    """Constant actions 0, .25, .5, .75, 1: objectives (a, 1-a), cost a^2 <= 0.5, so three
    feasible points; HV against (1, 1) by hand = 0.1875 + 0.25 - 0.125 = 0.3125."""
    (rec,) = run(plan(["testfam/bi-v0"], ["test-constant"], 1), store, progress=False)
    s = rec["summary"]
    assert s["feasible_rate"] == pytest.approx(0.6)
    assert s["hv"] == pytest.approx(0.3125)
    assert s["cardinality"] == 3
    assert 0 < s["igd_plus"] <= s["igd"]  # a finite subset of the front: IGD+ <= IGD, both > 0
    assert s["reference_hv"] > s["hv"]
    # the Pareto mask marks the non-dominated answers among the feasible ones (a^2 <= 0.5)
    assert s["pareto_mask"] == [True, True, True, False, False]
    board = leaderboard(store)
    assert board.iloc[0]["hv"] == pytest.approx(0.3125)
    from mobench.plots import plot_store
    names = {p.name for p in plot_store(store, tmp_path / "figs")}
    assert {"front_testfam_bi_v0.png", "cost_return_testfam_bi_v0.png"} <= names


def test_solver_version_is_part_of_identity_and_leaderboard_keeps_newest(store, monkeypatch):
    from mobench.registry import solver_entry
    old = plan([TARGET], ["random"], 1)
    run(old, store, progress=False)
    cls = solver_entry("random").cls
    monkeypatch.setattr(cls, "version", 2, raising=False)
    new = plan([TARGET], ["random"], 1)
    assert new[0].run_id != old[0].run_id and new[0].seed == old[0].seed
    assert new[0].run_id not in finished_run_ids(store)  # a new version is not resumed from old runs
    run(new, store, progress=False)
    assert read_record(next(p for p in iter_files(store) if new[0].run_id in p.name))["solver_version"] == 2
    with pytest.warns(UserWarning, match="1 stored run.*older versions of random"):
        lb = leaderboard(store)
    assert lb.loc[lb.solver == "random", "n_seeds"].tolist() == [1]
    assert lb.loc[lb.solver == "random", "solver_version"].tolist() == [2]
    # on a problem where only version 1 ran, version 1 is shown (newest per problem)
    other = "inventory/lost-sales-v0:L=2,p=4"
    monkeypatch.setattr(cls, "version", 1, raising=False)
    run(plan([other], ["random"], 1), store, progress=False)
    with pytest.warns(UserWarning):
        lb = leaderboard(store)
    assert sorted(lb.loc[lb.solver == "random", "solver_version"].tolist()) == [1, 2]


def test_claims_split_runs_between_runners_and_stale_ones_are_taken_over(tmp_path, monkeypatch):
    """A live claim is respected; a claim whose process is gone (this host), or older than its
    run's limit plus the margin (any host), is taken over; a release never removes another's."""
    import json
    import socket
    from mobench import store as st
    claims = tmp_path / "claims"

    def other(pid, host=socket.gethostname(), age=0.0, limit=100.0):
        claims.mkdir(exist_ok=True)
        (claims / "r.json").write_text(json.dumps({"pid": pid, "host": host, "since": time.time() - age,
                                                   "limit_s": limit, "token": f"t{pid}"}))
    mine, claim = st.claim_run(tmp_path, "r", 100.0)
    assert mine and json.loads((claims / "r.json").read_text())["token"] == claim["token"]
    st.release_claim(tmp_path, "r", claim)
    assert not (claims / "r.json").exists()
    # a live process on this host (the test's parent, started before the claim)
    other(os.getppid())
    assert st.claim_run(tmp_path, "r", 100.0) == (False, json.loads((claims / "r.json").read_text()))
    st.release_claim(tmp_path, "r", claim)  # not ours: stays
    assert (claims / "r.json").exists()
    # a process that has ended
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    other(int(done.stdout))
    mine, claim = st.claim_run(tmp_path, "r", 100.0)
    assert mine and claim["pid"] == os.getpid()
    # another machine on a shared folder: its live-looking claim holds until limit + margin
    other(1, host="elsewhere", age=100.0 + st.CLAIM_MARGIN - 60)
    assert st.claim_run(tmp_path, "r", 100.0)[0] is False
    other(1, host="elsewhere", age=100.0 + st.CLAIM_MARGIN + 60)
    assert st.claim_run(tmp_path, "r", 100.0)[0] is True
    assert not [p for p in claims.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_two_runners_on_one_store_make_each_run_once(tmp_path):
    """Two `mobench run` of the same sweep at once (the second started when the first has stored
    its first run): every run is stored once, and the runners' counts add up (each leaves to
    the other what it holds)."""
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "mobench.cli", "run", "testfam/budgeted-v0", "--solvers", "test-sleepy:seconds=2",
           "--seeds", "5", "--budget-seconds", "30", "--store", str(store), "--quiet"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not iter_files(store) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    files = iter_files(store)
    assert len(files) == 5 and len({read_record(p)["run_id"] for p in files}) == 5, [o[0] for o in outs]
    import re
    made = [int(re.search(r"(\d+) runs made", o[0]).group(1)) for o in outs]
    assert sum(made) == 5, [o[0] for o in outs]
    assert not list((store / "claims").glob("*.json"))  # every claim released


def test_the_device_recorded_is_the_one_the_solver_used(store):
    """A dispatching rule asked to run on cuda computes on no torch device: it records cpu (the
    request and the scoring device are kept beside it)."""
    (rec,) = run(plan(["jobshop/makespan-v0:instance=ft06"], ["spt"], 1, device="cuda"), store, progress=False)
    assert rec["status"] == "ok", rec.get("error")
    stored = read_record(rec["path"])
    assert stored["provenance"]["device"] == "cpu"
    assert stored["device_requested"] == "cuda" and stored["eval_device"] == "cuda"


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_a_solver_on_the_gpu_records_it(store):
    (rec,) = run(plan([TARGET], ["hdpo"], 1, budget_steps=200_000, budget_seconds=60, device="cuda"), store,
                 progress=False)
    assert rec["status"] == "ok", rec.get("error")
    assert read_record(rec["path"])["provenance"]["device"].startswith("cuda")


def test_a_policy_that_returns_no_actions_gets_one_clear_message():
    from mobench.errors import InvalidAction
    problem = mobench.make(TARGET)
    for answer, shown in ((lambda obs: None, "None"), (lambda obs: "up", "'up'")):
        with pytest.raises(InvalidAction, match=f"the policy returned {shown} .*not actions"):
            mobench.evaluate(problem, answer)
    env_only = mobench.make("mogym/deep-sea-treasure-v0")
    with pytest.raises(InvalidAction, match="the policy returned None .*not an action"):
        mobench.evaluate(env_only, [lambda obs: None])


def test_unfit_pairs_are_refused_or_skipped():
    with pytest.raises(UnsupportedPairing, match="--skip-unfit"):
        plan([TARGET, "testfam/knapsack-v0"], ["random", "test-greedy"], 1)
    skipped = []
    specs = plan([TARGET, "testfam/knapsack-v0"], ["random", "test-greedy"], 1, skipped=skipped)
    assert sorted((s.problem.split(":")[0], s.solver) for s in specs) == [
        ("inventory/lost-sales-v0", "random"), ("testfam/knapsack-v0", "test-greedy")]
    assert sorted((s, p.split(":")[0]) for s, p, _ in skipped) == [
        ("random", "testfam/knapsack-v0"), ("test-greedy", "inventory/lost-sales-v0")]


def test_solver_warnings_go_into_the_record_not_the_terminal(tmp_path):
    """Stable-Baselines3 warns from inside `ppo` (its VecEnv of the batched simulator has no
    render_mode): the run keeps the warning in its record."""
    store = tmp_path / "store"
    out = subprocess.run([sys.executable, "-m", "mobench.cli", "run", "testfam/budgeted-v0", "--solvers",
                          "ppo:n_envs=1,n_steps=64,batch_size=64,n_epochs=1", "--seeds", "1",
                          "--budget-steps", "64", "--store", str(store), "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "render_mode" not in out.stderr and "Warning" not in out.stderr, out.stderr
    (f,) = iter_files(store)
    assert any("render_mode" in w for w in read_record(f)["warnings"])
