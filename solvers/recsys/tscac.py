"""`tscac`: the two-stage constrained actor-critic (Cai et al., WWW 2023, arXiv 2302.01680), as
the paper states it, on logged data.

Stage 1, for each auxiliary response i (click, like, follow, comment, forward, and hate
negated): a state-value critic V_i trained by TD(0) on the logged transitions (target network
updated softly), the one-step advantage A_i(s, a) = r_i + gamma V_i'(s') - V_i(s) of the logged
action, and an actor pi_i trained by advantage-weighted likelihood on the logged actions,
weights exp(A_i / beta_1) of the batch-standardised advantage (``stage1_loss='pg'``: the
weight A_i itself, the plain advantage-weighted log-likelihood).
Stage 2: a critic V_0 for play time and its advantage A_0; the policy maximising E[A_0] subject
to KL(pi || pi_i) <= eps_i for every i is, with multipliers lambda_i and Lambda = sum lambda_i,
    pi*(a|s) proportional to prod_i pi_i(a|s)^(lambda_i / Lambda) exp(A_0(s, a) / Lambda),
learned by weighted likelihood on the logged actions (the KL from pi* to pi_theta, sampled by
the behaviour policy pi_b): weights prod_i pi_i(a|s)^(w_i) / pi_b(a|s) x exp(A_0(s, a) / Lambda),
w_i = lambda_i / Lambda (equal here, as the paper's), pi_b the logged propensity.
Our choices (README): A_0 standardised per batch, so Lambda is a temperature on a unit-free
advantage; the weights self-normalised over the batch and clipped at ``weight_clip`` (the raw
exponential overflows); pi_b a behaviour model fitted beside the stage-1 actors (as the paper's
classifier); the lambda_i set automatically: one stage-2 actor per total Lambda in a grid,
trained together in ``rounds``, between which each actor's lambda_i move with its constraint
margins (lambda_i x exp(-dual_rate x margin_i), Lambda kept), the margins measured on the
learner's own estimate (simulation on its own seeds online; NCIS on a validation split of the
log offline); the returned actor is the one with the most play time among those meeting every
constraint there (else the one closest to meeting them), showing its most probable candidate.
The paper sets lambda by hand (1e-4 in its ablation).
"""
from __future__ import annotations

import copy

import torch

from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...problems.recsys import AUX, ShortVideoView
from .common import (Actors, Batches, ConstraintEstimator, Critics, GreedyPolicy, data_source, fits, soft_update,
                     split_sessions, standardise, td_step, training_log)

DEFAULTS = {
    "sessions": 25_000,     # online: production-ranker sessions logged in the simulator (the offline log's size)
    "batch": 256,
    "stage1_steps": 1500,
    "stage2_steps": 2500,
    "rounds": 5,            # stage-2 rounds; lambda_i move between rounds with the constraints' margins
    "dual_rate": 1.5,       # lambda_i <- lambda_i exp(-dual_rate x margin_i), each head's sum kept
    "behaviour": "model",   # pi_b in stage 2: 'model' (fitted, as the paper) or 'logged' (the log's propensity)
    "lr_actor": 1e-3,
    "lr_critic": 1e-3,
    "gamma": 0.99,
    "tau": 0.01,            # soft target updates (the paper's 0.001 is for 300,000 steps)
    "beta1": 1.0,           # stage-1 temperature on the standardised advantage
    "stage1_loss": "awr",   # 'awr': exp(A / beta1) weights; 'pg': A weights
    "lambdas": "1,2,3,4,6",  # Lambda grid (temperature on the standardised A_0)
    "weight_clip": 20.0,
    "validation": 0.1,      # offline: share of the log's sessions kept to estimate the constraints
    "hidden": 64,
}


def closed_form(logp_aux: torch.Tensor, lambdas: torch.Tensor, a0: torch.Tensor) -> torch.Tensor:
    """Stage 2's optimum over the actions of one state: pi* proportional to
    prod_i pi_i^(lambda_i / Lambda) exp(A_0 / Lambda), Lambda = sum_i lambda_i.
    ``logp_aux`` [m, K] (log pi_i), ``lambdas`` [m], ``a0`` [K] -> [K]."""
    total = lambdas.sum()
    return torch.softmax((lambdas[:, None] / total * logp_aux).sum(0) + a0 / total, -1)


