"""The dispatching MDP of Tassel, Gebser, Schekotihin (ICAPS 2023), and its Gymnasium view.

State: a partial schedule and the current time t. An operation is *ready* when its job's
previous operation has ended and its machine is free, at its earliest start est_j. Legal
actions at t: the jobs whose next operation has est_j <= t (it starts at t), plus No-Op
(index J), legal only when a later event exists (some unfinished job has est_j > t); No-Op
moves t to the next such est_j. When no job is legal, t moves to the smallest est_j. The
episode ends when every operation is scheduled; the result is a complete feasible schedule.

Observation (``observation()``), per job, a window of 5 operations starting at the first one
not finished at t (so an operation in progress is seen as fixed): [is fixed, start lower
bound minus t, duration, legal], times divided by the longest job's total duration; plus the
action mask (J + 1) and the shared-machine relation (jobs whose next operations use the same
machine). Reward: minus the makespan at the end (``reward="sparse"``), or minus the increase
of the makespan lower bound at every step (``reward="dense"``; the sum is minus the makespan
plus the initial bound).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ...errors import InvalidAction
from .instances import Instance

WINDOW = 5
FEATURES = 4


class Dispatch:
    """One instance's dispatching state (numpy; a step is O(J x K))."""

    def __init__(self, instance: Instance):
        self.inst = instance
        self.J, self.K = instance.durations.shape
        self.dur, self.mach = instance.durations, instance.machines
        self.scale = float(max(1, self.dur.sum(1).max()))
        self.reset()

    def reset(self):
        self.next_op = np.zeros(self.J, np.int64)
        self.job_ready = np.zeros(self.J, np.int64)
        self.machine_free = np.zeros(self.inst.n_machines, np.int64)
        self.starts = np.full((self.J, self.K), -1, np.int64)
        self.t = 0
        self._advance_if_stuck()
        return self

    # --- state queries -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return bool((self.next_op >= self.K).all())

    def unfinished(self) -> np.ndarray:
        return self.next_op < self.K

    def est(self) -> np.ndarray:
        """Earliest start of each job's next operation (a large number for finished jobs)."""
        k = np.minimum(self.next_op, self.K - 1)
        m = self.mach[np.arange(self.J), k]
        e = np.maximum(self.job_ready, self.machine_free[m])
        return np.where(self.unfinished(), e, np.iinfo(np.int64).max)

    def legal_jobs(self) -> np.ndarray:
        return self.unfinished() & (self.est() <= self.t)

    def noop_legal(self) -> bool:
        e = self.est()
        return bool((self.unfinished() & (e > self.t)).any())

    def action_mask(self) -> np.ndarray:
        return np.append(self.legal_jobs(), self.noop_legal()).astype(np.int8)

    # --- transitions ---------------------------------------------------------------------
    def _advance_if_stuck(self):
        if not self.done and not self.legal_jobs().any():
            self.t = int(self.est().min())

    def step(self, action: int) -> None:
        a = int(action)
        if a == self.J:
            if not self.noop_legal():
                raise InvalidAction(f"No-Op at t={self.t}: no later event exists")
            e = self.est()
            self.t = int(e[self.unfinished() & (e > self.t)].min())
            return
        if not (0 <= a < self.J) or not self.legal_jobs()[a]:
            raise InvalidAction(f"job {a} cannot start at t={self.t} "
                                f"(legal: {np.nonzero(self.action_mask())[0].tolist()}, {self.J} = No-Op)")
        k = self.next_op[a]
        m, d = self.mach[a, k], self.dur[a, k]
        self.starts[a, k] = self.t
        self.job_ready[a] = self.machine_free[m] = self.t + d
        self.next_op[a] = k + 1
        self._advance_if_stuck()

    # --- lower bounds and observation ------------------------------------------------------
    def start_bounds(self) -> np.ndarray:
        """Start-time lower bound of every operation: fixed ones their start; the others chained
        from their job's predecessor, their machine's free time and t."""
        lb = self.starts.astype(np.float64).copy()
        prev_end = np.zeros(self.J)
        for k in range(self.K):
            free = self.starts[:, k] < 0
            m = self.mach[:, k]
            cand = np.maximum(np.maximum(prev_end, self.machine_free[m]), self.t)
            lb[:, k] = np.where(free, cand, lb[:, k])
            prev_end = lb[:, k] + self.dur[:, k]
        return lb

    def makespan_lower_bound(self) -> float:
        lb = self.start_bounds()
        return float((lb + self.dur).max())

    def observation(self) -> dict:
        lb = self.start_bounds()
        end = lb + self.dur
        fixed = self.starts >= 0
        # first operation not finished at t: fixed ones that ended by t are skipped
        finished = fixed & (end <= self.t)
        first = finished.sum(1)  # operations finish in job order
        legal = self.legal_jobs()
        ops = np.zeros((self.J, WINDOW, FEATURES), np.float32)
        for w in range(WINDOW):
            k = first + w
            ok = k < self.K
            kk = np.minimum(k, self.K - 1)
            rows = np.arange(self.J)
            ops[:, w, 0] = np.where(ok, fixed[rows, kk], 0)
            ops[:, w, 1] = np.where(ok, (lb[rows, kk] - self.t) / self.scale, 0)
            ops[:, w, 2] = np.where(ok, self.dur[rows, kk] / self.scale, 0)
            ops[:, w, 3] = np.where(ok & (kk == self.next_op) & legal, 1, 0)
        k = np.minimum(self.next_op, self.K - 1)
        m = np.where(self.unfinished(), self.mach[np.arange(self.J), k], -1)
        shared = ((m[:, None] == m[None, :]) & (m[:, None] >= 0)).astype(np.int8)
        return {"ops": ops, "action_mask": self.action_mask(), "shared": shared}


class JobShopEnv(gym.Env):
    """Gymnasium view of ``Dispatch`` on one instance (or a new instance at each reset when
    ``sampler(rng) -> Instance`` is given; then all sampled instances must keep the shape)."""
    metadata = {"render_modes": []}

    def __init__(self, instance: Instance, reward: str = "sparse", sampler=None):
        if reward not in ("sparse", "dense"):
            raise ValueError(f"reward must be 'sparse' or 'dense', got {reward!r}")
        self.instance, self.reward_kind, self.sampler = instance, reward, sampler
        J = instance.n_jobs
        self.action_space = gym.spaces.Discrete(J + 1)
        self.observation_space = gym.spaces.Dict({
            "ops": gym.spaces.Box(-np.inf, np.inf, (J, WINDOW, FEATURES), np.float32),
            "action_mask": gym.spaces.MultiBinary(J + 1),
            "shared": gym.spaces.MultiBinary((J, J)),
        })
        self.state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        inst = self.sampler(self.np_random) if self.sampler is not None else self.instance
        self.state = Dispatch(inst)
        self._bound = self.state.makespan_lower_bound()
        return self.state.observation(), {}

    def action_masks(self) -> np.ndarray:  # sb3-contrib MaskablePPO convention
        return self.state.action_mask().astype(bool)

    def step(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        self.state.step(int(action))
        done = self.state.done
        if self.reward_kind == "dense":
            bound = self.state.makespan_lower_bound()
            reward, self._bound = -(bound - self._bound), bound
        else:
            reward = -float((self.state.starts + self.state.dur).max()) if done else 0.0
        info = {"cost": np.zeros(0)}
        if done:
            info["solution"] = self.state.starts.copy()  # per-instance view convention
        return self.state.observation(), float(reward), done, False, info
