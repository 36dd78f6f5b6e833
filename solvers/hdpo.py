"""`hdpo`: Hindsight Differentiable Policy Optimization (Alvo, Russo, Kanoria 2023,
arXiv 2306.11246).

The simulator is differentiable in the actions, so the pathwise gradient of the mean cost of
a batch of sampled demand paths with respect to the policy's parameters is computed by
backpropagation through the rollout and followed with Adam. The policy is an MLP (ELU) on the
standardised state. As in the paper's code, each gradient step simulates a short window of
periods (60) and drops the first ones from the loss after a restart; here the windows are
consecutive pieces of one long trajectory per path (truncated backpropagation: the state is
carried over, detached), so the policy is trained on the states it visits in the long run,
which is what the test scenarios measure. Early stopping: the policy is scored every
`eval_every` steps on development scenarios (the problem's `dev_seed`, never its test
scenarios) and the best one is returned. Every simulated period, development ones included,
counts against the step budget.

Training starts paths from the simulator's ``training_reset`` (states spread over the ones a
policy may visit), so every input varies from the first step.

Differences from the paper, for CPU budgets (``solvers/README.md`` says why each was chosen):
batch 1024 paths instead of 8192, at most 5000 gradient steps; inputs scaled by one common
scale (``normalise="scalar"``: the inventory inputs are all in units of stock, and the optimal
response depends on their sum); learning rate 2e-2 after a linear warm-up of 100 iterations,
cosine-decayed; output head ``low + (high - low)/8 x softplus(z)`` capped at high, i.e. the
paper code's softplus with a scale (a sigmoid head's exponential tail cannot produce the kink
of a base-stock response).

Works on any single-objective, unconstrained problem whose batched simulator is
differentiable (``sim.differentiable``).
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver
from ..views import Simulated

# hyper-parameters (paper: Adam, MLP with ELU, batch of demand paths, pathwise gradients)
DEFAULTS = {
    "hidden": 64,          # units per hidden layer
    "layers": 2,           # hidden layers
    "lr": 2e-2,            # Adam learning rate (cosine-decayed to lr/20 over max_iters)
    "lr_warmup": 100,      # iterations of linear learning-rate warm-up
    "batch": 1024,         # demand paths per gradient step
    "periods": 60,         # periods simulated per path and gradient step (truncated backpropagation)
    "chunks": 10,          # gradient steps along one trajectory before the paths restart
    "warmup": 30,          # after a restart, periods left out of the loss (their actions still get gradient)
    "eval_every": 20,      # iterations between development evaluations
    "dev_paths": 1024,     # development scenarios (their steps count against the budget)
    "dev_periods": 400,
    "dev_warmup": 100,
    "patience": 25,        # evaluations without improvement before stopping
    "max_iters": 5000,     # high shortage costs and long lead times need them (see the docstring)
    "skip": False,         # linear skip connection beside the MLP (see MLPPolicy)
    "head": "softplus",    # output: "softplus" (scaled, kink at the lower bound) or "sigmoid"
    "normalise": "scalar",  # input scaling: "scalar" (one scale), "feature" (mean/std per input), "none"
    "spread_start": True,  # restart paths from the simulator's training_reset (spread states)
}


class MLPPolicy(nn.Module):
    """Standardised state -> action in [low, high].

    ``skip``: a linear layer from the inputs straight to the output beside the MLP, so that the
    linear part of the policy (for inventory, the response to the inventory position, which
    must sum the inputs with equal weights) is learnt as a well-conditioned regression while the
    MLP learns the rest. ``head``: "softplus" (low + (high - low)/8 softplus(z), capped at high;
    the paper's code uses an unscaled softplus on unscaled inputs) or "sigmoid"
    (low + (high - low) sigmoid(z)).
    """

    def __init__(self, obs_dim, act_dim, hidden, layers, obs_mean, obs_std, low, high,
                 skip=False, head="softplus"):
        super().__init__()
        dims = [obs_dim] + [hidden] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.ELU()]
        mods.append(nn.Linear(dims[-1], act_dim))
        self.net = nn.Sequential(*mods)
        self.skip = nn.Linear(obs_dim, act_dim, bias=False) if skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
        if head not in ("softplus", "sigmoid"):
            raise ValueError(f"head must be 'softplus' or 'sigmoid', got {head!r}")
        self.head = head
        self.register_buffer("obs_mean", obs_mean)
        self.register_buffer("obs_std", obs_std)
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    def forward(self, obs):
        x = (obs - self.obs_mean) / self.obs_std
        z = self.net(x)
        if self.skip is not None:
            z = z + self.skip(x)
        if self.head == "sigmoid":
            return self.low + (self.high - self.low) * torch.sigmoid(z)
        # softplus scaled to an eighth of the action range, so that a unit of the MLP's output
        # moves the action as much as under the sigmoid head, with a kink at `low`
        a = self.low + (self.high - self.low) / 8 * nn.functional.softplus(z)
        return self.high - nn.functional.relu(self.high - a)  # cap at high


def _rollout_cost(sim, policy, batch, periods, warmup, gen, device):
    """Mean per-period loss (minus reward, summed over objectives) of one batch of paths."""
    state = sim.reset(batch, gen, device, horizon=periods)
    return _chunk_cost(sim, policy, state, periods, warmup)[0]


def _chunk_cost(sim, policy, state, periods, warmup):
    """Simulate ``periods`` more periods from ``state``: -> (mean per-period loss after the
    first ``warmup`` periods, final state)."""
    total = 0.0
    for t in range(periods):
        state, r, _, _ = sim.step(state, policy(sim.observe(state)))
        if t >= warmup:
            total = total - r.sum(dim=1).mean()
    return total / (periods - warmup), state


def _detach(state):
    return {k: (v.detach() if torch.is_tensor(v) else v) for k, v in state.items()}


class HDPO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=500_000_000, seconds=1200)
    description = "pathwise policy gradients through the batched simulator, MLP policy, Adam"
    version = 4  # what each version changed: solvers/README.md

    requires = (Simulated,)

    def supports(self, problem):
        if not problem.sim().differentiable:
            return "needs a differentiable batched simulator"
        if problem.spec.n_obj != 1 or problem.spec.n_con != 0 or problem.spec.answer != "policy":
            return "single-objective, unconstrained, single-policy problems only"
        return None

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        dev = self.device
        sim, sc = problem.sim(), problem.spec.scenarios
        gen = torch.Generator().manual_seed(seed)
        # observation statistics for standardisation, from a short rollout of a constant action
        # (an eighth of the way into the action box); these steps count against the budget
        with torch.no_grad():
            n_probe = 64
            state = sim.reset(n_probe, gen, dev, horizon=50)
            probe = torch.as_tensor(sim.action_low + (sim.action_high - sim.action_low) / 8,
                                    dtype=torch.float32, device=dev).expand(n_probe, sim.act_dim)
            obs = []
            for _ in range(50):
                obs.append(sim.observe(state))
                state, *_ = sim.step(state, probe)
            clock.add(n_probe * 50)
            obs = torch.cat(obs)
            if self.normalise == "none":
                obs_mean, obs_std = torch.zeros(sim.obs_dim, device=dev), torch.ones(sim.obs_dim, device=dev)
            elif self.normalise == "scalar":  # one scale for every input: keeps their sums meaningful
                obs_mean = torch.zeros(sim.obs_dim, device=dev)
                obs_std = obs.abs().mean().clamp_min(1e-3).expand(sim.obs_dim).clone()
            else:
                obs_mean, obs_std = obs.mean(0), obs.std(0).clamp_min(1.0)
        policy = MLPPolicy(sim.obs_dim, sim.act_dim, self.hidden, self.layers, obs_mean, obs_std,
                           torch.as_tensor(sim.action_low, dtype=torch.float32),
                           torch.as_tensor(sim.action_high, dtype=torch.float32),
                           skip=self.skip, head=self.head).to(dev)
        opt = torch.optim.Adam(policy.parameters(), lr=self.lr)
        batch = self.batch
        if clock.budget.steps is not None:  # a budget smaller than one step: fewer paths
            batch = int(max(1, min(batch, clock.steps_left // self.periods)))
        steps_per_iter = batch * self.periods
        dev_steps = self.dev_paths * self.dev_periods
        iters = self.max_iters
        if clock.budget.steps is not None:  # development evaluations count against the budget
            iters = max(1, min(iters, int(clock.budget.steps / (steps_per_iter + dev_steps / self.eval_every))))
        warm_iters = max(1, min(self.lr_warmup, iters // 2))
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warm_iters, total_iters=warm_iters),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, iters - warm_iters), eta_min=self.lr / 20)],
            milestones=[warm_iters])
        dev_seed = sc.dev_seed if sc is not None else seed + 1
        best, best_state, stale, it = math.inf, None, 0, 0

        def dev_evaluate(loss):
            nonlocal best, best_state, stale
            with torch.no_grad():
                dgen = torch.Generator().manual_seed(dev_seed)
                dev_cost = float(_rollout_cost(sim, policy, self.dev_paths, self.dev_periods,
                                               self.dev_warmup, dgen, dev))
            clock.add(dev_steps)
            log(clock.steps, dev_cost, train_loss=float(loss.detach()))
            if dev_cost < best - 1e-9:
                best, best_state, stale = dev_cost, copy.deepcopy(policy.state_dict()), 0
            else:
                stale += 1

        loss, evaluated, state = None, False, None
        while it < iters and clock.steps_left >= steps_per_iter and clock.seconds_left > 0:
            it += 1
            # truncated backpropagation through one long trajectory per path: each step
            # continues from where the last one stopped (so the policy trains on the states it
            # visits in the long run), with a fresh start every `chunks` steps
            if state is None or state["t"] + self.periods > state["T"]:
                start = sim.training_reset if self.spread_start else sim.reset
                state = start(batch, gen, dev, horizon=self.periods * self.chunks)
                warm = self.warmup
            else:
                warm = 0
            loss, state = _chunk_cost(sim, policy, _detach(state), self.periods, warm)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            clock.add(steps_per_iter)
            evaluated = False
            if it % self.eval_every == 0 and clock.steps_left >= dev_steps:
                dev_evaluate(loss)
                evaluated = True
                if stale >= self.patience:
                    break
        if loss is not None and not evaluated and clock.steps_left >= dev_steps:
            dev_evaluate(loss)
        if best_state is not None:  # the best policy on the development scenarios
            policy.load_state_dict(best_state)
        policy.eval()
        return Outcome(policies=[policy], info={"iterations": it, "dev_cost": best})


register_solver("hdpo", HDPO)
