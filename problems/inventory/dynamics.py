"""Single-store inventory dynamics (Alvo, Russo, Kanoria 2023, arXiv 2306.11246, section 6.1),
as one batched torch simulator, differentiable in the order quantities.

Timing, per period t (lead time L >= 1):
  1. observe the state: on-hand inventory I_t (net inventory, negative = backlog, when demand is
     backlogged) and the pipeline (q_{t-L}, ..., q_{t-1}) of the L outstanding orders;
  2. place the order q_t (it arrives at the start of period t + L);
  3. the order q_{t-L} arrives;
  4. demand D_t is realised: backlogged (I_{t+1} = I_t + q_{t-L} - D_t) or lost
     (I_{t+1} = (I_t + q_{t-L} - D_t)^+, lost sales (D_t - I_t - q_{t-L})^+);
  5. cost h x (ending on-hand)^+ + p x (backlogged or lost units).
The observation is [I_t, q_{t-L}, ..., q_{t-1}] (length L + 1).
"""
from __future__ import annotations

import numpy as np
import torch

from ... import sampling
from ...problem import BatchedSim


class InventorySim(BatchedSim):
    n_obj, n_con = 1, 0

    def __init__(self, L: int, p: float, h: float, lost_sales: bool, demand: str,
                 mean: float, std: float | None, q_max: float, horizon: int = 200, split: bool = False):
        """``split``: two objectives, units held and units short per period (the costs'
        two terms without their prices h and p), instead of the one priced cost."""
        if L < 1:
            raise ValueError("lead time L must be >= 1")
        self.L, self.p, self.h = int(L), float(p), float(h)
        self.lost_sales, self.demand, self.mean, self.std = lost_sales, demand, float(mean), std
        self.obs_dim, self.act_dim = self.L + 1, 1
        self.action_low, self.action_high = np.zeros(1), np.full(1, float(q_max))
        self.obs_low = np.array([0.0 if lost_sales else -np.inf] + [0.0] * self.L)
        self.obs_high = np.inf
        self.horizon = int(horizon)
        self.split = bool(split)
        self.n_obj = 2 if split else 1

    def sample_demand(self, batch: int, periods: int, generator: torch.Generator) -> torch.Tensor:
        if self.demand == "poisson":
            return sampling.poisson(self.mean, (batch, periods), generator)
        if self.demand == "normal":
            return sampling.normal(self.mean, self.std, (batch, periods), generator).clamp_min(0.0)
        raise ValueError(f"unknown demand distribution {self.demand!r}")

    def reset(self, batch, generator, device="cpu", horizon=None):
        T = self.horizon if horizon is None else int(horizon)
        demand = self.sample_demand(batch, T, generator).to(device)
        # start with one period's mean demand on hand and in each pipeline slot; test scenarios
        # discard a warm-up, so the start matters only for training
        on_hand = torch.full((batch,), self.mean, device=device)
        pipeline = torch.full((batch, self.L), self.mean, device=device)
        return {"t": 0, "T": T, "demand": demand, "on_hand": on_hand, "pipeline": pipeline}

    def training_reset(self, batch, generator, device="cpu", horizon=None):
        """Start states spread uniformly: each pipeline slot in [0, 2 x mean demand], on-hand in
        [0, 4 x mean] (lost sales) or [-2 x mean, 4 x mean] (backlogged), which covers the
        states of the optimal policies of every paper setting."""
        state = self.reset(batch, generator, device, horizon)
        m = self.mean
        u = torch.rand((batch, self.L + 1), generator=generator).to(device)
        lo = 0.0 if self.lost_sales else -2 * m
        state["on_hand"] = lo + (4 * m - lo) * u[:, 0]
        state["pipeline"] = 2 * m * u[:, 1:]
        return state

    def observe(self, state):
        return torch.cat([state["on_hand"].unsqueeze(1), state["pipeline"]], dim=1)

    def step(self, state, action):
        q = action[:, 0]
        t = state["t"]
        level = state["on_hand"] + state["pipeline"][:, 0]
        d = state["demand"][:, t]
        after = level - d
        held, short = torch.relu(after), torch.relu(-after)
        on_hand = held if self.lost_sales else after
        cost = self.h * held + self.p * short
        pipeline = torch.cat([state["pipeline"][:, 1:], q.unsqueeze(1).to(level.dtype)], dim=1)
        new = {**state, "t": t + 1, "on_hand": on_hand, "pipeline": pipeline}
        done = torch.full_like(cost, t + 1 >= state["T"], dtype=torch.bool)
        reward = -torch.stack([held, short], 1) if self.split else -cost.unsqueeze(1)
        return new, reward, reward.new_zeros(reward.shape[0], 0), done


def inventory_position(obs: torch.Tensor) -> torch.Tensor:
    """On-hand (net) inventory plus everything in the pipeline."""
    return obs.sum(dim=1)
