"""Rule baselines of the short-video problems.

`popular`: the candidate with the largest exposure share (the observed popularity
statistic) not seen within the window.
`oracle`: knows the simulator's latent factors (it reads the user and the videos behind the
observation from the world's tables and calls the response model): a greedy constrained
one-step policy, showing the candidate with the most expected play time plus
sum_i mu_i x (expected response i, relative to the production ranker's rate; hate counted
negatively), the multipliers mu found by a few dual steps on simulated sessions of its own
seeds (on the two-objective problem, one policy per weight on the interactions). One step at a
time, it ignores how the choice changes when the user leaves: a best-known policy, not an
optimal one (the LP reference is the optimum where it can be computed).
"""
from __future__ import annotations

import numpy as np
import torch

from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...problems.recsys import (AUX, INTERACTIONS, VIDEO_FEATURES, ShortVideoSim, ShortVideoView, decode, respond,
                                simulate_totals)
from .common import fits


class PopularPolicy:
    def __init__(self, layout):
        self.layout = layout

    def scores(self, obs):
        _, cands, _ = self.layout.split(obs.float())
        return cands[..., VIDEO_FEATURES - 1] - 100.0 * self.layout.crosses(obs.float())[..., 1]

    def __call__(self, obs):
        return self.scores(obs).argmax(1, keepdim=True).float()

    def probs(self, obs):
        s = self.scores(obs)
        return torch.nn.functional.one_hot(s.argmax(1), s.shape[1]).float()


class Popular(Solver):
    defaults: dict = {}
    default_budget = Budget(steps=1, seconds=30)
    description = "most popular candidate not seen within the window"
    requires = (ShortVideoView,)

    def supports(self, problem):
        return fits(problem, answers=("policy", "pareto-policies"))

    def solve(self, problem, clock, seed, log):
        return Outcome(policies=[PopularPolicy(problem.layout)])


class OraclePolicy:
    """Greedy on expected play time (in 10 s) + sum_i mu_i x sign_i x p_i / rate_i."""

    def __init__(self, world, layout, mu, rates, sign):
        self.world, self.layout = world, layout
        self.coef = torch.as_tensor(np.asarray(mu) * sign / rates, dtype=torch.float32)

    @torch.no_grad()
    def scores(self, obs):
        d = decode(self.world, self.layout, obs.float().cpu())
        r = respond(self.world, d["user"], d["cands"], d["hist_v"])
        return r["play"] / 10.0 + (r["probs"] * self.coef).sum(-1)

    def __call__(self, obs):
        return self.scores(obs).argmax(1, keepdim=True).float().to(obs.device)

    def probs(self, obs):
        s = self.scores(obs)
        return torch.nn.functional.one_hot(s.argmax(1), s.shape[1]).float()


class Oracle(Solver):
    defaults = {"dual_steps": 10, "dev_sessions": 1024, "eta": 1.0, "weights": "0,1,4,16,64"}
    default_budget = Budget(steps=2_000_000, seconds=300)
    description = "knows the latent factors: greedy constrained one-step policy (best-known, not optimal)"
    requires = (ShortVideoView,)

    def supports(self, problem):
        return fits(problem, answers=("policy", "pareto-policies"))

    def solve(self, problem, clock, seed, log):
        world, layout = problem.world, problem.layout
        sim = ShortVideoSim(world, problem.candidates, problem.horizon)
        ranker = problem.ranker()
        length = ranker["session_length"]
        rates = np.array([ranker[k] / length for k in AUX])
        sign = np.array([-1.0 if k == "hate" else 1.0 for k in AUX])
        if problem.spec.answer == "pareto-policies":
            inter = np.array([1.0 if k in INTERACTIONS else 0.0 for k in AUX])
            pols = [OraclePolicy(world, layout, w * inter * rates / rates[inter > 0].sum(), rates, sign)
                    for w in (float(x) for x in str(self.weights).split(","))]
            return Outcome(policies=pols)
        limits = np.array([c.threshold for c in problem.spec.constraints])
        csign = np.array([1.0 if c.sense == "ge" else -1.0 for c in problem.spec.constraints])
        mu = np.zeros(len(AUX))
        best, history = None, []
        for it in range(self.dual_steps):
            if clock.seconds_left < 10:
                break
            pol = OraclePolicy(world, layout, mu, rates, sign)
            tot, aux, steps = simulate_totals(sim, pol, self.dev_sessions, seed * 1000 + it)
            clock.add(int(steps.sum()))
            aux_mean = aux.mean(0).numpy()
            margins = csign * (aux_mean - limits) / np.abs(limits)
            play = float(tot[:, 0].mean())
            history.append({"mu": mu.tolist(), "play": play, "margins": margins.tolist()})
            log(clock.steps, play, min_margin=float(margins.min()))
            if margins.min() >= 0 and (best is None or play > best[0]):
                best = (play, mu.copy())
            mu = np.maximum(0.0, mu - self.eta * margins)
        mu = best[1] if best is not None else mu
        return Outcome(policies=[OraclePolicy(world, layout, mu, rates, sign)], info={"mu": mu.tolist(),
                                                                                     "duals": history})


register_solver("popular", Popular)
register_solver("oracle", Oracle)
