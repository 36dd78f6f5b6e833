"""Problem, batched simulator and the Gymnasium view of that simulator.

The dynamics are written once, in a ``BatchedSim``; ``SimEnv`` is a batch-of-one view of the
same code, so the Gymnasium env and the batched simulator cannot drift apart.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from .errors import InvalidAction
from .spec import Reference, Spec
from .targets import Target


class BatchedSim:
    """Batched torch simulator of a problem's dynamics.

    Subclasses set ``obs_dim``, ``act_dim``, ``action_low``/``action_high`` (per action entry),
    ``n_obj``, ``n_con``, ``horizon`` (episode length of the Gymnasium view) and implement
    ``reset``, ``observe`` and ``step``. The state is a dict of tensors plus two integers: the
    period ``t`` and the horizon ``T`` it was reset with (so a solver can continue a
    trajectory, e.g. with detached tensors for truncated backpropagation).
    Rewards follow the Gymnasium convention: minus the cost for minimised objectives.
    All randomness is drawn from the ``generator`` at ``reset`` on the CPU, so a seed gives the
    same scenarios on every device.
    """
    obs_dim: int
    act_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    obs_low: np.ndarray | float = -np.inf
    obs_high: np.ndarray | float = np.inf
    n_obj: int = 1
    n_con: int = 0
    horizon: int = 100
    differentiable: bool = True  # rewards are differentiable in the actions (pathwise gradients)

    def reset(self, batch: int, generator: torch.Generator, device="cpu",
              horizon: int | None = None) -> dict:
        raise NotImplementedError

    def enumerate(self, device="cpu", horizon: int | None = None) -> dict:
        """For problems whose test scenarios are ``exact``: the start state of every scenario
        of the finite set, equally likely, in a fixed order (no randomness)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its scenarios")

    def training_reset(self, batch: int, generator: torch.Generator, device="cpu",
                       horizon: int | None = None) -> dict:
        """Start states for training, spread over the states a policy may visit, so that a
        learner sees every state variable vary (from the test start state, a near-constant
        policy keeps some of them nearly constant, and their weights get no gradient).
        Default: the test start state of ``reset``."""
        return self.reset(batch, generator, device, horizon)

    def observe(self, state: dict) -> torch.Tensor:
        raise NotImplementedError

    def step(self, state: dict, action: torch.Tensor):
        """-> (state, reward[B, n_obj], cost[B, n_con], done[B])"""
        raise NotImplementedError

    def action_space(self) -> gym.spaces.Box:
        return gym.spaces.Box(np.asarray(self.action_low, np.float32),
                              np.asarray(self.action_high, np.float32), dtype=np.float32)

    def observation_space(self) -> gym.spaces.Box:
        low = np.broadcast_to(np.asarray(self.obs_low, np.float32), (self.obs_dim,)).copy()
        high = np.broadcast_to(np.asarray(self.obs_high, np.float32), (self.obs_dim,)).copy()
        return gym.spaces.Box(low, high, dtype=np.float32)

    def check_action(self, action: torch.Tensor, batch: int) -> None:
        """One clear error for an action of the wrong shape, not finite, or out of bounds."""
        if tuple(action.shape) != (batch, self.act_dim):
            raise InvalidAction(f"action has shape {tuple(action.shape)}, expected ({batch}, {self.act_dim})")
        if not torch.isfinite(action).all():
            raise InvalidAction("action contains NaN or infinite values")
        low = torch.as_tensor(self.action_low, dtype=action.dtype, device=action.device)
        high = torch.as_tensor(self.action_high, dtype=action.dtype, device=action.device)
        tol = 1e-5 * (1 + torch.maximum(low.abs(), high.abs()))
        bad = (action < low - tol) | (action > high + tol)
        if bad.any():
            i = int(bad.any(dim=1).nonzero()[0, 0])
            raise InvalidAction(f"action {action[i].tolist()} is outside the action space "
                                f"[{np.asarray(self.action_low).tolist()}, {np.asarray(self.action_high).tolist()}]")


class SimEnv(gym.Env):
    """Gymnasium view (batch of one, CPU) of a ``BatchedSim``.

    Reward: a float for one objective, a vector for several (MO-Gymnasium convention, with
    ``reward_space``). ``info['cost']``: the vector of constraint costs (length ``n_con``).
    Episodes end by truncation at the simulator's horizon unless the dynamics terminate.
    """
    metadata = {"render_modes": []}

    def __init__(self, sim: BatchedSim):
        self.sim = sim
        self.action_space = sim.action_space()
        self.observation_space = sim.observation_space()
        if sim.n_obj > 1:
            self.reward_space = gym.spaces.Box(-np.inf, np.inf, (sim.n_obj,), dtype=np.float32)
        self._state = None
        self._generator = torch.Generator()

    def _obs(self):
        return self.sim.observe(self._state)[0].numpy().astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(2**62))
        self._generator.manual_seed(int(seed))
        self._state = self.sim.reset(1, self._generator, "cpu")
        return self._obs(), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float32).reshape(1, -1)
        if not self.action_space.contains(a[0]):
            raise InvalidAction(f"action {a[0].tolist()} is outside the action space {self.action_space}")
        self._state, r, c, done = self.sim.step(self._state, torch.as_tensor(a))
        reward = float(r[0, 0]) if self.sim.n_obj == 1 else r[0].numpy().astype(np.float32)
        info = {"cost": c[0].numpy().astype(np.float64)}
        terminated = bool(done[0]) and self._state["t"] < self.sim.horizon
        truncated = self._state["t"] >= self.sim.horizon
        return self._obs(), reward, terminated, truncated, info


class Problem:
    """A problem version with its parameters bound. Built by ``mobench.make``, which hands it
    its ``Target`` (id, parameters, key); a subclass calls ``super().__init__(target)`` first and
    builds its ``Spec`` with ``id=self.id``.

    Views a solver may use: ``sim()`` (batched torch simulator, or None), ``env()``
    (Gymnasium), ``instances()`` and ``verify()`` for per-instance answers, family views
    declared in ``mobench.views``, and ``reference()`` for what regret is measured against.
    """
    spec: Spec

    def __init__(self, target: Target):
        self.target = target

    @property
    def id(self) -> str:
        return self.target.id

    @property
    def params(self) -> dict[str, Any]:
        return self.target.params

    @property
    def key(self) -> str:
        """Canonical text of id + parameters (part of a run's identity); parameters declared
        with ``in_key=False`` (or whose predicate is false) are left out."""
        return self.target.key

    def sim(self) -> BatchedSim | None:
        return None

    def env(self) -> gym.Env:
        sim = self.sim()
        if sim is None:
            raise NotImplementedError(f"{self.id} has no Gymnasium view")
        return SimEnv(sim)

    def reference(self) -> Reference:
        return Reference.none("no reference declared")

    def reference_kind(self) -> str:
        """The kind ``reference()`` returns, without computing it (the catalogue lists kinds;
        problems whose reference is costly override this)."""
        return self.reference().kind

    # per-instance answers ("solutions" kind)
    def instances(self) -> list:
        raise NotImplementedError(f"{self.id} has no instance list")

    def verify(self, index: int, solution) -> tuple[np.ndarray, np.ndarray, bool]:
        """Re-check a solution independently: -> (objectives, costs, feasible)."""
        raise NotImplementedError(f"{self.id} cannot verify per-instance solutions")

    def __repr__(self):
        return f"<Problem {self.key}>"
