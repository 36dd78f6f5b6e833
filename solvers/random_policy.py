"""`random`: uniform actions over the action space. The floor every method must beat.

Single-policy problems with a batched simulator: a policy of uniform actions in the box.
Per-instance ("solutions") problems with a Gymnasium view: one episode per instance with
uniformly random legal actions (the mask in ``obs["action_mask"]`` when the view has one); the
view returns the finished solution in ``info["solution"]``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver
from ..views import GymView, Simulated, offers


class RandomPolicy(Solver):
    defaults: dict = {}
    default_budget = Budget(steps=1, seconds=30)
    description = "uniform random (legal) actions: a policy, or one random episode per instance"

    def supports(self, problem):
        if problem.spec.answer == "solutions":
            if not offers(problem, GymView):
                return "needs a Gymnasium view of the per-instance problem"
            if len(problem.instances()) != 1:
                return "per-instance problems with one instance (the Gymnasium view's) only"
            return None
        if problem.spec.answer != "policy" or not offers(problem, Simulated):
            return "needs a single-policy problem with a batched simulator"
        return None

    def solve(self, problem, clock, seed, log):
        if problem.spec.answer == "solutions":
            return Outcome(solutions=[random_episode(problem.env(), seed)])
        sim = problem.sim()
        low = torch.as_tensor(sim.action_low, dtype=torch.float32)
        high = torch.as_tensor(sim.action_high, dtype=torch.float32)
        gen = torch.Generator().manual_seed(seed)

        def policy(obs):
            u = torch.rand((obs.shape[0], sim.act_dim), generator=gen)
            return (low + u * (high - low)).to(obs.device)
        log(0, float("nan"))
        return Outcome(policies=[policy])


def random_episode(env, seed: int):
    """Play one episode with uniformly random legal actions; -> info["solution"]."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    while True:
        mask = obs.get("action_mask") if isinstance(obs, dict) else None
        if mask is not None:
            action = int(rng.choice(np.flatnonzero(mask)))
        else:
            action = env.action_space.sample()
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return info.get("solution")


register_solver("random", RandomPolicy)
