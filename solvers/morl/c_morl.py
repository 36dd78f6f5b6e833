"""`c-morl` (Liu et al., "C-MORL: Multi-Objective Reinforcement Learning through Efficient
Discovery of Pareto Front", ICLR 2025): Pareto initialisation, then constrained policy
optimisation that extends the front from its sparsest points.

1. Pareto initialisation: ``n_init`` PPO policies, one per weight vector spread over the
   simplex (a simplex lattice, the authors' ``--delta-weight`` grid: ``init_weights``), trained
   on the weighted sum of the per-objective advantages (the advantage of the weighted reward;
   standardised as a scalar), with ``init_fraction`` of the step budget shared evenly.
2. Archive: every evaluated policy (its return vector J, measured by ``eval_episodes``
   deterministic episodes) enters; it keeps the non-dominated ones and, above ``archive_size``,
   drops the most crowded (crowding distance, pymoo's).
3. Selection: the ``n_select`` archived policies of largest crowding distance (the boundary
   points, whose distance is infinite, first).
4. Extension: from each selected policy and each objective i, PPO updates that maximise J_i
   subject to J_j >= J_j(start) - (1 - beta) |J_j(start)| for every j != i (the paper's
   beta J_j written for returns of either sign), through the interior-point log barrier of
   IPO (Liu, Ding, Liu, AAAI 2020) on the clipped surrogate. J_j of the updated policy is
   estimated from each rollout by the importance-weighted advantage,
   J_j(theta) - J_j(rollout policy) ~ mean((ratio - 1) A_j) x steps per episode, added to the
   rollout policy's evaluated J_j; the barrier is taken on g_j = (J_j(theta) - threshold_j) /
   margin_j (1 at the start, 0 on the constraint), in the extended form (Kervadec et al. 2019)
   so that it stays finite when an estimate crosses the boundary. Every intermediate policy is
   evaluated into the archive (1e-3 is added to every margin so that a zero return still
   leaves the start strictly feasible).
   The remaining budget is split evenly over ``rounds`` rounds of selection and extension, and
   within a round over the (policy, objective) pairs.

Resumable: after every trained policy (an initialisation weight, an extension pair) the run's
progress is checkpointed (``Resumable``); a run started again after an interruption goes on
from there and, under a step budget, ends as the uninterrupted run would have.

Each objective's reward is scaled by the running std of its discounted return (``norm_reward``,
the authors' --obj-rms, on by default): the critic learns each objective's return in those
units, and the advantages are scaled back to return units before the weights or the
constraints read them (as the authors' update does). Observations can be normalised by running
statistics too (``norm_obs``, the authors' --ob-rms, which every one of their scripts sets); it
is off by default (``solvers/README.md`` says why) and on for the tasks of the paper
(``PAPER_TASK_OPTIONS``). The agent carries its statistics (``RunningMoments`` buffers), so an archived policy is
evaluated as it was trained.

All returns are handled as maximised (objectives declared ``min`` enter negated) and, for
evaluation, discounted as the problem scores them (undiscounted unless its test scenarios set a
discount); PPO itself discounts with ``gamma``, or with the problem's discount where it has one. Environment steps spent in
evaluation count towards the budget. The answer: the archive's policies (deterministic).
Of the authors' code only the run scripts (for ``PAPER_TASK_OPTIONS``) and the argument
defaults (``morl/arguments.py``: 10 PPO epochs) were read; other defaults not stated in the issue
are this suite's choice.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from .._ppo import clipped_surrogate, ppo_defaults, standardise
from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from .common import PPO, Archive, MOTask, Resumable, weighted_loss
from .linear_ppo import LinearPPO

DEFAULTS = {
    "n_init": 6,             # Pareto-initialisation policies (at least; a full simplex lattice, ``init_weights``)
    "init_fraction": 0.4,    # share of the step budget spent on initialisation
    "n_select": 3,           # policies extended per round (largest crowding distance first)
    "rounds": 2,             # selection + extension rounds sharing the rest of the budget
    "beta": 0.9,             # constraint: J_j >= J_j(start) - (1 - beta) |J_j(start)|
    "barrier_t": 20.0,       # IPO barrier: -log(g) / t
    "archive_size": 100,
    "eval_episodes": 1,      # deterministic episodes per archived policy (more for stochastic tasks)
    "n_envs": 4,
    "n_steps": 128,          # steps per environment per PPO iteration
    "epochs": 10,            # PPO epochs per rollout (the authors' --ppo-epoch default)
    "minibatches": 4,
    **ppo_defaults(),         # lr, gamma, gae_lambda, clip, ent_coef, vf_coef
    "hidden": 64,
    "norm_obs": False,       # running mean/std normalisation of observations (the authors' --ob-rms; docstring)
    "norm_reward": True,     # each objective's reward over the running std of its return (--obj-rms)
}

# The authors' per-task settings, from the run scripts of their code (github.com/RuohLiuq/C-MORL,
# scripts/ftn.py, minecart.py, hopper-2d.py; `--num-init-steps` of
# `--num-time-steps` read as the initialisation's share of the whole budget): what
# `paper_options` gives the benchmark for the tasks of the paper. Their evaluation episodes
# (10, 10, 5) are not taken: here evaluation steps count against the step budget, and at CPU
# budgets 10 minecart episodes per archived policy would leave almost nothing to train on.
PAPER_TASK_OPTIONS = {  # every script also sets --ob-rms (norm_obs) and --obj-rms (norm_reward, the default)
    "mogym/fruit-tree-v0": {"init_fraction": 0.2, "n_select": 6, "norm_obs": True},               # 100k of 500k steps
    "mogym/minecart-v0": {"init_fraction": 0.4, "n_select": 6, "gamma": 0.98, "norm_obs": True},  # 200k of 500k steps
    "mogym/mo-hopper-2obj-v0": {"init_fraction": 0.667, "n_select": 5, "norm_obs": True},         # 1M of 1.5M steps
}


def init_weights(n_obj: int, n: int) -> np.ndarray:
    """The Pareto initialisation's weights: the simplex lattice (Das-Dennis, pymoo's) with the
    fewest partitions p that has at least ``n`` points, i.e. every weight a multiple of 1/p.
    This is the authors' warm-up grid (``--delta-weight`` = 1/p; their scripts: fruit-tree 1,
    minecart 0.5, hopper-2d 0.2), so with 6 policies: 2 objectives, steps of 0.2; 3 objectives,
    the corners and the edge midpoints; 6 objectives, the corners. ``n`` is rounded up to a full
    lattice (e.g. 10 for 4 objectives)."""
    from pymoo.util.ref_dirs import get_reference_directions
    p = 1
    while math.comb(p + n_obj - 1, n_obj - 1) < n:
        p += 1
    return get_reference_directions("das-dennis", n_obj, n_partitions=p)


def paper_options(problem_id: str) -> dict:
    """The authors' settings for a task of the paper ({} for the others)."""
    return dict(PAPER_TASK_OPTIONS.get(problem_id, {}))


