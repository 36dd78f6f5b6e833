"""Routing family: TSPLIB optima under TSPLIB rounding, the verifiers, masks, the exact
knapsack DP against OR-Tools, LKH on a known optimum, baselines' properties, checks."""
import numpy as np
import pytest
import torch

import mobench
from mobench.check import check_problem, check_solver
from mobench.errors import InvalidAction, InvalidSolution
from mobench.problems.routing import KnapsackBatch, TSPBatch, knapsack_dp, lkh_tour, load_tsplib, read_tsplib
from mobench.problems.routing.instances import (DATA, TSPLIB_OPTIMA, InstanceFileError, KnapsackInstance,
                                                knapsack_test_set, read_tour, tour_length, tsp_test_set)
from mobench.problems.routing.knapsack import check_items
from mobench.problems.routing.tsp import check_tour, length
from mobench.solver import Budget, Clock, Log
from mobench.solvers.routing_baselines import insertion_tour, nearest_neighbour_tours, two_opt


@pytest.mark.parametrize("name", sorted(TSPLIB_OPTIMA))
def test_tsplib_optimal_tours_have_the_published_lengths(name):
    inst = load_tsplib(name)
    tour = read_tour(DATA / f"{name}.opt.tour")
    assert length(inst, tour) == TSPLIB_OPTIMA[name]  # eil51: 426 with nearest-integer rounding
    assert tour_length(inst.coords, tour, "none") != TSPLIB_OPTIMA[name]  # the rounding matters


def test_lkh_finds_eil51_optimum():
    inst = load_tsplib("eil51")
    assert length(inst, lkh_tour(inst)) == 426


def test_tsp_verifier_rejects_each_kind_of_bad_tour():
    n = 6
    assert (check_tour([3, 1, 0, 2, 5, 4], n) == [3, 1, 0, 2, 5, 4]).all()
    for bad in ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 4], [0, 1, 2, 3, 4, 6], [0, 1, 2, 3, 4, -1],
                [0, 1.5, 2, 3, 4, 5], [[0, 1, 2], [3, 4, 5]], "012345"):
        with pytest.raises(InvalidSolution):
            check_tour(bad, n)
    p = mobench.make("routing/tsp-v0:instance=eil51")
    ev = mobench.evaluate(p, [list(range(50))])  # one node short: scored infeasible, never crashes
    assert ev.summary["feasible_rate"] == 0.0


def test_knapsack_verifier():
    inst = KnapsackInstance(np.array([0.5, 0.4, 0.3]), np.array([1.0, 0.9, 0.2]), 0.8)
    assert check_items([0, 2], inst)[1] and not check_items([0, 1], inst)[1]  # 0.9 > 0.8
    for bad in ([0, 0], [3], [-1], [0.5]):
        with pytest.raises(InvalidSolution):
            check_items(bad, inst)


def test_masks_never_allow_an_infeasible_action():
    gen = torch.Generator().manual_seed(0)
    b = TSPBatch(tsp_test_set(8, 16, 0))
    while not b.done:
        m = b.mask()
        with pytest.raises(InvalidAction):
            b.step(torch.where(m.all(1), 0, (~m).float().argmax(1)))  # a visited node
        b.step(torch.multinomial(m.float(), 1, generator=gen)[:, 0])
    for t in b.tours.numpy():
        check_tour(t, 8)
    insts = knapsack_test_set(300, 8, 1)
    k = KnapsackBatch(np.stack([i.weights for i in insts]), np.stack([i.values for i in insts]), 25.0)
    while not k.done.all():
        m = k.mask()
        pick = torch.multinomial(m.float() + (~m.any(1, keepdim=True)).float(), 1, generator=gen)[:, 0]
        k.step(pick)
    for inst, items in zip(insts, k.solutions()):
        _, fits = check_items(items, inst)
        left = 25.0 - inst.weights[items].sum()
        assert fits and (np.delete(inst.weights, items) > left).all()  # nothing else fits at the end


def test_knapsack_dp_equals_ortools():
    from ortools.algorithms.python import knapsack_solver
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 40))
        w = rng.integers(1, 10_000, n)
        v = rng.integers(1, 1000, n).astype(float)
        cap = int(w.sum() * rng.uniform(0.2, 0.8))
        inst = KnapsackInstance(w / 10_000, v, cap / 10_000)
        s = knapsack_solver.KnapsackSolver(knapsack_solver.SolverType.KNAPSACK_MULTIDIMENSION_BRANCH_AND_BOUND_SOLVER, "t")
        s.init(v.astype(int).tolist(), [w.tolist()], [cap])
        assert knapsack_dp(inst) == s.solve()
    for inst in knapsack_test_set(40, 5, 0, capacity=8.0):  # and the generated instances, by brute force
        n = 16
        sub = KnapsackInstance(inst.weights[:n], inst.values[:n], 4.0)
        masks = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
        ok = masks @ np.rint(sub.weights * 10_000).astype(int) <= 40_000
        assert knapsack_dp(sub) == pytest.approx((masks[ok] @ sub.values).max(), abs=1e-12)


