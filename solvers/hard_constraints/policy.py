"""`hc-moe-policy`: the hard-constraint layer as a decision-policy head, on the hydro family.

Each stage's decision per reservoir (end volume v, turbined flow q, spill s) meets its water
balance exactly:

    v_i + k q_i + s_i - sum over plants j above i (k q_j + s_j) = v_in,i + k inflow_i

Bounds by construction: v = vmin + (vmax - vmin) sigmoid(z_v), q = qmax sigmoid(z_q),
s = scale softplus(z_s). The latent z of an expert's reservoirs is its basis times weights,
z = Phi w + a, with Phi (positive) and a produced by the network from the observation; the
weights w (one per reservoir of the expert) are chosen by the batched Levenberg-Marquardt solve
of ``lm.py`` so that the expert's balances vanish (plus the paper's ridge 1e-4 w), with gradients
by the implicit function theorem, as in the PDE layer. The basis is block-diagonal and positive:
reservoir i's (v, q, s) grow with w_i alone, so its storage plus release sweeps (vmin, inf) and,
taken down each cascade, every balance has exactly one root (a full basis let the solve stall in
local minima of the squared balances). Experts: the
independent cascades of the river network (on the Bolivian system: three pairs and five
single plants), each solving its own small system; ``experts`` > 0 merges cascades into at
most that many groups (a cascade is never split, so experts never share an equation).

The end volumes go to the stage LP as targets, which are then reachable (no slack); training is
TS-DDR's (``solvers/ts_ddr.py``): stage LPs along sampled inflow paths, the gradient of each
stage's optimal cost from its duals, Adam, the best policy on development paths kept.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...problems.hydro import HydroView, StageLP, sample_paths
from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ..ts_ddr import StageCost
from .lm import LMOptions, solve

DEFAULTS = {
    "hidden": 64,
    "layers": 2,
    "lr": 1e-3,
    "batch": 16,          # inflow paths per gradient step
    "max_iters": 2000,
    "eval_every": 25,
    "dev_paths": 64,
    "patience": 8,
    "experts": 0,         # 0: one expert per independent cascade
    "lm_steps": 100,
}
RIDGE = 1e-4


def cascades(down_turbine, down_spill) -> list[list[int]]:
    """The connected groups of plants linked by turbined or spilled water."""
    R = len(down_turbine)
    parent = list(range(R))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i
    for i in range(R):
        for j in (down_turbine[i], down_spill[i]):
            if j >= 0:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(R):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


def expert_groups(system, experts: int) -> list[list[int]]:
    """Cascades, merged (largest first, into the smallest group) when ``experts`` asks for fewer."""
    groups = cascades(system.down_turbine, system.down_spill)
    if 0 < experts < len(groups):
        bins: list[list[int]] = [[] for _ in range(experts)]
        for g in sorted(groups, key=len, reverse=True):
            min(bins, key=len).extend(g)
        groups = [sorted(b) for b in bins if b]
    return groups


def balance_residual(w, basis, offset, low, span, qmax, sscale, rhs, up_q, up_s, k, scale):
    """Water balances [P, n] of one expert's n reservoirs (scaled), then the ridge RIDGE w."""
    n = w.shape[1]
    z = (basis @ w.unsqueeze(-1)).squeeze(-1) + offset  # [P, 3n]
    v = low + span * torch.sigmoid(z[:, :n])
    q = qmax * torch.sigmoid(z[:, n:2 * n])
    s = sscale * F.softplus(z[:, 2 * n:])
    inflow_up = k * (up_q @ q.unsqueeze(-1)).squeeze(-1) + (up_s @ s.unsqueeze(-1)).squeeze(-1)
    bal = (v + k * q + s - inflow_up - rhs) / scale
    return torch.cat([bal, RIDGE * w], 1)


