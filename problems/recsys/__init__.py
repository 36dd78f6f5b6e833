"""Short-video recommendation as a constrained MDP (TSCAC paper: Cai et al., "Two-Stage
Constrained Actor-Critic for Short Video Recommendation", WWW 2023, arXiv 2302.01680).

``recsys/short-video-v0``: a user's session is the episode; each step the policy picks one of
``candidates`` videos by its index; objective: the session's play time (s, max); constraints:
the session totals of click, like, follow, comment and forward >= the production ranker's, and
of hate <= the production ranker's (its expected totals on 16,384 simulated sessions).
``recsys/short-video-2obj-v0``: play time and interactions (like + follow + comment + forward)
per session, both max, answered by a set of policies (hypervolume from (0, 0)).
``recsys/short-video-offline-v0``: solvers see only a log of ``sessions`` sessions made by the
production ranker; a policy is scored twice, by the paper's normalised capped importance
sampling (NCIS) on a held-out log, per impression, and by simulation (the truth), and each
(estimate, truth) pair's error is a column of the summary.
World parameters: ``users``, ``videos``, ``candidates`` (per step; the whole pool in a fixed
order when equal to ``videos``, as the paper's 150), ``horizon`` (steps at most), ``seed``.
Reference: the LP over occupancy measures (``optimal``) for worlds of at most 200,000
decision nodes (a few videos, horizon <= 3), else none.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from ...cache import cached_json, cached_tensors, source_digest
from ...errors import InvalidParameter
from ...problem import BatchedSim, Problem, SimEnv
from ...registry import Param, register, register_suite
from ...spec import Constraint, Objective, Reference, Spec, TestScenarios
from .data import NCIS_CAP, Log, MalformedLog, collect, ncis, ncis_per_session, ranker_log, ranker_policy, target_probabilities
from .dynamics import OBS_HIST, TARGETS, Layout, ShortVideoSim, decode, ranker_statistics
from .kuairand import KUAIRAND_LOG_COLUMNS, load_kuairand
from .reference import TreePolicy, lp_size, ranker_values, solve_lp, LP_MAX_DECISIONS
from .world import (AUX, CALIBRATED, CATEGORIES, HIST_FEATURES, INTERACTIONS, LATENT, RESPONSES, USER_FEATURES, VIDEO_FEATURES,
                    WINDOW, Model, World, affinity, dissatisfaction, leave_probability, make_world, outcomes,
                    ranker_probs, respond)

SCENARIOS = dict(seed=20230203, dev_seed=20230204, n=4096, aggregate="sum")
OFFLINE_SEEDS = {"train": 1001, "held_out": 1002}


@runtime_checkable
class ShortVideoView(Protocol):
    """The short-video world behind the problem: ``world`` (users, videos, response model),
    ``layout`` (where things are in the observation), ``candidates`` and ``horizon``."""
    world: World
    layout: Layout
    candidates: int
    horizon: int


@runtime_checkable
class LoggedData(Protocol):
    """A logged data set to learn from: ``log()`` (a ``Log`` made by the production ranker)."""

    def log(self) -> Log: ...


@functools.lru_cache(maxsize=4)
def cached_world(users: int, videos: int, seed: int) -> World:
    """The seeded world, kept on disk under the reference cache (building it takes about half a
    second, which every run of the family and ``mobench list`` would pay)."""
    from . import world as world_module
    from dataclasses import fields
    key = hashlib.sha256(f"{users},{videos},{seed},{asdict(CALIBRATED)},"
                         f"{source_digest(world_module)}".encode()).hexdigest()[:16]

    def build():
        w = make_world(users, videos, seed)
        return {f.name: getattr(w, f.name) for f in fields(w) if isinstance(getattr(w, f.name), torch.Tensor)}

    return World(seed=int(seed), model=CALIBRATED, **cached_tensors("recsys", f"world-{key}", build))


class ShortVideoBase(Problem):
    def _world(self, users, videos, candidates, horizon, seed):
        if candidates > videos:
            raise InvalidParameter(f"{self.id}: candidates={candidates} exceeds videos={videos}")
        self._world_args = (int(users), int(videos), int(seed))
        self.candidates, self.horizon, self.seed = int(candidates), int(horizon), int(seed)
        self.layout = Layout(self.candidates)

    @property
    def world(self) -> World:
        """The simulated users and videos, built on first use (``mobench list`` makes every
        problem and needs none of them)."""
        return cached_world(*self._world_args)

    def world_key(self) -> str:
        w = self.world
        text = f"{w.users},{w.videos},{self.candidates},{self.horizon},{self.seed},{asdict(w.model)}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def ranker(self) -> dict:
        """The production ranker's mean session totals (cached): the constraint thresholds."""
        return cached_json("recsys", f"ranker_{self.world_key()}_v1",
                           lambda: ranker_values(ShortVideoSim(self.world, self.candidates, self.horizon)))

    def constraints(self) -> tuple[Constraint, ...]:
        r = self.ranker()
        return tuple(Constraint(k, r[k], "le" if k == "hate" else "ge") for k in AUX)

    def small(self) -> bool:
        return self.horizon <= 3 and lp_size(self.world, self.candidates, self.horizon) <= LP_MAX_DECISIONS

    def reference_kind(self) -> str:
        return "optimal" if self.small() else "none"

    def exact(self) -> dict | None:
        """The LP's optimum (cached): value and expected totals, or None when infeasible."""
        def compute():
            thr = {c.name: c.threshold for c in self.constraints()}
            r = solve_lp(self.world, self.candidates, self.horizon, thr)
            return {"value": r["value"], "totals": r.get("totals"), "message": str(r["message"])}
        return cached_json("recsys", f"lp_{self.world_key()}_v1", compute)

    def reference(self) -> Reference:
        if not self.small():
            return Reference.none("no exact reference at this size: the LP over occupancy measures is built for "
                                  f"horizon <= 3 and at most {LP_MAX_DECISIONS} decision nodes")
        r = self.exact()
        if r["value"] is None:
            return Reference.none(f"the LP is infeasible: {r['message']}")
        return Reference("optimal", value=r["value"], source="LP over occupancy measures of the session tree "
                         "(scipy HiGHS), constraints as expected session totals", details={"totals": r["totals"]})


