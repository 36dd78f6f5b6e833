"""What the suite's PPO-based multi-objective solvers share (`c-morl`, `pgmorl`): the Pareto
archive, the agent (actor and a critic with one value per objective, with running observation
and return statistics), lock-stepped episodes, deterministic evaluation, PPO with a vector
critic under a pluggable policy loss, the task a problem poses (``MOTask``) and checkpointing
(``Resumable``).

All returns are handled as maximised (objectives declared ``min`` enter negated) and, for
evaluation, discounted as the problem scores them (undiscounted unless its test scenarios set a
discount).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .._ppo import clipped_surrogate, gae, standardise


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



# --- PPO with a vector critic ----------------------------------------------------------------

def weighted_loss(w, clip: float):
    """The weighted-sum policy loss (MOPG): the clipped surrogate on the standardised
    scalarised advantage w . A."""
    w = torch.as_tensor(w, dtype=torch.float32)

    def loss(logp, logp_old, adv, steps_per_episode):
        return clipped_surrogate((logp - logp_old).exp(), standardise(adv @ w), clip)
    return loss


class PPO:
    """One agent's PPO loop (CleanRL style) with a vector critic; ``iterate(policy_loss)`` runs
    one rollout and update, ``policy_loss(logp, logp_old, adv [B, m], steps_per_episode)`` the
    policy's part of the loss (``weighted_loss``, or c-morl's constrained one)."""

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

    def iterate(self, policy_loss) -> int:
        c = self.c
        data, steps = self.rollout()
        n = len(data["act"])
        for _ in range(c["epochs"]):
            for idx in torch.randperm(n).split(max(1, n // c["minibatches"])):
                d = self.agent.dist(data["obs"][idx])
                logp = d.log_prob(data["act"][idx])
                pg = policy_loss(logp, data["logp"][idx], data["adv"][idx], data["steps_per_episode"])
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

    def __init__(self, task: MOTask, cfg: dict, clock):
        self.task, self.cfg, self.clock = task, cfg, clock

    def agents(self, states) -> list:
        out = []
        with torch.random.fork_rng(devices=[]):  # building them must not move the restored random state
            for sd in states:
                agent = self.task.new_agent(self.cfg)
                agent.load_state_dict(sd)
                out.append(agent)
        return out

    def save(self, **progress) -> None:
        if self.clock.checkpoint is not None:
            self.clock.checkpoint.save(self.clock, {"progress": progress, "rng": torch.get_rng_state()})

    def load(self) -> dict | None:
        """The saved progress (None when starting afresh); restores the random state."""
        state = None if self.clock.checkpoint is None else self.clock.checkpoint.load(self.clock)
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