def _balance_jacobian(w, basis, offset, low, span, qmax, sscale, rhs, up_q, up_s, k, scale):
    """(residual, Jacobian [P, 2n, n]) of ``balance_residual``, analytically."""
    n = w.shape[1]
    z = (basis @ w.unsqueeze(-1)).squeeze(-1) + offset
    sv, sq = torch.sigmoid(z[:, :n]), torch.sigmoid(z[:, n:2 * n])
    v, q, s = low + span * sv, qmax * sq, sscale * F.softplus(z[:, 2 * n:])
    jv = (span * sv * (1 - sv)).unsqueeze(-1) * basis[:, :n]
    jq = (qmax * sq * (1 - sq)).unsqueeze(-1) * basis[:, n:2 * n]
    js = (sscale * torch.sigmoid(z[:, 2 * n:])).unsqueeze(-1) * basis[:, 2 * n:]
    inflow_up = k * (up_q @ q.unsqueeze(-1)).squeeze(-1) + (up_s @ s.unsqueeze(-1)).squeeze(-1)
    bal = (v + k * q + s - inflow_up - rhs) / scale
    k3 = k.unsqueeze(-1)
    J = (jv + k3 * jq + js - k3 * (up_q @ jq) - up_s @ js) / scale.unsqueeze(-1)
    eye = torch.eye(n, dtype=w.dtype, device=w.device).expand(w.shape[0], n, n)
    return torch.cat([bal, RIDGE * w], 1), torch.cat([J, RIDGE * eye], 1)


balance_residual.jacobian = _balance_jacobian


class BalanceHead(nn.Module):
    """obs [B, 2R + 1] = [volumes, inflows, t/T] -> (v, q, s) [B, R] meeting every balance."""

    def __init__(self, system, hidden, layers, groups, obs_scale, lm_steps):
        super().__init__()
        R, k = system.n_res, system.k
        dims = [2 * R + 1] + [hidden] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        self.trunk = nn.Sequential(*mods)
        self.groups = groups
        # per expert: a positive basis coefficient and an offset for each of (v, q, s) of each reservoir
        self.heads = nn.ModuleList(nn.Linear(hidden, 6 * len(g)) for g in groups)
        up_q, up_s = system.upstream()
        f64 = dict(dtype=torch.float64)
        self.k, self.R = float(k), R
        self.register_buffer("obs_scale", torch.tensor(np.asarray(obs_scale), **f64))
        self.register_buffer("vmin", torch.tensor(system.vmin, **f64))
        self.register_buffer("vmax", torch.tensor(system.vmax, **f64))
        self.register_buffer("qmax", torch.tensor(system.qmax, **f64))
        self.register_buffer("up_q", torch.tensor(up_q, **f64))
        self.register_buffer("up_s", torch.tensor(up_s, **f64))
        # spill scale: one stage of full turbining (hm3); balance scale: the reservoir's range of water
        self.register_buffer("sscale", torch.tensor(np.maximum(k * system.qmax, 1.0), **f64))
        self.register_buffer("bscale", torch.tensor(np.maximum(np.maximum(system.vmax - system.vmin, k * system.qmax), 1.0), **f64))
        self.lm = LMOptions(max_steps=lm_steps, rtol=1e-10, atol=1e-10)
        self.stats: dict = {}

    def forward(self, obs):
        obs = obs.double()
        B, R = obs.shape[0], self.R
        v_in, inflow = obs[:, :R], obs[:, R:2 * R]
        h = self.trunk((obs / self.obs_scale).float()).double()
        rhs = v_in + self.k * inflow
        v = torch.zeros(B, R, dtype=torch.float64)
        q, s = torch.zeros_like(v), torch.zeros_like(v)
        residuals = []
        # experts of the same size solve in one batched LM call (P = scenarios x experts)
        for n in sorted({len(g) for g in self.groups}):
            members = [e for e, g in enumerate(self.groups) if len(g) == n]
            E, P = len(members), B * len(members)
            ix = torch.tensor([self.groups[e] for e in members])  # [E, n]
            out = torch.stack([self.heads[e](h.float()) for e in members], 1).double().reshape(P, 6 * n)
            # block-diagonal: reservoir i's three latents move with its own weight w_i only
            coef = F.softplus(out[:, :3 * n]).view(P, 3, n)
            basis = torch.diag_embed(coef).reshape(P, 3 * n, n)
            offset = out[:, 3 * n:]
            rep = lambda a: a[ix].expand(B, E, n).reshape(P, n)
            up = lambda U: torch.stack([U[i][:, i] for i in ix]).expand(B, E, n, n).reshape(P, n, n)
            args = (basis, offset, rep(self.vmin), rep(self.vmax - self.vmin), rep(self.qmax), rep(self.sscale),
                    rhs[:, ix].reshape(P, n), up(self.up_q), up(self.up_s),
                    torch.full((P, 1), self.k, dtype=torch.float64), rep(self.bscale))
            w = solve(balance_residual, torch.zeros(P, n, dtype=torch.float64), *args, opts=self.lm)
            z = (basis @ w.unsqueeze(-1)).squeeze(-1) + offset
            cols = ix.reshape(-1)
            v[:, cols] = (rep(self.vmin) + rep(self.vmax - self.vmin) * torch.sigmoid(z[:, :n])).view(B, E * n)
            q[:, cols] = (rep(self.qmax) * torch.sigmoid(z[:, n:2 * n])).view(B, E * n)
            s[:, cols] = (rep(self.sscale) * F.softplus(z[:, 2 * n:])).view(B, E * n)
            bal = balance_residual(w.detach(), *[a.detach() for a in args])[:, :n].abs()
            residuals.append(bal.view(B, E * n).amax(1))
        self.stats = {"balance": torch.stack(residuals, 1).amax(1)}  # scaled, per scenario
        return v, q, s


