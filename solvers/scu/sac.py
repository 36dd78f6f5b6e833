"""`sac` and `sac-scu`: Stable-Baselines3 SAC on the Gymnasium view, unshielded or trained and
evaluated behind the SCU stack (Nekoei et al., arXiv 2512.01046).

Settings as the authors' run (SB3 SAC defaults, which their config matches): learning rate
3e-4, replay buffer 1e6 (capped at the step budget), 100 random steps first, batch 32,
tau 0.005, gamma 0.99, one gradient step per environment step, entropy coefficient tuned
(target -2), two critics, [256, 256] ReLU networks for the actor and the critics, separate
feature extractors. Features (``extractor=paper``, the authors' ``CustomSACPolicy``): an MLP
(64, 64, 32) on the state part of the observation, one LSTM (32 units) over the demand
forecasts and one over the wind forecasts (farthest first), one over the newest open rainflow
turning point, and a linear head to 32 features. ``extractor=mlp``: SB3's flat MLP.

Training reward: the paper's per-minute objective (the scalar problem's reward; on the
two-objective view the same weights: fuel rate / 240 l/h + degradation) minus ``penalty`` x
the sum of the constraint costs (the paper's training env penalises imbalance with 100x and
60x; here every constraint cost, unserved kWh, minutes outside the SoC band and rule breaches,
is charged ``penalty`` per unit). Budget: the paper's 500,000 steps (347 days) is the full
budget (``--budget-steps 500000``); the default, 30,000 steps (about 21 days), fits a CPU run.
The returned policy is the actor's deterministic action (the squashed Gaussian mean).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...registry import Param, register_solver
from ...solver import Budget, Outcome, Solver
from ...views import GymView, offers
from ...problems.microgrid import MicrogridView
from .wrapper import Adapted, shield_outcome

DEFAULTS = {
    "shield": Param("none", choices=("none", "scu"), doc="train and evaluate behind the SCU stack (microgrid)"),
    "lr": 3e-4,
    "buffer_size": 1_000_000,
    "learning_starts": 100,
    "batch_size": 32,
    "tau": 0.005,
    "gamma": 0.99,
    "train_freq": 1,
    "gradient_steps": 1,
    "hidden": 256,
    "extractor": Param("auto", choices=("auto", "paper", "mlp"), doc="auto: paper on the microgrid, else mlp"),
    "penalty": 10.0,
}
FULL_BUDGET_STEPS = 500_000  # the paper's


def _extractor_class():
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class PaperFeatures(BaseFeaturesExtractor):
        """The authors' features: MLP on the state, LSTMs on the forecasts (farthest first)
        and on the newest open SoC turning point, a linear head."""

        def __init__(self, observation_space, head: int, forecast: int, features_dim: int = 32, hidden: int = 64):
            super().__init__(observation_space, features_dim)
            self.head, self.forecast = head, forecast
            self.mlp = nn.Sequential(nn.Linear(head, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, features_dim))
            self.lstms = nn.ModuleList([nn.LSTM(1, features_dim, batch_first=True)
                                        for _ in range(3 if forecast else 1)])
            self.out = nn.Linear(features_dim * (1 + len(self.lstms)), features_dim)

        def forward(self, obs):
            h, F = self.head, self.forecast
            seqs = ([obs[:, h:h + F].flip(1), obs[:, h + F:h + 2 * F].flip(1)] if F else []) + [obs[:, -1:]]
            parts = [self.mlp(obs[:, :h])]
            parts += [lstm(x.unsqueeze(-1))[0][:, -1] for lstm, x in zip(self.lstms, seqs)]
            return self.out(torch.cat(parts, 1))
    return PaperFeatures


class ActorPolicy:
    """The trained actor's deterministic action, batched, mapped from [-1, 1] to the problem's
    action box."""

    def __init__(self, actor, low, high):
        self.actor = actor.eval()
        self.low = torch.as_tensor(low, dtype=torch.float32)
        self.high = torch.as_tensor(high, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, obs):
        a = self.actor(obs.float().cpu(), deterministic=True)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).to(obs.device)


def unit_box(env):
    """``env`` with the actions in [-1, 1]^k (SB3 SAC squashes into its action box, which
    breaks on an entry with low == high); entry i maps to low + (a + 1) / 2 x (high - low)."""
    import gymnasium as gym
    space = env.action_space
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)

    class UnitBox(gym.ActionWrapper):
        def __init__(self, inner):
            super().__init__(inner)
            self.action_space = gym.spaces.Box(-1.0, 1.0, space.shape, dtype=np.float32)

        def action(self, a):
            a = np.clip(np.asarray(a, dtype=np.float64), -1.0, 1.0)
            return (low + (a + 1.0) * 0.5 * (high - low)).astype(space.dtype)
    return UnitBox(env), low, high


class SAC(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=30_000, seconds=1800)
    description = "Stable-Baselines3 SAC (the SCU paper's settings); shield=scu trains it behind the SCU stack"
    requires = (GymView,)

    def supports(self, problem):
        import gymnasium as gym
        micro = offers(problem, MicrogridView)
        if self.shield == "scu" and not micro:
            return "shield=scu needs the microgrid's plant (MicrogridView)"
        if self.extractor == "paper" and not micro:
            return "extractor=paper needs the microgrid's observation (MicrogridView)"
        if problem.spec.answer not in ("policy", "pareto-policies"):
            return "policy problems only"
        if problem.spec.n_obj > 1 and not micro:
            return "one objective (or the microgrid's two, scalarised as the paper)"
        if any(c.sense != "le" for c in problem.spec.constraints):
            return "constraints of the form cost <= threshold only"
        space = problem.env().action_space
        if not isinstance(space, gym.spaces.Box):
            return "needs a Box action space"
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            return "needs a bounded Box action space"
        return None

    def solve(self, problem, clock, seed, log):
        import gymnasium as gym
        from stable_baselines3 import SAC as SB3SAC
        from stable_baselines3.common.callbacks import BaseCallback

        micro = offers(problem, MicrogridView)
        view = Adapted(problem, self.shield == "scu") if micro else problem   # the paper's scalar reward
        penalty = float(self.penalty)

        class TrainingReward(gym.Wrapper):
            def step(self, action):
                obs, r, term, trunc, info = self.env.step(action)
                r = float(r) - penalty * float(np.sum(info.get("cost", 0.0)))
                return obs, r, term, trunc, info

        env, low, high = unit_box(TrainingReward(view.env()))
        steps = int(clock.budget.steps or FULL_BUDGET_STEPS)
        kwargs = {"net_arch": [self.hidden, self.hidden], "share_features_extractor": False}
        if self.extractor == "paper" or (self.extractor == "auto" and micro):
            sim = problem.sim()
            kwargs.update(features_extractor_class=_extractor_class(),
                          features_extractor_kwargs={"head": sim.base + 14, "forecast": sim.forecast})
        torch.manual_seed(seed)
        model = SB3SAC("MlpPolicy", env, learning_rate=self.lr, buffer_size=min(self.buffer_size, steps),
                       learning_starts=self.learning_starts, batch_size=self.batch_size, tau=self.tau,
                       gamma=self.gamma, train_freq=self.train_freq, gradient_steps=self.gradient_steps,
                       policy_kwargs=kwargs, seed=seed, device=self.device, verbose=0)
        reserve = 0.03 * (clock.budget.seconds or 0.0)   # time kept for returning the policy

        class Budgeted(BaseCallback):
            def _on_step(self):
                for info in self.locals.get("infos", []):
                    if "episode" in info:
                        log(self.num_timesteps, -float(info["episode"]["r"]))
                return clock.seconds_left > reserve

        model.learn(total_timesteps=steps, callback=Budgeted())
        clock.add(model.num_timesteps)
        out = Outcome(policies=[ActorPolicy(model.policy.actor, low, high)],
                      info={"timesteps": int(model.num_timesteps), "full_budget_steps": FULL_BUDGET_STEPS})
        return shield_outcome(problem, out) if self.shield == "scu" else out


class SACSCU(SAC):
    defaults = {**DEFAULTS, "shield": Param("scu", choices=("none", "scu"),
                                            doc="train and evaluate behind the SCU stack (microgrid)")}
    description = "SAC trained and evaluated behind the paper's shielded controller units (the SCU paper's method)"
    requires = (MicrogridView,)


register_solver("sac", SAC)
register_solver("sac-scu", SACSCU)
