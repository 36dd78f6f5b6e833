"""Classic MO-Gymnasium tasks under this suite's evaluation protocol (the ``-v0`` is the
protocol's version, not MO-Gymnasium's).

Each problem is the MO-Gymnasium environment itself as the Gymnasium view (vector reward,
``info["cost"]`` added, empty), answered by a set of policies (``pareto-policies``) that the
engine scores by episodes of that view (``evaluate.rollout_env``): returns undiscounted,
``episodes`` test episodes per policy (reset seeds from the protocol's seed), at most the
environment's step limit. Metrics: HV at the documented reference point, EUM, sparsity,
cardinality, and IGD against the known front where there is one.

- ``mogym/deep-sea-treasure-v0``: objectives treasure and time penalty (both max); the front
  is MO-Gymnasium's ``pareto_front(gamma=1)`` (10 points, ``optimal``). HV reference point
  (0, -25), as in MORL-Baselines' evaluation of this task (Felten et al., NeurIPS 2023 D&B):
  below every treasure and one step slower than the 19-step longest path plus margin; no front
  point contributes more than half of the front's HV (checked in the tests).
- ``mogym/fruit-tree-v0``: depth 6, six nutrients (max); the 64 leaves are all Pareto-optimal
  (``pareto_front(gamma=1)``, ``optimal``). HV reference point: the origin, as in
  MORL-Baselines.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ...problem import Problem
from ...registry import Param, register
from ...spec import Objective, Reference, Spec, TestScenarios


class CostInfo(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds the suite's ``info["cost"]`` (no constraints here: an empty vector)."""

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, "cost": np.zeros(0)}

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        return obs, r, term, trunc, {**info, "cost": np.zeros(0)}


TASKS = {
    "deep-sea-treasure": dict(env_id="deep-sea-treasure-v0", objectives=("treasure", "time"),
                              ref_point=(0.0, -25.0), horizon=100, seed=7001),
    "fruit-tree": dict(env_id="fruit-tree-v0", objectives=("protein", "carbs", "fats", "vitamins", "minerals", "water"),
                       ref_point=(0.0,) * 6, horizon=6, seed=7002),
}


class MOGymTask(Problem):
    task: str = ""

    def __init__(self, episodes: int):
        t = TASKS[self.task]
        self.env_id = t["env_id"]
        self.spec = Spec(id="", objectives=tuple(Objective(o, "max") for o in t["objectives"]),
                         answer="pareto-policies", hv_ref_point=t["ref_point"],
                         scenarios=TestScenarios(seed=t["seed"], n=episodes, horizon=t["horizon"],
                                                 aggregate="sum", dev_seed=t["seed"] + 1),
                         description=f"MO-Gymnasium {self.env_id}, undiscounted returns, {episodes} test episodes",
                         tags=("mogym",))

    def env(self) -> gym.Env:
        import mo_gymnasium as mog
        return CostInfo(mog.make(self.env_id))

    def reference_kind(self) -> str:
        return "optimal"

    def reference(self) -> Reference:
        import mo_gymnasium as mog
        front = np.asarray(mog.make(self.env_id).unwrapped.pareto_front(gamma=1.0), float)
        return Reference("optimal", front=front, source=f"MO-Gymnasium {self.env_id}.pareto_front(gamma=1)")


class DeepSeaTreasure(MOGymTask):
    task = "deep-sea-treasure"


class FruitTree(MOGymTask):
    task = "fruit-tree"


EPISODES = Param(3, low=1, high=1000, doc="test episodes per policy (the tasks are deterministic)")
register("mogym/deep-sea-treasure-v0", DeepSeaTreasure, params={"episodes": EPISODES},
         description="MO-Gymnasium deep sea treasure (2 objectives, known front)")
register("mogym/fruit-tree-v0", FruitTree, params={"episodes": EPISODES},
         description="MO-Gymnasium fruit tree, depth 6 (6 objectives, known front)")

__all__ = ["DeepSeaTreasure", "FruitTree", "MOGymTask", "TASKS"]
