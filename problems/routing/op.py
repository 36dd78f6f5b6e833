"""The orienteering problem (OP) as a BQ-MDP (Drakulic et al., NeurIPS 2023; prizes as in Kool et
al. 2019): the state is the unvisited nodes, the current node and the remaining length budget;
an action visits a node (masked when the node could not be reached and left for the depot
within the budget) or returns to the depot, which ends the tour. Batched in torch (``OPBatch``),
a Gymnasium view (``OPEnv``), the verifier, the exact MIP (cvxpy + HiGHS, small N) and PyVRP's
iterated local search on it as a prize-collecting single-vehicle problem (the reference above N = 10).

A solution is the sequence of visited nodes (ids 1..N, depot excluded); the tour is depot ->
nodes -> depot and must fit the budget.
"""
from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import torch

from ...errors import InvalidAction, InvalidSolution
from .instances import OPInstance, as_indices, tour_length
from .view import OneInstanceView

TOL = 1e-9  # on the length budget


def op_length(instance: OPInstance, nodes) -> float:
    """Length of the closed tour depot -> nodes -> depot."""
    return tour_length(instance.coords, np.concatenate([[0], np.asarray(nodes, dtype=np.int64)]))


def check_op_tour(solution, instance: OPInstance) -> tuple[np.ndarray, bool]:
    """-> (visited nodes, within the length budget). Malformed answers raise InvalidSolution."""
    t = as_indices(solution, "an OP answer")
    if ((t < 1) | (t > instance.n)).any():
        raise InvalidSolution(f"node ids must be in 1..{instance.n} (the depot is implicit)")
    if len(np.unique(t)) != len(t):
        raise InvalidSolution("a node is visited twice")
    return t, op_length(instance, t) <= instance.max_length + TOL


class OPBatch:
    """B instances of N nodes. Actions 0..N-1 visit node a + 1; action N returns to the depot
    and ends the tour (instances already done only accept it)."""

    def __init__(self, coords, prize, max_length, device="cpu"):
        self.coords = torch.as_tensor(coords, dtype=torch.float64, device=device)
        self.prize = torch.as_tensor(prize, dtype=torch.float64, device=device)
        self.B, n1, _ = self.coords.shape
        self.N = n1 - 1
        self.rows = torch.arange(self.B, device=device)
        self.to_depot = (self.coords - self.coords[:, :1]).norm(dim=-1)  # [B, N + 1]
        self.left = torch.as_tensor(max_length, dtype=torch.float64, device=device).expand(self.B).clone()
        self.current = torch.zeros(self.B, dtype=torch.long, device=device)
        self.visited = torch.zeros(self.B, n1, dtype=torch.bool, device=device)
        self.visited[:, 0] = True
        self.ended = torch.zeros(self.B, dtype=torch.bool, device=device)
        self.collected = torch.zeros(self.B, dtype=torch.float64, device=device)
        self.sequence = []

    @property
    def done(self) -> torch.Tensor:
        return self.ended

    def dist_from_current(self) -> torch.Tensor:
        return (self.coords - self.coords[self.rows, self.current][:, None]).norm(dim=-1)

    def mask(self) -> torch.Tensor:
        """[B, N + 1]: reachable unvisited nodes, then the depot (always)."""
        reach = (self.dist_from_current() + self.to_depot <= self.left[:, None] + TOL) & ~self.visited
        reach[:, 0] = False
        nodes = reach[:, 1:] & ~self.ended[:, None]
        return torch.cat([nodes, torch.ones(self.B, 1, dtype=torch.bool, device=nodes.device)], 1)

    def step(self, action) -> torch.Tensor:
        a = torch.as_tensor(action, dtype=torch.long, device=self.coords.device).reshape(self.B)
        if ((a < 0) | (a > self.N)).any() or not self.mask()[self.rows, a].all():
            raise InvalidAction("an action visits a visited or unreachable node")
        go = (a < self.N) & ~self.ended
        node = torch.where(go, a + 1, self.current)
        step_len = self.dist_from_current()[self.rows, node]
        self.left = self.left - torch.where(go, step_len, torch.zeros_like(step_len))
        add = torch.where(go, self.prize[self.rows, node], torch.zeros_like(self.collected))
        self.visited[self.rows[go], node[go]] = True
        self.sequence.append(torch.where(go, node, torch.zeros_like(node)))
        self.current = node
        self.ended = self.ended | (a == self.N)
        self.collected += add
        return add

    def solutions(self) -> list[list[int]]:
        seq = torch.stack(self.sequence, 1).cpu().numpy() if self.sequence else np.zeros((self.B, 0), int)
        return [[int(x) for x in row if x > 0] for row in seq]


class OPEnv(OneInstanceView):
    """Gymnasium view of one instance: ``nodes`` [N + 1, 3] (x, y, prize), ``current`` (one-hot),
    ``remaining`` [1] (budget left), ``action_mask`` [N + 1] (the last action ends the tour);
    reward: the prize collected; the final info holds the visited nodes."""

    def __init__(self, instance: OPInstance):
        super().__init__()
        self.instance, N = instance, instance.n
        self.action_space = gym.spaces.Discrete(N + 1)
        self.observation_space = gym.spaces.Dict({
            "nodes": gym.spaces.Box(-np.inf, np.inf, (N + 1, 3), np.float32),
            "current": gym.spaces.MultiBinary(N + 1),
            "remaining": gym.spaces.Box(-np.inf, np.inf, (1,), np.float32),
            "action_mask": gym.spaces.MultiBinary(N + 1),
        })

    def _new_batch(self):
        inst = self.instance
        return OPBatch(inst.coords[None], inst.prize[None], inst.max_length)

    def _obs(self):
        inst, b = self.instance, self.batch
        cur = np.zeros(inst.n + 1, np.int8)
        cur[int(b.current[0])] = 1
        return {"nodes": np.concatenate([inst.coords, inst.prize[:, None]], 1).astype(np.float32),
                "current": cur, "remaining": np.array([float(b.left[0])], np.float32),
                "action_mask": b.mask()[0].numpy().astype(np.int8)}


