"""bq-nco (TSP, CVRP, OP; knapsack in between): the imitation targets, the decoders' answers, and that training learns."""
import numpy as np
import pytest
import torch

import mobench
from mobench.problems.routing import TSPInstance, lkh_tour
from mobench.problems.routing.instances import tsp_test_set, tour_length
from mobench.solvers.bq_nco.tsp import BQModel, decode, sub_problem, train

torch.set_num_threads(1)
CFG = dict(lr=1e-3, batch=64)


def test_sub_problem_tokens_follow_the_tour():
    coords = torch.rand(2, 6, 2)
    tours = torch.tensor([[0, 3, 1, 5, 2, 4], [0, 1, 2, 3, 4, 5]])
    sub = sub_problem(coords, tours, 2, torch.tensor([False, True]))
    # forward: origin 1, destination 0, next 5; reversed [0, 5, 4, 3, 2, 1]: origin 4, next 3
    assert torch.equal(sub[0, 0], coords[0, 1]) and torch.equal(sub[0, 2], coords[0, 5])
    assert torch.equal(sub[1, 0], coords[1, 4]) and torch.equal(sub[1, 2], coords[1, 3])
    assert all(torch.equal(sub[i, 1], coords[i, 0]) for i in range(2)) and sub.shape == (2, 5, 2)


def _imitation_loss(model, coords: torch.Tensor, tours: torch.Tensor) -> float:
    """Mean cross-entropy of the next node over every sub-path of ``tours`` (forward): a fixed
    measure, unlike the loss of one random training batch, which swings with its sub-path size."""
    model.eval()
    forward, first = torch.zeros(len(tours), dtype=torch.bool), torch.zeros(len(tours), dtype=torch.long)
    with torch.no_grad():  # the next node is the first of the rest: target 0
        loss = np.mean([float(torch.nn.functional.cross_entropy(model(sub_problem(coords, tours, k, forward)), first))
                        for k in range(tours.shape[1] - 2)])
    model.train()
    return loss


def test_training_learns_and_decoders_return_tours():
    torch.manual_seed(0)
    n = 10
    coords = tsp_test_set(n, 300, 5)
    tours = np.stack([lkh_tour(TSPInstance("t", c), runs=1) for c in coords])
    test_np = tsp_test_set(n, 64, 6)
    test_tours = torch.as_tensor(np.stack([lkh_tour(TSPInstance("t", c), runs=1) for c in test_np]))
    test = torch.as_tensor(test_np, dtype=torch.float32)
    model = BQModel(d_model=32, heads=4, layers=2, ff=64)
    before = _imitation_loss(model, test, test_tours)
    losses = []
    train(model, torch.as_tensor(coords, dtype=torch.float32), torch.as_tensor(tours), 300.0, CFG, 0,
          log=lambda u, loss: losses.append(loss), max_updates=800)  # a fixed amount of work
    assert len(losses) == 16
    assert _imitation_loss(model, test, test_tours) < 0.8 * before  # held-out imitation loss falls
    model.eval()
    greedy, beam = decode(model, test, 1), decode(model, test, 4)
    for t in torch.cat([greedy, beam]).numpy():
        assert sorted(t) == list(range(n)) and t[0] == 0
    ref = np.mean([tour_length(c, lkh_tour(TSPInstance("t", c))) for c in test.double().numpy()])
    rnd = np.mean([tour_length(c, np.random.default_rng(i).permutation(n)) for i, c in enumerate(test.double().numpy())])
    got = np.mean([tour_length(c, t) for c, t in zip(test.double().numpy(), greedy.numpy())])
    assert ref <= got < 0.5 * (ref + rnd)  # well past halfway from random tours to LKH's


def test_solver_contract():
    from mobench.check import check_solver
    rep = check_solver("bq-nco", "routing/tsp-v0:N=10,count=8", seconds=20)
    assert rep.ok, "\n".join(rep.lines)
    out = mobench.make_solver("bq-nco:checkpoint=none,d_model=32,heads=4,layers=2,ff=64,beam=2")
    assert out.beam == 2


