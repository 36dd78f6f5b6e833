"""`pgmorl`: prediction-guided multi-objective RL (Xu, Tian, Ma, Rus, Sueda, Matusik, ICML 2020).

1. Warm-up: ``n_tasks`` tasks (policy, weight), the weights spread over the simplex, each policy
   trained by weighted-sum PPO with a vector critic (MOPG) for ``warmup_fraction`` of the budget.
2. Every generation, for every policy of the population and each of ``n_candidates`` weights,
   the improvement that training it on that weight would bring is *predicted* per objective j
   by the paper's hyperbolic model dF_j(w) = A (e^{a (w_j - b)} - 1) / (e^{a (w_j - b)} + 1) + c,
   fitted by least squares to the training history of the policies near it in objective space
   (Gaussian kernel of width ``kernel_width`` times the population's spread; with fewer than
   four records, the kernel-weighted mean improvement). ``n_tasks`` tasks are then chosen
   greedily, each maximising Q = HV + ``sparsity_weight`` x sparsity of the external Pareto
   archive with the predictions of the tasks chosen so far added (the paper: weight -1).
3. Each chosen task trains a copy of its policy for ``task_iterations`` PPO iterations on its
   weight; the result is evaluated, recorded in the history (weight, F before, F after), added
   to the archive (non-dominated, crowding-reduced) and to the population.
4. Population: the objective space is split into ``buffers`` directions (angles for two
   objectives, the nearest of a spread of directions above) and each keeps its
   ``buffer_size`` policies farthest from the population's lower corner (the paper's
   performance buffers).
Resumable: after every trained policy the run's progress is checkpointed (``Resumable``,
shared with c-morl); a run started again after an interruption goes on from there.
The answer: the archive's policies (deterministic). Every environment step counts, the
evaluations included; the HV uses the problem's declared reference point (or the lower corner
of what has been seen less 1 when it declares none).

Departures from the paper, for this suite's budgets: iterations are of ``n_envs`` x ``n_steps``
steps (the paper: 2,048 x MuJoCo), the warm-up and each generation are sized by the budget
instead of fixed counts, the candidate weights are the same grid for every policy, and
discrete actions are supported (the same agent as ``c-morl``). Each objective's reward is
scaled by the running std of its return (``norm_reward``, the ``--obj-rms`` of the C-MORL
authors' scripts, whose code builds on PGMORL's); observation normalisation (``norm_obs``) is
off by default, as in c-morl (``solvers/README.md`` says why). The PGMORL authors' code was not read.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .._ppo import ppo_defaults
from ...metrics import hypervolume, sparsity
from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from .common import PPO, Archive, MOTask, Resumable, weighted_loss
from .linear_ppo import LinearPPO, weight_grid

DEFAULTS = {
    "n_tasks": 6,             # tasks per generation (and warm-up policies)
    "warmup_fraction": 0.4,   # share of the step budget spent on the warm-up
    "task_iterations": 5,     # PPO iterations per task and generation
    "n_candidates": 7,        # candidate weights per policy (the paper: 7 for two objectives)
    "sparsity_weight": -1.0,  # Q = HV + sparsity_weight x sparsity
    "kernel_width": 0.2,      # Gaussian kernel of the prediction fits, times the population's spread
    "buffers": 100,           # performance buffers (directions)
    "buffer_size": 2,
    "archive_size": 100,
    "eval_episodes": 1,
    "n_envs": 4,
    "n_steps": 128,
    "epochs": 10,             # PPO epochs per rollout (PGMORL's --ppo-epoch default)
    "minibatches": 4,
    **ppo_defaults(),         # lr, gamma, gae_lambda, clip, ent_coef, vf_coef
    "hidden": 64,
    "norm_obs": False,        # running observation normalisation (c-morl's; PGMORL's --ob-rms; off as in c-morl)
    "norm_reward": True,      # per-objective reward scaling by the return's running std (--obj-rms)
}


def hyperbolic(x, A, a, b, c):
    """The paper's improvement model, (e^z - 1) / (e^z + 1) = tanh(z / 2)."""
    return A * np.tanh(a * (np.asarray(x) - b) / 2) + c