def stage2_log_weights(logp_aux: torch.Tensor, lambdas: torch.Tensor, log_propensity: torch.Tensor,
                       a0: torch.Tensor) -> torch.Tensor:
    """Log-weights of the logged actions in stage 2's weighted likelihood:
    sum_i (lambda_i / Lambda) log pi_i(a|s) - log pi_b(a|s) + A_0(s, a) / Lambda. ``logp_aux``
    [m, B], ``lambdas`` [m] or [L, m] (one row per stage-2 actor), ``log_propensity`` [B],
    ``a0`` [B] -> [L, B]. Minimising -E_b[w log pi_theta(a|s)] over pi_theta gives pi*."""
    lam = lambdas if lambdas.dim() == 2 else lambdas[None]
    total = lam.sum(1, keepdim=True)
    return (lam / total) @ logp_aux - log_propensity[None] + a0[None] / total


def stage1(log, layout, p, clock, seed, deadline):
    """Critics and actors of the six auxiliary responses, and the behaviour model (a seventh
    actor fitted to the logged choices by cross-entropy, the paper's pi_b estimate);
    -> the frozen stack of seven actors (six auxiliaries, then the behaviour model)."""
    torch.manual_seed(seed)
    m = len(AUX)
    channels = list(range(1, 1 + m))
    batches = Batches(log, p["batch"], seed)
    critics, actors = Critics(layout, m, p["hidden"]), Actors(layout, m + 1, p["hidden"])
    target = copy.deepcopy(critics)
    opt_c = torch.optim.Adam(critics.parameters(), p["lr_critic"])
    opt_a = torch.optim.Adam(actors.parameters(), p["lr_actor"])
    for step in range(p["stage1_steps"]):
        if clock.seconds_left < deadline:
            break
        b = batches.sample()
        adv = standardise(td_step(critics, target, opt_c, b, channels, p["gamma"]))
        w = torch.exp(adv / p["beta1"]).clamp(max=p["weight_clip"]) if p["stage1_loss"] == "awr" else adv
        w = torch.cat([w, torch.ones(1, w.shape[1])])  # the behaviour model: plain likelihood
        logp = torch.log_softmax(actors(b["obs"]), -1).gather(2, b["action"].expand(m + 1, -1)[..., None])[..., 0]
        loss = -(w * logp).mean(1).sum()
        opt_a.zero_grad()
        loss.backward()
        opt_a.step()
        soft_update(target, critics, p["tau"])
    return actors.eval()


class Stage2:
    """The main critic and one stage-2 actor per row of ``lam`` [L, m] (lambda_i per
    auxiliary), trained on the closed form's weights; ``train`` continues where it stopped."""

    def __init__(self, log, layout, stage1_actors, p, seed, lam):
        torch.manual_seed(seed + 1)
        self.p, self.aux = p, stage1_actors
        self.batches = Batches(log, p["batch"], seed + 1)
        self.critic, self.actors = Critics(layout, 1, p["hidden"]), Actors(layout, lam.shape[0], p["hidden"])
        self.target = copy.deepcopy(self.critic)
        self.opt_c = torch.optim.Adam(self.critic.parameters(), p["lr_critic"])
        self.opt_a = torch.optim.Adam(self.actors.parameters(), p["lr_actor"])
        self.lam = lam

    def train(self, steps, clock, deadline):
        p, m, L = self.p, len(AUX), self.lam.shape[0]
        self.actors.train()
        for _ in range(steps):
            if clock.seconds_left < deadline:
                break
            b = self.batches.sample()
            a0 = standardise(td_step(self.critic, self.target, self.opt_c, b, [0], p["gamma"]))[0]
            with torch.no_grad():
                feats = self.actors.features(b["obs"])
                logp = torch.log_softmax(self.aux(b["obs"], feats), -1).gather(
                    2, b["action"].expand(m + 1, -1)[..., None])[..., 0]  # [m + 1, B]
                behaviour = logp[m] if p["behaviour"] == "model" else torch.log(b["propensity"])
                logw = stage2_log_weights(logp[:m], self.lam, behaviour, a0)  # [L, B]
                w = (torch.softmax(logw, 1) * logw.shape[1]).clamp(max=p["weight_clip"])  # self-normalised
            logp_theta = torch.log_softmax(self.actors(b["obs"], feats), -1).gather(
                2, b["action"].expand(L, -1)[..., None])[..., 0]
            loss = -(w * logp_theta).mean(1).sum()
            self.opt_a.zero_grad()
            loss.backward()
            self.opt_a.step()
            soft_update(self.target, self.critic, p["tau"])
        return self.actors.eval()


