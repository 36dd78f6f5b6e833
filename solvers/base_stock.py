"""Base-stock baselines for inventory problems (tag ``inventory``: observation = on-hand then
the pipeline, one action = the order quantity).

`base-stock`: order up to level S (q = (S - inventory position)^+); `capped-base-stock`
(Xin 2021, "Understanding the performance of capped base-stock policies in lost-sales
inventory models"): q = min((S - position)^+, r). Levels are optimised by simulation on
training scenarios (never the test ones): a coarse grid, then two finer grids around the best,
every candidate simulated in one batch on common random numbers.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ..problems.inventory import StockView
from ..registry import Param, register_solver
from ..solver import Budget, Outcome, Solver


def _levels_policy(levels: torch.Tensor, caps: torch.Tensor | None, q_max: float):
    """Batched policy where row i uses levels[i] (and caps[i])."""
    def policy(obs):
        q = (levels.to(obs.device) - obs.sum(dim=1)).clamp(0.0, q_max)
        if caps is not None:
            q = torch.minimum(q, caps.to(obs.device))
        return q.unsqueeze(1)
    return policy


class BaseStock(Solver):
    defaults = {"paths": Param(512, low=1), "horizon": Param(600, low=1), "warmup": Param(100, low=0),
                "grid": Param(48, low=2), "refinements": Param(2, low=0)}
    default_budget = Budget(steps=200_000_000, seconds=120)
    description = "order-up-to level optimised by simulation (grid search, common random numbers)"
    capped = False

    requires = (StockView,)

    @torch.no_grad()
    def _simulate(self, sim, levels, caps, seed, paths):
        n = len(levels)
        gen = torch.Generator().manual_seed(seed)
        demand_state = sim.reset(paths, gen, self.device, horizon=self.horizon)
        # repeat each path for every candidate (common random numbers)
        state = {k: (v.repeat((n,) + (1,) * (v.dim() - 1)) if torch.is_tensor(v) else v)
                 for k, v in demand_state.items()}
        lv = levels.repeat_interleave(paths)
        cp = caps.repeat_interleave(paths) if caps is not None else None
        policy = _levels_policy(lv, cp, float(sim.action_high[0]))
        total = torch.zeros(n * paths, dtype=torch.float64, device=self.device)
        for t in range(self.horizon):
            state, r, _, _ = sim.step(state, policy(sim.observe(state)))
            if t >= self.warmup:
                total -= r[:, 0].double()
        cost = total.view(n, paths).mean(dim=1) / (self.horizon - self.warmup)
        return cost.cpu().numpy(), n * paths * self.horizon

    def _candidates(self, center, width):
        lo = max(0.0, center[0] - width[0])
        S = np.linspace(lo, center[0] + width[0], self.grid)
        if not self.capped:
            return [(s, None) for s in S]
        k = max(4, int(np.sqrt(self.grid * 12)))
        S = np.linspace(lo, center[0] + width[0], k)
        R = np.linspace(max(1e-3, center[1] - width[1]), center[1] + width[1], k)
        return list(itertools.product(S, R))

    def solve(self, problem, clock, seed, log):
        sim = problem.sim()
        q_max = float(sim.action_high[0])
        scale = max(1.0, sim.mean) * (sim.L + 1)
        center, width = [2 * scale, q_max / 2], [2 * scale, q_max / 2]
        best, steps = None, 0
        n_cands = len(self._candidates(center, width))
        paths = self.paths
        if clock.budget.steps is not None:  # fewer paths when the step budget is small
            paths = max(1, min(paths, clock.budget.steps // (n_cands * self.horizon * (self.refinements + 1))))
        for rnd in range(self.refinements + 1):
            cands = self._candidates(center, width)
            levels = torch.tensor([c[0] for c in cands], dtype=torch.float32)
            caps = torch.tensor([c[1] for c in cands], dtype=torch.float32) if self.capped else None
            if clock.steps_left < len(cands) * paths * self.horizon:
                break
            cost, used = self._simulate(sim, levels, caps, seed + rnd, paths)
            steps += used
            clock.add(used)
            i = int(np.argmin(cost))
            best = cands[i]
            log(steps, float(cost[i]), level=best[0])
            step_s = (cands[1][0] - cands[0][0]) if not self.capped else width[0] / 4
            center = [best[0], best[1] if self.capped else q_max / 2]
            width = [max(2 * abs(step_s), 1e-3), width[1] / 3]
            if clock.exhausted():
                break
        if best is None:  # not even one round fitted the budget: the centre of the first grid
            best = (center[0], center[1])
        S = torch.tensor([best[0]], dtype=torch.float32)
        r = torch.tensor([best[1]], dtype=torch.float32) if self.capped else None
        info = {"level": float(best[0])}
        if self.capped:
            info["cap"] = float(best[1])
        return Outcome(policies=[_levels_policy(S, r, q_max)], info=info)


class CappedBaseStock(BaseStock):
    capped = True
    description = "capped base-stock (Xin 2021): level and cap optimised by simulation"


register_solver("base-stock", BaseStock)
register_solver("capped-base-stock", CappedBaseStock)