def test_baselines_on_eil51():
    inst = load_tsplib("eil51")
    d = inst.distances()
    nn = nearest_neighbour_tours(TSPBatch(inst.coords[None], "euc2d"))[0]
    opt = two_opt(nn, d)
    for t in (nn, opt, insertion_tour(d, False), insertion_tour(d, True)):
        assert length(inst, check_tour(t, 51)) >= 426
    assert length(inst, opt) < length(inst, nn)
    # 2-opt stops at a local optimum: no segment reversal shortens the tour
    n = 51
    for i in range(n - 1):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            a, b, c, e = opt[i], opt[i + 1], opt[j], opt[(j + 1) % n]
            assert d[a, b] + d[c, e] <= d[a, c] + d[b, e] + 1e-9


def test_greedy_never_beats_the_exact_optimum():
    p = mobench.make("routing/knapsack-v0:N=200")
    p._instances = p._instances[:20]  # a subset keeps the exact references quick
    out = mobench.make_solver("greedy-ratio").solve(p, Clock(Budget(seconds=60)), 0, Log())
    vals = np.array([p.verify(i, s)[0][0] for i, s in enumerate(out.solutions)])
    ref = np.array(p.reference().value)
    assert (vals <= ref + 1e-9).all() and (vals >= 0.9 * ref).all()
    assert mobench.evaluate(p, out).summary["feasible_rate"] == 1.0


def test_malformed_tsplib_files(tmp_path):
    good = (DATA / "eil51.tsp").read_text()
    cases = {"no_section.tsp": good.replace("NODE_COORD_SECTION", "COORDS"),
             "geo.tsp": good.replace("EUC_2D", "GEO"),
             "short.tsp": "\n".join(good.splitlines()[:20]),
             "bad_line.tsp": good.replace("2 49 49", "2 49"),
             "binary.tsp": None}
    for name, text in cases.items():
        f = tmp_path / name
        if text is None:
            f.write_bytes(b"\xff\xfe\x00")
        else:
            f.write_text(text)
        with pytest.raises(InstanceFileError, match=name):
            read_tsplib(f)
    with pytest.raises(InstanceFileError, match="unknown TSPLIB instance"):
        load_tsplib("eil52")


def test_checks_pass():
    for target in ("routing/tsp-v0:instance=eil51", "routing/knapsack-v0:N=20"):
        rep = check_problem(target)
        assert rep.ok, "\n".join(rep.lines)
    for name, target in (("nearest-neighbour", "routing/tsp-v0:instance=eil51"),
                         ("two-opt", "routing/tsp-v0:instance=eil51"),
                         ("farthest-insertion", "routing/tsp-v0:instance=berlin52"),
                         ("greedy-ratio", "routing/knapsack-v0:N=20")):
        rep = check_solver(name, target)
        assert rep.ok, "\n".join(rep.lines)


def test_cvrp_verifier_masks_and_baselines():
    from mobench.problems.routing.cvrp import as_routes, check_routes, routes_length
    p = mobench.make("routing/cvrp-v0:N=20,count=4")
    inst = p.instances()[0]
    ids = list(range(1, 21))
    assert len(as_routes([ids[:10], ids[10:]], 20)) == 2
    assert len(as_routes([0] + ids[:10] + [0] + ids[10:] + [0], 20)) == 2  # the flat form
    for bad in ([ids[:10], ids[11:]], [ids, [3]], [ids[:10] + [0.5], ids[10:]], "route"):
        with pytest.raises(InvalidSolution):
            as_routes(bad, 20)
    assert not check_routes([ids], inst)[1]  # one route over the capacity (30) is infeasible
    # random legal rollouts through the batched MDP: every route fits, lengths agree with the verifier
    gen = torch.Generator().manual_seed(0)
    b = p.batch()
    while not b.done:
        b.step(torch.multinomial(b.mask().float(), 1, generator=gen)[:, 0])
    rnd = b.solutions()
    for i, sol in enumerate(rnd):
        routes, fits = check_routes(sol, p.instances()[i])
        assert fits and routes_length(p.instances()[i], routes) == pytest.approx(float(b.length[i]))
    cw = mobench.make_solver("clarke-wright").solve(p, Clock(Budget(seconds=60)), 0, Log()).solutions
    ref = np.array(p.reference().value)  # PyVRP, 2,000 iterations per instance: optimal or near it at N = 20
    for i in range(4):
        (cw_len,), _, ok = p.verify(i, cw[i])
        (rnd_len,), _, _ = p.verify(i, rnd[i])
        assert ok and ref[i] <= cw_len + 1e-9 and cw_len < rnd_len
    rep = check_problem("routing/cvrp-v0:N=20,count=4")
    assert rep.ok, "\n".join(rep.lines)
    assert check_solver("clarke-wright", "routing/cvrp-v0:N=20,count=4").ok


