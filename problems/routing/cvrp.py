"""The CVRP as a BQ-MDP (Drakulic et al., NeurIPS 2023): the state is the unvisited customers,
the current node and the remaining capacity; each customer offers two actions, going to it
directly or through the depot (which refills the vehicle); direct moves are masked when the
customer's demand exceeds the remaining capacity. Batched in torch (``CVRPBatch``), a
Gymnasium view (``CVRPEnv``), the verifier, and the PyVRP (iterated local search) reference.

A solution is a list of routes (each a list of customer ids 1..N), or one flat sequence in
which 0 marks a return to the depot.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from ...errors import InvalidAction, InvalidSolution
from .instances import CVRPInstance, as_indices, tour_length
from .view import OneInstanceView


def as_routes(solution, n: int) -> list[np.ndarray]:
    """Normalise a solution to a list of non-empty routes of customer ids (1..n)."""
    try:
        nested = len(solution) and all(np.ndim(r) == 1 for r in solution)
    except TypeError:
        nested = False
    what = "a CVRP answer (a list of routes or one flat sequence)"
    flat = ([x for r in solution for x in [0, *as_indices(r, what)]] if nested
            else list(as_indices(solution, what)))
    routes, cur = [], []
    for x in flat + [0]:
        if x == 0:
            if cur:
                routes.append(np.array(cur))
            cur = []
        else:
            cur.append(x)
    seen = np.concatenate(routes) if routes else np.zeros(0, int)
    if len(seen) != n or (np.sort(seen) != np.arange(1, n + 1)).any():
        raise InvalidSolution(f"every customer 1..{n} must be visited exactly once")
    return routes


def routes_length(instance: CVRPInstance, routes) -> float:
    """Sum of the closed tours depot -> route -> depot, under the instance's distance rule."""
    return sum(tour_length(instance.coords, np.concatenate([[0], r]), instance.rounding) for r in routes)


def check_routes(solution, instance: CVRPInstance) -> tuple[list[np.ndarray], bool]:
    """-> (routes, every route within capacity)."""
    routes = as_routes(solution, instance.n)
    return routes, all(int(instance.demand[r].sum()) <= instance.capacity for r in routes)


class CVRPBatch:
    """B instances of N customers. Actions 0..N-1: customer a + 1 directly; N..2N-1: customer
    a - N + 1 through the depot (not offered at the depot, where it equals the direct move)."""

    def __init__(self, coords, demand, capacity, device="cpu", rounding: str = "none"):
        self.coords = torch.as_tensor(coords, dtype=torch.float64, device=device)
        self.rounding = rounding
        self.demand = torch.as_tensor(demand, dtype=torch.long, device=device)
        self.B, n1, _ = self.coords.shape
        self.N = n1 - 1
        self.capacity = int(capacity)
        self.rows = torch.arange(self.B, device=device)
        self.current = torch.zeros(self.B, dtype=torch.long, device=device)
        self.left = torch.full((self.B,), self.capacity, dtype=torch.long, device=device)
        self.visited = torch.zeros(self.B, n1, dtype=torch.bool, device=device)
        self.visited[:, 0] = True
        self.length = torch.zeros(self.B, dtype=torch.float64, device=device)
        self.sequence = []  # per step [B]: the node visited, 0 for a depot return

    @property
    def done(self) -> bool:
        return bool(self.visited.all())

    def mask(self) -> torch.Tensor:
        """[B, 2N]."""
        open_ = ~self.visited[:, 1:]
        direct = open_ & (self.demand[:, 1:] <= self.left[:, None])
        via = open_ & (self.current != 0)[:, None]
        return torch.cat([direct, via], dim=1)

    def _dist(self, a, b):
        d = (self.coords[self.rows, a] - self.coords[self.rows, b]).norm(dim=-1)
        return torch.floor(d + 0.5) if self.rounding == "euc2d" else d

    def step(self, action) -> torch.Tensor:
        if self.done:
            raise InvalidAction("every customer is served")
        a = torch.as_tensor(action, dtype=torch.long, device=self.coords.device).reshape(self.B)
        if ((a < 0) | (a >= 2 * self.N)).any() or not self.mask()[self.rows, a].all():
            raise InvalidAction("an action serves a served customer, exceeds the capacity or is no action")
        via = a >= self.N
        node = torch.where(via, a - self.N, a) + 1
        depot = torch.zeros_like(node)
        add = torch.where(via, self._dist(self.current, depot) + self._dist(depot, node), self._dist(self.current, node))
        self.left = torch.where(via, torch.full_like(self.left, self.capacity), self.left) - self.demand[self.rows, node]
        self.visited[self.rows, node] = True
        self.sequence.append(torch.where(via, -node, node))  # negative: reached through the depot
        self.current = node
        if self.done:
            add = add + self._dist(node, depot)
        self.length += add
        return add

    def solutions(self) -> list[list[int]]:
        """Flat sequences with 0 for each depot return."""
        seq = torch.stack(self.sequence, 1).cpu().numpy() if self.sequence else np.zeros((self.B, 0), int)
        out = []
        for row in seq:
            flat = []
            for x in row:
                if x < 0:
                    flat.append(0)
                flat.append(abs(int(x)))
            out.append(flat)
        return out