def test_shipped_checkpoint_gap():
    """The shipped TSP model (solvers/data/bq-nco-tsp.pt), scored by the engine on the first 32
    instances of the N = 50 test set: greedy gap 1.57% when shipped (2.5% before its fine-tuning
    at N = 50); fails above 2.5%."""
    from mobench.evaluate import evaluate
    from mobench.solver import Budget
    from mobench.solvers.bq_nco.tsp import SHIPPED
    assert SHIPPED.exists(), "the trained TSP model must ship with the package"
    problem = mobench.make("routing/tsp-v0:N=50,count=32")
    out = mobench.make_solver("bq-nco").solve(problem, Budget(seconds=60), 0, None)
    assert out.info["policy"].startswith("bq-nco-tsp.pt (trained at N=100") and "then at N=50" in out.info["policy"]
    assert evaluate(problem, out.solutions).summary["gap_pct"] < 2.5


def test_knn_restriction_picks_among_the_nearest_and_is_off_above_n():
    """With knn >= N - 1 decoding is unchanged; with knn = 4 every greedy step goes to one of
    the 4 unvisited nodes nearest to the current node, and the tours are permutations."""
    from mobench.solvers.bq_nco.tsp import SHIPPED, load_model
    torch.manual_seed(0)
    model, _ = load_model(SHIPPED)
    coords = torch.rand(6, 30, 2)
    with torch.no_grad():
        plain, wide = decode(model, coords), decode(model, coords, knn=29)
        np.testing.assert_array_equal(decode(model, coords, beam=4), decode(model, coords, beam=4, knn=40))
        near = decode(model, coords, knn=4)
    np.testing.assert_array_equal(plain, wide)
    for xy, tour in zip(coords.numpy(), near.numpy()):
        assert sorted(tour) == list(range(30)) and tour[0] == 0
        for s in range(1, 29):
            left = tour[s:]  # unvisited before step s
            d = np.linalg.norm(xy[left] - xy[tour[s - 1]], axis=1)
            assert d[0] <= np.sort(d)[min(3, len(d) - 1)] + 1e-6  # the chosen node is among the 4 nearest
    assert (near != plain).any()  # the restriction changes some tours


def test_dihedral_symmetries_keep_tour_lengths():
    from mobench.solvers.bq_nco.common import dihedral
    coords = torch.rand(8, 12, 2, dtype=torch.float64)
    tour = np.random.default_rng(0).permutation(12)
    moved = dihedral(coords, torch.arange(8))
    assert len({tuple(m.flatten().tolist()) for m in moved[:, :3]}) == 8  # 8 distinct maps
    for c, m in zip(coords.numpy(), moved.numpy()):
        assert abs(tour_length(c, tour) - tour_length(m, tour)) < 1e-9
        assert m.min() >= 0 and m.max() <= 1


# --- knapsack model (solvers/bq_nco/knapsack.py) -------------------------------------------------

def _pool(n, count, seed):
    from mobench.solvers.bq_nco.knapsack import training_pool
    w, v, s, cap = training_pool(n, count, seed)
    return torch.as_tensor(w), torch.as_tensor(v, dtype=torch.float32), torch.as_tensor(s), cap, v


def test_knapsack_optimal_sets_equal_the_dp_optimum():
    from mobench.problems.routing.instances import knapsack_test_set
    from mobench.problems.routing.knapsack import knapsack_dp
    from mobench.solvers.bq_nco.knapsack import optimal_sets
    insts = knapsack_test_set(80, 12, 3)  # total weight ~40 against capacity 25: it binds
    w = np.stack([i.int_weights()[0] for i in insts])
    v = np.stack([i.values for i in insts])
    cap = insts[0].int_weights()[1]
    sets = optimal_sets(w, v, cap)
    assert ((w * sets).sum(1) <= cap).all()
    assert np.allclose((v * sets).sum(1), [knapsack_dp(i) for i in insts], rtol=0, atol=1e-5)