# branch-and-bound nodes per MIP reference instance: a bound on work, not time (the same value anywhere)
OP_MIP_NODES = 200_000


def op_mip(instance: OPInstance, max_nodes: int = OP_MIP_NODES) -> tuple[float, list[int], bool]:
    """Exact MIP (cvxpy + HiGHS): arcs x_ij, visits y_i, Miller-Tucker-Zemlin subtour
    elimination; -> (prize, nodes in tour order, proved optimal). The search stops after
    ``max_nodes`` branch-and-bound nodes, not after a time, so an instance it does not prove
    gets the same best-known value on any machine (N = 10: at most 3,918 nodes, 3.5 s, over 40
    instances)."""
    import cvxpy as cp
    n = instance.n
    xy = instance.coords
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    x = cp.Variable((n + 1, n + 1), boolean=True)
    y = cp.Variable(n + 1, boolean=True)
    u = cp.Variable(n + 1)
    cons = [cp.diag(x) == 0, y[0] == 1,
            cp.sum(x, axis=1) == y, cp.sum(x, axis=0) == y,   # leave and enter each visited node once
            cp.sum(cp.multiply(d, x)) <= instance.max_length,
            u[1:] >= 1, u[1:] <= n]
    i, j = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1), indexing="ij")
    off = i != j
    cons.append(u[i[off]] - u[j[off]] + n * cp.hstack([x[a, b] for a, b in zip(i[off], j[off])]) <= n - 1)
    prob = cp.Problem(cp.Maximize(instance.prize @ y), cons)
    with warnings.catch_warnings():  # cut short at the node limit, cvxpy warns "may be inaccurate": reported as unproved
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        prob.solve(solver=cp.HIGHS, mip_max_nodes=int(max_nodes))
    if x.value is None:
        raise RuntimeError(f"OP MIP: {prob.status}")
    succ = {a: int(np.argmax(x.value[a])) for a in range(n + 1) if y.value[a] > 0.5}
    tour, cur = [], succ.get(0, 0)
    while cur != 0 and len(tour) <= n:
        tour.append(cur)
        cur = succ[cur]
    return float(instance.prize[tour].sum()), tour, prob.status == "optimal"


def pyvrp_op(instance: OPInstance, seconds: float | None = None, seed: int = 0,
             iterations: int | None = None) -> list[int]:
    """PyVRP's iterated local search on the OP written as a prize-collecting VRP: one vehicle
    whose ``max_distance`` is the budget, every node optional with its prize. Distances are in
    units of 1e-6, rounded up, and the budget rounded down, so a tour PyVRP accepts fits the real
    budget; each 0.01 of prize is worth 1e8 units, more than any tour's length, so the search
    maximises the prize first and shortens the tour second. Two runs, each of ``seconds`` / 2
    or of ``iterations`` (exactly one of the two; iterations give the same tour anywhere), the
    better tour kept: one with PyVRP's default penalty bounds (the stronger on N = 50: mean
    prize 16.24 against 16.01 at 0.3 s on 30 instances) and one whose over-budget penalty may
    grow to 1e12 (the default cap, 1e5, is small beside these prizes: with it, one N = 10
    instance stayed at prize 2.05 against the proved 2.87 at every time limit tried, and at N = 200
    a run stayed over budget even at 16 times the limit). -> the visited nodes in tour order."""
    from pyvrp import Model, PenaltyParams, SolveParams
    from .cvrp import PyVRPBudget, solve_feasible
    search = PyVRPBudget(None if seconds is None else seconds / 2, iterations)
    xy, n = instance.coords, instance.n
    m = Model()
    locs = [m.add_location(x=float(x), y=float(y)) for x, y in xy]
    m.add_vehicle_type(num_available=1, max_distance=int(np.floor(1e6 * instance.max_length)), unit_distance_cost=1)
    m.add_depot(locs[0])
    prize = np.rint(100 * instance.prize).astype(np.int64)
    for i in range(1, n + 1):
        m.add_client(locs[i], prize=int(prize[i]) * 10**8, required=False)
    d = np.ceil(1e6 * np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            m.add_edge(a, b, distance=int(d[i, j]))
    best = None
    for params, factors in ((SolveParams(), (1,)), (SolveParams(penalty=PenaltyParams(max_penalty=1e12)), (1, 4, 16))):
        try:  # the second run is retried longer when it ends over the budget
            res = solve_feasible(m, search, seed, params, factors)
        except RuntimeError:
            if best is None and len(factors) > 1:
                raise
            continue  # the default-penalty run can stay over budget (seen at N = 200): the other one decides
        tour = [a.idx + 1 for route in res.best.routes() for a in route if a.is_client()]
        key = (int(prize[tour].sum()), -op_length(instance, tour))
        if best is None or key > best[0]:
            best = (key, tour)
    return best[1]