class ShortVideo(ShortVideoBase):
    def __init__(self, target, users: int, videos: int, candidates: int, horizon: int, seed: int):
        super().__init__(target)
        self._world(users, videos, candidates, horizon, seed)
        self.spec = Spec(id=self.id, objectives=(Objective("play_time", "max"),), constraints=self.constraints(),
                         answer="policy", scenarios=TestScenarios(horizon=self.horizon, **SCENARIOS),
                         description=f"short-video sessions: {users} users, {videos} videos, {candidates} candidates "
                                     f"per step, at most {horizon} steps; play time s.t. interactions >= the "
                                     "production ranker's, hate <=", tags=("recsys",))

    def sim(self) -> ShortVideoSim:
        return ShortVideoSim(self.world, self.candidates, self.horizon)


class ShortVideoTwoObjective(ShortVideoBase):
    def __init__(self, target, users: int, videos: int, candidates: int, horizon: int, seed: int):
        super().__init__(target)
        self._world(users, videos, candidates, horizon, seed)
        self.spec = Spec(id=self.id, objectives=(Objective("play_time", "max"), Objective("interactions", "max")),
                         answer="pareto-policies", scenarios=TestScenarios(horizon=self.horizon, **SCENARIOS),
                         hv_ref_point=(0.0, 0.0),
                         description=f"short-video sessions ({users} users, {videos} videos): play time and "
                                     "interactions (like + follow + comment + forward) per session",
                         tags=("recsys",))

    def sim(self) -> ShortVideoSim:
        return ShortVideoSim(self.world, self.candidates, self.horizon, mode="2obj")

    def reference_kind(self) -> str:
        return "none"

    def reference(self) -> Reference:
        return Reference.none("no exact front computed")


def offline_objectives() -> tuple[Objective, ...]:
    out = [Objective("play_time", "max")]
    for r in RESPONSES:
        sense = "min" if r == "hate" else "max"
        out += [Objective(f"{r}_ncis", sense), Objective(f"{r}_per_step", sense)]
    return tuple(out)