class CVRPEnv(OneInstanceView):
    """Gymnasium view of one instance: observation ``nodes`` [N + 1, 3] (x, y, demand / capacity),
    ``current`` (one-hot [N + 1]), ``remaining`` [1] (capacity left / capacity),
    ``action_mask`` [2N]; reward: minus the distance travelled; the final info holds the routes."""
    reward_sign = -1.0

    def __init__(self, instance: CVRPInstance):
        super().__init__()
        self.instance, N = instance, instance.n
        self.action_space = gym.spaces.Discrete(2 * N)
        self.observation_space = gym.spaces.Dict({
            "nodes": gym.spaces.Box(-np.inf, np.inf, (N + 1, 3), np.float32),
            "current": gym.spaces.MultiBinary(N + 1),
            "remaining": gym.spaces.Box(0.0, 1.0, (1,), np.float32),
            "action_mask": gym.spaces.MultiBinary(2 * N),
        })

    def _new_batch(self):
        inst = self.instance
        return CVRPBatch(inst.coords[None], inst.demand[None], inst.capacity, rounding=inst.rounding)

    def _obs(self):
        inst, b = self.instance, self.batch
        cur = np.zeros(inst.n + 1, np.int8)
        cur[int(b.current[0])] = 1
        nodes = np.concatenate([inst.coords, (inst.demand / inst.capacity)[:, None]], 1).astype(np.float32)
        return {"nodes": nodes, "current": cur,
                "remaining": np.array([float(b.left[0]) / inst.capacity], np.float32),
                "action_mask": b.mask()[0].numpy().astype(np.int8)}


def pyvrp_routes(instance: CVRPInstance, seconds: float | None = None, seed: int = 0,
                 iterations: int | None = None) -> list[list[int]]:
    """PyVRP (Wouda, Lan, Kool 2024; version 0.14 runs an iterated local search, earlier ones
    hybrid genetic search) within ``seconds`` or ``iterations`` (exactly one: an iteration
    budget gives the same routes on any machine under any load, a time budget does not);
    distances in units of 1e-6 (PyVRP takes integers), or the integer EUC_2D distances themselves
    for a rounded (CVRPLIB) instance."""
    from pyvrp import Model
    xy, n = instance.coords, instance.n
    m = Model()
    locs = [m.add_location(x=float(x), y=float(y)) for x, y in xy]
    m.add_vehicle_type(num_available=n, capacity=int(instance.capacity))
    m.add_depot(locs[0])
    for i in range(1, n + 1):
        m.add_client(locs[i], delivery=int(instance.demand[i]))
    d = instance.distances()
    d = (d if instance.rounding == "euc2d" else np.rint(1e6 * d)).astype(np.int64)
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            m.add_edge(a, b, distance=int(d[i, j]))
    budget = PyVRPBudget(seconds, iterations)
    try:
        res = solve_feasible(m, budget, seed, factors=(1,))
    except RuntimeError:
        # PyVRP caps its penalty per unit of excess load (max_penalty, 1e5 by default) while the
        # distances are in units of 1e-6, so on some instances an overloaded route saves more
        # than the capped penalty costs and the search ends infeasible however long it runs (the
        # N = 20 test set's reference failed so, after 1 + 4 + 16 s on one instance; instances
        # 554 and 727 are still overloaded at 4 s); with the cap raised they fit within 0.1 s.
        from pyvrp import PenaltyParams, SolveParams
        res = solve_feasible(m, budget, seed, SolveParams(penalty=PenaltyParams(max_penalty=1e12)))
    return [[a.idx + 1 for a in route if a.is_client()] for route in res.best.routes()]  # client idx is 0-based


@dataclass(frozen=True)
class PyVRPBudget:
    """How long one PyVRP search runs: wall-clock ``seconds`` (training data, where speed
    matters more than repeatability) or ``iterations`` (references: the same answer anywhere)."""
    seconds: float | None = None
    iterations: int | None = None

    def __post_init__(self):
        if (self.seconds is None) == (self.iterations is None):
            raise ValueError("give PyVRP either seconds or iterations, not both or neither")

    def scaled(self, factor: float):
        """PyVRP's stopping criterion for ``factor`` times this budget."""
        from pyvrp.stop import MaxIterations, MaxRuntime
        if self.iterations is not None:
            return MaxIterations(int(round(factor * self.iterations)))
        return MaxRuntime(factor * self.seconds)

    def __str__(self) -> str:
        return f"{self.iterations} iterations" if self.iterations is not None else f"{self.seconds:g} s"


def solve_feasible(model, budget: PyVRPBudget, seed: int = 0, params=None, factors=(1, 4, 16)):
    """``model.solve`` (a pyvrp Model) within ``budget``, again with 4x and 16x that budget
    (``factors``) when the best solution found is infeasible: a wall-clock limit on a busy
    machine can end the search before its penalties have driven it to a feasible solution (seen
    at N = 50, 1 s, three processes on two cores). -> PyVRP's result; RuntimeError when still
    infeasible."""
    import warnings
    for f in factors:
        with warnings.catch_warnings():  # its penalty-bound warning is advice, not an error
            warnings.simplefilter("ignore")
            res = model.solve(stop=budget.scaled(f), display=False, seed=seed,
                              **({} if params is None else {"params": params}))
        if res.is_feasible():
            return res
    raise RuntimeError(f"PyVRP found no feasible solution within {sum(factors)} x {budget}")