def test_knapsack_sub_problem_targets_are_optimal_for_the_sub_problem():
    """The rest of an optimal set is an optimal answer of the remaining sub-problem (the
    principle of optimality the multi-label imitation rests on): checked by DP on each one."""
    from mobench.problems.routing.instances import KnapsackInstance, WEIGHT_UNITS
    from mobench.problems.routing.knapsack import knapsack_dp
    from mobench.solvers.bq_nco.knapsack import sub_problems
    W, V, S, cap, _ = _pool(40, 24, 4)
    feats, pad, target, left = sub_problems(W, V, S, cap, torch.Generator().manual_seed(0))
    assert (target & ~pad).equal(target) and target.any(1).all()
    assert (left >= 0).all() and (left < cap).any()  # some rows have items taken
    for f, p, t, c in zip(feats, pad, target, left):
        w = torch.round(f[~p, 0].double() * WEIGHT_UNITS).numpy() / WEIGHT_UNITS
        v = f[~p, 1].double().numpy()
        assert (w * WEIGHT_UNITS <= int(c) + 1e-6).all()  # every remaining token fits
        sub = KnapsackInstance(w, v, int(c) / WEIGHT_UNITS)
        assert abs(knapsack_dp(sub) - v[t[~p].numpy()].sum()) < 1e-5


def test_knapsack_training_learns_and_greedy_answers_are_maximal():
    from mobench.solvers.bq_nco.knapsack import KPModel, decode, set_loss, sub_problems, train
    torch.manual_seed(0)
    W, V, S, cap, _ = _pool(60, 400, 5)
    Wt, Vt, St, _, v = _pool(60, 64, 6)
    model = KPModel(d_model=32, heads=4, layers=2, ff=64)

    def held_out_loss():  # the imitation loss on fixed sub-problems of the held-out instances
        gen = torch.Generator().manual_seed(0)
        model.eval()
        with torch.no_grad():
            parts = [sub_problems(Wt, Vt, St, cap, gen) for _ in range(4)]
            loss = np.mean([float(set_loss(model(f, pad), target)) for f, pad, target, _ in parts])
        model.train()
        return loss
    before, losses = held_out_loss(), []
    train(model, W, V, S, cap, 300.0, {"lr": 2e-3, "batch": 64}, 0, max_updates=400,
          log=lambda u, loss: losses.append(loss))
    assert len(losses) == 8 and held_out_loss() < 0.7 * before
    taken = decode(model.eval(), Wt, Vt, cap)
    left = cap - (Wt * taken).sum(1)
    assert (left >= 0).all()                                 # feasible, in exact units
    assert not ((~taken) & (Wt <= left[:, None])).any()      # maximal: nothing else fits
    got, opt = (Vt * taken).sum(1), (Vt * St).sum(1)
    rnd = []  # items in random order, each taken when it fits
    for i, (wi, vi) in enumerate(zip(Wt.numpy(), v)):
        room, val = cap, 0.0
        for j in np.random.default_rng(i).permutation(60):
            if wi[j] <= room:
                room, val = room - wi[j], val + vi[j]
        rnd.append(val)
    assert (got <= opt + 1e-4).all()
    assert got.mean() > opt.mean() - 0.1 * (opt.mean() - np.mean(rnd))  # 90% of the way from random


def test_knapsack_solver_contract_and_beam_error():
    from mobench.check import check_solver
    from mobench.errors import MobenchError
    from mobench.solver import Budget
    rep = check_solver("bq-nco", "routing/knapsack-v0:N=50,count=8", seconds=30)
    assert rep.ok, "\n".join(rep.lines)
    problem = mobench.make("routing/knapsack-v0:N=50,count=4")
    try:
        mobench.make_solver("bq-nco:beam=4").solve(problem, Budget(seconds=30), 0, None)
    except MobenchError as e:
        assert "beam search is implemented for the TSP, the CVRP and the OP only" in str(e)
    else:
        raise AssertionError("beam > 1 on knapsack must be refused")