# --- the constrained extension's loss ---------------------------------------------------------

def barrier(g: torch.Tensor, t: float) -> torch.Tensor:
    """Extended log barrier (Kervadec et al. 2019) for g > 0: -log(g) / t above 1/t^2, its
    tangent line below (finite and increasing as g falls past the constraint)."""
    lim = 1.0 / t ** 2
    return torch.where(g >= lim, -torch.log(g.clamp_min(lim)) / t, -t * g - math.log(lim) / t + 1.0 / t)


def ipo_loss(logp, logp_old, adv, objective: int, slack, scale, steps_per_episode: float, clip: float, t: float):
    """C-MORL's constrained surrogate for one minibatch: minus the clipped PPO surrogate on the
    standardised advantage of ``objective`` plus the barrier of every other objective j, on
    g_j = (slack_j + estimated change of J_j) / scale_j, where slack_j = J_j(rollout policy) -
    threshold_j and scale_j the start's margin (g = 1 at the start, 0 on the constraint).
    adv [B, m] in return units."""
    ratio = (logp - logp_old).exp()
    loss = clipped_surrogate(ratio, standardise(adv[:, objective]), clip)
    for j in range(adv.shape[1]):
        if j != objective:
            change = ((ratio - 1.0) * adv[:, j]).mean() * steps_per_episode
            loss = loss + barrier((float(slack[j]) + change) / float(scale[j]), t)
    return loss




def constrained_loss(objective: int, slack, scale, clip: float, t: float):
    """The policy loss of an extension step (``ipo_loss``) for ``PPO.iterate``."""
    def loss(logp, logp_old, adv, steps_per_episode):
        return ipo_loss(logp, logp_old, adv, objective, slack, scale, steps_per_episode, clip, t)
    return loss