def _run(head, system, lp, paths, grad: bool):
    """Total stage-LP cost per path [B] and the largest scaled balance residual of the head."""
    B, T = len(paths), system.stages
    v = torch.as_tensor(np.tile(system.v0, (B, 1)), dtype=torch.float64)
    total = torch.zeros(B, dtype=torch.float64)
    worst = 0.0
    with torch.set_grad_enabled(grad):
        for t in range(T):
            inflow = system.inflows[t][paths[:, t]]
            obs = torch.cat([v, torch.as_tensor(inflow), torch.full((B, 1), t / T, dtype=torch.float64)], 1)
            target, _, _ = head(obs)
            worst = max(worst, float(head.stats["balance"].max()))
            cost, v_out = StageCost.apply(v, target, lp, inflow)
            total = total + cost
            v = target + (v_out - target).detach()
    return total, worst


class HCMoEPolicy(Solver):
    defaults = DEFAULTS
    default_budget = Budget(seconds=600)
    description = "policy head meeting every reservoir's water balance exactly (LM hard constraint, experts over cascades)"
    requires = (HydroView,)

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        s = problem.system
        lp = StageLP(s)
        scale = np.concatenate([np.maximum(s.vmax, 1.0), np.maximum(s.inflows.mean((0, 1)), 1.0), [1.0]])
        head = BalanceHead(s, self.hidden, self.layers, expert_groups(s, self.experts), scale, self.lm_steps)
        opt = torch.optim.Adam(head.parameters(), lr=self.lr)
        dev_seed = problem.spec.scenarios.dev_seed if problem.spec.scenarios else seed + 1
        dev = sample_paths(s, self.dev_paths, np.random.default_rng(dev_seed))
        best, best_state, stale, cscale, worst = math.inf, None, 0, 0.0, 0.0
        it = 0
        for it in range(1, self.max_iters + 1):
            if clock.seconds_left <= 0:
                break
            total, w = _run(head, s, lp, sample_paths(s, self.batch, rng), grad=True)
            worst = max(worst, w)
            if not cscale:
                cscale = float(total.mean().detach()) / s.stages or 1.0
            loss = total.mean() / cscale
            opt.zero_grad()
            loss.backward()
            opt.step()
            clock.add(self.batch * s.stages)
            if it % self.eval_every == 0 or it == 1:
                d, w = _run(head, s, lp, dev, grad=False)
                d = float(d.mean())
                clock.add(self.dev_paths * s.stages)
                log(clock.steps, d, train=float(total.mean().detach()), balance=w)
                if d < best - 1e-9 * abs(best if best < math.inf else 1):
                    best, best_state, stale = d, copy.deepcopy(head.state_dict()), 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
        if best_state is not None:
            head.load_state_dict(best_state)
        head.eval()

        def act(obs):
            with torch.no_grad():
                v, _, _ = head(obs.double())
                return v.float()
        return Outcome(policies=[act], info={"iterations": it, "dev_cost": best, "experts": len(head.groups),
                                             "worst_scaled_balance_in_training": worst})


register_solver("hc-moe-policy", HCMoEPolicy)
