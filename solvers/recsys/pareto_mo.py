"""`pareto-mo`: the Pareto multi-objective baseline of the TSCAC paper: one actor trained on a
weighted sum of per-response losses whose weights are the Pareto-efficient ones of Lin et al.
("A Pareto-Efficient Algorithm for Multiple Objective Optimization in E-Commerce
Recommendation", RecSys 2019): the minimum-norm point of the convex hull of the per-objective
gradients, each weight at least its lower bound (the multiple-gradient descent of Désidéri
2012 with the paper's bounds). Critics and per-objective losses as ``rcpo``'s (advantage-
weighted likelihood of the logged actions, one state-value critic per response).

Objectives: play time and the six auxiliaries (hate negated) on constrained problems; play time
and the interactions on the two-objective problem, where each bound on the play-time weight
in ``play_bounds`` gives one policy of the answer set. The weights are recomputed every
``mgda_every`` steps (one backward pass per objective). It does not know the thresholds.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...problems.recsys import AUX, INTERACTIONS, ShortVideoView
from .common import Actors, Batches, Critics, GreedyPolicy, fits, soft_update, standardise, td_step, training_log

DEFAULTS = {
    "sessions": 25_000,
    "batch": 256,
    "steps": 2000,
    "lr_actor": 1e-3,
    "lr_critic": 1e-3,
    "gamma": 0.99,
    "tau": 0.01,
    "beta": 1.0,
    "weight_clip": 20.0,
    "mgda_every": 10,
    "play_bound": 0.5,               # constrained problems: lower bound of the play-time weight (others 0)
    "play_bounds": "0.9,0.7,0.5,0.3,0.1",  # two-objective problem: one policy per bound
    "hidden": 64,
}


def min_norm_weights(gram: np.ndarray, lower: np.ndarray, iters: int = 200) -> np.ndarray:
    """argmin_w w' G w over {w >= lower, sum w = 1} (projected gradient on the simplex)."""
    k = len(lower)
    free = 1.0 - lower.sum()
    u = np.full(k, 1.0 / k)
    step = 1.0 / (2 * np.abs(gram).max() * free ** 2 + 1e-12)
    for _ in range(iters):
        w = lower + free * u
        u = project_simplex(u - step * 2 * free * (gram @ w))
    return lower + free * u


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (Duchi et al. 2008)."""
    s = np.sort(v)[::-1]
    css = np.cumsum(s) - 1
    rho = np.nonzero(s * np.arange(1, len(v) + 1) > css)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


class ParetoMO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=2_000_000, seconds=300)
    description = "Pareto-efficient multi-objective weights (min-norm gradient combination, Lin et al. 2019)"
    requires = (ShortVideoView,)

    def supports(self, problem):
        return fits(problem, answers=("policy", "pareto-policies"))

    def solve(self, problem, clock, seed, log):
        p = dict(self.params)
        torch.manual_seed(seed)
        pareto = problem.spec.answer == "pareto-policies"
        data = training_log(problem, clock, seed, p["sessions"])
        batches = Batches(data, p["batch"], seed)
        if pareto:  # play time, and the interactions (their raw sum, scaled by its mean)
            idx = [1 + AUX.index(k) for k in INTERACTIONS]
            raw = data.rewards()[:, idx].sum(1)
            inter = raw / raw.mean().clamp_min(1e-8)
            batches.rewards = torch.cat([batches.rewards[:, :1], inter[:, None]], 1)
            bounds = [float(x) for x in str(p["play_bounds"]).split(",")]
            lower = np.array([[b, 0.0] for b in bounds])
        else:
            lower = np.array([[p["play_bound"]] + [0.0] * len(AUX)])
        M, K = lower.shape
        critics = Critics(problem.layout, K, p["hidden"])
        actors = Actors(problem.layout, M, p["hidden"])
        target = copy.deepcopy(critics)
        opt_c = torch.optim.Adam(critics.parameters(), p["lr_critic"])
        opt_a = torch.optim.Adam(actors.parameters(), p["lr_actor"])
        weights = lower + (1 - lower.sum(1, keepdims=True)) / K
        params = list(actors.parameters())
        for step in range(p["steps"]):
            if clock.seconds_left < 5:
                break
            b = batches.sample()
            adv = standardise(td_step(critics, target, opt_c, b, list(range(K)), p["gamma"]))  # [K, B]
            w_obj = torch.exp(adv / p["beta"]).clamp(max=p["weight_clip"])  # [K, B]
            logp = torch.log_softmax(actors(b["obs"]), -1).gather(2, b["action"].expand(M, -1)[..., None])[..., 0]
            losses = -(w_obj[:, None, :] * logp[None]).mean(2)  # [K, M]
            if step % p["mgda_every"] == 0:
                grads = []
                for k in range(K):
                    g = torch.autograd.grad(losses[k].sum(), params, retain_graph=True)
                    grads.append(torch.cat([x.reshape(M, -1) for x in g], 1))  # [M, P]
                G = torch.stack(grads, 1)  # [M, K, P]
                gram = torch.einsum("mkp,mjp->mkj", G, G).double().numpy()
                weights = np.stack([min_norm_weights(gram[m], lower[m]) for m in range(M)])
            wt = torch.as_tensor(weights.T, dtype=torch.float32)  # [K, M]
            loss = (wt * losses).sum()
            opt_a.zero_grad()
            loss.backward()
            opt_a.step()
            soft_update(target, critics, p["tau"])
        policies = [GreedyPolicy(actors, head=m) for m in range(M)]
        return Outcome(policies=policies, info={"weights": weights.tolist(), "data_rows": len(data)})


register_solver("pareto-mo", ParetoMO)
