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
statistics too (``norm_obs``, the authors' --ob-rms, which every one of their scripts sets), but
it is off by default: at 100,000 steps it was neutral on deep-sea-treasure (3 seeds) and
mo-hopper-2obj (1 seed) and stopped mo-halfcheetah from learning to run (HV 0 against 1.0e7,
seed 0); the benchmark turns it on for the tasks of the paper (``PAPER_TASK_OPTIONS``). The
agent carries its statistics (``RunningMoments`` buffers), so an archived policy is
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

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver
from ._advantage import gae
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
    "epochs": 10,            # PPO epochs per rollout (the authors' --ppo-epoch default; was 4 here until version 7)
    "minibatches": 4,
    "lr": 3e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "hidden": 64,
    "norm_obs": False,       # running mean/std normalisation of observations (the authors' --ob-rms; docstring)
    "norm_reward": True,     # each objective's reward over the running std of its return (--obj-rms)
}

# The authors' per-task settings, from the run scripts of their code (github.com/RuohLiuq/C-MORL,
# scripts/ftn.py, minecart.py, hopper-2d.py, read 2026-11-28; `--num-init-steps` of
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


# --- archive --------------------------------------------------------------------------------

def nondominated(J: np.ndarray) -> np.ndarray:
    """Mask of the rows of J (maximised) that no other row dominates (duplicates: the first)."""
    keep = np.ones(len(J), bool)
    for i in range(len(J)):
        dom = np.all(J >= J[i], 1) & np.any(J > J[i], 1)
        same = np.all(J == J[i], 1) & (np.arange(len(J)) < i)
        keep[i] = not (dom.any() or same.any())
    return keep


def crowding(J: np.ndarray) -> np.ndarray:
    """Crowding distance (pymoo's NSGA-II definition; infinite at the extremes)."""
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
    if len(J) <= 2:
        return np.full(len(J), np.inf)
    return calc_crowding_distance(-np.asarray(J, float))  # pymoo minimises; distances are symmetric


class Archive:
    """Evaluated policies: keeps the non-dominated ones, at most ``size`` (most crowded out)."""

    def __init__(self, size: int):
        self.size, self.J, self.policies = size, np.zeros((0, 0)), []

    def add(self, J, policy) -> None:
        J = np.asarray(J, float)[None]
        self.J = J if len(self.policies) == 0 else np.concatenate([self.J, J])
        self.policies.append(policy)
        keep = nondominated(self.J)
        self._keep(keep)
        while len(self.policies) > self.size:
            cd = crowding(self.J)
            self._keep(np.arange(len(cd)) != int(np.argmin(cd)))

    def _keep(self, mask):
        self.J = self.J[mask]
        self.policies = [p for p, k in zip(self.policies, mask) if k]

    def select(self, n: int) -> list[int]:
        """Indices of the ``n`` least crowded archived policies (extremes first)."""
        cd = crowding(self.J)
        return list(np.argsort(-cd, kind="stable")[:n])


# --- the agent ------------------------------------------------------------------------------

class RunningMoments(nn.Module):
    """Running mean and variance of a stream of vectors (Chan et al.'s parallel update), kept as
    buffers so that they travel with the agent's state dict (archive copies, checkpoints) and
    the evaluated policy normalises as it was trained. Gymnasium's and SB3's RunningMeanStd
    do the same in numpy, outside any module."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, self.mean.numel()).double()
        n, m, v = len(x), x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = m - self.mean
        self.mean += delta * n / total
        self.var.copy_((self.var * self.count + v * n + delta ** 2 * self.count * n / total) / total)
        self.count.copy_(total)

    def std(self) -> torch.Tensor:
        return (self.var + 1e-8).sqrt().float()


class Agent(nn.Module):
    """Actor (categorical or diagonal Gaussian) and a critic with one value per objective; with
    ``norm_obs`` the networks see observations normalised by running statistics (``normalize``;
    clipped to +-10), with ``norm_reward`` the critic learns returns in units of each objective's
    running return std (``ret_stats``), as the authors' --ob-rms and --obj-rms."""

    def __init__(self, obs_dim: int, n_obj: int, n_actions: int | None, act_dim: int | None, hidden: int,
                 norm_obs: bool = False, norm_reward: bool = False):
        super().__init__()
        self.obs_stats = RunningMoments(obs_dim) if norm_obs else None
        self.ret_stats = RunningMoments(n_obj) if norm_reward else None
        def mlp(out):
            return nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, out))
        self.discrete = n_actions is not None
        self.actor = mlp(n_actions if self.discrete else act_dim)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(act_dim))
        self.critic = mlp(n_obj)

    def normalize(self, obs):
        if self.obs_stats is None:
            return obs
        return ((obs - self.obs_stats.mean.float()) / self.obs_stats.std()).clamp(-10.0, 10.0)

    def dist(self, obs):
        """The action distribution for normalised observations."""
        out = self.actor(obs)
        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Independent(torch.distributions.Normal(out, self.log_std.exp()), 1)

    @torch.no_grad()
    def act(self, obs):
        """Deterministic action for a batch of raw observations (the policy the engine evaluates)."""
        out = self.actor(self.normalize(obs))
        return out.argmax(-1) if self.discrete else out


