"""The Gymnasium view shared by the routing problems: one instance of a batched BQ-MDP
(a batch of one), masked actions (``action_mask`` in the observation, ``action_masks()`` for
MaskablePPO), the solution in the final step's ``info``."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from ...errors import InvalidAction


class OneInstanceView(gym.Env):
    metadata = {"render_modes": []}
    reward_sign = 1.0  # +1: a step's gain (prize, value); -1: a step's length

    def __init__(self):
        self.batch = None

    def _new_batch(self):
        raise NotImplementedError

    def _obs(self) -> dict:
        raise NotImplementedError

    def _done(self) -> bool:
        d = self.batch.done
        return bool(d) if isinstance(d, bool) else bool(d[0])

    def action_masks(self) -> np.ndarray:
        return self.batch.mask()[0].cpu().numpy()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.batch = self._new_batch()
        return self._obs(), {}

    def step(self, action):
        if self.batch is None:
            raise RuntimeError("call reset() before step()")
        a = int(action)
        if not self.action_space.contains(a) or not bool(self.batch.mask()[0, a]):
            raise InvalidAction(f"action {a} is masked")
        add = float(self.batch.step(torch.tensor([a]))[0])
        done = self._done()
        info = {"cost": np.zeros(0)}
        if done:
            info["solution"] = self.batch.solutions()[0]
        return self._obs(), self.reward_sign * add, done, False, info
