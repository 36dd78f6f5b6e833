"""Peer check: morl-baselines' own implementations, trained on this suite's problems and scored
by its engine like every other solver.

- `mb-gpi-ls`: GPI-LS (Alegre, Bazzan, Roijers, Nowe, da Silva, AAMAS 2023), discrete actions.
  The answer: one policy per weight of its final weight support, each acting by generalised
  policy improvement over the learned Q-functions (morl-baselines' ``eval(obs, w)``).
- `mb-pgmorl`: PGMORL (Xu et al., ICML 2020), continuous actions. The answer: its Pareto
  archive's policies, deterministic (the Gaussian's mean, clipped to the action bounds), each
  fed observations normalised with the running statistics its training environments ended
  with (morl-baselines trains on normalised observations, but evaluates its population, for its
  archive and its predictions, on the environment it is given, here unnormalised; its examples
  use fresh statistics). ``observations="raw"`` answers the policies as its own evaluation
  sees them (unnormalised observations).

Both need the optional extra ``pip install 'mobench[morl-peer]'`` (morl-baselines 1.3.0, which
pins pycddlib 2.1.6 and pulls wandb: kept out of the default install); without it they say so
in ``supports``. morl-baselines' defaults are kept except where this suite's step budgets
require otherwise: GPI-LS's ``timesteps_per_iter`` (weights tried), PGMORL's
``steps_per_iteration`` and its warm-up and evolutionary iteration counts, which are derived
from the step budget (its defaults, 80 warm-up iterations of 4 x 2,048 steps for each of 6
policies, need 3.9 M steps before the first generation). Steps: GPI-LS's weight selection
runs evaluation episodes that morl-baselines does not count in its ``total_timesteps``;
they are counted here (``budget.add``) and reported apart in the outcome (``eval_steps``), as
are PGMORL's evaluations of its population.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver

PEER_HINT = "needs morl-baselines, an optional extra: pip install 'mobench[morl-peer]'"


def _missing() -> str | None:
    try:
        import morl_baselines  # noqa: F401
    except ImportError:
        return PEER_HINT
    return None


class Counted(gym.Wrapper):
    """Counts the steps taken in it (GPI-LS's and PGMORL's evaluation environment)."""

    def __init__(self, env):
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        return self.env.step(action)


class GPIPolicy:
    """Batched callable obs [B, ...] -> actions [B] for one weight of a GPI-LS agent."""

    def __init__(self, agent, w):
        self.agent, self.w = agent, np.asarray(w, np.float32)

    def __call__(self, obs):
        return torch.as_tensor([self.agent.eval(o, self.w) for o in obs.cpu().numpy()])


class MeanActionPolicy:
    """Batched deterministic policy of a morl-baselines MOPPO network: normalise the
    observation with frozen training statistics and clip it to [-10, 10] (as its training
    wrappers did; mean 0, var 1 and ``clip=None``: raw observations), then the actor's mean,
    clipped to the action bounds."""

    def __init__(self, networks, mean, var, low, high, epsilon=1e-8, clip=10.0):
        self.net, self.clip = networks, clip
        self.mean = torch.as_tensor(mean, dtype=torch.float32)
        self.std = torch.as_tensor(np.sqrt(var + epsilon), dtype=torch.float32)
        self.low, self.high = torch.as_tensor(low), torch.as_tensor(high)

    @torch.no_grad()
    def __call__(self, obs):
        x = (obs.float().cpu() - self.mean) / self.std
        x = x if self.clip is None else x.clamp(-self.clip, self.clip)
        return self.net.actor_mean(x).clamp(self.low, self.high)


def _action_space(problem):
    """(action space, discrete?), built once per problem (``supports`` is asked for every
    problem by ``mobench list`` and the catalogue, and building an env costs tens of ms)."""
    if problem.id not in _ACTION_SPACES:
        space = problem.env().action_space
        _ACTION_SPACES[problem.id] = space, isinstance(space, gym.spaces.Discrete)
    return _ACTION_SPACES[problem.id]


_ACTION_SPACES: dict = {}


def _discrete(problem) -> bool:
    """Whether the actions are Discrete: what the problem says (``discrete_actions``), else
    what its env's action space is."""
    said = getattr(problem, "discrete_actions", None)
    return _action_space(problem)[1] if said is None else bool(said)


