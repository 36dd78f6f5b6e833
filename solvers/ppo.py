"""`ppo`: Stable-Baselines3 PPO through the problem's Gymnasium env.

Standard set-up for continuous control: actions rescaled to [-1, 1] (RescaleAction),
observations and rewards normalised by running statistics (VecNormalize), several envs in a
DummyVecEnv. The returned policy is deterministic (the Gaussian mean), batched over
observations: it applies the frozen observation statistics, the actor network, the clip to
[-1, 1] and the inverse rescaling.
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import Param, register_solver
from ..solver import Budget, Outcome, Solver
from ..views import GymView

DEFAULTS = {
    "n_envs": Param(8, low=1),
    "n_steps": Param(256, low=1),        # rollout length per env
    "batch_size": Param(256, low=1),
    "n_epochs": Param(10, low=1),
    "lr": Param(3e-4, low=0.0),
    "gamma": Param(0.99, low=0.0, high=1.0),
    "gae_lambda": Param(0.95, low=0.0, high=1.0),
    "clip_range": Param(0.2, low=0.0),
    "ent_coef": Param(0.0, low=0.0),
    "hidden": Param(64, low=1),
    "log_std_init": -1.0,  # initial log std of the Gaussian in the [-1, 1] action scale
    "deterministic": True, # evaluate the Gaussian's mean (else sample from it)
    "vec": Param("sim", choices=("sim", "env")),  # "sim": n_envs rows of one batched simulator; "env": DummyVecEnv of Gymnasium envs
}


def sim_vec_env(sim, n_envs: int, seed: int):
    """SB3 VecEnv view of a BatchedSim: one batched step for all envs (same dynamics as the
    Gymnasium view, without a Python loop over envs). Actions in [-1, 1], rescaled here."""
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv
    import gymnasium as gym

    class SimVecEnv(VecEnv):
        def __init__(self):
            super().__init__(n_envs, sim.observation_space(),
                             gym.spaces.Box(-1.0, 1.0, (sim.act_dim,), dtype=np.float32))
            self.gen = torch.Generator().manual_seed(seed)
            self.low = torch.as_tensor(sim.action_low, dtype=torch.float32)
            self.high = torch.as_tensor(sim.action_high, dtype=torch.float32)
            self.state, self.actions = None, None

        def reset(self):
            self.state = sim.reset(n_envs, self.gen, "cpu")
            return sim.observe(self.state).numpy().astype(np.float32)

        def step_async(self, actions):
            self.actions = torch.as_tensor(np.clip(actions, -1.0, 1.0), dtype=torch.float32)

        def step_wait(self):
            a = self.low + (self.actions.reshape(n_envs, -1) + 1.0) * 0.5 * (self.high - self.low)
            self.state, r, c, done = sim.step(self.state, a)
            obs = sim.observe(self.state).numpy().astype(np.float32)
            rew = r.sum(dim=1).numpy().astype(np.float32)
            dones = done.numpy().astype(bool)
            infos = [{} for _ in range(n_envs)]
            if dones.any():
                if not dones.all():
                    raise NotImplementedError("SimVecEnv needs episodes that end together (fixed horizon)")
                truncated = self.state["t"] >= sim.horizon
                for i in range(n_envs):
                    infos[i] = {"terminal_observation": obs[i], "TimeLimit.truncated": truncated}
                obs = self.reset()
            return obs, rew, dones, infos

        def close(self):
            pass

        def get_attr(self, attr_name, indices=None):
            return [getattr(self, attr_name)] * n_envs

        def set_attr(self, attr_name, value, indices=None):
            setattr(self, attr_name, value)

        def env_method(self, method_name, *args, indices=None, **kwargs):
            return [None] * n_envs

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False] * n_envs

        def seed(self, seed=None):
            if seed is not None:
                self.gen.manual_seed(int(seed))
            return [seed] * n_envs

    return SimVecEnv()


def box_policy_problem(problem) -> str | None:
    """Why a Gaussian-policy RL solver cannot take ``problem``, given its Gymnasium view (None if
    it can)."""
    import gymnasium as gym
    if problem.spec.answer != "policy" or problem.spec.n_obj != 1:
        return "single-objective, single-policy problems only"
    if not isinstance(problem.env().action_space, gym.spaces.Box):
        return "needs a Box action space"
    return None


class PPOPolicy:
    """Batched policy from a trained SB3 PPO model: the Gaussian's mean (deterministic) or a
    sample from it drawn with the policy's own seeded generator (stochastic)."""

    def __init__(self, actor, obs_mean, obs_var, clip_obs, eps, low, high, deterministic=True, seed=0):
        self.actor = actor
        self.deterministic = deterministic
        self.gen = torch.Generator().manual_seed(seed)
        self.obs_mean = torch.as_tensor(obs_mean, dtype=torch.float32)
        self.obs_std = torch.sqrt(torch.as_tensor(obs_var, dtype=torch.float32) + eps)
        self.clip_obs = clip_obs
        self.low = torch.as_tensor(low, dtype=torch.float32)
        self.high = torch.as_tensor(high, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, obs):
        dev = obs.device
        o = ((obs.float().cpu() - self.obs_mean) / self.obs_std).clamp(-self.clip_obs, self.clip_obs)
        dist = self.actor.get_distribution(o).distribution
        a = dist.mean
        if not self.deterministic:
            a = a + dist.stddev * torch.randn(a.shape, generator=self.gen)
        a = a.clamp(-1.0, 1.0)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).to(dev)


