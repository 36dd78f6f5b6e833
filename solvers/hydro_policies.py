"""Hydro dispatch policies: `sddp` (the SDDP policy trained within the budget) and `myopic`
(each stage minimised alone, water valued at zero). Both return a policy giving the stage
LP's optimal end volumes as targets."""
from __future__ import annotations

import numpy as np
import torch

from ..problems.hydro import SDDP, HydroView, StageLP
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver


def _lp_policy(system, lps):
    """obs [B, 2R + 1] = [volumes, inflows, t / T] -> targets [B, R] from the stage LPs."""
    R, T = system.n_res, system.stages

    def policy(obs):
        x = obs.detach().cpu().double().numpy()
        out = np.zeros((len(x), R))
        for b, row in enumerate(x):
            t = min(int(round(row[-1] * T)), T - 1)
            r = lps[t if len(lps) > 1 else 0].solve(row[:R], row[R:2 * R])
            out[b] = r["v_out"]  # within the volume bounds (the stage LP clips them)
        return torch.as_tensor(out, dtype=torch.float32)
    return policy


class _Hydro(Solver):
    requires = (HydroView,)


class Myopic(_Hydro):
    defaults: dict = {}
    default_budget = Budget(seconds=60)
    description = "each stage minimised alone, future water valued at zero"

    def solve(self, problem, clock, seed, log):
        return Outcome(policies=[_lp_policy(problem.system, [StageLP(problem.system)])])


class SDDPPolicy(_Hydro):
    defaults = {"tol": 1e-3, "window": 20, "max_iterations": 1000, "sim_paths": 200}
    default_budget = Budget(seconds=600)
    description = "stochastic dual dynamic programming (Benders cuts on the stage LPs)"

    def solve(self, problem, clock, seed, log):
        sddp = SDDP(problem.system)
        r = sddp.train(max_iterations=self.max_iterations, seconds=max(1.0, clock.seconds_left * 0.8),
                       tol=self.tol, window=self.window, sim_paths=self.sim_paths, seed=seed)
        for i, lb in enumerate(r.lower_bounds):
            log(i + 1, lb)
        return Outcome(policies=[_lp_policy(problem.system, sddp.lps)],
                       info={"iterations": r.iterations, "converged": r.converged,
                             "lower_bound": r.lower_bounds[-1], "sim_mean": r.sim_mean, "sim_ci": list(r.sim_ci)})


register_solver("myopic", Myopic)
register_solver("sddp", SDDPPolicy)