def test_shipped_knapsack_checkpoint_gap():
    """The shipped knapsack model (solvers/data/bq-nco-knapsack.pt), scored by the engine on the
    first 16 instances of the N = 200 test set: gap 0.063% when shipped (the value / weight rule
    0.079%); fails above the issue's target of 0.1%."""
    from mobench.evaluate import evaluate
    from mobench.solver import Budget
    from mobench.solvers.bq_nco.knapsack import SHIPPED
    assert SHIPPED.exists(), "the trained knapsack model must ship with the package"
    problem = mobench.make("routing/knapsack-v0:N=200,count=16")
    out = mobench.make_solver("bq-nco").solve(problem, Budget(seconds=120), 0, None)
    assert out.info["policy"].startswith("bq-nco-knapsack.pt (trained at N=200")
    assert evaluate(problem, out.solutions).summary["gap_pct"] < 0.1


# --- CVRP ---------------------------------------------------------------------------------------

def test_cvrp_targets_are_allowed_and_shuffled_routes_keep_length_and_loads():
    from mobench.problems.routing.cvrp import CVRPBatch, routes_length
    from mobench.problems.routing.instances import CVRPInstance
    from mobench.solvers.bq_nco import cvrp as cv
    n = 12
    z = cv.training_pool(n, 6, 99, 1, 0.1)
    pool = {k: torch.as_tensor(v) for k, v in z.items()}
    cap = int(z["capacity"])
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):  # every target is an allowed action of its sub-problem
        toks, mask, target = cv.sub_problems(pool["coords"], pool["demand"], pool["seq"], pool["route"], cap, gen)
        m = toks.shape[1] - 2
        assert mask.shape == (6, 2 * m) and mask[torch.arange(6), target].all()
        assert (toks[:, 0, 2] >= 0).all() and (toks[:, 0, 2] <= 1).all()  # the capacity left, as a share
    for _ in range(5):  # routes in a random order and direction: the same length, every load within capacity
        order, starts = cv.shuffle_routes(pool["seq"], pool["route"], gen)
        env = CVRPBatch(z["coords"], z["demand"], cap)
        for k in range(n):  # CVRPBatch refuses a move over capacity
            env.step(order[:, k] - 1 + (starts[:, k] & (k > 0)).long() * n)
        for b in range(6):
            routes = [z["seq"][b][z["route"][b] == r] for r in np.unique(z["route"][b])]
            inst = CVRPInstance(z["coords"][b].astype(float), z["demand"][b], cap)
            assert abs(float(env.length[b]) - routes_length(inst, routes)) < 1e-4


def test_cvrp_training_learns_and_greedy_solutions_are_feasible():
    from mobench.problems.routing.cvrp import check_routes, routes_length
    from mobench.problems.routing.instances import cvrp_test_set
    from mobench.solvers.bq_nco import cvrp as cv
    torch.manual_seed(0)
    z = cv.training_pool(10, 100, 7, 1, 0.05)
    pool = {k: torch.as_tensor(v) for k, v in z.items()}
    model = cv.CVRPModel(d_model=32, heads=4, layers=2, ff=64)
    test = cvrp_test_set(10, 32, 8)

    def mean_length(m, beam=1):
        sols = cv.solve_instances(m.eval(), test, beam)
        out = []
        for inst, s in zip(test, sols):
            routes, fits = check_routes(s, inst)
            assert fits  # every route within capacity
            out.append(routes_length(inst, routes))
        return np.mean(out)
    @torch.no_grad()
    def held_out_loss(m):  # the same 20 batches of sub-problems (sizes differ, so single batches are noisy)
        gen, total = torch.Generator().manual_seed(123), 0.0
        for _ in range(20):
            toks, mask, target = cv.sub_problems(pool["coords"], pool["demand"], pool["seq"], pool["route"],
                                                 int(z["capacity"]), gen)
            total += float(torch.nn.functional.cross_entropy(m.eval()(toks, mask), target))
        return total / 20
    untrained, loss0 = mean_length(model), held_out_loss(model)
    cv.train(model.train(), pool, 300.0, CFG, 0, max_updates=600)  # a fixed amount of work
    assert held_out_loss(model) < 0.8 * loss0  # imitation loss falls
    greedy = mean_length(model)
    assert greedy < 0.9 * untrained
    assert mean_length(model, beam=4) <= greedy  # the beam keeps the shortest of 4 likely solutions


