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
- ``mogym/resource-gathering-v0``: objectives enemy (-1 when killed), gold, gem (max); returns
  discounted by 0.9 per step: undiscounted, one route (gold and gem, avoiding both enemies,
  18 steps) is optimal and the front is the single point (0, 1, 1). The front is computed
  exactly here (``fronts.resource_gathering_front``; MO-Gymnasium's misses that route) for
  deterministic stationary policies, ``optimal``, 8 points. HV reference point (-1, -0.1,
  -0.1): certain death, and just below no resource, so that one-resource policies count; on
  the exact front no point contributes more than 10% of the HV exclusively (tested). 50 test
  episodes (a kill is random).
- ``mogym/minecart-v0``: objectives ore 1, ore 2, fuel (max; fuel is negative), undiscounted,
  at most 1,000 steps; reference kind ``none`` (MO-Gymnasium's front is an approximation).
  HV reference point (-1, -1, -200): fuel as in MORL-Baselines' minecart tests (0, 0, -200),
  ore at -1 so that a policy that mines one ore only still counts. 5 test episodes (the ore
  mined is random).
- ``mogym/mo-hopper-2obj-v0`` (MuJoCo v5): objectives forward velocity and jump height (10 x
  the height above the start), each with the survival bonus (MO-Gymnasium's ``mo-hopper-2obj``);
  ``mogym/mo-halfcheetah-v0``: forward velocity and minus the energy (sum of squared actions).
  Undiscounted, at most 1,000 steps, 3 test episodes (reset noise), reference kind ``none``.
  HV reference points: the origin for the hopper (PGMORL's convention; a hopper that falls at
  once scores about (0, 0)); (0, -6000) for the half-cheetah: not moving forward, and the most
  energy an episode can spend (6 actuators at full torque for 1,000 steps), so that every
  policy that moves forward counts.
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
                              ref_point=(0.0, -25.0), horizon=100, seed=7001, front="env", discrete=True),
    "fruit-tree": dict(env_id="fruit-tree-v0", objectives=("protein", "carbs", "fats", "vitamins", "minerals", "water"),
                       ref_point=(0.0,) * 6, horizon=6, seed=7002, front="env", discrete=True),
    "resource-gathering": dict(env_id="resource-gathering-v0", objectives=("enemy", "gold", "gem"),
                               ref_point=(-1.0, -0.1, -0.1), horizon=100, seed=7003, discount=0.9,
                               front="resource-gathering", discrete=True),
    "minecart": dict(env_id="minecart-v0", objectives=("ore1", "ore2", "fuel"),
                     ref_point=(-1.0, -1.0, -200.0), horizon=1000, seed=7004, front=None, discrete=True),
    "mo-hopper-2obj": dict(env_id="mo-hopper-2obj-v5", objectives=("forward", "height"),
                           ref_point=(0.0, 0.0), horizon=1000, seed=7005, front=None, discrete=False),
    "mo-halfcheetah": dict(env_id="mo-halfcheetah-v5", objectives=("forward", "energy"),
                           ref_point=(0.0, -6000.0), horizon=1000, seed=7006, front=None, discrete=False),
}


class MOGymTask(Problem):
    task: str = ""

    def __init__(self, target, episodes: int):
        super().__init__(target)
        t = TASKS[self.task]
        self.env_id = t["env_id"]
        gamma = t.get("discount", 1.0)
        returns = "undiscounted returns" if gamma == 1.0 else f"returns discounted by {gamma:g}"
        self.spec = Spec(id=self.id, objectives=tuple(Objective(o, "max") for o in t["objectives"]),
                         answer="pareto-policies", hv_ref_point=t["ref_point"],
                         scenarios=TestScenarios(seed=t["seed"], n=episodes, horizon=t["horizon"],
                                                 aggregate="sum", dev_seed=t["seed"] + 1, discount=gamma),
                         description=f"MO-Gymnasium {self.env_id}, {returns}, {episodes} test episodes",
                         tags=("mogym",))

    def env(self) -> gym.Env:
        import mo_gymnasium as mog
        return CostInfo(mog.make(self.env_id))

    @property
    def discrete_actions(self) -> bool:
        """Whether the actions are Discrete, without building the env (building minecart imports
        scipy.stats, a second; the catalogue asks for every problem)."""
        return TASKS[self.task]["discrete"]

    def reference_kind(self) -> str:
        return "none" if TASKS[self.task]["front"] is None else "optimal"

    def reference(self) -> Reference:
        t = TASKS[self.task]
        if t["front"] is None:
            return Reference.none(f"no exact front is known for {self.env_id}")
        if t["front"] == "env":
            import mo_gymnasium as mog
            front = np.asarray(mog.make(self.env_id).unwrapped.pareto_front(gamma=1.0), float)
            return Reference("optimal", front=front, source=f"MO-Gymnasium {self.env_id}.pareto_front(gamma=1)")
        from ...cache import cached_json
        from .fronts import resource_gathering_front
        gamma = t["discount"]
        r = cached_json("mogym", f"resource_gathering_front_{gamma:g}_v1",
                        lambda: {"front": resource_gathering_front(gamma).tolist()})
        return Reference("optimal", front=np.asarray(r["front"], float),
                         source=f"exact enumeration of deterministic stationary policies, discount {gamma:g} "
                                "(problems/mogym/fronts.py)")


class DeepSeaTreasure(MOGymTask):
    task = "deep-sea-treasure"


class FruitTree(MOGymTask):
    task = "fruit-tree"


class ResourceGathering(MOGymTask):
    task = "resource-gathering"


class Minecart(MOGymTask):
    task = "minecart"


class MOHopper2Obj(MOGymTask):
    task = "mo-hopper-2obj"


class MOHalfCheetah(MOGymTask):
    task = "mo-halfcheetah"


EPISODES = Param(3, low=1, high=1000, doc="test episodes per policy (the tasks are deterministic)")
register("mogym/deep-sea-treasure-v0", DeepSeaTreasure, params={"episodes": EPISODES},
         description="MO-Gymnasium deep sea treasure (2 objectives, known front)")
register("mogym/fruit-tree-v0", FruitTree, params={"episodes": EPISODES},
         description="MO-Gymnasium fruit tree, depth 6 (6 objectives, known front)")
register("mogym/resource-gathering-v0", ResourceGathering,
         params={"episodes": Param(50, low=1, high=10_000, doc="test episodes per policy (kills are random)")},
         description="MO-Gymnasium resource gathering (3 objectives, discount 0.9, exact front computed here)")
register("mogym/mo-hopper-2obj-v0", MOHopper2Obj,
         params={"episodes": Param(3, low=1, high=1000, doc="test episodes per policy (resets are noisy)")},
         description="MO-Gymnasium mo-hopper-2obj-v5, MuJoCo (2 objectives, no exact front: HV only)")
register("mogym/mo-halfcheetah-v0", MOHalfCheetah,
         params={"episodes": Param(3, low=1, high=1000, doc="test episodes per policy (resets are noisy)")},
         description="MO-Gymnasium mo-halfcheetah-v5, MuJoCo (2 objectives, no exact front: HV only)")
register("mogym/minecart-v0", Minecart,
         params={"episodes": Param(5, low=1, high=1000, doc="test episodes per policy (ore amounts are random)")},
         description="MO-Gymnasium minecart (3 objectives, undiscounted, no exact front: HV only)")

__all__ = ["DeepSeaTreasure", "FruitTree", "Minecart", "MOGymTask", "MOHalfCheetah", "MOHopper2Obj",
           "ResourceGathering", "TASKS"]