def test_pyvrp_reference_is_feasible_where_its_default_penalty_cap_is_too_low():
    """Instance 554 of the N = 20 CVRP test set: with PyVRP's default penalty cap the search
    ended overloaded at every time limit (1 + 4 + 16 s), which failed the whole set's
    reference; the routes must now fit and no better than the capacity allows."""
    from mobench.problems.routing import _seed
    from mobench.problems.routing.cvrp import check_routes, pyvrp_routes
    from mobench.problems.routing.instances import cvrp_test_set
    inst = cvrp_test_set(20, 1000, _seed(20))[554]
    routes, fits = check_routes(pyvrp_routes(inst, iterations=500), inst)
    assert fits and len(routes) >= int(np.ceil(inst.demand.sum() / inst.capacity))


def test_pyvrp_references_are_bounded_by_iterations_and_repeat_exactly(busy_cpu):
    """A reference must not depend on the machine or its load: PyVRP runs a fixed number of
    iterations from a fixed seed, so two runs give the same routes and tours even while another
    process competes for the CPU (a time limit gave 0.3% shorter CVRP N = 50 references on an
    idle machine than on a busy one)."""
    from mobench.problems.routing.cvrp import PyVRPBudget, pyvrp_routes
    from mobench.problems.routing.op import pyvrp_op
    cvrp = mobench.make("routing/cvrp-v0:N=50,count=1").instances()[0]
    op = mobench.make("routing/op-v0:N=50,count=1").instances()[0]
    first = pyvrp_routes(cvrp, iterations=300), pyvrp_op(op, iterations=300)
    with busy_cpu():
        again = pyvrp_routes(cvrp, iterations=300), pyvrp_op(op, iterations=300)
    assert first == again
    assert pyvrp_routes(cvrp, iterations=3000) != first[0]  # the count matters: the search is not done at 300
    src = mobench.make("routing/cvrp-v0:N=20,count=1").reference().source
    assert "2000 iterations per instance, seed 0" in src
    for bad in ({}, {"seconds": 1.0, "iterations": 10}):
        with pytest.raises(ValueError, match="either seconds or iterations"):
            PyVRPBudget(**bad)


def test_op_mip_is_bounded_by_nodes_and_repeats_exactly(busy_cpu):
    """The MIP reference stops on branch-and-bound nodes, not time: cut short, it reports the
    instance unproved and gives the same incumbent under load; given the reference's node limit
    it proves the instance, and the reference names that limit."""
    from mobench.problems.routing import OP_MIP_NODES
    from mobench.problems.routing.op import op_mip
    p = mobench.make("routing/op-v0:N=10,count=4")
    inst = p.instances()[0]
    cut = op_mip(inst, max_nodes=5)
    with busy_cpu():
        again = op_mip(inst, max_nodes=5)
    full = op_mip(inst)
    assert not cut[2] and cut == again
    assert full[2] and full[0] >= cut[0]
    assert f"at most {OP_MIP_NODES} nodes" in p.reference().source


def test_op_verifier_masks_mip_and_greedy():
    from mobench.problems.routing.op import check_op_tour, op_length
    p = mobench.make("routing/op-v0:N=10,count=4")
    inst = p.instances()[0]
    for bad in ([0, 1], [1, 1], [11], [1.5], "a"):
        with pytest.raises(InvalidSolution):
            check_op_tour(bad, inst)
    every = list(range(1, 11))
    assert op_length(inst, every) > inst.max_length and not check_op_tour(every, inst)[1]  # over budget
    gen = torch.Generator().manual_seed(1)
    b = p.batch()
    while not b.done.all():
        b.step(torch.multinomial(b.mask().float(), 1, generator=gen)[:, 0])
    ref = p.reference()
    assert ref.kind == "optimal"  # N = 10: the MIP proves every instance
    assert mobench.make("routing/op-v0:N=20,count=4").reference_kind() == "best-known"  # above: PyVRP
    greedy = mobench.make_solver("greedy-prize").solve(p, Clock(Budget(seconds=60)), 0, Log()).solutions
    for i, (rnd, gr) in enumerate(zip(b.solutions(), greedy)):
        for sol in (rnd, gr):
            (prize,), _, ok = p.verify(i, sol)
            assert ok and prize <= ref.value[i] + 1e-9  # feasible, and never above the proved optimum
    rep = check_problem("routing/op-v0:N=10,count=4")
    assert rep.ok, "\n".join(rep.lines)
    assert check_solver("greedy-prize", "routing/op-v0:N=10,count=4").ok


