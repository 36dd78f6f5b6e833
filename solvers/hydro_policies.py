"""Hydro dispatch policies: `sddp` (the SDDP policy trained within the budget) and `myopic`
(each stage minimised alone, water valued at zero). Both return a policy giving the stage
problem's optimal end volumes as targets (the stage LP on the copper plate and DC; under AC,
the AC stage problem, with the cuts SDDP built on the SOC relaxation)."""
from __future__ import annotations

import numpy as np
import torch

from ..problems.hydro import SDDP, HydroView, stage_problem
from ..registry import Param, register_solver
from ..solver import Budget, Outcome, Solver


def _lp_policy(system, lps):
    """obs [B, 2R + 1] = [volumes, inflows, t / T] -> targets [B, R] from the stage problems.
    AC solves are warm-started from the previous call's solution in the same batch row (the
    engine keeps each scenario in its row)."""
    R, T = system.n_res, system.stages
    warm = {}
    ac = lps[0].sys.model == "ac"

    def policy(obs):
        x = obs.detach().cpu().double().numpy()
        out = np.zeros((len(x), R))
        if len(warm) != len(x):
            warm.clear()
        for b, row in enumerate(x):
            t = min(int(round(row[-1] * T)), T - 1)
            lp = lps[t if len(lps) > 1 else 0]
            if ac:
                r = lp.solve(row[:R], row[R:2 * R], warm=warm.get(b))
                warm[b] = r["warm"]
            else:
                r = lp.solve(row[:R], row[R:2 * R])
            out[b] = r["v_out"]  # within the volume bounds (the stage problem clips them)
        return torch.as_tensor(out, dtype=torch.float32)
    return policy


class _Hydro(Solver):
    requires = (HydroView,)


class Myopic(_Hydro):
    defaults: dict = {}
    default_budget = Budget(seconds=60)
    description = "each stage minimised alone, future water valued at zero"

    def solve(self, problem, clock, seed, log):
        return Outcome(policies=[_lp_policy(problem.system, [stage_problem(problem.system)])])


class SDDPPolicy(_Hydro):
    defaults = {"tol": Param(1e-3, low=0.0), "window": Param(20, low=1), "max_iterations": Param(1000, low=1),
                "sim_paths": Param(200, low=1),
                # on an AC system: decide on the AC stage problems with the cuts (the source's forward
                # pass), or on the SOC relaxation the cuts were built on (about four times cheaper)
                "relaxed_policy": Param(False, doc="under AC, decide on the SOC stage problems")}
    default_budget = Budget(seconds=600)
    description = "stochastic dual dynamic programming (Benders cuts on the stage LPs; on the SOC relaxation under AC)"

    def solve(self, problem, clock, seed, log):
        sddp = SDDP(problem.system)
        r = sddp.train(max_iterations=self.max_iterations, seconds=max(1.0, clock.seconds_left * 0.8),
                       tol=self.tol, window=self.window, sim_paths=self.sim_paths, seed=seed)
        for i, lb in enumerate(r.lower_bounds):
            log(i + 1, lb)
        lps = sddp.lps if self.relaxed_policy else sddp.policy_problems()
        return Outcome(policies=[_lp_policy(problem.system, lps)],
                       info={"iterations": r.iterations, "converged": r.converged, "cuts_on": sddp.cut_system.model,
                             "lower_bound": r.lower_bounds[-1], "sim_mean": r.sim_mean, "sim_ci": list(r.sim_ci)})


register_solver("myopic", Myopic)
register_solver("sddp", SDDPPolicy)