class PPO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=1_000_000, seconds=1200)
    description = "Stable-Baselines3 PPO on the Gymnasium env (rescaled actions, normalised obs/reward)"
    requires = (GymView,)

    def supports(self, problem):
        if self.vec not in ("sim", "env"):
            return f"vec must be 'sim' or 'env', got {self.vec!r}"
        return box_policy_problem(problem)

    def solve(self, problem, clock, seed, log):
        import gymnasium as gym
        from stable_baselines3 import PPO as SB3PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

        from stable_baselines3.common.monitor import Monitor

        def make_env():
            return Monitor(gym.wrappers.RescaleAction(problem.env(), -1.0, 1.0))

        n_envs = self.n_envs
        n_steps = self.n_steps
        total = clock.budget.steps or 10**12
        if total < n_envs * n_steps:  # a small budget: one shorter rollout
            n_envs = max(1, min(n_envs, total // 16))
            n_steps = max(2, total // n_envs)
        total = (total // (n_envs * n_steps)) * (n_envs * n_steps)
        sim = problem.sim()
        if self.vec == "sim" and sim is not None:
            base = VecMonitor(sim_vec_env(sim, n_envs, seed))
        else:
            base = DummyVecEnv([make_env for _ in range(n_envs)])
        venv = VecNormalize(base, gamma=self.gamma)
        venv.seed(seed)
        model = SB3PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=min(self.batch_size, n_envs * n_steps),
                       n_epochs=self.n_epochs, learning_rate=self.lr, gamma=self.gamma,
                       gae_lambda=self.gae_lambda, clip_range=self.clip_range, ent_coef=self.ent_coef,
                       policy_kwargs={"net_arch": [self.hidden, self.hidden], "log_std_init": self.log_std_init},
                       seed=seed,
                       device=self.device, verbose=0)

        class Track(BaseCallback):
            def _on_step(self):
                return not clock.exhausted() and clock.seconds_left > 0

            def _on_rollout_end(self):
                clock.steps = int(self.model.num_timesteps)
                eps = list(self.model.ep_info_buffer or [])
                if eps:  # the solver's own estimate: minus the mean reward per period
                    per_step = np.mean([e["r"] / e["l"] for e in eps])
                    log(clock.steps, float(-per_step))

        model.learn(total_timesteps=total, callback=Track())
        clock.steps = int(model.num_timesteps)
        space = problem.env().action_space
        policy = PPOPolicy(model.policy.cpu(), venv.obs_rms.mean, venv.obs_rms.var, venv.clip_obs,
                           venv.epsilon, space.low, space.high, self.deterministic, seed)
        return Outcome(policies=[policy], info={"timesteps": int(model.num_timesteps)})


register_solver("ppo", PPO)