class CMORL(Solver):
    version = 7  # what each version changed: solvers/README.md
    defaults = DEFAULTS
    default_budget = Budget(steps=300_000, seconds=1800)
    description = "C-MORL: Pareto initialisation + IPO-constrained PPO from the sparsest archived policies"

    requires, supports = LinearPPO.requires, LinearPPO.supports  # Pareto-policy problems with a Gymnasium view

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        cfg = {k: getattr(self, k) for k in DEFAULTS}
        task = MOTask(problem, cfg)
        m, low, high = task.m, task.low, task.high
        archive = Archive(cfg["archive_size"])
        eval_seed = 10**6 + 1000 * seed  # never the problem's test seeds
        per_iter = cfg["n_envs"] * cfg["n_steps"]

        def add(agent, stage):
            J, steps = task.evaluate(agent, cfg["eval_episodes"], eval_seed, max_steps=clock.steps_left)
            clock.add(steps)
            archive.add(J, copy.deepcopy(agent))
            log(clock.steps, float(len(archive.policies)), stage=stage)
            return J

        eval_cost = cfg["eval_episodes"] * task.horizon  # the most steps one evaluation can take

        def share(fraction):
            """A stop test for a phase given ``fraction`` of the remaining steps and seconds; the
            next iteration must leave room for the evaluation that follows it."""
            steps0, left_steps, t_end = clock.steps, clock.steps_left, clock.elapsed + fraction * clock.seconds_left
            return lambda: (clock.steps - steps0 + per_iter > fraction * left_steps or clock.elapsed >= t_end
                            or clock.steps_left < per_iter + eval_cost)

        # a run resumed from its checkpoint skips the units (one trained policy each) it saved
        ck = Resumable(task, cfg, clock)
        saved = ck.load() or {}
        if saved:
            ck.restore_archive(archive, saved["archive"])
        done_init, r0, q0 = saved.get("init", 0), saved.get("round", 0), saved.get("pair", 0)
        init_left = saved.get("init_left", cfg["init_fraction"])
        saved_starts = saved.get("starts")

        def checkpoint(init, rnd, pair, starts):
            ck.save(init=init, round=rnd, pair=pair, init_left=init_left, archive=ck.archive_state(archive),
                    starts=None if starts is None else {"agents": [a.state_dict() for a, _ in starts],
                                                        "J": [J.tolist() for _, J in starts]})

        # 1. Pareto initialisation: init_fraction of the budget, evenly over the weights
        weights = init_weights(m, cfg["n_init"])
        for k, w in enumerate(weights):
            if k < done_init:
                continue
            done = share(init_left / (len(weights) - k))
            init_left -= init_left / (len(weights) - k)
            agent = task.new_agent(cfg)
            ppo = PPO(agent, task.episodes(cfg["n_envs"], 1000 * seed + 10 * k), cfg, low, high)
            while not done():
                clock.add(ppo.iterate(weighted_loss(w, cfg["clip"])))
            add(agent, 0)
            checkpoint(k + 1, 0, 0, None)
        # 2.-4. selection and constrained extension, the rest of the budget split evenly
        for r in range(r0, cfg["rounds"]):
            if r == r0 and saved_starts is not None:  # resumed within this round
                starts = list(zip(ck.agents(saved_starts["agents"]), np.asarray(saved_starts["J"], float)))
            else:
                chosen = archive.select(cfg["n_select"])
                starts = [(copy.deepcopy(archive.policies[i]), archive.J[i].copy()) for i in chosen]
            pairs = [(s, i) for s in range(len(starts)) for i in range(m)]
            for q, (s, i) in enumerate(pairs):
                if r == r0 and q < q0:
                    continue
                done = share(1.0 / ((cfg["rounds"] - r - 1) * len(pairs) + len(pairs) - q))
                start, J0 = starts[s]
                agent = copy.deepcopy(start)
                scale = (1.0 - cfg["beta"]) * np.abs(J0) + 1e-3  # > 0: the start is strictly feasible
                threshold, J = J0 - scale, J0
                ppo = PPO(agent, task.episodes(cfg["n_envs"], 7919 * (r + 1) + 101 * s + i), cfg, low, high)
                while not done():
                    clock.add(ppo.iterate(constrained_loss(i, J - threshold, scale, cfg["clip"], cfg["barrier_t"])))
                    J = add(agent, r + 1)  # the evaluated J of the new iterate: the next slack
                checkpoint(len(weights), r, q + 1, starts)
        return Outcome(policies=task.answer(archive.policies),
                       info={"archive": archive.J.tolist(), "weights": weights.tolist()})


register_solver("c-morl", CMORL)