def test_cvrp_greedy_decoding_steps_the_env_with_its_masks():
    from mobench.problems.routing.cvrp import CVRPBatch
    from mobench.problems.routing.instances import cvrp_test_set
    from mobench.solvers.bq_nco import cvrp as cv
    torch.manual_seed(1)
    model = cv.CVRPModel(d_model=32, heads=4, layers=2, ff=64).eval()
    insts = cvrp_test_set(12, 8, 3)
    coords, demand = np.stack([i.coords for i in insts]), np.stack([i.demand for i in insts])
    greedy = cv.decode(model, coords, demand, insts[0].capacity)
    env = CVRPBatch(coords, demand, insts[0].capacity)  # the same greedy moves, stepped in the env
    xy, n = env.coords.float(), env.N
    ar = torch.arange(len(insts))
    while not env.done:
        rest = torch.argsort(env.visited[:, 1:].float(), dim=1, stable=True)[:, :n - len(env.sequence)] + 1
        toks, mask = cv.tokens_and_mask(xy[:, 0], xy[ar, env.current], env.left,
                                        xy[ar[:, None], rest], env.demand.gather(1, rest), env.capacity, env.current == 0)
        env_mask = env.mask()
        m = rest.shape[1]
        assert torch.equal(mask, torch.cat([env_mask[ar[:, None], rest - 1], env_mask[ar[:, None], rest - 1 + n]], 1))
        a = model(toks, mask).argmax(1)
        env.step(rest[ar, a % m] - 1 + (a >= m).long() * n)
    assert env.solutions() == greedy


def test_cvrp_solver_contract_and_knn_error():
    from mobench.check import check_solver
    from mobench.errors import MobenchError
    from mobench.solver import Budget
    rep = check_solver("bq-nco", "routing/cvrp-v0:N=10,count=8", seconds=60)
    assert rep.ok, "\n".join(rep.lines)
    problem = mobench.make("routing/cvrp-v0:N=10,count=4")
    with pytest.raises(MobenchError, match="knn is implemented for the TSP only"):
        mobench.make_solver("bq-nco:knn=4").solve(problem, Budget(seconds=30), 0, None)


def test_shipped_cvrp_checkpoint_gap():
    """The shipped CVRP model (solvers/data/bq-nco-cvrp.pt), scored by the engine on the N = 50
    test set of 32 instances (PyVRP reference, about 40 s to compute when not cached): greedy
    gap 11.2% when shipped (beam-16 3.2%, Clarke-Wright 3.8%); fails above 14%."""
    from mobench.evaluate import evaluate
    from mobench.solver import Budget
    from mobench.solvers.bq_nco.cvrp import SHIPPED
    assert SHIPPED.exists(), "the trained CVRP model must ship with the package"
    problem = mobench.make("routing/cvrp-v0:N=50,count=32")
    out = mobench.make_solver("bq-nco").solve(problem, Budget(seconds=120), 0, None)
    assert out.info["policy"].startswith("bq-nco-cvrp.pt (trained at N=50")
    assert evaluate(problem, out.solutions).summary["gap_pct"] < 14.0


def test_op_pyvrp_reference_matches_the_proved_mip_and_fits_the_budget():
    from mobench.problems.routing.op import check_op_tour, op_mip, pyvrp_op
    p = mobench.make("routing/op-v0:N=10,count=4")
    for inst in p.instances():
        prize, _, proved = op_mip(inst)
        tour = pyvrp_op(inst, iterations=2000)  # the reference's count
        nodes, fits = check_op_tour(tour, inst)
        assert proved and fits and abs(float(inst.prize[nodes].sum()) - prize) < 1e-9


