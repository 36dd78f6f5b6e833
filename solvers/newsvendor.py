"""Newsvendor-type policies for stores that order from an outside supplier and observe their
sales history (the source's real-data baselines; `inventory/real-lost-sales-v0`), and the
just-in-time oracle for any network with peeked demand.

All but just-in-time order up to a base-stock level S = a quantile forecast of the demand over
the next L + 1 periods (the order's lead time plus the current period), q = (S - position)^+:
- `quantile-nv`: at the critical fractile p / (p + h) (not trained);
- `returns-nv`: the same without the ^+: negative orders return stock (non-admissible; needs
  the problem's `returns=true`);
- `fixed-quantile`: at one quantile level shared by every product, trained through the simulator;
- `transformed-nv`: at a level given by a small network of the critical fractile, trained
  through the simulator (the source's transformed_nv);
- `just-in-time`: every location orders up to exactly the demand its stores will see until the
  order arrives (non-admissible: it reads future demand; needs the problem's `peek` to cover
  the lead times).

The forecaster (the source ships a trained one; this one is trained per run on training
scenarios, never on the test ones): an MLP of the last 16 periods' sales, the calendar and the
product's parameters, all in units of the mean of those 16 periods, giving the quantiles at
levels 0.05, 0.10, ..., 0.95 of the (L + 1)-period demand (monotone by construction; pinball
loss), interpolated linearly between levels and extrapolated from the end slopes.
"""
from __future__ import annotations

import torch
from torch import nn

from ..problems.inventory import NetworkSim, NetworkView
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver
from .network_base_stock import DEFAULTS as TRAIN_DEFAULTS
from .network_base_stock import echelon_matrix, train_parametric

LEVELS = torch.arange(1, 20) / 20.0
DEFAULTS = {
    "fit_paths": 2048,     # training paths the forecaster learns from
    "fit_iters": 400,      # Adam steps of the forecaster
    "hidden": 64,
    **{k: v for k, v in TRAIN_DEFAULTS.items()},
    "iters": 60,           # Adam steps on the quantile level (fixed-quantile, transformed-nv)
    "lr": 0.05,
}


def store_inputs(sim: NetworkSim, obs):
    """Per-path forecaster inputs [B, D] and scale [B, 1] (one store per path)."""
    _, feats, cal = sim.split(obs)
    f = feats[:, 0]
    hist = f[:, :sim.H]
    scale = hist.mean(1, keepdim=True).clamp_min(0.1)
    static = f[:, sim.H:sim.H + sim.demand_model.n_static]
    return torch.cat([hist / scale, cal, static], 1), scale


def lead_of(sim, obs):
    """Each path's lead time (the static features carry L / 5)."""
    _, feats, _ = sim.split(obs)
    return (feats[:, 0, sim.H + 2] * 5).round()


class Forecaster(nn.Module):
    def __init__(self, n_in, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                                 nn.Linear(hidden, len(LEVELS)))

    def forward(self, x):
        z = self.net(x)
        return torch.cat([z[:, :1], nn.functional.softplus(z[:, 1:])], 1).cumsum(1)   # increasing

    @staticmethod
    def at(qs, level):
        """Linear interpolation of the quantiles ``qs`` [B, 19] at ``level`` [B] (or scalar)."""
        level = torch.as_tensor(level, dtype=qs.dtype).expand(qs.shape[0])
        pos = (level * 20 - 1).clamp(-1.0, 19.0)
        i = pos.floor().clamp(0, 17).long()
        frac = (pos - i).unsqueeze(1)
        lo, hi = qs.gather(1, i[:, None]), qs.gather(1, i[:, None] + 1)
        return (lo + frac * (hi - lo))[:, 0]


