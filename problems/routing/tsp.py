"""The TSP as a BQ-MDP (Drakulic et al., NeurIPS 2023): the tour starts at node 0; after each
step the state is the tail sub-problem, a path-TSP from the current node (origin) through the
unvisited nodes back to node 0 (destination). Batched in torch over instances (``TSPBatch``),
with a Gymnasium view of one instance (``TSPEnv``) and the LKH reference (``lkh_tour``).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from ...errors import InvalidAction, InvalidSolution
from .instances import TSPInstance, as_indices, distance_matrix, tour_length
from .view import OneInstanceView


class TSPBatch:
    """B instances of N nodes stepped together. ``coords`` [B, N, 2]; every tour starts at
    node 0. ``mask()`` [B, N]: unvisited nodes (the legal next nodes). ``step(action)`` moves
    every instance to its chosen node; the closing edge is added on the last step."""

    def __init__(self, coords, rounding: str = "none", device="cpu"):
        self.coords = torch.as_tensor(coords, dtype=torch.float64, device=device)
        self.B, self.N, _ = self.coords.shape
        self.rounding = rounding
        self.rows = torch.arange(self.B, device=device)
        self.first = torch.zeros(self.B, dtype=torch.long, device=device)
        self.current = self.first.clone()
        self.visited = torch.zeros(self.B, self.N, dtype=torch.bool, device=device)
        self.visited[self.rows, self.first] = True
        self.length = torch.zeros(self.B, dtype=torch.float64, device=device)
        self.tours = torch.zeros(self.B, self.N, dtype=torch.long, device=device)
        self.t = 1

    @property
    def done(self) -> bool:
        return self.t >= self.N

    def mask(self) -> torch.Tensor:
        return ~self.visited

    def dist(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = (self.coords[self.rows, a] - self.coords[self.rows, b]).norm(dim=-1)
        return torch.floor(d + 0.5) if self.rounding == "euc2d" else d

    def dist_from_current(self) -> torch.Tensor:
        """[B, N] distances from each instance's current node to every node."""
        d = (self.coords - self.coords[self.rows, self.current][:, None, :]).norm(dim=-1)
        return torch.floor(d + 0.5) if self.rounding == "euc2d" else d

    def step(self, action) -> torch.Tensor:
        """-> the length added by this step [B]."""
        if self.done:
            raise InvalidAction("the tours are complete")
        a = torch.as_tensor(action, dtype=torch.long, device=self.coords.device).reshape(self.B)
        if ((a < 0) | (a >= self.N)).any() or self.visited[self.rows, a].any():
            raise InvalidAction("an action names a visited node or no node")
        add = self.dist(self.current, a)
        self.visited[self.rows, a] = True
        self.tours[:, self.t] = a
        self.current = a
        self.t += 1
        if self.done:
            add = add + self.dist(a, self.first)
        self.length += add
        return add

    def solutions(self) -> list[np.ndarray]:
        return list(self.tours.cpu().numpy())


def check_tour(tour, n: int) -> np.ndarray:
    """A tour must be a permutation of 0..n-1 (any rotation or direction); -> int array."""
    t = as_indices(tour, "a tour")
    if len(t) != n:
        raise InvalidSolution(f"a tour must visit all {n} nodes once, got {len(t)} entries")
    if (np.sort(t) != np.arange(n)).any():
        raise InvalidSolution("a tour must be a permutation of the nodes (a node repeats or is out of range)")
    return t


class TSPEnv(OneInstanceView):
    """Gymnasium view of one instance: observation ``coords`` [N, 2], ``current`` (one-hot
    [N]), ``action_mask`` [N] (unvisited nodes); action: the next node; reward: minus the edge
    length (the closing edge included on the last step); the final info holds the tour."""
    reward_sign = -1.0

    def __init__(self, instance: TSPInstance):
        super().__init__()
        self.instance, N = instance, instance.n
        self.action_space = gym.spaces.Discrete(N)
        self.observation_space = gym.spaces.Dict({
            "coords": gym.spaces.Box(-np.inf, np.inf, (N, 2), np.float32),
            "current": gym.spaces.MultiBinary(N),
            "action_mask": gym.spaces.MultiBinary(N),
        })

    def _new_batch(self):
        return TSPBatch(self.instance.coords[None], self.instance.rounding)

    def _obs(self):
        cur = np.zeros(self.instance.n, np.int8)
        cur[int(self.batch.current[0])] = 1
        return {"coords": self.instance.coords.astype(np.float32), "current": cur,
                "action_mask": self.batch.mask()[0].numpy().astype(np.int8)}


def lkh_tour(instance: TSPInstance, runs: int = 10) -> np.ndarray:
    """LKH-3 (through ``elkai``) on the instance's distances; Euclidean distances are scaled
    by 1e6 and rounded, as LKH takes integers. -> a tour starting at node 0."""
    import elkai
    d = distance_matrix(instance.coords, instance.rounding)
    scale = 1.0 if instance.rounding == "euc2d" else 1e6
    tour = elkai.DistanceMatrix(np.rint(d * scale).astype(np.int64).tolist()).solve_tsp(runs=runs)
    tour = np.array(tour[:-1] if tour[-1] == tour[0] and len(tour) == instance.n + 1 else tour)
    return np.roll(tour, -int(np.flatnonzero(tour == 0)[0]))


def length(instance: TSPInstance, tour) -> float:
    return tour_length(instance.coords, tour, instance.rounding)
