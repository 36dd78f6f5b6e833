"""Remote microgrid: energy balance at every step, the battery against an independent solve,
the genset state machine on scripted commands, rainflow against the worked example and the
`rainflow` package, the SCU stack on worst-case traces, the perfect-foresight bound against
enumeration and against policies, the CSV loader and bad input, the engine's contracts."""
import importlib.util
import math

import numpy as np
import pytest
import torch

import mobench
from mobench.check import check_problem, check_solver
from mobench.errors import InvalidParameter
from mobench.evaluate import evaluate
from mobench.problems.microgrid import (COOLDOWN, OFF, RUNNING, TEST_SEED, WARMUP, Plant, fuel_bound, load_csv,
                                        rainflow_init, rainflow_step)
from mobench.registry import load_all, make_solver
from mobench.solver import Budget, Clock, Log

load_all()
SHORT = "microgrid/remote-v0:days=2,hours=2"


def _test_state(sim, batch=1):
    return sim.reset(batch, torch.Generator().manual_seed(TEST_SEED))


def _want(sim, state, n):
    """The action asking for ``n`` sets (a bin's centre), battery idle."""
    G = sim.plant.n_gensets
    a0 = 1.0 if n > G else -1.0 + (n + 0.5) * 2.0 / (G + 1)
    return torch.tensor([[a0, 0.0]] * state["soc"].shape[0])


def _csv(path, demand, wind, start="2018-02-01 00:00:00"):
    import pandas as pd
    when = pd.date_range(start, periods=len(demand), freq="min")
    pd.DataFrame({"DateTime": when.strftime("%Y-%m-%d %H:%M:%S"), "Load": np.asarray(demand) / 300.0,
                  "AvailableWindPower": np.asarray(wind) / 400.0}).to_csv(path, index=False)
    return str(path)


# ---------------------------------------------------------------- plant


@pytest.mark.parametrize("shielded", [False, True])
def test_energy_balances_at_every_step_and_battery_matches_an_independent_solve(shielded):
    from mobench.solvers.scu.shields import ShieldStack
    problem = mobench.make(SHORT)
    sim = problem.sim()
    p = sim.plant
    state = sim.reset(8, torch.Generator().manual_seed(3))   # training states: every status
    stack = ShieldStack(p)
    gen = torch.Generator().manual_seed(1)
    for _ in range(120):
        _, D, A = sim.now(state)
        soc = state["soc"].clone()
        a = torch.rand(8, 2, generator=gen) * 2 - 1
        if shielded:
            a = stack.project(sim.decode(sim.observe(state)), a)
        state, r, c, _ = sim.step(state, a)
        last = state["last"]
        g, w, pb, bal = last["gen"].sum(1), last["wind"], last["p"], last["bal"]
        unserved = torch.clamp(-bal, min=0)
        dump = torch.clamp(bal, min=0)
        # generation + discharge + wind used = demand + charge + dumped - unserved
        torch.testing.assert_close(g + w + pb.clamp(min=0), D + (-pb).clamp(min=0) + dump - unserved)
        torch.testing.assert_close(w + last["curtailed"], A)            # wind used + curtailed = available
        assert (w >= -1e-9).all() and (last["curtailed"] >= -1e-9).all()
        expect = torch.where(-bal > 0.01, -bal, torch.zeros_like(bal)) / 60.0
        torch.testing.assert_close(c[:, 0], expect)
        # SoC from the battery's equations, solved independently (numpy's quadratic roots)
        for i in range(8):
            pw = float(pb[i])
            pdc = (p.eta * pw if pw < 0 else pw / p.eta) * 1000.0
            v = p.v_slope * float(soc[i]) + p.v_zero
            a_ = p.r_ohm + p.v_slope / (p.battery_ah * 60)
            roots = np.roots([-a_, v, -pdc]) if abs(pdc) > 1e-9 else np.array([0.0])
            cur = roots[np.argmin(np.abs(roots))].real
            assert float(state["soc"][i]) == pytest.approx(float(soc[i]) - cur / (p.battery_ah * 60), abs=1e-12)
        if shielded:
            assert (c == 0).all(), f"violations behind the shield: {c}"
    # the fuel objective is the fuel curve of the sets' outputs
    fuel = torch.where(state["status"] != OFF, 0.25 * last["gen"] + 10.0, torch.zeros_like(last["gen"]))
    torch.testing.assert_close(last["fuel"], fuel)