def test_op_targets_are_allowed_and_reversed_tours_keep_prize_and_budget():
    from mobench.problems.routing.op import OPBatch
    from mobench.solvers.bq_nco import op
    n = 12
    z = op.training_pool(n, 8, 99, 1, 0.1)
    pool = op.as_pool(z)
    gen = torch.Generator().manual_seed(0)
    ends = 0
    for _ in range(60):  # every target is allowed by the mask rebuilt from the tokens alone
        toks, mask, target = op.sub_problems(pool, 8, gen)
        m = toks.shape[1] - 2
        rebuilt = op.action_mask(toks[:, 1, :2], toks[:, 0, :2], toks[:, 0, 2], toks[:, 2:, :2])
        assert torch.equal(rebuilt, mask) and mask[torch.arange(8), target].all()
        ends += int((target == m).sum())
        # the origin's budget is never above the start's and the end is always allowed
        assert (toks[:, 0, 2] <= z["max_length"] + 1e-6).all() and mask[:, m].all()
    assert ends > 0  # "end the tour" is imitated too
    for reverse in (False, True):  # a tour read backwards: every move allowed, the same prize
        env = OPBatch(z["coords"], z["prize"], float(z["max_length"]))
        for k in range(n + 1):
            pos = np.where(reverse, z["size"] - 1 - k, k)
            nxt = np.where(k < z["size"], z["tour"][np.arange(8), np.clip(pos, 0, n - 1)], 0)
            env.step(torch.as_tensor(np.where(nxt > 0, nxt - 1, n)))  # OPBatch refuses a move over budget
        prize = [float(z["prize"][b][z["tour"][b][:z["size"][b]]].sum()) for b in range(8)]
        np.testing.assert_allclose(env.collected.numpy(), prize, atol=1e-5)


def test_op_greedy_decoding_steps_the_env_with_its_masks():
    from mobench.problems.routing.instances import op_test_set
    from mobench.problems.routing.op import OPBatch
    from mobench.solvers.bq_nco import op
    torch.manual_seed(1)
    model = op.OPModel(d_model=32, heads=4, layers=2, ff=64).eval()
    insts = op_test_set(12, 8, 3)
    coords, prize, L = np.stack([i.coords for i in insts]), np.stack([i.prize for i in insts]), insts[0].max_length
    greedy = op.decode(model, coords, prize, L)
    env = OPBatch(coords, prize, L)  # the same greedy moves, stepped in the env
    xy, n, ar = env.coords, env.N, torch.arange(len(insts))
    while not env.done.all():
        k = len(env.sequence)
        gone = env.visited.clone()
        for b in torch.nonzero(env.done)[:, 0]:  # ended rows drop nodes to keep one size, as decode does
            gone[b, torch.nonzero(~gone[b])[: k - int(env.visited[b].sum()) + 1, 0]] = True
        rest = torch.argsort(gone[:, 1:].float(), dim=1, stable=True)[:, :n - k] + 1
        mask = op.action_mask(xy[:, 0], xy[ar, env.current], env.left, xy[ar[:, None], rest])
        mask[env.done, :n - k] = False
        env_mask = env.mask()
        live = ~env.done
        assert torch.equal(mask[live], torch.cat([env_mask[ar[:, None], rest - 1], env_mask[:, n:]], 1)[live])
        a = model(op.tokens(xy[:, 0], xy[ar, env.current], env.left, xy[ar[:, None], rest], env.prize.gather(1, rest)),
                  mask).argmax(1)
        env.step(torch.where(a < n - k, rest[ar, a.clamp(max=max(n - k - 1, 0))] - 1, n))
    assert env.solutions() == greedy


def test_op_training_learns_and_beam_is_no_worse_than_greedy():
    from mobench.problems.routing.instances import op_test_set
    from mobench.problems.routing.op import check_op_tour
    from mobench.solvers.bq_nco import op
    torch.manual_seed(0)
    z = op.training_pool(10, 100, 7, 1, 0.05)
    pool = op.as_pool(z)
    model = op.OPModel(d_model=32, heads=4, layers=2, ff=64)
    test = op_test_set(10, 32, 8)

    def mean_prize(m, beam=1):
        out = []
        for inst, tour in zip(test, op.solve_instances(m.eval(), test, beam)):
            nodes, fits = check_op_tour(tour, inst)
            assert fits  # every tour within the budget
            out.append(float(inst.prize[nodes].sum()))
        return np.mean(out)

    @torch.no_grad()
    def held_out_loss(m):  # the same 20 batches of sub-problems
        gen, total = torch.Generator().manual_seed(123), 0.0
        for _ in range(20):
            toks, mask, target = op.sub_problems(pool, 64, gen)
            total += float(torch.nn.functional.cross_entropy(m.eval()(toks, mask), target))
        return total / 20
    untrained, loss0 = mean_prize(model), held_out_loss(model)
    op.train(model.train(), pool, 300.0, CFG, 0, max_updates=600)  # a fixed amount of work
    assert held_out_loss(model) < 0.8 * loss0
    greedy = mean_prize(model)
    assert greedy > 1.1 * untrained
    assert mean_prize(model, beam=4) >= greedy  # the beam keeps the best of 4 likely tours