def fit_improvement(w: np.ndarray, dF: np.ndarray, weight: np.ndarray):
    """One objective's model from records (weight component w, improvement dF, kernel weight);
    -> a function of the weight component."""
    from scipy.optimize import least_squares
    weight = weight / max(weight.sum(), 1e-12)
    mean = float((weight * dF).sum())
    if len(w) < 4 or weight.max() > 0.999:
        return lambda x: np.full(np.shape(x), mean)
    scale = float(np.abs(dF).max()) + 1e-9
    sw = np.sqrt(weight)
    res = least_squares(lambda p: sw * (hyperbolic(w, *p) - dF) / scale, x0=[scale, 1.0, 0.5, mean],
                        bounds=([0.0, 0.1, -0.5, -np.inf], [np.inf, 20.0, 1.5, np.inf]))
    p = res.x
    return lambda x: hyperbolic(x, *p)


class Population:
    """Performance buffers: policies binned by the direction of F - lower corner, each bin
    keeping the ``size`` farthest from the corner."""

    def __init__(self, n_obj: int, buffers: int, size: int, seed: int):
        self.dirs = weight_grid(n_obj, buffers, seed)
        self.dirs = self.dirs / np.linalg.norm(self.dirs, axis=1, keepdims=True)
        self.size, self.F, self.agents = size, np.zeros((0, n_obj)), []

    def add(self, F, agent) -> None:
        self.F = np.concatenate([self.F, np.asarray(F, float)[None]])
        self.agents.append(agent)
        shifted = self.F - self.F.min(0) + 1e-9
        bins = np.argmax((shifted / np.linalg.norm(shifted, axis=1, keepdims=True)) @ self.dirs.T, axis=1)
        keep = np.zeros(len(self.F), bool)
        norm = np.linalg.norm(shifted, axis=1)
        for b in np.unique(bins):
            idx = np.flatnonzero(bins == b)
            keep[idx[np.argsort(-norm[idx])[:self.size]]] = True
        self.F = self.F[keep]
        self.agents = [a for a, k in zip(self.agents, keep) if k]


def select_tasks(pop_F, history, candidates, archive_F, n_tasks, ref, sparsity_weight, kernel_width):
    """Greedy prediction-guided choice of (population index, weight row) pairs."""
    H_w, H_F0, H_dF = history
    spread = np.maximum(pop_F.max(0) - pop_F.min(0), 1e-9) if len(pop_F) > 1 else np.ones(pop_F.shape[1])
    preds = []  # (policy, candidate, predicted F)
    for i, F in enumerate(pop_F):
        d2 = (((H_F0 - F) / spread) ** 2).sum(1) if len(H_F0) else np.zeros(0)
        kw = np.exp(-d2 / (2 * kernel_width ** 2))
        models = [fit_improvement(H_w[:, j], H_dF[:, j], kw) if len(H_F0) else (lambda x: np.zeros(np.shape(x)))
                  for j in range(pop_F.shape[1])]
        for k, w in enumerate(candidates):
            preds.append((i, k, F + np.array([float(m(w[j])) for j, m in enumerate(models)])))
    chosen, virtual = [], archive_F.copy()

    senses = ["max"] * pop_F.shape[1]

    def quality(P):
        return hypervolume(P, ref, senses) + sparsity_weight * sparsity(P, senses)
    for _ in range(min(n_tasks, len(preds))):
        scores = [quality(np.concatenate([virtual, p[None]])) if (i, k) not in chosen else -np.inf
                  for i, k, p in preds]
        best = int(np.argmax(scores))
        i, k, p = preds[best]
        chosen.append((i, k))
        virtual = np.concatenate([virtual, p[None]])
    return chosen