def test_genset_state_machine_on_scripted_commands():
    sim = mobench.make(SHORT).sim()
    state = _test_state(sim)
    assert state["status"][0].tolist() == [RUNNING, OFF]
    seen, breaches = [], []
    script = {0: 2, 5: 1, 6: 2, 10: 1, 11: 1}         # minute -> sets wanted (else keep)
    want = 1
    for t in range(60):
        want = script.get(t, want)
        state, _, c, _ = sim.step(state, _want(sim, state, want))
        seen.append((int(state["status"][0, 1]), float(state["last"]["gen"][0, 1])))
        breaches.append(float(c[0, 2]))
    # start at 0: warm-up at 0, 1, 2 (100 kW each), running from 3
    assert seen[0] == (WARMUP, 100.0) and seen[2] == (WARMUP, 100.0) and seen[3][0] == RUNNING
    # asking for one set at 5 stops the last running one (set 1) early: a rule breach
    assert seen[5] == (COOLDOWN, 0.0) and breaches[5] == 1.0
    # a start while it cools does nothing until the cool-down's end (6 minutes), then it warms up
    assert [s for s, _ in seen[5:11]] == [COOLDOWN] * 6
    assert seen[11][0] == OFF   # at minute 10 one set is wanted again: set 1 ends its cool-down off
    # priority order: asking for 0 sets stops the highest-index running set first (set 0 here)
    state = _test_state(sim)
    state, *_ = sim.step(state, _want(sim, state, 2))   # set 1 starts warming
    state, *_ = sim.step(state, _want(sim, state, 0))   # no stop while a set warms up
    assert state["status"][0].tolist() == [RUNNING, WARMUP]
    for _ in range(2):
        state, *_ = sim.step(state, _want(sim, state, 2))
    assert state["status"][0].tolist() == [RUNNING, RUNNING]
    runs = 1                                             # set 1's running minutes so far
    while True:
        state, _, c, _ = sim.step(state, _want(sim, state, 1))
        if state["status"][0, 1] == COOLDOWN:
            break
        runs += 1
    # the stop is carried out at set 1's second running minute, and counted as a breach
    assert runs == 1 and c[0, 2] == 1.0


def test_minimum_run_time_behind_the_shield_and_cool_down_restart():
    from mobench.solvers.scu.shields import ShieldStack
    sim = mobench.make(SHORT).sim()
    stack = ShieldStack(sim.plant)
    state = _test_state(sim)
    statuses = []
    for t in range(50):
        a = _want(sim, state, 2 if t == 0 else 1)
        state, _, c, _ = sim.step(state, stack.project(sim.decode(sim.observe(state)), a))
        assert c[0, 2] == 0
        statuses.append(int(state["status"][0, 1]))
    # started at 0 (warm-up 0..2), running 3..31 (29 minutes), stopped at 32, cool-down 32..37, off at 38
    assert statuses[:3] == [WARMUP] * 3 and statuses[3:32] == [RUNNING] * 29
    assert statuses[32:38] == [COOLDOWN] * 6 and statuses[38] == OFF
    # refused: the stops of minutes 4..31 (at 1..3 a set was warming up, so the sequencer
    # ignores a stop anyway; at 32 the set has run 29 minutes)
    assert stack.record["min_run"]["count"] == 28


def test_rainflow_cost_matches_the_worked_example():
    p = Plant()
    path = [0.50, 0.52, 0.55, 0.53, 0.50, 0.51, 0.54, 0.58, 0.57, 0.50, 0.45, 0.455, 0.47]
    want = [0.10101, 0.15535, 0.10101, 0.15535, 0.05025, 0.15380, 0.21238, 0.05025, 0.36618, 0.27771, 0.02506,
            0.07594]
    soc = torch.tensor([path[0]], dtype=torch.float64)
    rf = rainflow_init(p, soc)
    costs = []
    for x in path[1:]:
        new = torch.tensor([x], dtype=torch.float64)
        rf, cost = rainflow_step(p, rf, soc, new)
        soc = new
        costs.append(float(cost[0]))
    assert costs == pytest.approx(want, abs=1e-5)
    assert sum(costs) == pytest.approx(1.72429, abs=1e-4)
    assert rf["stack"][0, :int(rf["n"][0])].tolist() == pytest.approx([0.5, 0.58, 0.45])