# --- CVRPLIB files -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["A-n32-k5", "A-n33-k5"])
def test_cvrplib_optimal_solutions_score_exactly_their_published_cost(name):
    """The library's optimal routes, scored by the engine under the EUC_2D nint rule (the
    library's), give exactly the published optimum: gap 0 against the `optimal` reference.
    Without the rounding the same routes are longer (the convention matters)."""
    from mobench.problems.routing import CVRPLIB_OPTIMA, read_cvrplib_solution, routes_length
    problem = mobench.make("routing/cvrp-v0", instance=name)
    routes, cost = read_cvrplib_solution(DATA / f"{name}.sol")
    ev = mobench.evaluate(problem, [routes])
    assert cost == CVRPLIB_OPTIMA[name]
    assert ev.summary["obj:length"] == cost and ev.summary["gap_pct"] == 0.0 and ev.summary["feasible"]
    assert ev.summary["reference_kind"] == "optimal"
    inst = problem.instances()[0]
    plain = routes_length(type(inst)(inst.coords, inst.demand, inst.capacity), routes)
    assert plain != cost and abs(plain / cost - 1) < 0.02
    # the batched BQ-MDP measures the same length along the same routes
    b = problem.batch()
    for r in routes:
        for k, c in enumerate(r):
            b.step([c - 1 + (b.N if k == 0 and b.current.item() != 0 else 0)])
    assert float(b.length[0]) == cost
    # CVRPLIB keys name the instance; generated sets keep the keys they had
    assert problem.key == f"routing/cvrp-v0:instance={name}"
    assert mobench.make("routing/cvrp-v0:N=20,count=8").key == "routing/cvrp-v0:N=20,count=8"


@pytest.mark.parametrize("name", ["X-n101-k25", "X-n106-k14"])
def test_cvrplib_x_best_known_solutions_score_exactly_their_stated_cost(name):
    """The shipped X instances (Uchoa et al.): the best-known routes of the shipped .sol, scored
    by the engine under the EUC_2D nint rule, give exactly the cost the file states, which is
    the reference (kind best-known: the files state no optimum)."""
    from mobench.problems.routing import CVRPLIB_BEST_KNOWN, read_cvrplib_solution
    problem = mobench.make("routing/cvrp-v0", instance=name)
    routes, cost = read_cvrplib_solution(DATA / f"{name}.sol")
    assert cost == CVRPLIB_BEST_KNOWN[name]
    assert problem.reference_kind() == "best-known"
    ev = mobench.evaluate(problem, [routes])
    assert ev.summary["obj:length"] == cost and ev.summary["gap_pct"] == 0.0 and ev.summary["feasible"]
    inst = problem.instances()[0]
    assert inst.n == int(name.split("-")[1][1:]) - 1 and sum(len(r) for r in routes) == inst.n
    with pytest.raises(InstanceFileError, match="'X-n999-k1' is neither a shipped CVRPLIB instance .*X-n101-k25.* nor a file"):
        mobench.make("routing/cvrp-v0", instance="X-n999-k1")


def _write_vrp(path, *, capacity="100", demand_section=True, big=False, name="TEST"):
    src = (DATA / "A-n32-k5.vrp").read_text().replace("NAME : A-n32-k5", f"NAME : {name}")
    if capacity is None:
        src = "\n".join(l for l in src.splitlines() if not l.startswith("CAPACITY"))
    if not demand_section:
        head, rest = src.split("DEMAND_SECTION")
        src = head + "DEPOT_SECTION" + rest.split("DEPOT_SECTION")[1]
    if big:
        src = src.replace("\n2 19 \n", "\n2 190 \n")
    path.write_text(src)
    return path


@pytest.mark.parametrize("kwargs, message", [
    ({"demand_section": False}, "no DEMAND_SECTION"),
    ({"capacity": None}, "no CAPACITY"),
    ({"big": True}, "demands 190, above the capacity 100"),
])
def test_malformed_cvrplib_files_get_one_message(tmp_path, kwargs, message):
    path = _write_vrp(tmp_path / "bad.vrp", **kwargs)
    with pytest.raises(mobench.MobenchError, match=message):
        mobench.make("routing/cvrp-v0", instance=str(path))


def test_cvrplib_file_without_a_known_optimum_gets_a_pyvrp_reference_by_the_same_rule(tmp_path):
    """A file the suite has no optimum for: PyVRP's best-known routes, measured by the same
    rounded distances, cannot beat the proved optimum of the same instance and stay near it."""
    path = _write_vrp(tmp_path / "copy.vrp")
    problem = mobench.make("routing/cvrp-v0", instance=str(path))
    assert problem.reference_kind() == "best-known"
    ref = problem.reference()
    assert ref.kind == "best-known" and 784 <= ref.value[0] <= 784 * 1.02
    assert ref.value[0] == int(ref.value[0])  # a sum of rounded distances
