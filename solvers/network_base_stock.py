"""Base-stock heuristics for inventory networks (``inventory.NetworkView``), with their levels
trained as the source trains them: by pathwise gradients through the simulator (HDPO on a
handful of parameters), on training scenarios, the final levels checked on the development
scenarios.

`echelon-base-stock`: every location orders up to its echelon level: q_n = (S_n - echelon
position_n)^+, the echelon position being the stock (on hand, net, and in transit to it) of
the location and of everything it supplies; shortages upstream are rationed by the simulator
in proportion to the orders. On a serial system this is the Clark-Scarf policy class (the
source's `echelon_stock`).
`capped-base-stock-per-store`: the stores order min((S_i - position_i)^+, r_i) (Xin 2021;
the source's `capped_base_stock`), the upstream locations as in echelon-base-stock.

Levels start at (sum of the lead times from the location down to a store + 1) x its mean
throughput, caps at twice the store's mean, and move in units of the mean throughput.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..problems.inventory import NetworkSim, NetworkView
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver

DEFAULTS = {
    "iters": 150,        # Adam steps on the levels
    "lr": 0.05,          # in units of each location's mean throughput
    "paths": 256,        # training paths per step
    "periods": 150,      # periods simulated per step (from a spread start state)
    "warmup": 50,        # periods left out of the loss
    "dev_paths": 512,
    "dev_periods": 400,
    "dev_warmup": 100,
    "eval_every": 25,
}


def echelon_matrix(sim: NetworkSim) -> torch.Tensor:
    """E[m, n] = 1 when location m is n or supplied (directly or not) by n."""
    N = sim.N
    E = torch.eye(N)
    for m in range(N):
        p = sim.topo.parent[m]
        while p >= 0:
            E[m, p] = 1.0
            p = sim.topo.parent[p]
    return E


class BaseStockPolicy(nn.Module):
    """obs -> orders [B, N] of an echelon base-stock policy (stores optionally capped)."""

    def __init__(self, sim: NetworkSim, capped: bool):
        super().__init__()
        self.sim = sim
        st = sim.static_features()
        mean = st[:, 3].clamp_min(1e-3)
        E = echelon_matrix(sim)
        lead_down = torch.zeros(sim.N)   # the longest chain of lead times from a location to a store
        for n in range(sim.N - 1, -1, -1):
            kids = sim.topo.children(n)
            lead_down[n] = st[n, 0] + (max(lead_down[k] for k in kids) if kids else 0.0)
        self.register_buffer("E", E)
        self.register_buffer("mean", mean)
        self.register_buffer("init", (lead_down + 1) * mean)
        self.register_buffer("high", torch.as_tensor(sim.action_high, dtype=torch.float32))
        self.level = nn.Parameter(torch.zeros(sim.N))
        self.cap = nn.Parameter(torch.zeros(sim.S)) if capped else None

    def levels(self):
        return self.init + self.mean * self.level

    def forward(self, obs):
        stock = self.sim.split(obs)[0]
        position = stock.sum(-1) @ self.E                      # echelon positions [B, N]
        q = nn.functional.relu(self.levels() - position)
        if self.cap is not None:
            fs = self.sim.first_store
            cap = self.mean[fs:] * 2 * nn.functional.softplus(self.cap + 0.5413)
            q = torch.cat([q[:, :fs], torch.minimum(q[:, fs:], cap)], 1)
        return torch.minimum(q, self.high)


def mean_cost(sim, policy, state, periods, warmup):
    total = 0.0
    for t in range(periods):
        state, r, _, _ = sim.step(state, policy(sim.observe(state)))
        if t >= warmup:
            total = total - r[:, 0].mean()
    return total / (periods - warmup)


def train_parametric(solver, problem, policy, clock, seed, log):
    """Adam on the mean cost of fresh training paths; the best of the periodic development
    evaluations is kept. Every simulated period counts against the step budget."""
    sim, sc = problem.sim(), problem.spec.scenarios
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(policy.parameters(), lr=solver.lr)
    step_cost = solver.paths * solver.periods
    dev_cost = solver.dev_paths * solver.dev_periods
    best, best_state = float("inf"), None

    def dev_eval(it):
        nonlocal best, best_state
        with torch.no_grad():
            st = sim.reset(solver.dev_paths, torch.Generator().manual_seed(sc.dev_seed), solver.device,
                           horizon=solver.dev_periods)
            c = float(mean_cost(sim, policy, st, solver.dev_periods, solver.dev_warmup))
        clock.add(dev_cost)
        log(clock.steps, c, iteration=it)
        if c < best:
            best, best_state = c, copy.deepcopy(policy.state_dict())

    it = 0
    for it in range(1, solver.iters + 1):
        if clock.steps_left < step_cost + dev_cost or clock.seconds_left <= 0:
            break
        st = sim.training_reset(solver.paths, gen, solver.device, horizon=solver.periods)
        loss = mean_cost(sim, policy, st, solver.periods, solver.warmup)
        opt.zero_grad()
        loss.backward()
        opt.step()
        clock.add(step_cost)
        if it % solver.eval_every == 0:
            dev_eval(it)
    if clock.steps_left >= dev_cost and (best_state is None or it % solver.eval_every):
        dev_eval(it)
    if best_state is not None:
        policy.load_state_dict(best_state)
    for p in policy.parameters():
        p.requires_grad_(False)
    return best


class EchelonBaseStock(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=20_000_000, seconds=600)
    description = "echelon base-stock levels (stores optionally capped), trained by pathwise gradients"
    requires = (NetworkView,)
    capped = False

    def supports(self, problem):
        if self.capped and problem.sim().returns:
            return "the returns variant is for returns-nv"
        return None

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        policy = BaseStockPolicy(problem.sim(), self.capped).to(self.device)
        best = train_parametric(self, problem, policy, clock, seed, log)
        info = {"levels": policy.levels().tolist(), "dev_cost": best}
        if self.capped:
            fs = policy.sim.first_store
            info["caps"] = (policy.mean[fs:] * 2 * nn.functional.softplus(policy.cap + 0.5413)).tolist()
        return Outcome(policies=[policy], info=info)


class CappedBaseStockPerStore(EchelonBaseStock):
    capped = True
    description = "capped base-stock at every store (level and cap per store), echelon base-stock upstream"


register_solver("echelon-base-stock", EchelonBaseStock)
register_solver("capped-base-stock-per-store", CappedBaseStockPerStore)