@pytest.mark.skipif(importlib.util.find_spec("rainflow") is None,
                    reason="the `rainflow` package (ASTM E1049-85, test-only) is not installed")
def test_rainflow_cycle_counts_match_the_rainflow_package():
    import rainflow
    p = Plant()
    rng = np.random.default_rng(0)
    B, T = 16, 400
    steps = rng.choice([-1, 1], (B, T)) * rng.uniform(0, 0.03, (B, T)) * (rng.random((B, T)) < 0.8)
    traces = np.clip(0.5 + np.cumsum(steps, 1), 0.05, 0.95)
    traces = np.concatenate([np.full((B, 1), 0.5), traces], 1)
    soc = torch.as_tensor(traces[:, 0])
    rf, closed = rainflow_init(p, soc), []
    for t in range(1, T + 1):
        new = torch.as_tensor(traces[:, t])
        rf, _ = rainflow_step(p, rf, soc, new, closed)
        soc = new
    for b in range(B):
        mine: dict[float, float] = {}
        for rows, ranges in closed:
            for r, rng_ in zip(rows.tolist(), ranges.tolist()):
                if r == b:
                    mine[round(rng_, 2)] = mine.get(round(rng_, 2), 0.0) + 1.0
        residue = rf["stack"][b, :int(rf["n"][b])].tolist() + [round(traces[b, -1], 2)]
        for x, y in zip(residue, residue[1:]):
            if round(abs(x - y), 2) > 0:
                mine[round(abs(x - y), 2)] = mine.get(round(abs(x - y), 2), 0.0) + 0.5
        theirs: dict[float, float] = {}
        for rng_, count in rainflow.count_cycles(np.round(traces[b], 2)):
            theirs[round(rng_, 2)] = theirs.get(round(rng_, 2), 0.0) + count
        assert mine == pytest.approx(theirs), f"trace {b}"


# ---------------------------------------------------------------- shields


