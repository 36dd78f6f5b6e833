"""`ts-ddr`: two-stage deep decision rules trained through Lagrangian duality (Rosemberg,
Street, Valladão, Van Hentenryck, arXiv 2405.14973), on problems whose stage problems
implement target states (the hydro family's ``stage_problem``: LPs on the copper plate and DC,
the non-linear AC power-flow problems under AC, as in the paper; under AC the duals are a local
optimum's, Ipopt's KKT multipliers).

Policy: an MLP on [volumes, this stage's inflows, t/T] giving target end volumes in
[vmin, vmax] (sigmoid scaling). Forward: along a batch of sampled inflow paths, each stage
LP is solved with the policy's targets; the realised end volumes feed the next stage.
Backward (envelope theorem): the gradient of a stage's optimal cost with respect to its
targets is the dual of the target constraint, with respect to its incoming volumes the dual
of the water balance; the next stage's volumes carry the gradient to the targets
straight-through (they equal the targets whenever these are reachable). Autograd chains
these through the network across stages; Adam. The best policy on development paths (never
the test paths) is returned.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from ..problems.hydro import HydroView, sample_paths, stage_problem
from ..registry import Param, register_solver
from ..solver import Budget, Outcome, Solver

DEFAULTS = {
    "hidden": Param(64, low=1),
    "layers": Param(2, low=1),
    "lr": Param(1e-3, low=0.0),
    "batch": Param(16, low=1),          # inflow paths per gradient step
    "max_iters": Param(2000, low=1),
    "eval_every": Param(25, low=1),
    "dev_paths": Param(64, low=1),
    "patience": Param(8, low=1),
    "cost_scale": Param(0.0, low=0.0),  # divide costs by this (0: the first batch's mean stage cost)
}


class StageCost(torch.autograd.Function):
    """Optimal stage cost of a batch of stage problems; gradients from their duals. ``warm``: a
    list (one entry per batch row) of AC warm starts, updated in place (None: no warm starts)."""

    @staticmethod
    def forward(ctx, v_in, target, lp, inflow, warm=None):
        v = v_in.detach().double().numpy()
        tg = target.detach().double().numpy()
        cost, v_out = np.zeros(len(v)), np.zeros_like(v)
        d_in, d_tg = np.zeros_like(v), np.zeros_like(v)
        for b in range(len(v)):
            if warm is None:
                r = lp.solve(v[b], inflow[b], tg[b])
            else:
                r = lp.solve(v[b], inflow[b], tg[b], warm=warm[b])
                warm[b] = r["warm"]
            cost[b], v_out[b] = r["objective"], r["v_out"]
            d_in[b], d_tg[b] = r["dual_balance"], r["dual_target"]
        ctx.save_for_backward(torch.as_tensor(d_in), torch.as_tensor(d_tg))
        return torch.as_tensor(cost), torch.as_tensor(v_out)

    @staticmethod
    def backward(ctx, g_cost, g_vout):
        d_in, d_tg = ctx.saved_tensors
        return g_cost[:, None] * d_in, g_cost[:, None] * d_tg, None, None, None


class TargetPolicy(nn.Module):
    def __init__(self, obs_dim, R, hidden, layers, low, high, obs_scale):
        super().__init__()
        dims = [obs_dim] + [hidden] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        mods.append(nn.Linear(dims[-1], R))
        self.net = nn.Sequential(*mods)
        self.register_buffer("low", torch.tensor(np.array(low), dtype=torch.float64))
        self.register_buffer("high", torch.tensor(np.array(high), dtype=torch.float64))
        self.register_buffer("scale", torch.tensor(np.array(obs_scale), dtype=torch.float64))

    def forward(self, obs):
        z = self.net((obs.double() / self.scale).float()).double()
        return self.low + (self.high - self.low) * torch.sigmoid(z)


def _run(policy, system, lp, paths, grad: bool):
    """Total cost per path [B] (stage-LP objectives incl. slack penalties)."""
    B, T = len(paths), system.stages
    v = torch.as_tensor(np.tile(system.v0, (B, 1)), dtype=torch.float64)
    total = torch.zeros(B, dtype=torch.float64)
    warm = [None] * B if system.model == "ac" else None
    with torch.set_grad_enabled(grad):
        for t in range(T):
            inflow = system.inflows[t][paths[:, t]]
            obs = torch.cat([v, torch.as_tensor(inflow), torch.full((B, 1), t / T, dtype=torch.float64)], 1)
            target = policy(obs)
            cost, v_out = StageCost.apply(v, target, lp, inflow, warm)
            total = total + cost
            v = target + (v_out - target).detach()  # realised volumes, gradient straight to the targets
    return total


class TSDDR(Solver):
    defaults = DEFAULTS
    default_budget = Budget(seconds=600)
    description = "deep decision rules for target states, gradients from the stage LPs' duals (TS-DDR)"

    requires = (HydroView,)

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        s = problem.system
        lp = stage_problem(s)
        scale = np.concatenate([np.maximum(s.vmax, 1.0), np.maximum(s.inflows.mean((0, 1)), 1.0), [1.0]])
        policy = TargetPolicy(2 * s.n_res + 1, s.n_res, self.hidden, self.layers, s.vmin, s.vmax, scale)
        opt = torch.optim.Adam(policy.parameters(), lr=self.lr)
        dev_seed = problem.spec.scenarios.dev_seed if problem.spec.scenarios else seed + 1
        dev = sample_paths(s, self.dev_paths, np.random.default_rng(dev_seed))
        best, best_state, stale, cscale = math.inf, None, 0, self.cost_scale
        for it in range(1, self.max_iters + 1):
            if clock.seconds_left <= 0:
                break
            total = _run(policy, s, lp, sample_paths(s, self.batch, rng), grad=True)
            if not cscale:
                cscale = float(total.mean().detach()) / s.stages or 1.0
            loss = total.mean() / cscale
            opt.zero_grad()
            loss.backward()
            opt.step()
            clock.add(self.batch * s.stages)
            if it % self.eval_every == 0 or it == 1:
                d = float(_run(policy, s, lp, dev, grad=False).mean())
                clock.add(self.dev_paths * s.stages)
                log(clock.steps, d, train=float(total.mean().detach()))
                if d < best - 1e-9 * abs(best if best < math.inf else 1):
                    best, best_state, stale = d, copy.deepcopy(policy.state_dict()), 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
        if best_state is not None:
            policy.load_state_dict(best_state)
        policy.eval()

        def act(obs):
            with torch.no_grad():
                return policy(obs.double()).float()
        return Outcome(policies=[act], info={"iterations": it, "dev_cost": best})


register_solver("ts-ddr", TSDDR)
