"""`ppo-lagrangian`: PPO with a PID-controlled Lagrange multiplier per constraint, on the
problem's Gymnasium view (constraint costs from ``info["cost"]``).

Multiplier update: Stooke, Achiam, Abbeel, "Responsive Safety in Reinforcement Learning by PID
Lagrangian Methods" (ICML 2020), Algorithm 2: after each rollout, with J_c the mean episode
cost of the episodes that ended and d the constraint's threshold,
    e = J_c - d,  I <- max(0, I + e),  dJ = max(0, J_c - J_c(previous rollout)),
    lambda = max(0, Kp e + Ki I + Kd dJ),
where the episode cost is aggregated as the problem's test scenarios aggregate it (summed, or
averaged over the horizon).
Policy step: PPO's clipped surrogate on the combined advantage (A_r - sum_i lambda_i A_c,i) /
(1 + sum_i lambda_i), each advantage standardised per batch (as OmniSafe does), with separate
critics for the reward and for each cost (GAE for each).

Why not Stable-Baselines3: it has no cost critics or multiplier; a single readable file keeps
the algorithm checkable top to bottom (CleanRL style). Observations are normalised by running
statistics; rewards by a running estimate of the return's scale (SB3's RunningMeanStd, as in
its VecNormalize).
The returned policy is the Gaussian's mean under the frozen observation statistics.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver
from ..views import GymView
from ._ppo import clipped_surrogate, gae, ppo_defaults, standardise
from .ppo import box_policy_problem

DEFAULTS = {
    "n_envs": 8,
    "n_steps": 96,         # rollout length per env
    "minibatch": 256,
    "epochs": 10,
    **ppo_defaults("lr", "gamma", "gae_lambda", "clip", "vf_coef"),
    "hidden": 64,
    "log_std_init": -1.0,  # in the [-1, 1] action scale
    "kp": 0.1,             # PID gains on the multiplier (OmniSafe's CPPOPID defaults)
    "ki": 0.01,
    "kd": 0.01,
    "lambda_init": 0.0,
    "max_grad_norm": 0.5,
}


def mlp(inp, out, hidden, scale=1.0):
    net = nn.Sequential(nn.Linear(inp, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                        nn.Linear(hidden, out))
    nn.init.orthogonal_(net[-1].weight, scale)
    nn.init.zeros_(net[-1].bias)
    return net


class GaussianPolicy:
    """Deterministic batched policy: normalise obs, actor mean, clip, rescale to the box."""

    def __init__(self, actor, mean, var, low, high):
        self.actor = actor
        self.mean = torch.as_tensor(mean, dtype=torch.float32)
        self.std = torch.as_tensor(np.sqrt(var + 1e-8), dtype=torch.float32)
        self.low = torch.as_tensor(low, dtype=torch.float32)
        self.high = torch.as_tensor(high, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, obs):
        o = ((obs.float().cpu() - self.mean) / self.std).clamp(-10, 10)
        a = self.actor(o).clamp(-1.0, 1.0)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).to(obs.device)


class PPOLagrangian(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=150_000, seconds=1200)
    description = "PPO with PID-Lagrangian multipliers on the constraint costs (Stooke et al. 2020)"
    requires = (GymView,)

    def supports(self, problem):
        if problem.spec.n_con == 0:
            return "needs a problem with constraint costs (use `ppo` otherwise)"
        if any(c.sense != "le" for c in problem.spec.constraints):
            return "constraints of the form cost <= threshold only"
        return box_policy_problem(problem)

    def solve(self, problem, clock, seed, log):
        from stable_baselines3.common.running_mean_std import RunningMeanStd
        torch.manual_seed(seed)
        N, T = self.n_envs, self.n_steps
        envs = [problem.env() for _ in range(N)]
        space = envs[0].action_space
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        limits = np.array([c.threshold for c in problem.spec.constraints])
        sc = problem.spec.scenarios
        # per-step costs scaled so that an episode's sum is the constraint's measure
        cost_scale = 1.0 / sc.horizon if sc is not None and sc.aggregate == "mean" else 1.0
        K = len(limits)
        obs_dim, act_dim = envs[0].observation_space.shape[0], space.shape[0]
        actor = mlp(obs_dim, act_dim, self.hidden, 0.01)
        log_std = nn.Parameter(torch.full((act_dim,), float(self.log_std_init)))
        critics = mlp(obs_dim, 1 + K, self.hidden, 1.0)  # reward value, then one value per cost
        params = list(actor.parameters()) + [log_std] + list(critics.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, eps=1e-5)

        obs_stat, ret_stat = RunningMeanStd(shape=(obs_dim,)), RunningMeanStd(shape=())
        ret_acc = np.zeros(N)
        obs = np.stack([e.reset(seed=seed * 1000 + i)[0] for i, e in enumerate(envs)])
        ep_ret, ep_cost = np.zeros(N), np.zeros((N, K))
        lam = np.full(K, float(self.lambda_init))
        integral, prev_jc = np.zeros(K), None
        total = clock.budget.steps or 10**12
        it = 0

        def norm(o):
            return np.clip((o - obs_stat.mean) / np.sqrt(obs_stat.var + 1e-8), -10, 10).astype(np.float32)

        while clock.steps + N * T <= total and clock.seconds_left > 0:
            it += 1
            O = np.zeros((T, N, obs_dim), np.float32)
            A = np.zeros((T, N, act_dim), np.float32)
            LP = np.zeros((T, N), np.float32)
            R, C = np.zeros((T, N)), np.zeros((T, N, K))
            D = np.zeros((T, N))
            finished_ret, finished_cost = [], []
            for t in range(T):
                obs_stat.update(obs)
                o = torch.as_tensor(norm(obs))
                with torch.no_grad():
                    mu = actor(o)
                    dist = torch.distributions.Normal(mu, log_std.exp())
                    a = dist.sample()
                    LP[t] = dist.log_prob(a).sum(-1).numpy()
                O[t], A[t] = o.numpy(), a.numpy()
                act = low + (np.clip(a.numpy(), -1, 1) + 1.0) * 0.5 * (high - low)
                for i, e in enumerate(envs):
                    nobs, r, term, trunc, info = e.step(act[i].astype(np.float32))
                    R[t, i], C[t, i] = r, cost_scale * np.asarray(info["cost"])
                    ep_ret[i] += r
                    ep_cost[i] += C[t, i]
                    if term or trunc:
                        # a truncated episode is treated as ended (fixed-horizon problems: the
                        # observation carries t / T, so nothing is bootstrapped past the horizon)
                        D[t, i] = 1.0
                        finished_ret.append(ep_ret[i]), finished_cost.append(ep_cost[i].copy())
                        ep_ret[i], ep_cost[i] = 0.0, 0.0
                        nobs, _ = e.reset()
                    obs[i] = nobs
                ret_acc = ret_acc * self.gamma * (1 - D[t]) + R[t]
                ret_stat.update(ret_acc)
            clock.add(N * T)

            # PID-Lagrangian multiplier update from this rollout's finished episodes
            if finished_cost:
                jc = np.mean(finished_cost, axis=0)
                err = jc - limits
                integral = np.maximum(0.0, integral + err)
                deriv = np.zeros(K) if prev_jc is None else np.maximum(0.0, jc - prev_jc)
                lam = np.maximum(0.0, self.kp * err + self.ki * integral + self.kd * deriv)
                prev_jc = jc
                log(clock.steps, float(-np.mean(finished_ret)))

            scale = np.sqrt(ret_stat.var + 1e-8)
            with torch.no_grad():
                V = critics(torch.as_tensor(O.reshape(T * N, -1))).numpy().reshape(T, N, 1 + K)
                last_v = critics(torch.as_tensor(norm(obs))).numpy()
            adv_r, ret_r = gae(R / scale, V[..., 0], last_v[:, 0], D, self.gamma, self.gae_lambda)
            adv_c, ret_c = zip(*[gae(C[..., k], V[..., 1 + k], last_v[:, 1 + k], D, self.gamma, self.gae_lambda)
                                 for k in range(K)])
            adv_r = standardise(adv_r)
            adv_c = [standardise(a) for a in adv_c]  # standardised, as A_r
            adv = (adv_r - sum(l * a for l, a in zip(lam, adv_c))) / (1.0 + lam.sum())
            targets = np.stack([ret_r] + list(ret_c), axis=-1)

            flat = lambda x: torch.as_tensor(np.asarray(x, np.float32).reshape(T * N, *np.shape(x)[2:]))
            bO, bA, bLP, bAdv, bTgt = flat(O), flat(A), flat(LP), flat(adv), flat(targets)
            gen = torch.Generator().manual_seed(seed * 7919 + it)
            for _ in range(self.epochs):
                perm = torch.randperm(T * N, generator=gen)
                for s in range(0, T * N, self.minibatch):
                    j = perm[s:s + self.minibatch]
                    dist = torch.distributions.Normal(actor(bO[j]), log_std.exp())
                    ratio = (dist.log_prob(bA[j]).sum(-1) - bLP[j]).exp()
                    pg = clipped_surrogate(ratio, bAdv[j], self.clip)
                    vloss = ((critics(bO[j]) - bTgt[j]) ** 2).mean()
                    opt.zero_grad()
                    (pg + self.vf_coef * vloss).backward()
                    nn.utils.clip_grad_norm_(params, self.max_grad_norm)
                    opt.step()

        policy = GaussianPolicy(actor.eval(), obs_stat.mean.copy(), obs_stat.var.copy(), low, high)
        return Outcome(policies=[policy], info={"timesteps": int(clock.steps), "iterations": it,
                                                "lambda": lam.tolist(),
                                                "last_episode_cost": None if prev_jc is None else prev_jc.tolist()})


register_solver("ppo-lagrangian", PPOLagrangian)