def _worst_case_csv(tmp_path):
    """07:00 on 2018-02-01 and after: demand ramps at the worst rate (80 kW/min) up to 570 kW and
    drops; wind drops at the worst rate (18% of 400 kW per minute) to 0 and recovers."""
    n = 2 * 1440
    t = np.arange(n)
    demand = np.where((t // 45) % 2 == 0, 150.0, 570.0)
    wind = np.where((t // 37) % 2 == 0, 400.0, 0.0)
    from mobench.problems.microgrid.data import limit_drop, limit_rise
    demand = limit_rise(demand, 80.0)
    wind = limit_drop(wind, 72.0)
    assert np.diff(demand).max() <= 80 + 1e-9 and -np.diff(wind).max() <= 72 + 1e-9
    return _csv(tmp_path / "worst.csv", demand, wind)


@pytest.mark.parametrize("solver", ["mg-random", "mg-constant:genset=stop,battery=discharge",
                                    "mg-constant:genset=stop,battery=charge", "mg-wrap:inner=random"])
def test_shields_turn_any_actions_into_zero_violations_on_worst_case_traces(tmp_path, solver):
    problem = mobench.make("microgrid/remote-v0", days=1, hours=3, data=_worst_case_csv(tmp_path))
    clock = Clock(Budget(steps=1, seconds=60))
    out = make_solver(solver).solve(problem, clock, 0, Log(clock))
    ev = evaluate(problem, out)
    assert ev.costs.max() == 0.0, f"{solver}: constraint costs {ev.costs}"
    rec = out.info["shield"]
    assert rec["min_run"]["minutes"] == 180 and rec["recoverability"]["minutes"] == 180
    if solver == "mg-random":   # random stops are refused or overridden, and without the stack they break rules
        assert rec["min_run"]["count"] + rec["recoverability"]["count"] > 0
        raw = evaluate(problem, make_solver("mg-random:shield=none").solve(problem, clock, 0, Log(clock)))
        assert raw.costs.max() > 0


def test_unshielded_random_actions_violate_and_the_stack_records_interventions():
    problem = mobench.make(SHORT)
    c = Clock(Budget(steps=1, seconds=60))
    raw = evaluate(problem, make_solver("mg-random:shield=none").solve(problem, c, 0, Log(c)))
    assert raw.costs.sum() > 0 and not raw.summary["feasible"]
    out = make_solver("mg-random").solve(problem, c, 0, Log(c))
    shielded = evaluate(problem, out)
    assert shielded.summary["feasible"]
    per_day = out.info["shield"]["recoverability"]["per_day"] + out.info["shield"]["min_run"]["per_day"]
    assert per_day > 0 and out.info["shield"]["battery"]["minutes"] == 2 * 120


# ---------------------------------------------------------------- the bound


def test_bound_equals_enumeration_on_a_tiny_plant():
    """One set (warm-up 1 min, cool-down 2, minimum run 3), no battery, 9 minutes: every
    sequence of wanted set counts through the batched simulator, against the MIP."""
    from mobench.problems.microgrid.data import _pack
    from datetime import datetime
    p = Plant(n_gensets=1, warmup=1, cooldown=2, min_run=3, battery_kw=0.0)
    T = 9
    demand = np.array([150, 150, 80, 60, 60, 60, 200, 300, 150], float)
    wind = np.array([0, 0, 100, 300, 300, 300, 100, 0, 60], float)
    data = _pack("tiny", datetime(2018, 1, 1), np.r_[demand, np.zeros(40)], np.r_[wind, np.zeros(40)])
    from mobench.problems.microgrid import MicrogridSim
    sim = MicrogridSim(data, p, 0, T, True, [0], [0], torch.zeros(1, dtype=torch.long), TEST_SEED, TEST_SEED + 1)
    seqs = torch.tensor(np.array(np.meshgrid(*[[0, 1]] * T, indexing="ij")).reshape(T, -1).T)  # [2^T, T]
    B = seqs.shape[0]
    state = sim.reset(B, torch.Generator().manual_seed(TEST_SEED))
    fuel, bad = torch.zeros(B, dtype=torch.float64), torch.zeros(B, dtype=torch.float64)
    for t in range(T):
        a0 = torch.where(seqs[:, t] == 1, 0.5, -0.5)
        state, r, c, _ = sim.step(state, torch.stack([a0, torch.zeros(B)], 1))
        fuel -= r[:, 0]
        bad += c.sum(1)
    best = float(fuel[bad == 0].min())
    keep_on = int((seqs == 1).all(1).nonzero())          # a hand-built schedule: the set runs throughout
    assert bad[keep_on] == 0 and fuel[keep_on] > best + 1.0
    init = {"status": [RUNNING], "tsw": [0], "tsc": [0], "tss": [p.min_run + 1], "soc": 0.2}
    bound = fuel_bound(p, demand, wind, init, battery=False, settings={"mip_rel_gap": 0.0, "mip_max_nodes": 10 ** 6})
    assert bound["status"] == "Optimal"
    assert bound["bound"] == pytest.approx(best, rel=1e-6)
    assert bound["bound"] <= float(fuel[keep_on])
    # where the hand-built schedule is the only feasible one (no wind, demand above the minimum
    # load throughout: the set must run), the bound is its fuel, counted by hand
    flat = np.array([150, 180, 200, 130, 160, 150, 170, 140, 155], float)
    only = fuel_bound(p, flat, np.zeros(T), init, battery=False, settings={"mip_rel_gap": 0.0, "mip_max_nodes": 10 ** 6})
    assert only["bound"] == pytest.approx(sum(0.25 * d + 10.0 for d in flat) / 60.0, rel=1e-9)
    # and with the start state off: the set must warm up (demand is unmet meanwhile, so
    # enumeration has no feasible sequence and the program none either)
    off = {"status": [OFF], "tsw": [0], "tsc": [0], "tss": [0], "soc": 0.2}
    assert fuel_bound(p, demand, wind, off, battery=False)["status"] == "Infeasible"


def test_bound_is_below_every_feasible_policy_on_short_days():
    problem = mobench.make("microgrid/remote-2obj-v0", days=3, hours=2)
    days = problem.day_bounds()
    bounds = [b["bound"] for b in days]
    assert all(0 < b["bound"] <= b["incumbent"] + 1e-6 and b["gap"] < 0.05 for b in days)
    for solver in ("mg-rule-based", "mg-greedy", "mg-random", "mg-constant:genset=start,battery=charge",
                   "mg-constant:genset=stop,battery=discharge"):
        c = Clock(Budget(steps=1, seconds=60))
        ev = evaluate(problem, make_solver(solver).solve(problem, c, 0, Log(c)))
        assert ev.costs.max() == 0
        fuel = ev.objectives[0, :, 0]
        assert (fuel >= np.array(bounds) - 1e-6).all(), f"{solver}: fuel {fuel} below the bound {bounds}"
    # the scalar problem's reference is the mean bound / 4 (degradation relaxed to 0)
    ref = mobench.make("microgrid/remote-v0", days=3, hours=2).reference()
    assert ref.kind == "bound" and ref.value == pytest.approx(np.mean(bounds) / 4.0)


# ---------------------------------------------------------------- data and parameters


def test_csv_loader_reads_the_paper_layout(tmp_path):
    n = 2 * 1440 + 60
    rng = np.random.default_rng(0)
    demand, wind = rng.uniform(100, 400, n), rng.uniform(0, 400, n)
    path = _csv(tmp_path / "grid.csv", demand, wind)
    data = load_csv(path)
    np.testing.assert_allclose(data.demand.numpy(), demand)
    np.testing.assert_allclose(data.wind.numpy(), wind)
    problem = mobench.make("microgrid/remote-v0", days=1, hours=24, data=path)
    assert problem.test_starts == [7 * 60]
    state = problem.sim().reset(1, torch.Generator().manual_seed(TEST_SEED))
    _, D, A = problem.sim().now(state)
    assert float(D[0]) == pytest.approx(demand[420]) and float(A[0]) == pytest.approx(wind[420])


@pytest.mark.parametrize("rows, message", [
    (None, "not found"),
    ("DateTime,Load\n2018-02-01 00:00:00,1.0\n2018-02-01 00:01:00,1.0\n", "lacks the column"),
    ("DateTime,Load,AvailableWindPower\n2018-02-01 00:00:00,1.0,0.5\n2018-02-01 00:02:00,1.0,0.5\n",
     "consecutive minutes"),
    ("DateTime,Load,AvailableWindPower\n2018-02-01 00:00:00,1.0,0.5\n2018-02-01 00:01:00,-1.0,0.5\n", "Load in row 3"),
    ("DateTime,Load,AvailableWindPower\n2018-02-01 00:00:00,1.0,0.5\n2018-02-01 00:01:00,1.0,1.5\n",
     "AvailableWindPower in row 3"),
    ("DateTime,Load,AvailableWindPower\nyesterday,1.0,0.5\n2018-02-01 00:01:00,1.0,x\n", "DateTime"),
])
def test_bad_data_files_get_one_clear_error(tmp_path, rows, message):
    path = tmp_path / "bad.csv"
    if rows is not None:
        path.write_text(rows)
    with pytest.raises(InvalidParameter, match=message):
        mobench.make("microgrid/remote-v0", days=1, data=str(path))


def test_bad_parameters_and_constants_are_rejected(tmp_path):
    with pytest.raises(InvalidParameter, match="days=11"):
        mobench.make("microgrid/remote-v0", days=11)
    with pytest.raises(InvalidParameter, match="forecast"):
        mobench.make("microgrid/remote-v0", forecast=-1)
    path = _csv(tmp_path / "short.csv", np.full(3000, 300.0), np.zeros(3000))
    with pytest.raises(InvalidParameter, match="holds 1 test day"):
        mobench.make("microgrid/remote-v0", days=2, data=path)
    with pytest.raises(InvalidParameter, match="soc_normal"):
        Plant(soc_normal=(0.9, 0.1))
    with pytest.raises(InvalidParameter, match="nest"):
        Plant(soc_normal=(0.01, 0.9))
    with pytest.raises(InvalidParameter, match="eta"):
        Plant(eta=1.5)


def test_synthetic_year_respects_the_papers_worst_cases_and_is_seeded():
    from mobench.problems.microgrid.data import synthetic
    d = synthetic()
    D, A = d.demand.numpy(), d.wind.numpy()
    assert D.max() <= 570.0 and np.diff(D).max() <= 80.0 + 1e-9
    assert A.min() >= 0 and A.max() <= 400.0 and -np.diff(A).max() <= 72.0 + 1e-9
    assert d.checksum == synthetic.__wrapped__().checksum   # the same year from the same seed
    problem = mobench.make("microgrid/remote-v0")
    assert len(problem.test_starts) == 10
    held = set(problem.test_starts + problem.dev_starts)
    span = 1440 + 30
    starts = problem.train_starts.numpy()
    assert not any(np.any(np.abs(starts - h) < span) for h in held)   # training never sees a test day


# ---------------------------------------------------------------- engine contracts


def test_decode_reads_the_plant_state_back_from_the_observation():
    sim = mobench.make(SHORT).sim()
    state = sim.reset(64, torch.Generator().manual_seed(9))
    gen = torch.Generator().manual_seed(2)
    for _ in range(40):
        state, *_ = sim.step(state, torch.rand(64, 2, generator=gen) * 2 - 1)
    dec, core = sim.decode(sim.observe(state)), sim.core(state)
    for k in ("status", "tsw", "tsc", "tss"):
        assert torch.equal(dec[k], core[k].clamp(max=sim.plant.min_run + 1)), k
    for k, tol in (("avg", 1e-4), ("soc", 1e-6), ("demand", 1e-3), ("wind", 1e-3)):
        torch.testing.assert_close(dec[k], core[k], atol=tol, rtol=0)


def test_problem_conforms_and_the_shielded_policy_matches_the_shielded_simulator():
    rep = check_problem(SHORT)
    assert rep.ok, "\n".join(rep.lines)
    from mobench.solvers.scu.wrapper import Adapted
    problem = mobench.make(SHORT)
    c = Clock(Budget(steps=1, seconds=60))
    out = make_solver("mg-rule-based").solve(problem, c, 0, Log(c))
    via_policy = evaluate(problem, out)
    inner = make_solver("mg-rule-based:shield=none").solve(problem, c, 0, Log(c))
    sc = problem.spec.scenarios
    from mobench.evaluate import rollout
    r, cost = rollout(Adapted(problem, shield=True).sim(), inner.policies[0], sc)
    np.testing.assert_allclose(-r[:, 0], via_policy.objectives[0, :, 0], rtol=1e-6)
    np.testing.assert_allclose(cost, via_policy.costs[0], atol=1e-9)


def test_the_adapter_answers_the_two_objective_view_with_the_papers_scalarisation():
    """mg-wrap trains a single-objective solver on fuel / 4 + degradation (the remote-v0 reward
    of the same minute) and leaves a multi-objective solver the two objectives."""
    two = mobench.make("microgrid/remote-2obj-v0:days=2,hours=2")
    wrap = make_solver("mg-wrap:inner=random")
    view = wrap.adapted(two, wrap._inner())
    assert view.spec.n_obj == 1 and view.spec.answer == "policy" and view.spec.constraints == two.spec.constraints
    morl = make_solver("mg-wrap:inner=pgmorl")
    assert morl.adapted(two, morl._inner()).spec.n_obj == 2
    assert make_solver("mg-wrap:inner=ppo-lagrangian").default_budget == make_solver("ppo-lagrangian").default_budget
    from mobench.solvers.scu.wrapper import Adapted
    s2, s1 = two.sim(), Adapted(two, shield=False).sim()     # the same plant, the scalar reward
    assert s1.n_obj == 1 and s2.n_obj == 2
    a, b = s2.reset(4, torch.Generator().manual_seed(TEST_SEED)), s1.reset(4, torch.Generator().manual_seed(TEST_SEED))
    gen = torch.Generator().manual_seed(4)
    fmax = 2 * (0.25 * 440.0 + 10.0)                         # 240 l/h: both sets flat out
    for _ in range(60):
        act = torch.rand(4, 2, generator=gen) * 2 - 1
        a, r2, c2, _ = s2.step(a, act)
        b, r1, c1, _ = s1.step(b, act)
        # litres of the minute x 60 / 240 + degradation = the scalar reward of the minute
        torch.testing.assert_close(r1[:, 0], r2[:, 0] * 60.0 / fmax + r2[:, 1])
        torch.testing.assert_close(c1, c2)
        assert (r2 <= 0).all()


@pytest.mark.parametrize("solver, target", [
    ("mg-rule-based", SHORT), ("mg-wrap:inner=random", SHORT), ("random", SHORT), ("ppo-lagrangian", SHORT),
    ("mg-wrap:inner=random,shield=none", "microgrid/remote-2obj-v0:days=2,hours=2"),
    ("mg-wrap:inner=ppo-lagrangian", "microgrid/remote-2obj-v0:days=2,hours=2"),
    ("sac-scu", "microgrid/remote-2obj-v0:days=2,hours=2")])
def test_solvers_pass_mobench_check_on_the_problem(solver, target):
    rep = check_solver(solver, target, seconds=10 if solver.startswith("sac") else 40)
    assert rep.ok, "\n".join(rep.lines)