class PGMORL(Solver):
    version = 5  # what each version changed: solvers/README.md
    defaults = DEFAULTS
    default_budget = Budget(steps=300_000, seconds=1800)
    description = "PGMORL: weighted PPO tasks chosen by predicted HV + sparsity gain, performance buffers"

    requires, supports = LinearPPO.requires, LinearPPO.supports

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        cfg = {k: getattr(self, k) for k in DEFAULTS}
        task = MOTask(problem, cfg)
        m, low, high, spec = task.m, task.low, task.high, problem.spec
        per_iter = cfg["n_envs"] * cfg["n_steps"]
        eval_cost = cfg["eval_episodes"] * task.horizon
        eval_seed = 10**6 + 1000 * seed + 500  # never the problem's test seeds
        archive = Archive(cfg["archive_size"])
        pop = Population(m, cfg["buffers"], cfg["buffer_size"], seed)
        history = [np.zeros((0, m)), np.zeros((0, m)), np.zeros((0, m))]  # weights, F before, F after - before
        ref = None if spec.hv_ref_point is None else np.asarray(spec.hv_ref_point, float) * task.sign

        def evaluate(agent):
            J, steps = task.evaluate(agent, cfg["eval_episodes"], eval_seed, max_steps=clock.steps_left)
            clock.add(steps)
            return J

        def train(agent, w, iterations, env_seed, stop_steps):
            ppo = PPO(agent, task.episodes(cfg["n_envs"], env_seed), cfg, low, high)
            for _ in range(iterations):
                if clock.steps_left < per_iter + eval_cost or clock.seconds_left <= 0 or clock.steps >= stop_steps:
                    break
                clock.add(ppo.iterate(weighted_loss(w, cfg["clip"])))

        def record(w, F0, agent, stage):
            F1 = evaluate(agent)
            history[0] = np.concatenate([history[0], w[None]])
            history[1] = np.concatenate([history[1], F0[None]])
            history[2] = np.concatenate([history[2], (F1 - F0)[None]])
            archive.add(F1, copy.deepcopy(agent))
            pop.add(F1, agent)
            log(clock.steps, float(len(archive.policies)), stage=stage)

        # a run resumed from its checkpoint skips the tasks (one trained policy each) it saved
        ck = Resumable(task, cfg, clock)
        saved = ck.load() or {}
        if saved:
            ck.restore_archive(archive, saved["archive"])
            pop.F, pop.agents = np.asarray(saved["pop_F"], float).reshape(-1, m), ck.agents(saved["pop_agents"])
            history[:] = [np.asarray(h, float).reshape(-1, m) for h in saved["history"]]
        warm_done, gen, q0, saved_starts = saved.get("warm", 0), saved.get("gen", 0), saved.get("task", 0), saved.get("starts")
        warm_steps = saved.get("warm_steps", clock.steps + cfg["warmup_fraction"] * clock.steps_left)

        def checkpoint(warm, done_tasks, starts):
            ck.save(warm=warm, gen=gen, task=done_tasks, warm_steps=warm_steps, archive=ck.archive_state(archive),
                    pop_F=pop.F.tolist(), pop_agents=[a.state_dict() for a in pop.agents],
                    history=[h.tolist() for h in history],
                    starts=None if starts is None else {"agents": [a.state_dict() for a, _, _ in starts],
                                                        "F0": [F0.tolist() for _, F0, _ in starts],
                                                        "w": [w.tolist() for _, _, w in starts]})

        # 1. warm-up: n_tasks fresh policies, one per weight
        weights = weight_grid(m, cfg["n_tasks"], seed)
        for k, w in enumerate(weights):
            if k < warm_done:
                continue
            agent = task.new_agent(cfg)
            F0 = evaluate(agent)
            share = clock.steps + (warm_steps - clock.steps) / (len(weights) - k)
            train(agent, w, 10**9, 1000 * seed + 10 * k, share)
            record(w, F0, agent, 0)
            checkpoint(k + 1, 0, None)
        # 2.-4. generations of predicted-best tasks until the budget is spent
        candidates = weight_grid(m, cfg["n_candidates"], seed + 1)
        while saved_starts is not None or (clock.steps_left >= per_iter + 2 * eval_cost and clock.seconds_left > 0):
            if saved_starts is not None:  # resumed within generation ``gen``
                starts = list(zip(ck.agents(saved_starts["agents"]), np.asarray(saved_starts["F0"], float),
                                  np.asarray(saved_starts["w"], float)))
                first, saved_starts = q0, None
            else:
                gen += 1
                r = ref if ref is not None else np.minimum(archive.J.min(0), pop.F.min(0)) - 1.0
                tasks = select_tasks(pop.F, history, candidates, archive.J, cfg["n_tasks"], r,
                                     cfg["sparsity_weight"], cfg["kernel_width"])
                starts = [(copy.deepcopy(pop.agents[i]), pop.F[i].copy(), candidates[k]) for i, k in tasks]
                first = 0
            for q, (agent, F0, w) in enumerate(starts):
                if q < first:
                    continue
                if clock.steps_left < per_iter + eval_cost or clock.seconds_left <= 0:
                    break
                train(agent, w, cfg["task_iterations"], 7919 * gen + 101 * q, math.inf)
                record(w, F0, agent, gen)
                checkpoint(len(weights), q + 1, starts)
        return Outcome(policies=task.answer(archive.policies),
                       info={"archive": archive.J.tolist(), "generations": gen})


register_solver("pgmorl", PGMORL)
