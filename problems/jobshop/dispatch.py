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

``BatchDispatch`` holds B episodes (copies of one instance, or instances of one shape) and
steps them together, every query a numpy operation over the batch; ``Dispatch`` is one episode
of it with unbatched arrays. The RL solvers sample and train on the batch: one policy call per
step for all episodes (``benchmarks/jobshop_env_speed.py`` prints the throughput).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ...errors import InvalidAction
from .instances import Instance

WINDOW = 5
FEATURES = 4
_NEVER = np.iinfo(np.int64).max  # the earliest start of a finished job's (absent) next operation
_NEVER_NEG = -(1 << 62)


class BatchDispatch:
    """The dispatching state of B episodes at once (numpy, every query and step vectorised
    over the batch): B copies of one instance (parallel sampling) or B instances of one shape
    (parallel training). Row b's state is ``next_op[b]``, ``job_ready[b]``,
    ``machine_free[b]``, ``starts[b]`` and ``t[b]``; a finished row ignores its action."""

    def __init__(self, instances, copies: int | None = None):
        """``instances``: one Instance with ``copies`` rows, or a list of same-shape Instances."""
        if copies is not None:
            instances = [instances] * copies
        instances = list(instances)
        if not instances:
            raise ValueError("BatchDispatch needs at least one instance")
        shapes = {(i.durations.shape, i.n_machines) for i in instances}
        if len(shapes) != 1:
            raise ValueError(f"a batch needs instances of one shape (jobs x operations, machines), got {sorted(shapes)}")
        self.insts = instances
        self.B = len(instances)
        self.J, self.K = instances[0].durations.shape
        self.M = instances[0].n_machines
        self.dur = np.stack([i.durations for i in instances])   # [B, J, K]
        self.mach = np.stack([i.machines for i in instances])   # [B, J, K]
        self.scale = np.maximum(1, self.dur.sum(2).max(1)).astype(np.float64)  # [B]
        self._rows, self._jobs = np.arange(self.B)[:, None], np.arange(self.J)[None, :]
        self.reset()

    def reset(self):
        B, J, K = self.B, self.J, self.K
        self.next_op = np.zeros((B, J), np.int64)
        self.job_ready = np.zeros((B, J), np.int64)
        self.machine_free = np.zeros((B, self.M), np.int64)
        self.starts = np.full((B, J, K), -1, np.int64)
        self.t = np.zeros(B, np.int64)
        self._advance_if_stuck()
        return self

    def replace(self, b: int, instance):
        """Start row ``b`` afresh on ``instance`` (same shape): training's next episode."""
        if instance.durations.shape != (self.J, self.K) or instance.n_machines != self.M:
            raise ValueError(f"instance {instance.name} has shape {instance.durations.shape}, the batch {(self.J, self.K)}")
        self.insts[b] = instance
        self.dur[b], self.mach[b] = instance.durations, instance.machines
        self.scale[b] = max(1, instance.durations.sum(1).max())
        self.next_op[b] = self.job_ready[b] = self.machine_free[b] = 0
        self.starts[b] = -1
        self.t[b] = 0
        self._advance_if_stuck()

    # --- state queries -------------------------------------------------------------------
    @property
    def done(self) -> np.ndarray:
        return (self.next_op >= self.K).all(1)

    def unfinished(self) -> np.ndarray:
        return self.next_op < self.K

    def _next(self, table):
        """``table[b, j, next_op[b, j]]`` (the last operation for finished jobs)."""
        return table[self._rows, self._jobs, np.minimum(self.next_op, self.K - 1)]

    def est(self, unfinished=None) -> np.ndarray:
        """Earliest start of each job's next operation [B, J] (a large number for finished jobs)."""
        unf = self.unfinished() if unfinished is None else unfinished
        free = self.machine_free[self._rows, self._next(self.mach)]
        return np.where(unf, np.maximum(self.job_ready, free), _NEVER)

    def legal_jobs(self, est=None) -> np.ndarray:
        est = self.est() if est is None else est
        return est <= self.t[:, None]  # finished jobs' est is _NEVER

    def noop_legal(self, est=None) -> np.ndarray:
        est = self.est() if est is None else est
        return ((est > self.t[:, None]) & (est < _NEVER)).any(1)

    def action_mask(self, est=None) -> np.ndarray:
        est = self.est() if est is None else est
        return np.concatenate([self.legal_jobs(est), self.noop_legal(est)[:, None]], 1).astype(np.int8)

    # --- transitions ---------------------------------------------------------------------
    def _advance_if_stuck(self):
        unf = self.unfinished()
        est = self.est(unf)
        stuck = unf.any(1) & ~(est <= self.t[:, None]).any(1)
        if stuck.any():
            self.t = np.where(stuck, est.min(1), self.t)

    def step(self, actions) -> None:
        """One action per row (job index, or J for No-Op); finished rows ignore theirs.
        An illegal action in a live row raises ``InvalidAction`` and changes nothing."""
        a = np.asarray(actions, dtype=np.int64).reshape(self.B)
        unf = self.unfinished()
        live = unf.any(1)
        est = self.est(unf)
        t = self.t[:, None]
        legal = est <= t
        later = (est > t) & unf
        job = (a >= 0) & (a < self.J)
        noop = a == self.J
        ok = np.where(job, legal[self._rows[:, 0], np.where(job, a, 0)], noop & later.any(1))
        if not ok[live].all():
            b = int(np.flatnonzero(live & ~ok)[0])
            what = "No-Op" if a[b] == self.J else f"job {a[b]}"
            why = "no later event exists" if a[b] == self.J else "cannot start now"
            mask = np.append(legal[b], later[b].any())
            raise InvalidAction(f"{what} at t={self.t[b]} (row {b}): {why} "
                                f"(legal: {np.flatnonzero(mask).tolist()}, {self.J} = No-Op)")
        noop &= live
        if noop.any():
            self.t = np.where(noop, np.where(later, est, _NEVER).min(1), self.t)
        go = np.flatnonzero(live & job)
        if go.size:
            j = a[go]
            k = self.next_op[go, j]
            m, d = self.mach[go, j, k], self.dur[go, j, k]
            t = self.t[go]
            self.starts[go, j, k] = t
            self.job_ready[go, j] = t + d
            self.machine_free[go, m] = t + d
            self.next_op[go, j] = k + 1
        self._advance_if_stuck()

    # --- lower bounds and observation ------------------------------------------------------
    def start_bounds(self) -> np.ndarray:
        """Start-time lower bound of every operation [B, J, K]: fixed ones their start; the
        others chained from their job's predecessor, their machine's free time and t, i.e.
        lb_k = max(lb_(k-1) + d_(k-1), free_(m_k), t) from the job's ready time. The chain is
        a running maximum: with D_k the job's durations before k and c_k = max(free_(m_k), t),
        lb_k = D_k + max(job_ready - D_f, max over f <= i <= k of c_i - D_i), f = next_op."""
        D = np.cumsum(self.dur, 2) - self.dur
        c = np.maximum(self.machine_free[self._rows[:, :, None], self.mach], self.t[:, None, None])
        fixed = self.starts >= 0  # a prefix of each job: next_op operations
        val = np.where(fixed, _NEVER_NEG, c - D)
        f = np.minimum(self.next_op, self.K - 1)[:, :, None]
        base = self.job_ready[:, :, None] - np.take_along_axis(D, f, 2)
        lb = np.where(fixed, self.starts, D + np.maximum(np.maximum.accumulate(val, 2), base))
        return lb.astype(np.float64)

    def makespan_lower_bound(self) -> np.ndarray:
        return (self.start_bounds() + self.dur).max((1, 2))

    def observation(self) -> dict:
        """Stacked observations: ops [B, J, 5, 4], action_mask [B, J + 1], shared [B, J, J]."""
        lb = self.start_bounds()
        end = lb + self.dur
        fixed = self.starts >= 0
        t = self.t[:, None, None]
        # first operation not finished at t: fixed ones that ended by t are skipped
        first = (fixed & (end <= t)).sum(2)  # operations finish in job order
        est = self.est()
        mask = self.action_mask(est)
        legal = mask[:, :-1].astype(bool)
        k = first[:, :, None] + np.arange(WINDOW)           # [B, J, W]
        ok = k < self.K
        kk = np.minimum(k, self.K - 1)
        take = lambda a: np.take_along_axis(a, kk, 2)      # noqa: E731
        scale = self.scale[:, None, None]
        ops = np.zeros((self.B, self.J, WINDOW, FEATURES), np.float32)
        ops[..., 0] = ok & take(fixed)
        ops[..., 1] = np.where(ok, (take(lb) - t) / scale, 0)
        ops[..., 2] = np.where(ok, take(self.dur) / scale, 0)
        ops[..., 3] = ok & (kk == self.next_op[:, :, None]) & legal[:, :, None]
        m = np.where(self.unfinished(), self._next(self.mach), -1)
        shared = ((m[:, :, None] == m[:, None, :]) & (m[:, :, None] >= 0)).astype(np.int8)
        return {"ops": ops, "action_mask": mask, "shared": shared}


