"""The 0/1 knapsack as a BQ-MDP: the state is the remaining items and the remaining capacity;
an action takes one item; items heavier than the remaining capacity are masked; the episode
ends when no item fits. Batched in torch (``KnapsackBatch``), a Gymnasium view of one instance
(``KnapsackEnv``), and the exact reference by dynamic programming over integer capacity units.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from ...errors import InvalidAction, InvalidSolution
from .instances import KnapsackInstance, as_indices
from .view import OneInstanceView


def knapsack_dp(instance: KnapsackInstance) -> float:
    """Exact optimum: DP over the integer capacity units, one vectorised pass per item
    (O(N x capacity units)); best[c] = the most value within weight c, kept only up to the
    weight the items so far can reach."""
    w, cap = instance.int_weights()
    if w.sum() <= cap:  # everything fits
        return float(instance.values.sum())
    best = np.zeros(cap + 1)
    reach = 0
    for wi, vi in zip(w, instance.values):
        if wi > cap:
            continue
        hi = min(cap, reach + wi)
        best[reach + 1:hi + 1] = best[reach]  # beyond the old reach: the best within it
        take = best[:hi + 1 - wi] + vi        # a copy: each item is used at most once
        best[wi:hi + 1] = np.maximum(best[wi:hi + 1], take)
        reach = hi
    return float(best[:reach + 1].max())


def check_items(items, instance: KnapsackInstance) -> tuple[np.ndarray, bool]:
    """-> (distinct item indices, within capacity). Malformed input raises InvalidSolution."""
    t = as_indices(items, "a knapsack answer")
    if ((t < 0) | (t >= instance.n)).any():
        raise InvalidSolution(f"item index out of range 0..{instance.n - 1}")
    if len(np.unique(t)) != len(t):
        raise InvalidSolution("an item is taken twice")
    w, cap = instance.int_weights()
    return t, int(w[t].sum()) <= cap


class KnapsackBatch:
    """B instances of N items. ``mask()`` [B, N]: untaken items that fit the remaining
    capacity; ``done`` [B]: nothing fits."""

    def __init__(self, weights, values, capacity, device="cpu"):
        self.w = torch.as_tensor(weights, dtype=torch.float64, device=device)
        self.v = torch.as_tensor(values, dtype=torch.float64, device=device)
        self.B, self.N = self.w.shape
        self.left = torch.as_tensor(capacity, dtype=torch.float64, device=device).expand(self.B).clone()
        self.taken = torch.zeros(self.B, self.N, dtype=torch.bool, device=device)
        self.value = torch.zeros(self.B, dtype=torch.float64, device=device)
        self.rows = torch.arange(self.B, device=device)

    def mask(self) -> torch.Tensor:
        return ~self.taken & (self.w <= self.left[:, None] + 1e-12)

    @property
    def done(self) -> torch.Tensor:
        return ~self.mask().any(dim=1)

    def step(self, action) -> torch.Tensor:
        """Instances already done ignore their action; -> the value added [B]."""
        a = torch.as_tensor(action, dtype=torch.long, device=self.w.device).reshape(self.B)
        live = ~self.done
        ok = self.mask()[self.rows, a.clamp(0, self.N - 1)] & (a >= 0) & (a < self.N)
        if (live & ~ok).any():
            raise InvalidAction("an action takes an item that is taken or does not fit")
        a = torch.where(live, a, torch.zeros_like(a))
        add = torch.where(live, self.v[self.rows, a], torch.zeros_like(self.value))
        self.taken[self.rows[live], a[live]] = True
        self.left = self.left - torch.where(live, self.w[self.rows, a], torch.zeros_like(self.left))
        self.value += add
        return add

    def solutions(self) -> list[np.ndarray]:
        return [np.flatnonzero(row) for row in self.taken.cpu().numpy()]


class KnapsackEnv(OneInstanceView):
    """Gymnasium view of one instance: observation ``items`` [N, 2] (weight, value),
    ``remaining`` (capacity left, [1]), ``action_mask`` [N]; action: an item; reward: its
    value; the final info holds the chosen items."""

    def __init__(self, instance: KnapsackInstance):
        super().__init__()
        self.instance, N = instance, instance.n
        self.action_space = gym.spaces.Discrete(N)
        self.observation_space = gym.spaces.Dict({
            "items": gym.spaces.Box(0.0, np.inf, (N, 2), np.float32),
            "remaining": gym.spaces.Box(0.0, np.inf, (1,), np.float32),
            "action_mask": gym.spaces.MultiBinary(N),
        })

    def _new_batch(self):
        inst = self.instance
        return KnapsackBatch(inst.weights[None], inst.values[None], inst.capacity)

    def _obs(self):
        inst = self.instance
        return {"items": np.stack([inst.weights, inst.values], 1).astype(np.float32),
                "remaining": np.array([float(self.batch.left[0])], np.float32),
                "action_mask": self.batch.mask()[0].numpy().astype(np.int8)}