class Policy:
    """Batched deterministic policy from an Agent: obs [B, ...] -> actions [B, ...]."""

    def __init__(self, agent: Agent, low=None, high=None):
        self.agent, self.low, self.high = agent, low, high

    def __call__(self, obs):
        a = self.agent.act(obs.float().reshape(len(obs), -1))
        return a if self.low is None else a.clamp(self.low, self.high)


class Episodes:
    """n copies of the problem's Gymnasium view stepped in lock-step, reset as soon as an
    episode ends (or reaches ``horizon`` steps); rewards as maximised vectors."""

    def __init__(self, problem, n: int, sign: np.ndarray, horizon: int, seed: int):
        self.envs = [problem.env() for _ in range(n)]
        self.sign, self.horizon = sign, horizon
        self.obs = np.stack([np.asarray(e.reset(seed=seed + i)[0], np.float32).reshape(-1)
                             for i, e in enumerate(self.envs)])
        self.t = np.zeros(n, int)
        self.ret = np.zeros((n, len(sign)))
        self.finished: list[np.ndarray] = []

    def step(self, actions):
        rew, done = np.zeros((len(self.envs), len(self.sign))), np.zeros(len(self.envs))
        for i, (e, a) in enumerate(zip(self.envs, actions)):
            obs, r, term, trunc, _ = e.step(a)
            rew[i] = self.sign * np.asarray(r, float).reshape(-1)
            self.t[i] += 1
            self.ret[i] += rew[i]
            if term or trunc or self.t[i] >= self.horizon:
                done[i] = 1.0
                self.finished.append(self.ret[i].copy())
                obs, _ = e.reset()
                self.t[i], self.ret[i] = 0, 0.0
            self.obs[i] = np.asarray(obs, np.float32).reshape(-1)
        return rew, done


def evaluate_policy(problem, agent, sign, horizon, episodes, seed, low=None, high=None, discount=1.0,
                    max_steps=math.inf):
    """Mean return vector (maximised; discounted as the problem scores it) of the deterministic
    policy; -> (J, steps). Stops after ``max_steps`` steps in all (the budget's last steps: an
    estimate from the episodes cut there)."""
    env, policy, total, steps = problem.env(), Policy(agent, low, high), np.zeros(len(sign)), 0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        for t in range(horizon):
            if steps >= max_steps:
                break
            a = policy(torch.as_tensor(np.asarray(obs, np.float32))[None])[0].numpy()
            obs, r, term, trunc, _ = env.step(int(a) if agent.discrete else a)
            total = total + discount ** t * sign * np.asarray(r, float).reshape(-1)
            steps += 1
            if term or trunc:
                break
    return total / episodes, steps


# --- PPO with a vector critic, weighted or constrained --------------------------------------

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
    a = adv[:, objective]
    a = (a - a.mean()) / (a.std() + 1e-8)
    loss = -torch.min(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a).mean()
    for j in range(adv.shape[1]):
        if j != objective:
            change = ((ratio - 1.0) * adv[:, j]).mean() * steps_per_episode
            loss = loss + barrier((float(slack[j]) + change) / float(scale[j]), t)
    return loss