class Dispatch:
    """One episode's dispatching state: the batch of one, with unbatched arrays
    (``next_op`` [J], ``starts`` [J, K], ``t`` an int, ...). Dispatching rules, the
    Gymnasium view and the CP replay use it."""

    def __init__(self, instance: Instance):
        self.inst = instance
        self.batch = BatchDispatch([instance])
        self.J, self.K = self.batch.J, self.batch.K
        self.dur, self.mach = instance.durations, instance.machines
        self.scale = float(self.batch.scale[0])

    def reset(self):
        self.batch.reset()
        return self

    next_op = property(lambda self: self.batch.next_op[0])
    job_ready = property(lambda self: self.batch.job_ready[0])
    machine_free = property(lambda self: self.batch.machine_free[0])
    starts = property(lambda self: self.batch.starts[0])
    t = property(lambda self: int(self.batch.t[0]))
    done = property(lambda self: bool(self.batch.done[0]))

    def unfinished(self) -> np.ndarray:
        return self.batch.unfinished()[0]

    def est(self) -> np.ndarray:
        return self.batch.est()[0]

    def legal_jobs(self) -> np.ndarray:
        return self.batch.legal_jobs()[0]

    def noop_legal(self) -> bool:
        return bool(self.batch.noop_legal()[0])

    def action_mask(self) -> np.ndarray:
        return self.batch.action_mask()[0]

    def step(self, action: int) -> None:
        self.batch.step([int(action)])

    def start_bounds(self) -> np.ndarray:
        return self.batch.start_bounds()[0]

    def makespan_lower_bound(self) -> float:
        return float(self.batch.makespan_lower_bound()[0])

    def observation(self) -> dict:
        return {k: v[0] for k, v in self.batch.observation().items()}


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
