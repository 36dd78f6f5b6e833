"""`rcpo`: reward-constrained policy optimisation (Tessler, Mankowitz, Mannor, ICLR 2019), the
Lagrangian actor-critic the TSCAC paper compares with, on the same data and networks as
``tscac``.

One state-value critic per response (play time and the six auxiliaries, hate negated; TD(0)
on the logged transitions, as tscac's), one actor trained by advantage-weighted likelihood on
the logged actions with the Lagrangian advantage (A_0 + sum_i lambda_i A_i) / (1 + sum_i
lambda_i) (each advantage standardised per batch; weights exp(A / beta)), and multipliers
updated on a slower time scale from the current policy's constraint margins:
lambda_i <- max(0, lambda_i - eta x margin_i) every ``dual_every`` steps (margin > 0: met),
the margins measured as tscac measures them (simulation on the learner's own seeds online,
NCIS on a validation split of the log offline). The returned policy is the last iterate's
most probable candidate. (The authors' code fixes the multipliers: README.)
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...problems.recsys import AUX, ShortVideoView
from .common import (Actors, Batches, ConstraintEstimator, Critics, GreedyPolicy, data_source, fits, soft_update,
                     split_sessions, standardise, td_step, training_log)

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
    "dual_every": 250,      # actor steps between multiplier updates
    "eta": 2.0,             # multiplier step per unit of relative margin
    "lambda_init": 0.0,
    "validation": 0.1,
    "hidden": 64,
}


class RCPO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=2_000_000, seconds=300)
    description = "reward-constrained policy optimisation (Lagrangian actor-critic, Tessler et al. 2019)"
    requires = (ShortVideoView,)

    def supports(self, problem):
        return fits(problem)

    def solve(self, problem, clock, seed, log):
        p = dict(self.params)
        torch.manual_seed(seed)
        data = training_log(problem, clock, seed, p["sessions"])
        validation = None
        if data_source(problem) == "log":
            data, validation = split_sessions(data, p["validation"], seed)
        estimator = ConstraintEstimator(problem, clock, seed, validation)
        channels = list(range(1 + len(AUX)))
        batches = Batches(data, p["batch"], seed)
        critics, actor = Critics(problem.layout, len(channels), p["hidden"]), Actors(problem.layout, 1, p["hidden"])
        target = copy.deepcopy(critics)
        opt_c = torch.optim.Adam(critics.parameters(), p["lr_critic"])
        opt_a = torch.optim.Adam(actor.parameters(), p["lr_actor"])
        lam = np.full(len(AUX), float(p["lambda_init"]))
        reserve = 0.08 * clock.seconds_left
        history = []
        for step in range(1, p["steps"] + 1):
            if clock.seconds_left < reserve:
                break
            b = batches.sample()
            adv = standardise(td_step(critics, target, opt_c, b, channels, p["gamma"]))  # [7, B]
            lt = torch.as_tensor(lam, dtype=torch.float32)
            a_l = (adv[0] + (lt[:, None] * adv[1:]).sum(0)) / (1.0 + lt.sum())
            w = torch.exp(a_l / p["beta"]).clamp(max=p["weight_clip"])
            logp = torch.log_softmax(actor(b["obs"])[0], -1).gather(1, b["action"][:, None])[:, 0]
            loss = -(w * logp).mean()
            opt_a.zero_grad()
            loss.backward()
            opt_a.step()
            soft_update(target, critics, p["tau"])
            if step % p["dual_every"] == 0 and clock.seconds_left > reserve:
                play, aux = estimator.values(GreedyPolicy(actor))
                margins = estimator.margins(aux)
                lam = np.maximum(0.0, lam - p["eta"] * margins)
                history.append({"step": step, "play": play, "margins": margins.tolist(), "lambda": lam.tolist()})
                log(clock.steps, play, min_margin=float(margins.min()))
        return Outcome(policies=[GreedyPolicy(actor)], info={"lambda": lam.tolist(), "duals": history,
                                                             "data_rows": len(data)})


register_solver("rcpo", RCPO)