def fit_forecaster(solver, problem, clock, seed):
    sim = problem.sim()
    gen = torch.Generator().manual_seed(seed)
    T = 120
    paths = int(max(16, min(solver.fit_paths, clock.steps_left // (2 * T))))   # half the budget at most
    st = sim.reset(paths, gen, horizon=T)
    clock.add(paths * T)
    demand = st["demand"][..., 0]                                  # [B, H + T + peek + 1]
    L = st["L"][:, 0]
    xs, ys = [], []
    for t in range(0, T - 8, 4):
        state = {**st, "t": t}
        x, scale = store_inputs(sim, sim.observe(state))
        idx = sim.H + t + torch.arange(7)
        window = demand[:, idx] * (torch.arange(7) <= L[:, None]).float()
        xs.append(x)
        ys.append(window.sum(1, keepdim=True) / scale)
    X, Y = torch.cat(xs), torch.cat(ys)
    model = Forecaster(X.shape[1], solver.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(solver.fit_iters):
        if clock.seconds_left <= 0:
            break
        i = torch.randint(len(X), (4096,), generator=gen)
        err = Y[i] - model(X[i])
        loss = torch.maximum(LEVELS * err, (LEVELS - 1) * err).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class NewsvendorPolicy(nn.Module):
    """Base-stock at a forecast quantile; ``level``: "critical", "fixed" or "transformed"."""

    def __init__(self, sim, forecaster, level: str, returns: bool):
        super().__init__()
        self.sim, self.forecaster, self.kind, self.returns = sim, forecaster, level, returns
        self.register_buffer("high", torch.as_tensor(sim.action_high, dtype=torch.float32))
        self.register_buffer("low", torch.as_tensor(sim.action_low, dtype=torch.float32))
        if level == "fixed":
            self.theta = nn.Parameter(torch.tensor(1.8))            # sigmoid(1.8) = 0.86
        elif level == "transformed":
            self.map = nn.Sequential(nn.Linear(1, 16), nn.ELU(), nn.Linear(16, 1))

    def level(self, obs):
        _, feats, _ = self.sim.split(obs)
        p = feats[:, 0, self.sim.H] * 10
        h = feats[:, 0, self.sim.H + 1]
        ratio = p / (p + h)
        if self.kind == "fixed":
            return torch.sigmoid(self.theta).expand(obs.shape[0])
        if self.kind == "transformed":
            logit = torch.log(ratio / (1 - ratio))
            return torch.sigmoid(logit + self.map(ratio[:, None])[:, 0])
        return ratio

    def forward(self, obs):
        x, scale = store_inputs(self.sim, obs)
        S = Forecaster.at(self.forecaster(x), self.level(obs)) * scale[:, 0]
        position = self.sim.split(obs)[0].sum((1, 2))
        q = S - position
        if not self.returns:
            q = nn.functional.relu(q)
        return torch.minimum(q, self.high).maximum(self.low).unsqueeze(1)


class QuantileNV(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=20_000_000, seconds=600)
    description = "base-stock at the forecast critical-fractile quantile of (L+1)-period demand"
    requires = (NetworkView,)
    level, returns = "critical", False

    def supports(self, problem):
        sim = problem.sim()
        if sim.H == 0 or sim.N != sim.S or sim.S != 1:
            return "needs one store per path that observes its sales history (inventory/real-lost-sales-v0)"
        if self.returns != sim.returns:
            return ("needs the problem's returns=true (negative orders)" if self.returns
                    else "the returns variant of the problem is for returns-nv")
        return None

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        model = fit_forecaster(self, problem, clock, seed)
        policy = NewsvendorPolicy(problem.sim(), model, self.level, self.returns)
        info = {}
        if self.level != "critical":
            info["dev_cost"] = train_parametric(self, problem, policy, clock, seed + 1, log)
        return Outcome(policies=[policy], info=info)


class ReturnsNV(QuantileNV):
    returns = True
    description = "quantile-nv without the ^+ (returns allowed; non-admissible)"


class FixedQuantile(QuantileNV):
    level = "fixed"
    description = "base-stock at one forecast quantile level for every product, trained through the simulator"


class TransformedNV(QuantileNV):
    level = "transformed"
    description = "base-stock at a forecast quantile level learned as a function of the critical fractile"


class JustInTime(Solver):
    """Perfect foresight: every location raises its echelon position (its stock and that of
    every location it supplies) to exactly the demand its stores will see until its order
    reaches them, q = (sum of that future demand - echelon position)^+; once the start
    stock is used up nothing is held and nothing is short. Non-admissible: it reads future
    demand (the source's just_in_time orders each period's future demand, which keeps the
    start stock forever)."""
    defaults = {}
    default_budget = Budget(steps=1, seconds=60)
    description = "perfect-foresight echelon base-stock (reads peeked demand; non-admissible)"
    requires = (NetworkView,)

    @staticmethod
    def reach(sim: NetworkSim):
        """[N, S] periods from a location's order to the period it serves at each store below
        (-1 where the store is not below)."""
        E = echelon_matrix(sim)
        lead = torch.tensor(sim.lead, dtype=torch.float32)
        out = torch.full((sim.N, sim.S), -1.0)
        for s in range(sim.S):
            node = sim.first_store + s
            for n in range(sim.N):
                if E[node, n] > 0:
                    path = [m for m in range(sim.N) if E[node, m] > 0 and E[m, n] > 0]
                    out[n, s] = float(lead[path].sum())
        return out

    def supports(self, problem):
        sim = problem.sim()
        need = int(self.reach(sim).max()) + 1 if sim.H == 0 else 7
        if sim.peek < need:
            return f"needs the problem's peek >= {need} (future demand in the observation)"
        return None

    def solve(self, problem, clock, seed, log):
        sim = problem.sim()
        reach = self.reach(sim)                                                   # [N, S]
        j = torch.arange(sim.peek, dtype=torch.float32)
        window = (j <= reach.unsqueeze(-1)).float()                               # [N, S, peek]
        E = echelon_matrix(sim)
        high = torch.as_tensor(sim.action_high, dtype=torch.float32)

        def policy(obs):
            stock, feats, _ = sim.split(obs)
            future = feats[..., -sim.peek:]                                        # [B, S, peek]
            if sim.H:   # per-path lead times (one store per path)
                w = (j <= lead_of(sim, obs).unsqueeze(-1)).float()                # [B, peek]
                target = (future[:, 0] * w).sum(1, keepdim=True)
            else:
                target = torch.einsum("bsj,nsj->bn", future, window)
            return (target - stock.sum(-1) @ E).clamp_min(0.0).minimum(high)
        return Outcome(policies=[policy], info={})


register_solver("quantile-nv", QuantileNV)
register_solver("returns-nv", ReturnsNV)
register_solver("fixed-quantile", FixedQuantile)
register_solver("transformed-nv", TransformedNV)
register_solver("just-in-time", JustInTime)
