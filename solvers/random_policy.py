"""`random`: uniform actions over the action space. The floor every method must beat."""
from __future__ import annotations

import torch

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver


class RandomPolicy(Solver):
    defaults: dict = {}
    default_budget = Budget(steps=1, seconds=30)
    description = "uniform random actions (any problem with a batched simulator and a box action space)"

    def supports(self, problem):
        if problem.spec.answer != "policy" or problem.sim() is None:
            return "needs a single-policy problem with a batched simulator"
        return None

    def solve(self, problem, budget, seed, log):
        sim = problem.sim()
        low = torch.as_tensor(sim.action_low, dtype=torch.float32)
        high = torch.as_tensor(sim.action_high, dtype=torch.float32)
        gen = torch.Generator().manual_seed(seed)

        def policy(obs):
            u = torch.rand((obs.shape[0], sim.act_dim), generator=gen)
            return (low + u * (high - low)).to(obs.device)
        log(0, float("nan"))
        return Outcome(policies=[policy])


register_solver("random", RandomPolicy)
