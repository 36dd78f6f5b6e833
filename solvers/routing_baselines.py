"""Constructive baselines for the routing family (``problems/routing``).

TSP: `nearest-neighbour` (all instances at once through the batched BQ-MDP), `cheapest-insertion`
and `farthest-insertion` (the classic insertion heuristics, Rosenkrantz, Stearns, Lewis 1977;
start from node 0 and its nearest (cheapest) or farthest (farthest) node, then insert each
chosen node where it lengthens the tour least), `two-opt` (2-opt local search to a local
optimum, best improvement per pass, from the nearest-neighbour tour).
CVRP: `clarke-wright` (parallel savings). OP: `greedy-prize` (the reachable node of most prize
per unit of length next). Knapsack: `greedy-ratio` (items by value / weight,
each taken when it fits).
Why written here: these are a few lines each in numpy; the PyPI packages that carry them
(e.g. python-tsp) loop in Python per move and are slower at the test-set sizes used here.
"""
from __future__ import annotations

import numpy as np
import torch

from ..problems.routing import CVRPView, KnapsackView, OPView, TSPView
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver


class _Routing(Solver):
    defaults: dict = {}
    default_budget = Budget(seconds=600)
    requires = (TSPView,)


def nearest_neighbour_tours(batch) -> np.ndarray:
    while not batch.done:
        d = batch.dist_from_current().masked_fill(~batch.mask(), float("inf"))
        batch.step(d.argmin(dim=1))
    return batch.tours.cpu().numpy()


class NearestNeighbour(_Routing):
    description = "nearest unvisited node next (batched over instances)"

    def solve(self, problem, clock, seed, log):
        return Outcome(solutions=list(nearest_neighbour_tours(problem.batch())))


def insertion_tour(d: np.ndarray, farthest: bool) -> np.ndarray:
    """Cheapest or farthest insertion on a distance matrix; -> tour starting at node 0."""
    n = len(d)
    start = int(np.argmax(d[0, 1:]) + 1) if farthest else int(np.argmin(d[0, 1:]) + 1)
    tour = [0, start]
    out = np.ones(n, bool)
    out[tour] = False
    near = np.minimum(d[0], d[start])  # distance of each node to the tour
    while out.any():
        cand = np.flatnonzero(out)
        if farthest:
            k = cand[np.argmax(near[cand])]
            t = np.array(tour)
            delta = d[t, k] + d[k, np.roll(t, -1)] - d[t, np.roll(t, -1)]
            pos = int(np.argmin(delta))
        else:  # the node and position of least added length over all pairs
            t = np.array(tour)
            nxt = np.roll(t, -1)
            delta = d[t][:, cand] + d[nxt][:, cand] - d[t, nxt][:, None]  # [len(tour), cand]
            pos, j = np.unravel_index(np.argmin(delta), delta.shape)
            k = cand[j]
        tour.insert(int(pos) + 1, int(k))
        out[k] = False
        near = np.minimum(near, d[k])
    return np.array(tour)


class Insertion(_Routing):
    farthest = False

    def solve(self, problem, clock, seed, log):
        tours = []
        for inst in problem.instances():
            tours.append(insertion_tour(inst.distances(), self.farthest))
            if clock.seconds_left <= 0:
                break
        return Outcome(solutions=tours)


class CheapestInsertion(Insertion):
    description = "cheapest insertion"


class FarthestInsertion(Insertion):
    description = "farthest insertion"
    farthest = True


def two_opt(tour: np.ndarray, d: np.ndarray, max_passes: int = 10_000) -> np.ndarray:
    """Best-improvement 2-opt: reverse the segment that shortens the tour most until none does."""
    t = tour.copy()
    n = len(t)
    i, j = np.triu_indices(n, 2)
    keep = ~((i == 0) & (j == n - 1))  # the two edges must not share a node
    i, j = i[keep], j[keep]
    for _ in range(max_passes):
        a, b, c, e = t[i], t[i + 1], t[j], t[(j + 1) % n]
        gain = d[a, b] + d[c, e] - d[a, c] - d[b, e]
        k = int(np.argmax(gain))
        if gain[k] <= 1e-10:
            break
        t[i[k] + 1:j[k] + 1] = t[i[k] + 1:j[k] + 1][::-1]
    return t