class PPO:
    """One agent's PPO loop (CleanRL style) with a vector critic; ``iterate(mode)`` runs one
    rollout and update, ``mode`` = ("weights", w) or ("constrained", i, slack, scale)."""

    def __init__(self, agent: Agent, episodes: Episodes, cfg: dict, low=None, high=None):
        self.agent, self.env, self.c = agent, episodes, cfg
        self.low, self.high = low, high
        self.discounted = torch.zeros(len(episodes.envs), len(episodes.sign))  # for norm_reward
        self.opt = torch.optim.Adam(agent.parameters(), lr=cfg["lr"], eps=1e-5)

    def rollout(self):
        c, E = self.c, len(self.env.envs)
        obs, act, logp, rew, done, val, raw = [], [], [], [], [], [], []
        n_done0 = len(self.env.finished)
        for _ in range(c["n_steps"]):
            raw.append(torch.as_tensor(self.env.obs.copy()))
            o = self.agent.normalize(raw[-1])  # statistics frozen for the rollout
            with torch.no_grad():
                d = self.agent.dist(o)
                a = d.sample()
                v = self.agent.critic(o)
            env_a = a.numpy() if self.agent.discrete else np.clip(a.numpy(), self.low.numpy(), self.high.numpy())
            r, dn = self.env.step([int(x) for x in env_a] if self.agent.discrete else list(env_a))
            obs.append(o); act.append(a); logp.append(d.log_prob(a)); val.append(v)
            rew.append(torch.as_tensor(r, dtype=torch.float32)); done.append(torch.as_tensor(dn, dtype=torch.float32))
        with torch.no_grad():
            last = self.agent.critic(self.agent.normalize(torch.as_tensor(self.env.obs.copy())))
        R, V, D = torch.stack(rew), torch.stack(val), torch.stack(done)
        scale = torch.ones(R.shape[-1])
        if self.agent.ret_stats is not None:  # rewards over the running std of the discounted return
            returns = []
            for r, d in zip(R, D):
                self.discounted = self.discounted * c["gamma"] + r
                returns.append(self.discounted.clone())
                self.discounted[d > 0] = 0.0
            self.agent.ret_stats.update(torch.stack(returns))
            scale = self.agent.ret_stats.std()
            R = (R / scale).clamp(-10.0, 10.0)
        if self.agent.obs_stats is not None:
            self.agent.obs_stats.update(torch.stack(raw))
        adv, ret = gae(R, V, last, D[..., None], c["gamma"], c["gae_lambda"])
        adv = adv * scale  # back in return units: the weights and the constraints read them so
        episodes = max(1, len(self.env.finished) - n_done0)
        return {"obs": torch.cat(obs), "act": torch.cat(act), "logp": torch.cat(logp),
                "adv": adv.reshape(-1, R.shape[-1]), "ret": ret.reshape(-1, R.shape[-1]),
                "steps_per_episode": c["n_steps"] * E / episodes}, c["n_steps"] * E

    def iterate(self, mode) -> int:
        c = self.c
        data, steps = self.rollout()
        n = len(data["act"])
        for _ in range(c["epochs"]):
            for idx in torch.randperm(n).split(max(1, n // c["minibatches"])):
                d = self.agent.dist(data["obs"][idx])
                logp = d.log_prob(data["act"][idx])
                if mode[0] == "weights":
                    adv = data["adv"][idx]
                    a = adv @ torch.as_tensor(mode[1], dtype=torch.float32)  # the scalarised advantage
                    a = (a - a.mean()) / (a.std() + 1e-8)
                    ratio = (logp - data["logp"][idx]).exp()
                    pg = -torch.min(ratio * a, ratio.clamp(1 - c["clip"], 1 + c["clip"]) * a).mean()
                else:
                    pg = ipo_loss(logp, data["logp"][idx], data["adv"][idx], mode[1], mode[2], mode[3],
                                  data["steps_per_episode"], c["clip"], c["barrier_t"])
                v_loss = (self.agent.critic(data["obs"][idx]) - data["ret"][idx]).pow(2).mean()
                loss = pg + c["vf_coef"] * v_loss - c["ent_coef"] * d.entropy().mean()
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.agent.parameters(), 0.5)
                self.opt.step()
        return steps


class MOTask:
    """What the PPO-based MORL solvers read off a problem: objective signs (to maximise), the
    number of objectives, the episode limit, the agent's shapes and action bounds; ``cfg`` gets
    the problem's discount as ``gamma`` where it scores discounted returns."""

    def __init__(self, problem, cfg: dict):
        import gymnasium as gym
        spec = problem.spec
        if spec.scenarios.discount < 1.0:  # train for what is scored
            cfg["gamma"] = spec.scenarios.discount
        self.problem, self.discount = problem, spec.scenarios.discount
        self.sign = np.array([1.0 if o.sense == "max" else -1.0 for o in spec.objectives])
        self.m, self.horizon = spec.n_obj, spec.scenarios.horizon
        env0 = problem.env()
        self.obs_dim = int(np.prod(env0.observation_space.shape))
        space = env0.action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.n_actions = int(space.n) if self.discrete else None
        self.act_dim = None if self.discrete else int(space.shape[0])
        self.low = self.high = None
        if not self.discrete:
            self.low, self.high = torch.as_tensor(space.low), torch.as_tensor(space.high)

    def new_agent(self, cfg: dict) -> Agent:
        return Agent(self.obs_dim, self.m, self.n_actions, self.act_dim, cfg["hidden"],
                     cfg["norm_obs"], cfg["norm_reward"])

    def episodes(self, n: int, seed: int) -> Episodes:
        return Episodes(self.problem, n, self.sign, self.horizon, seed)

    def evaluate(self, agent, episodes: int, seed: int, max_steps=math.inf):
        return evaluate_policy(self.problem, agent, self.sign, self.horizon, episodes, seed, self.low, self.high,
                               self.discount, max_steps)

    def answer(self, agents) -> list:
        return [Policy(a, self.low, self.high) for a in agents]


class Resumable:
    """Checkpointing for the PPO-based MORL solvers (``Clock.checkpoint``): at safe points
    (between two trained policies) ``save`` writes the solver's progress with the torch random
    state; ``load`` gives them back, so that a resumed run continues as
    the uninterrupted run would have (same seeds; with a step budget, the same result; a
    seconds budget counts the time spent before the interruption). Agents are kept as state
    dicts."""

    def __init__(self, task: MOTask, cfg: dict, budget):
        self.task, self.cfg, self.budget = task, cfg, budget

    def agents(self, states) -> list:
        out = []
        with torch.random.fork_rng(devices=[]):  # building them must not move the restored random state
            for sd in states:
                agent = self.task.new_agent(self.cfg)
                agent.load_state_dict(sd)
                out.append(agent)
        return out

    def save(self, **progress) -> None:
        if self.budget.checkpoint is not None:
            self.budget.checkpoint.save(self.budget, {"progress": progress, "rng": torch.get_rng_state()})

    def load(self) -> dict | None:
        """The saved progress (None when starting afresh); restores the random state."""
        state = None if self.budget.checkpoint is None else self.budget.checkpoint.load(self.budget)
        if state is None:
            return None
        torch.set_rng_state(state["rng"])
        return state["progress"]

    @staticmethod
    def archive_state(archive: "Archive") -> dict:
        return {"J": archive.J.tolist(), "policies": [a.state_dict() for a in archive.policies]}

    def restore_archive(self, archive: "Archive", saved: dict) -> None:
        if saved["policies"]:
            archive.J, archive.policies = np.asarray(saved["J"], float), self.agents(saved["policies"])


class CMORL(Solver):
    # 2: evaluation steps reserved within the step budget; the problem's discount used.
    # 3: weighted PPO standardises the scalarised advantage w . A (it standardised each
    #    objective's advantage first, which rescaled the weights by 1 / std_j)
    # 4: initialisation weights on the authors' simplex lattice (were the corners plus random
    #    Dirichlet draws for 3+ objectives); 2 objectives: the same weights
    # 5: observations and rewards normalised by running statistics by default (``norm_obs``,
    #    ``norm_reward``: the authors' --ob-rms --obj-rms, set in every one of their run scripts)
    # 6: ``norm_obs`` off by default (it broke mo-halfcheetah; see the module docstring)
    # 7: 10 PPO epochs per rollout (the authors' --ppo-epoch default, inherited from PGMORL's code;
    #    4 before: on resource-gathering the initial policies often learned nothing in time)
    # (checkpointing, added later, changes no result: the version stays)
    version = 7
    defaults = DEFAULTS
    default_budget = Budget(steps=300_000, seconds=1800)
    description = "C-MORL: Pareto initialisation + IPO-constrained PPO from the sparsest archived policies"

    supports = LinearPPO.supports  # Pareto-policy problems with a Gymnasium view

    def solve(self, problem, budget, seed, log):
        torch.manual_seed(seed)
        cfg = {k: getattr(self, k) for k in DEFAULTS}
        task = MOTask(problem, cfg)
        m, low, high = task.m, task.low, task.high
        archive = Archive(cfg["archive_size"])
        eval_seed = 10**6 + 1000 * seed  # never the problem's test seeds
        per_iter = cfg["n_envs"] * cfg["n_steps"]

        def add(agent, stage):
            J, steps = task.evaluate(agent, cfg["eval_episodes"], eval_seed, max_steps=budget.steps_left)
            budget.add(steps)
            archive.add(J, copy.deepcopy(agent))
            log(budget.steps, float(len(archive.policies)), stage=stage)
            return J

        eval_cost = cfg["eval_episodes"] * task.horizon  # the most steps one evaluation can take

        def share(fraction):
            """A stop test for a phase given ``fraction`` of the remaining steps and seconds; the
            next iteration must leave room for the evaluation that follows it."""
            steps0, left_steps, t_end = budget.steps, budget.steps_left, budget.elapsed + fraction * budget.seconds_left
            return lambda: (budget.steps - steps0 + per_iter > fraction * left_steps or budget.elapsed >= t_end
                            or budget.steps_left < per_iter + eval_cost)

        # a run resumed from its checkpoint skips the units (one trained policy each) it saved
        ck = Resumable(task, cfg, budget)
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
                budget.add(ppo.iterate(("weights", w)))
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
                    budget.add(ppo.iterate(("constrained", i, J - threshold, scale)))
                    J = add(agent, r + 1)  # the evaluated J of the new iterate: the next slack
                checkpoint(len(weights), r, q + 1, starts)
        return Outcome(policies=task.answer(archive.policies),
                       info={"archive": archive.J.tolist(), "weights": weights.tolist()})


register_solver("c-morl", CMORL)