class ShortVideoOffline(ShortVideoBase):
    """Objectives: the session play time by simulation (the CMDP's objective), then for each
    response its per-impression mean by NCIS on the held-out log (``<r>_ncis``, the paper's
    metric) and by simulation (``<r>_per_step``, the truth it estimates); constraints on the
    simulated session totals, as online. Scored by ``score_policies`` (the engine's
    ``PolicyScoring`` view), never by the solver."""

    def __init__(self, target, users: int, videos: int, candidates: int, horizon: int, seed: int, sessions: int,
                 test_sessions: int):
        super().__init__(target)
        self._world(users, videos, candidates, horizon, seed)
        self.sessions, self.test_sessions = int(sessions), int(test_sessions)
        scen = {**SCENARIOS, "n": self.test_sessions}
        self.spec = Spec(id=self.id, objectives=offline_objectives(), constraints=self.constraints(), answer="policy",
                         scenarios=TestScenarios(horizon=self.horizon, **scen),
                         estimates=tuple((f"{r}_ncis", f"{r}_per_step") for r in RESPONSES),
                         description=f"offline: {sessions} logged sessions of the production ranker; NCIS on "
                                     f"{test_sessions} held-out sessions vs the truth by simulation",
                         tags=("recsys", "offline"))

    def _log(self, which: str) -> Log:
        n = self.sessions if which == "train" else self.test_sessions
        key = f"{self.world_key()},{which},{n},{OFFLINE_SEEDS[which]}"
        return ranker_log(ShortVideoSim(self.world, self.candidates, self.horizon), n, OFFLINE_SEEDS[which], key)

    def log(self) -> Log:
        """The training log (what solvers learn from)."""
        return self._log("train")

    def held_out(self) -> Log:
        """The held-out log NCIS is computed on (the engine's; solvers never see it)."""
        return self._log("held_out")

    def env(self):
        """Gymnasium view of the training log (replay: the logged response when the action is
        the logged one, else nothing; the next state is the log's next row whatever the
        action). The simulator is not offered: offline solvers learn from the log alone."""
        return SimEnv(ReplaySim(self.log(), self.spec.n_obj))

    def reference_kind(self) -> str:
        return "none"

    def reference(self) -> Reference:
        return Reference.none("offline problem: policies are compared with the production ranker's log")

    @torch.no_grad()
    def score_policies(self, policies, device="cpu"):
        sim = ShortVideoSim(self.world, self.candidates, self.horizon)
        sc = self.spec.scenarios
        held = self.held_out()
        objs, costs = [], []
        for policy in policies:
            per_session, aux_totals, steps = simulate_totals(sim, policy, sc.n, sc.seed, device)
            truth_rate = sc.n * per_session / steps.sum()  # mean over sessions = the per-impression mean
            est = ncis_per_session(held, policy)
            cols = [per_session[:, 0]]
            for k in range(len(RESPONSES)):
                cols += [est[:, k], truth_rate[:, k]]
            objs.append(torch.stack(cols, 1).numpy())
            costs.append(aux_totals.numpy())
        return np.stack(objs), np.stack(costs)


@torch.no_grad()
def simulate_totals(sim: ShortVideoSim, policy, n: int, seed: int, device="cpu"):
    """Run ``policy`` on ``n`` sessions: -> per-session totals of the seven responses (play
    realised, the auxiliaries expected) [n, 7], the auxiliaries' totals [n, 6], steps [n]."""
    from ...errors import InvalidAction
    st = sim.reset(n, torch.Generator().manual_seed(seed), device)
    tot = torch.zeros(n, len(RESPONSES), dtype=torch.float64, device=device)
    steps = torch.zeros(n, dtype=torch.float64, device=device)
    for _ in range(st["T"]):
        obs = sim.observe(st)
        a = torch.as_tensor(policy(obs), device=device)
        a = (a.unsqueeze(1) if a.dim() == 1 else a).to(torch.float32)
        sim.check_action(a, n)
        steps += st["alive"]
        st, r, c, _ = sim.step(st, a)
        tot += torch.cat([r[:, :1], c], 1).double()
    return tot.cpu(), tot[:, 1:].cpu(), steps.cpu()


