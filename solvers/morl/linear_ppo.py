"""`linear-ppo`: weighted-sum PPO, the linear-scalarisation baseline of multi-objective RL.

For each of ``n_weights`` weight vectors on the simplex (evenly spaced for two objectives;
for more, the unit vectors then Dirichlet(1) draws from the run's seed), one Stable-Baselines3
PPO agent is trained on the problem's Gymnasium view with the reward w . r (MO-Gymnasium's
``LinearReward`` wrapper; minimised objectives enter with their sign flipped), each with an
equal share of the step and time budget, discounting by ``gamma`` (by the problem's own discount
where its test scenarios set one). With ``normalize`` each agent trains behind SB3's
``VecNormalize`` (running observation normalisation, reward scaled by the running std of the
discounted return), as c-morl's and pgmorl's ``norm_obs`` and ``norm_reward`` (their authors'
--ob-rms and --obj-rms; the reward scaling is their default); the returned policy applies the
observation statistics it was trained with. It is off by default (``solvers/README.md`` says
why; benchmarks/morl_fronts.py reports both).
The answer is the set of their deterministic policies.
Linear scalarisation can only reach the convex hull of the front, which is the point of having
it as a baseline (C-MORL's comparison). Resumable: each trained policy is checkpointed
(``Clock.checkpoint``); a run started again after an interruption trains the remaining weights.
"""
from __future__ import annotations

import numpy as np
import torch

from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...views import GymView

DEFAULTS = {
    "n_weights": 6,
    "n_envs": 4,
    "n_steps": 128,
    "batch_size": 128,
    "lr": 3e-4,
    "gamma": 0.99,
    "ent_coef": 0.01,
    "hidden": 64,
    "normalize": False,  # SB3 VecNormalize: observations and rewards (see the module docstring)
}


def obs_norm(venv) -> dict:
    """A frozen copy of a VecNormalize's observation normalisation, as tensors (checkpointable)."""
    return {"mean": torch.as_tensor(venv.obs_rms.mean, dtype=torch.float64).clone(),
            "var": torch.as_tensor(venv.obs_rms.var, dtype=torch.float64).clone(),
            "eps": torch.tensor(float(venv.epsilon)), "clip": torch.tensor(float(venv.clip_obs))}


def weight_grid(n_obj: int, k: int, seed: int) -> np.ndarray:
    if n_obj == 2:
        w = np.linspace(0.0, 1.0, k)
        return np.stack([w, 1.0 - w], 1)
    eye = np.eye(n_obj)[:k]
    extra = np.random.default_rng(seed).dirichlet(np.ones(n_obj), max(0, k - n_obj))
    return np.concatenate([eye, extra])


class SB3Policy:
    """Batched deterministic policy from an SB3 model: obs [B, ...] -> actions [B, ...]."""

    def __init__(self, model, obs_stats: dict | None = None):
        self.policy = model.policy.cpu()
        self.obs_stats = obs_stats  # ``obs_norm`` of the VecNormalize it trained behind, or None

    @torch.no_grad()
    def __call__(self, obs):
        x = obs.cpu().double()
        if self.obs_stats is not None:  # as VecNormalize.normalize_obs
            n = self.obs_stats
            x = ((x - n["mean"]) / (n["var"] + n["eps"]).sqrt()).clamp(-n["clip"], n["clip"])
        actions, _ = self.policy.predict(x.float().numpy(), deterministic=True)
        return torch.as_tensor(actions)


class LinearPPO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=300_000, seconds=1800)
    description = "weighted-sum PPO (Stable-Baselines3) over a grid of weights, one policy per weight"

    requires = (GymView,)

    def supports(self, problem):
        return None if problem.spec.answer == "pareto-policies" else "Pareto-policy problems only"

    def solve(self, problem, clock, seed, log):
        import mo_gymnasium as mog
        from stable_baselines3 import PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize

        sign = np.array([1.0 if o.sense == "max" else -1.0 for o in problem.spec.objectives])
        weights = weight_grid(problem.spec.n_obj, self.n_weights, seed)
        total = clock.budget.steps or 10**12
        per = max(self.n_envs * 8, total // len(weights))
        policies = []

        class Deadline(BaseCallback):
            def __init__(self, stop_at):
                super().__init__()
                self.stop_at = stop_at

            def _on_step(self):
                return clock.seconds_left > self.stop_at

        # a problem that scores discounted returns sets the discount: train for what is scored
        gamma = problem.spec.scenarios.discount if problem.spec.scenarios.discount < 1.0 else self.gamma

        def model_for(k, w):
            venv = make_vec_env(lambda: mog.wrappers.LinearReward(problem.env(), weight=(w * sign).astype(np.float32)),
                                n_envs=self.n_envs, seed=(seed * 1000 + k) % 2**32)
            if self.normalize:
                venv = VecNormalize(venv, gamma=gamma)
            n_steps = max(8, min(self.n_steps, per // self.n_envs))
            return PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=min(self.batch_size, n_steps * self.n_envs),
                       learning_rate=self.lr, gamma=gamma, ent_coef=self.ent_coef,
                       policy_kwargs={"net_arch": [self.hidden, self.hidden]}, seed=(seed * 1000 + k) % 2**32,
                       device=self.device, verbose=0)

        # resumable: the policies trained before an interruption come back from the checkpoint
        saved = clock.checkpoint.load(clock) if clock.checkpoint is not None else None
        trained = [] if saved is None else saved["policies"]  # policy state dicts, one per weight done
        stats = [] if saved is None else saved.get("obs_stats", [])
        for k, sd in enumerate(trained):
            model = model_for(k, weights[k])
            model.policy.load_state_dict(sd)
            policies.append(SB3Policy(model, stats[k] or None))
        for k, w in enumerate(weights):
            if k < len(trained):
                continue
            if clock.seconds_left <= 0:
                break
            model = model_for(k, w)
            # leave the remaining weights their share of the time
            reserve = (clock.seconds_left * (len(weights) - k - 1) / (len(weights) - k)
                       if clock.budget.seconds is not None else -np.inf)  # no time limit: steps only
            model.learn(total_timesteps=per, callback=Deadline(reserve))
            clock.add(int(model.num_timesteps))
            policies.append(SB3Policy(model, obs_norm(model.get_env()) if self.normalize else None))
            log(clock.steps, float(k + 1))
            if clock.checkpoint is not None:
                clock.checkpoint.save(clock, {"policies": [p.policy.state_dict() for p in policies],
                                              "obs_stats": [p.obs_stats or {} for p in policies]})
        return Outcome(policies=policies, info={"weights": weights[:len(policies)].tolist()})


register_solver("linear-ppo", LinearPPO)