def evaluate_heads(actors, estimator, log, lam):
    rows = []
    for i in range(actors.m):
        play, aux = estimator.values(GreedyPolicy(actors, head=i))
        margins = estimator.margins(aux)
        rows.append({"head": i, "play": play, "min_margin": float(margins.min()), "margins": margins.tolist(),
                     "lambda": lam[i].tolist()})
        log(0, play, head=i, min_margin=float(margins.min()))
    return rows


def select(rows):
    """The head with the most play time among those meeting every constraint on the learner's
    estimate; if none does, the one with the largest smallest margin."""
    ok = [r for r in rows if r["min_margin"] >= 0]
    return (max(ok, key=lambda r: r["play"]) if ok else max(rows, key=lambda r: r["min_margin"]))["head"]


class TSCAC(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=2_000_000, seconds=420)
    description = "two-stage constrained actor-critic (Cai et al. 2023): per-response actors, KL-constrained closed form"
    requires = (ShortVideoView,)

    def supports(self, problem):
        return fits(problem)

    def solve(self, problem, clock, seed, log):
        p = dict(self.params)
        m = len(AUX)
        totals = [float(x) for x in str(p["lambdas"]).split(",")]
        data = training_log(problem, clock, seed, p["sessions"])
        validation = None
        if data_source(problem) == "log":
            data, validation = split_sessions(data, p["validation"], seed)
        estimator = ConstraintEstimator(problem, clock, seed, validation)
        reserve = 0.15 * clock.seconds_left  # the heads' evaluations
        half = reserve + 0.4 * (clock.seconds_left - reserve)
        aux = stage1(data, problem.layout, p, clock, seed, deadline=half)
        lam = torch.tensor(totals)[:, None].expand(-1, m) / m  # equal lambda_i at first, sum Lambda
        s2 = Stage2(data, problem.layout, aux, p, seed, lam.clone())
        rounds, history = max(1, int(p["rounds"])), []
        actors = s2.actors
        for r in range(rounds):
            left = rounds - r
            per_round = max(1, (clock.seconds_left - reserve) / left)
            actors = s2.train(p["stage2_steps"] // rounds, clock, deadline=clock.seconds_left - per_round + 1e-9
                              if r < rounds - 1 else reserve)
            if clock.seconds_left <= 0:  # out of time: the last round's evaluation decides
                break
            rows = evaluate_heads(actors, estimator, log, s2.lam)
            history.append(rows)
            if r < rounds - 1:  # lambda_i up where constraint i is missed, down where it has slack
                margins = torch.tensor([row["margins"] for row in rows], dtype=torch.float32)
                step = torch.exp(-p["dual_rate"] * margins.clamp(-1.0, 1.0))
                new = s2.lam * step
                s2.lam = new / new.sum(1, keepdim=True) * torch.tensor(totals)[:, None]  # keep each head's Lambda
        head = select(history[-1]) if history else len(totals) - 1  # unevaluated: the largest Lambda
        return Outcome(policies=[GreedyPolicy(actors, head=head)],
                       info={"lambda": s2.lam[head].tolist(), "Lambda": totals[head], "rounds": history,
                             "data_rows": len(data), "estimate": "simulation" if validation is None else "ncis-validation"})


register_solver("tscac", TSCAC)