class TwoOpt(_Routing):
    description = "2-opt local search from the nearest-neighbour tour"

    def solve(self, problem, clock, seed, log):
        start = nearest_neighbour_tours(problem.batch())
        tours = []
        for inst, t in zip(problem.instances(), start):
            tours.append(two_opt(t, inst.distances()))
            if clock.seconds_left <= 0:
                break
        return Outcome(solutions=tours)


def clarke_wright(instance) -> list[list[int]]:
    """Parallel savings (Clarke and Wright 1964): start from one route per customer, merge route
    ends in decreasing order of the saving d(0,i) + d(0,j) - d(i,j) while the load fits."""
    dem, cap, n = instance.demand, instance.capacity, instance.n
    d = instance.distances()  # the instance's own rule (CVRPLIB files: rounded)
    i, j = np.triu_indices(n + 1, 1)
    keep = i > 0
    i, j = i[keep], j[keep]
    sav = d[0, i] + d[0, j] - d[i, j]
    order = np.argsort(-sav, kind="stable")
    route_of = list(range(n + 1))
    routes = {c: [c] for c in range(1, n + 1)}
    load = {c: int(dem[c]) for c in range(1, n + 1)}
    for k in order:
        if sav[k] <= 0:
            break
        a, b = int(i[k]), int(j[k])
        ra, rb = route_of[a], route_of[b]
        if ra == rb or load[ra] + load[rb] > cap:
            continue
        A, B = routes[ra], routes[rb]
        if A[-1] == a and B[0] == b:
            new = A + B
        elif A[0] == a and B[-1] == b:
            new = B + A
        elif A[-1] == a and B[-1] == b:
            new = A + B[::-1]
        elif A[0] == a and B[0] == b:
            new = A[::-1] + B
        else:  # a or b is inside its route
            continue
        routes[ra], load[ra] = new, load[ra] + load[rb]
        del routes[rb], load[rb]
        for c in B:
            route_of[c] = ra
    return list(routes.values())


class ClarkeWright(_Routing):
    description = "Clarke-Wright savings (parallel version)"
    requires = (CVRPView,)

    def solve(self, problem, clock, seed, log):
        return Outcome(solutions=[clarke_wright(inst) for inst in problem.instances()])


class GreedyPrize(_Routing):
    description = "next the reachable node of most prize per unit of length (batched over instances)"
    requires = (OPView,)

    def solve(self, problem, clock, seed, log):
        b = problem.batch()
        while not b.done.all():
            m = b.mask()
            ratio = b.prize[:, 1:] / b.dist_from_current()[:, 1:].clamp_min(1e-12)
            ratio = ratio.masked_fill(~m[:, :-1], -1.0)
            best = ratio.argmax(1)
            b.step(torch.where(ratio.max(1).values >= 0, best, torch.full_like(best, b.N)))
        return Outcome(solutions=b.solutions())


class GreedyRatio(_Routing):
    description = "items by value / weight, each taken when it fits (batched over instances)"
    requires = (KnapsackView,)

    def solve(self, problem, clock, seed, log):
        return Outcome(solutions=ratio_greedy(problem.batch()).solutions())


def ratio_greedy(b):
    """Fills a ``KnapsackBatch`` by value / weight, best first, each item taken when it fits;
    -> the batch."""
    order = torch.argsort(b.v / b.w, dim=1, descending=True)
    for k in range(b.N):
        item = order[:, k]
        fits = b.mask()[b.rows, item]
        if not fits.any():
            continue
        # instances where the item does not fit (or which are done) take nothing this round
        b.taken[b.rows[fits], item[fits]] = True
        b.left = b.left - torch.where(fits, b.w[b.rows, item], torch.zeros_like(b.left))
    return b


register_solver("nearest-neighbour", NearestNeighbour)
register_solver("cheapest-insertion", CheapestInsertion)
register_solver("farthest-insertion", FarthestInsertion)
register_solver("two-opt", TwoOpt)
register_solver("greedy-ratio", GreedyRatio)
register_solver("clarke-wright", ClarkeWright)
register_solver("greedy-prize", GreedyPrize)