def test_op_solver_contract():
    from mobench.check import check_solver
    rep = check_solver("bq-nco", "routing/op-v0:N=10,count=8", seconds=60)
    assert rep.ok, "\n".join(rep.lines)
    rep = check_solver("bq-nco:beam=4", "routing/op-v0:N=10,count=8", seconds=60)
    assert rep.ok, "\n".join(rep.lines)


def test_shipped_op_checkpoint_gap():
    """The shipped OP model (solvers/data/bq-nco-op.pt), scored by the engine on the N = 50 test
    set of 32 instances (PyVRP reference, about 35 s to compute when not cached): greedy gap
    9.1% when shipped (greedy-prize 21.0%); fails above 12%."""
    from mobench.evaluate import evaluate
    from mobench.solver import Budget
    from mobench.solvers.bq_nco.op import SHIPPED
    assert SHIPPED.exists(), "the trained OP model must ship with the package"
    problem = mobench.make("routing/op-v0:N=50,count=32")
    out = mobench.make_solver("bq-nco").solve(problem, Budget(seconds=120), 0, None)
    assert out.info["policy"].startswith("bq-nco-op.pt (trained at N=50")
    assert evaluate(problem, out.solutions).summary["gap_pct"] < 12.0


def test_fine_tuning_starts_from_an_exported_model_and_keeps_its_record(tmp_path):
    from mobench.solvers.bq_nco import knapsack as bq_nco_knapsack
    from mobench.solvers.bq_nco import tsp as bq_nco
    small = ["--d-model", "16", "--heads", "2", "--layers", "1", "--ff", "32", "--device", "cpu", "--batch", "8"]
    data = ["--n", "8", "--instances", "12", "--data", str(tmp_path / "tsp8.npz")]
    bq_nco.main([*data, *small, "--out", str(tmp_path / "a.ck"), "--seconds", "0.5", "--export", str(tmp_path / "a.pt")])
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    # --seconds 0: the export is the starting point; the export's architecture wins over the command line's
    bq_nco.main([*data, "--d-model", "32", "--device", "cpu", "--init", str(tmp_path / "a.pt"),
                 "--out", str(tmp_path / "b.ck"), "--seconds", "0", "--export", str(tmp_path / "b.pt")])
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert b["cfg"]["d_model"] == 16 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert b["state"]["updates"] == 0 and b["lineage"] == [
        {"file": "a.pt", **a["state"], **a["train"]}] and a["lineage"] == []
    # resuming the fine-tuning keeps the record; training moves the weights
    bq_nco.main([*data, "--device", "cpu", "--init", str(tmp_path / "a.pt"), "--out", str(tmp_path / "b.ck"),
                 "--seconds", "0.5", "--export", str(tmp_path / "c.pt")])
    c = torch.load(tmp_path / "c.pt", weights_only=True)
    assert c["lineage"] == b["lineage"] and c["state"]["updates"] > 0
    assert not all(torch.equal(a["model"][k], c["model"][k]) for k in a["model"])
    with pytest.raises(ValueError, match="is not a model of this trainer"):  # a TSP model into the knapsack trainer
        bq_nco_knapsack.main(["--n", "8", "--instances", "4", "--data", str(tmp_path / "kp.npz"), "--device", "cpu",
                              "--init", str(tmp_path / "a.pt"), "--out", str(tmp_path / "k.ck"), "--seconds", "0"])