class ReplaySim(BatchedSim):
    """Replays sessions of a log (the offline problem's Gymnasium view): the observation is the
    logged one; the reward (each objective's response, play time in seconds) and the costs are
    the logged responses when the action picks the logged candidate, else zero (Li et al.
    2011's replay); the session follows the log whatever the action."""
    differentiable = False
    obs_low, obs_high = -np.inf, np.inf

    def __init__(self, log: Log, n_obj: int):
        self.logdata, self.n_obj, self.n_con = log, n_obj, len(AUX)
        self.obs_dim, self.act_dim = log.layout.dim, 1
        self.action_low, self.action_high = np.zeros(1), np.full(1, float(log.candidates))
        self.horizon = log.horizon
        self.starts = log.session_rows()

    def reset(self, batch, generator, device="cpu", horizon=None):
        s = torch.randint(0, len(self.starts), (batch,), generator=generator)
        return {"t": 0, "T": self.horizon if horizon is None else int(horizon), "row": self.starts[s],
                "alive": torch.ones(batch, dtype=torch.bool)}

    def observe(self, state):
        return self.logdata.observe(state["row"])

    def step(self, state, action):
        log, rows = self.logdata, state["row"]
        idx = action[:, 0].floor().long().clamp(0, log.candidates - 1)
        hit = ((idx == log.action[rows]) & state["alive"]).float()
        resp = log.rewards()[rows] * hit[:, None]  # [B, 7]
        reward = torch.cat([resp[:, :1]] + [resp[:, k:k + 1].expand(-1, 2) for k in range(len(RESPONSES))], 1)
        end = log.done[rows] | (state["t"] + 1 >= state["T"])
        new = {**state, "t": state["t"] + 1, "row": torch.where(end, rows, rows + 1),
               "alive": state["alive"] & ~log.done[rows]}
        return new, reward[:, :self.n_obj], resp[:, 1:], ~new["alive"] | (state["t"] + 1 >= state["T"])


WORLD = {
    "users": Param(27285, low=1, high=1_000_000, doc="users in the world (KuaiRand-27K: 27,285)"),
    "videos": Param(150, low=1, high=100_000, doc="videos in the pool (the paper: the 150 most logged)"),
    "candidates": Param(150, low=1, high=100_000, doc="candidates shown per step (<= videos; the paper: 150)"),
    "horizon": Param(30, low=1, high=200, doc="steps per session at most (the user may leave before)"),
    "seed": Param(0, low=0, doc="seed of the synthetic world"),
}
register("recsys/short-video-v0", ShortVideo, params=WORLD,
         description="short-video sessions: play time s.t. interaction constraints (CMDP)")
register("recsys/short-video-2obj-v0", ShortVideoTwoObjective, params=WORLD,
         description="short-video sessions: play time and interactions (Pareto set)")
register("recsys/short-video-offline-v0", ShortVideoOffline, params={
    **WORLD,
    "sessions": Param(25_000, low=10, high=1_000_000, doc="logged training sessions (the paper: ~450,000 rows)"),
    "test_sessions": Param(4096, low=10, high=100_000, doc="held-out logged sessions, also the simulated test sessions")},
    description="short-video offline: learn from the ranker's log; NCIS on held-out logs vs the truth")

# Suites. smoke: a small world, seconds per run; paper-tscac: the leaderboard's cells
# (benchmarks/recsys.py, results/leaderboards/recsys.md).
SMOKE = "recsys/short-video-v0:users=2000,horizon=10"
register_suite("smoke", SMOKE, {"popular": None, "random": None, "tscac": (1_000_000, 60)})
PAPER_ONLINE = "recsys/short-video-v0"
PAPER_OFFLINE = "recsys/short-video-offline-v0"
PAPER_2OBJ = "recsys/short-video-2obj-v0"
PAPER_BUDGETS = {"tscac": (1_500_000, 420), "rcpo": (1_500_000, 300), "pareto-mo": (1_500_000, 300),
                 "bc": (1_500_000, 120), "wide-deep": (1_500_000, 120), "deepfm": (1_500_000, 120),
                 "popular": None, "oracle": None}
for _t in (PAPER_ONLINE, PAPER_OFFLINE):
    register_suite("paper-tscac", _t, PAPER_BUDGETS)
register_suite("paper-tscac", PAPER_ONLINE, {"random": None})
register_suite("paper-tscac", PAPER_2OBJ, {"pareto-mo": (1_500_000, 300), "oracle": None, "popular": None})

__all__ = ["ShortVideo", "ShortVideoTwoObjective", "ShortVideoOffline", "ShortVideoView", "LoggedData",
           "ShortVideoSim", "ReplaySim", "Layout", "Log", "MalformedLog", "World", "Model", "TARGETS",
           "AUX", "RESPONSES", "INTERACTIONS", "CATEGORIES", "LATENT", "WINDOW", "USER_FEATURES", "VIDEO_FEATURES",
           "HIST_FEATURES", "OBS_HIST", "NCIS_CAP", "KUAIRAND_LOG_COLUMNS", "collect", "ncis", "ncis_per_session",
           "target_probabilities", "ranker_log", "ranker_policy", "ranker_probs", "ranker_statistics", "ranker_values",
           "make_world", "respond", "affinity", "outcomes", "dissatisfaction", "leave_probability", "decode",
           "solve_lp", "lp_size", "TreePolicy", "simulate_totals", "load_kuairand", "cached_world"]