class MBGPILS(Solver):
    defaults = {
        "timesteps_per_iter": 10_000,   # morl-baselines' default: steps per weight tried
        "hidden": 256,                  # its default net_arch: 4 layers of 256
        "layers": 4,
        "gradient_updates": 20,         # its default (updates per environment step)
        "eval_episodes": 5,             # its num_eval_episodes_for_front (weight selection)
        "gamma": 0.99,                  # its default; the problem's discount where it has one
    }
    default_budget = Budget(steps=100_000, seconds=3600)
    description = "peer check: morl-baselines 1.3.0 GPI-LS (discrete actions), optional extra"

    def supports(self, problem):
        if problem.spec.answer != "pareto-policies" or "mogym" not in problem.spec.tags:
            return "MO-Gymnasium tasks (Pareto-policy problems with a Gymnasium view)"
        if not _discrete(problem):
            return "discrete actions only (GPI-LS)"
        return _missing()

    def solve(self, problem, clock, seed, log):
        from morl_baselines.multi_policy.gpi_pd.gpi_pd import GPILS
        spec = problem.spec
        gamma = spec.scenarios.discount if spec.scenarios.discount < 1.0 else self.gamma
        eval_env = Counted(problem.env())
        agent = GPILS(problem.env(), net_arch=[int(self.hidden)] * int(self.layers),
                      gradient_updates=int(self.gradient_updates), gamma=gamma, log=False, seed=seed,
                      device=self.device)
        total = int(min(clock.steps_left, 10**12))
        agent.train(total_timesteps=total, eval_env=eval_env, ref_point=np.asarray(spec.hv_ref_point, float),
                    num_eval_episodes_for_front=int(self.eval_episodes),
                    timesteps_per_iter=int(self.timesteps_per_iter), checkpoints=False)
        clock.add(agent.global_step + eval_env.steps)
        log(clock.steps, float(len(agent.weight_support)))
        weights = [w.cpu().numpy() for w in agent.weight_support]
        return Outcome(policies=[GPIPolicy(agent, w) for w in weights],
                       info={"weights": [w.tolist() for w in weights], "train_steps": int(agent.global_step),
                             "eval_steps": int(eval_env.steps)})


class MBPGMORL(Solver):
    defaults = {
        "pop_size": 6,                # morl-baselines' default
        "num_envs": 4,                # its default
        "steps_per_iteration": 256,   # its default is 2,048; smaller for this suite's budgets
        "warmup_fraction": 0.4,       # share of the iterations spent on the warm-up (as pgmorl's here)
        "evolutionary_iterations": 4,  # iterations per generation (its default: 20)
        "gamma": 0.995,               # its default; the problem's discount where it has one
        "observations": "training",   # policies see observations normalised with the training
                                      # statistics; "raw": unnormalised, as in its own evaluation
    }
    default_budget = Budget(steps=100_000, seconds=3600)
    description = "peer check: morl-baselines 1.3.0 PGMORL (continuous actions), optional extra"

    def supports(self, problem):
        if problem.spec.answer != "pareto-policies" or "mogym" not in problem.spec.tags:
            return "MO-Gymnasium tasks (Pareto-policy problems with a Gymnasium view)"
        if _discrete(problem):
            return "continuous actions only (morl-baselines' PGMORL)"
        return _missing()

    def solve(self, problem, clock, seed, log):
        from morl_baselines.multi_policy.pgmorl.pgmorl import PGMORL
        spec = problem.spec
        gamma = spec.scenarios.discount if spec.scenarios.discount < 1.0 else self.gamma
        per_iter = int(self.steps_per_iteration) * int(self.num_envs) * int(self.pop_size)
        iterations = int(min(clock.steps_left, 10**12)) // per_iter
        evo = int(self.evolutionary_iterations)
        warmup = max(1, int(round(self.warmup_fraction * iterations)))
        generations = max(1, (iterations - warmup) // evo)
        if warmup + generations * evo > iterations:
            raise ValueError(f"a step budget of {budget.steps_left} allows {iterations} iterations of {per_iter} "
                             f"steps: too few for a warm-up and one generation of {evo}")
        ref = np.asarray(spec.hv_ref_point, float)
        agent = PGMORL(env_id=problem.env_id, origin=ref, num_envs=int(self.num_envs), pop_size=int(self.pop_size),
                       warmup_iterations=warmup, steps_per_iteration=int(self.steps_per_iteration),
                       evolutionary_iterations=evo, gamma=gamma, log=False, seed=seed, device=self.device)
        eval_env = Counted(problem.env())
        # total_timesteps sized so that it runs exactly warm-up + generations x evo iterations
        agent.train(total_timesteps=(warmup + generations * evo) * per_iter, eval_env=eval_env, ref_point=ref)
        clock.add(agent.global_step + eval_env.steps)
        log(clock.steps, float(len(agent.archive.individuals)))
        if self.observations not in ("training", "raw"):
            raise ValueError(f"observations must be 'training' or 'raw', got {self.observations!r}")
        space, _ = _action_space(problem)
        if self.observations == "training":
            policies = [MeanActionPolicy(a.networks, *_obs_normaliser(agent.env), space.low, space.high)
                        for a in agent.archive.individuals]
        else:
            policies = [MeanActionPolicy(a.networks, 0.0, 1.0, space.low, space.high, epsilon=0.0, clip=None)
                        for a in agent.archive.individuals]
        return Outcome(policies=policies,
                       info={"archive": [np.asarray(e).tolist() for e in agent.archive.evaluations],
                             "train_steps": int(agent.global_step), "eval_steps": int(eval_env.steps),
                             "iterations": {"warmup": warmup, "generations": generations, "per_generation": evo}})


def _obs_normaliser(vector_env):
    """(mean, var) of the first training env's NormalizeObservation wrapper."""
    env = vector_env.envs[0]
    while not hasattr(env, "obs_rms"):
        env = env.env
    return env.obs_rms.mean.copy(), env.obs_rms.var.copy()


register_solver("mb-gpi-ls", MBGPILS)
register_solver("mb-pgmorl", MBPGMORL)
