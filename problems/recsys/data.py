"""Logged data: the ``Log`` of impressions (the offline problem's data set and what online
solvers record from the simulator), its observations, the production ranker's log generator,
and the normalised capped importance-sampling estimator (NCIS) the paper evaluates with.

A log is one row per impression, sorted by session then step, like KuaiRand's log files:
user, chosen video and its index among the candidates, play time, the auxiliary responses,
the behaviour policy's probability of the logged choice (its propensity), and whether the
session ended after the row. Observations are rebuilt from the rows on demand (the user's
features, the candidates, the previous rows of the session), exactly as the simulator shows
them, so a log of 450,000 rows stays a few tens of MB.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields

import torch

from ...cache import cache_dir
from ...errors import InvalidParameter
from .dynamics import OBS_HIST, Layout, ShortVideoSim, assemble
from .world import AUX, WINDOW, World, ranker_probs

NCIS_CAP = 10.0  # the paper's clipping of the importance ratios to [0, 10]


class MalformedLog(InvalidParameter):
    """A log whose columns are missing, of the wrong shape, or inconsistent."""


@dataclass
class Log:
    """Impressions, one row each, sorted by (session, t). ``aux`` holds what learners train
    on for the six auxiliary responses: the realised flags in a logged data set (as KuaiRand),
    the simulator's expected values in an online collection; ``flags`` are always the
    realised ones (the observation shows them)."""
    world: World
    candidates: int
    horizon: int
    session: torch.Tensor     # [N] long
    t: torch.Tensor           # [N] long
    user: torch.Tensor        # [N] long
    action: torch.Tensor      # [N] long, index among the candidates
    video: torch.Tensor       # [N] long
    cands: torch.Tensor | None  # [N, C] long, or None when every step shows the whole pool
    play: torch.Tensor        # [N] seconds
    aux: torch.Tensor         # [N, 6]
    flags: torch.Tensor       # [N, 6] realised
    propensity: torch.Tensor  # [N] behaviour probability of the logged action
    done: torch.Tensor        # [N] bool: the session ended after this row

    def __post_init__(self):
        self.validate()

    def __len__(self) -> int:
        return int(self.session.shape[0])

    @property
    def layout(self) -> Layout:
        return Layout(self.candidates)

    @property
    def sessions(self) -> int:
        return int(self.done.sum())

    def validate(self) -> None:
        n = self.session.shape[0]
        shapes = {"t": (n,), "user": (n,), "action": (n,), "video": (n,), "play": (n,), "aux": (n, len(AUX)),
                  "flags": (n, len(AUX)), "propensity": (n,), "done": (n,)}
        for name, shape in shapes.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise MalformedLog(f"log column {name!r} has shape {got}, expected {shape}")
        if self.cands is not None and tuple(self.cands.shape) != (n, self.candidates):
            raise MalformedLog(f"log column 'cands' has shape {tuple(self.cands.shape)}, expected {(n, self.candidates)}")
        if n == 0:
            raise MalformedLog("the log is empty")
        if not bool(self.done[-1]):
            raise MalformedLog("the log's last row does not end its session")
        if bool((self.action < 0).any() | (self.action >= self.candidates).any()):
            raise MalformedLog(f"log actions must be candidate indices in [0, {self.candidates})")
        if bool((self.user < 0).any() | (self.user >= self.world.users).any()):
            raise MalformedLog("log users outside the world's users")
        if not bool(((self.propensity > 0) & (self.propensity <= 1)).all()):
            raise MalformedLog("log propensities must be in (0, 1]")
        same = self.session[1:] == self.session[:-1]
        if bool((same & (self.t[1:] != self.t[:-1] + 1)).any()) or bool((~same & (self.t[1:] != 0)).any()):
            raise MalformedLog("log rows must be sorted by session, then step (t = 0, 1, ... within a session)")
        if bool((same & self.done[:-1]).any()) or bool((~same & ~self.done[:-1]).any()):
            raise MalformedLog("log 'done' must mark exactly each session's last row")

    def history(self, rows: torch.Tensor):
        """The window of each row (video ids [B, WINDOW], -1 empty; realised responses shown
        [B, WINDOW, len(OBS_HIST)]): the previous rows of the same session, most recent first."""
        B = rows.shape[0]
        hist_v = torch.full((B, WINDOW), -1, dtype=torch.long)
        hist_obs = torch.zeros(B, WINDOW, len(OBS_HIST))
        dur = self.world.duration
        for lag in range(1, WINDOW + 1):
            j = rows - lag
            ok = (j >= 0) & (self.t[rows] >= lag)
            jj = j.clamp_min(0)
            hist_v[:, lag - 1] = torch.where(ok, self.video[jj], -1)
            shown = torch.stack([(self.play[jj] / dur[self.video[jj]]).clamp(max=3.0), self.flags[jj, 0],
                                 self.flags[jj, 1], self.flags[jj, AUX.index("hate")], torch.ones(B)], 1)
            hist_obs[:, lag - 1] = shown * ok[:, None]
        return hist_v, hist_obs

    def observe(self, rows) -> torch.Tensor:
        """The observations [B, obs_dim] the policy saw at ``rows``."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        hist_v, hist_obs = self.history(rows)
        cands = torch.arange(self.candidates) if self.cands is None else self.cands[rows]
        return assemble(self.world, self.layout, self.user[rows], self.t[rows], self.horizon, cands, hist_v, hist_obs)

    def next_rows(self, rows) -> torch.Tensor:
        """The row after each of ``rows`` in its session (the row itself where the session ended)."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        return torch.where(self.done[rows], rows, rows + 1)

    def rewards(self) -> torch.Tensor:
        """[N, 7]: play time (s), then the six auxiliary responses (``aux``)."""
        return torch.cat([self.play[:, None], self.aux], 1)

    def session_rows(self) -> torch.Tensor:
        """The first row of each session [S] (the sessions in log order)."""
        start = torch.ones(len(self), dtype=torch.bool)
        start[1:] = self.done[:-1]
        return start.nonzero()[:, 0]

    def subset(self, sessions) -> "Log":
        """The log restricted to some sessions (indices into ``session_rows()``), renumbered 0, 1, ..."""
        sessions = torch.as_tensor(sessions, dtype=torch.long)
        starts = self.session_rows()
        ends = torch.cat([starts[1:], torch.tensor([len(self)])])
        length = ends[sessions] - starts[sessions]
        offset = torch.arange(int(length.sum())) - torch.repeat_interleave(torch.cumsum(length, 0) - length, length)
        keep = torch.repeat_interleave(starts[sessions], length) + offset
        cols = {k: v[keep] for k, v in self.tensors().items()}
        cols["session"] = torch.repeat_interleave(torch.arange(len(sessions)), length)
        return Log(world=self.world, candidates=self.candidates, horizon=self.horizon,
                   **{"cands": None, **cols})

    def columns(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def tensors(self) -> dict:
        return {k: v for k, v in self.columns().items() if torch.is_tensor(v)}


@torch.no_grad()
def collect(sim: ShortVideoSim, probs_fn, sessions: int, generator: torch.Generator, batch: int = 8192,
            record: str = "expected") -> Log:
    """Run ``sessions`` sessions of the simulator with a stochastic policy and log them.
    ``probs_fn(sim, state, obs) -> [B, C]`` gives the policy's probabilities (``obs`` is None
    when the policy does not need the observation: pass a function with ``needs_obs = False``).
    ``record``: 'expected' logs the simulator's expected auxiliary responses (its costs),
    'realised' the realised flags (as a real log would)."""
    cols = {k: [] for k in ("session", "t", "user", "action", "video", "cands", "play", "aux", "flags",
                            "propensity", "done")}
    done_before = 0
    for s0 in range(0, sessions, batch):
        B = min(batch, sessions - s0)
        st = sim.reset(B, generator)
        for t in range(st["T"]):
            alive = st["alive"].clone()
            if not alive.any():
                break
            obs = sim.observe(st) if getattr(probs_fn, "needs_obs", True) else None
            p = probs_fn(sim, st, obs)
            a = torch.multinomial(p, 1, generator=generator)[:, 0]
            cands = sim.candidates_at(st)
            st, _, _, done = sim.step(st, a.float()[:, None])
            last = st["last"]
            i = alive.nonzero()[:, 0]
            cols["session"].append(done_before + s0 + i)
            cols["t"].append(torch.full_like(i, t))
            cols["user"].append(st["user"][i])
            cols["action"].append(a[i])
            cols["video"].append(last["video"][i])
            cols["cands"].append(None if sim.fixed else cands[i])
            cols["play"].append(last["play"][i])
            cols["aux"].append((last["probs"] if record == "expected" else last["flags"])[i])
            cols["flags"].append(last["flags"][i])
            cols["propensity"].append(p.gather(1, a[:, None])[i, 0])
            cols["done"].append(done[i])
    out = {k: (None if k == "cands" and sim.fixed else torch.cat(v)) for k, v in cols.items()}
    order = torch.argsort(out["session"] * (sim.horizon + 1) + out["t"])
    out = {k: (None if v is None else v[order]) for k, v in out.items()}
    _, out["session"] = torch.unique_consecutive(out["session"], return_inverse=True)
    return Log(world=sim.world, candidates=sim.candidates, horizon=sim.horizon, **out)


def ranker_policy(sim: ShortVideoSim, state: dict, obs=None) -> torch.Tensor:
    """The production ranker as a ``collect`` policy (it reads the simulator's state)."""
    return ranker_probs(sim.world_on(state["user"].device), state["user"], sim.candidates_at(state), state["hist_v"])


ranker_policy.needs_obs = False


def ranker_log(sim: ShortVideoSim, sessions: int, seed: int, key: str) -> Log:
    """The production ranker's log of ``sessions`` sessions (realised responses, as KuaiRand's),
    cached on disk under ``key`` (it takes seconds to minutes to simulate)."""
    path = cache_dir("recsys") / f"log_{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            if saved.get("key") == key:
                return Log(world=sim.world, candidates=sim.candidates, horizon=sim.horizon, **saved["columns"])
        except Exception:
            pass  # a torn or stale file is made again
    log = collect(sim, ranker_policy, sessions, torch.Generator().manual_seed(seed), record="realised")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({"key": key, "columns": {k: v for k, v in log.columns().items()
                                        if k not in ("world", "candidates", "horizon")}}, tmp)
    tmp.replace(path)
    return log


@torch.no_grad()
def target_probabilities(policy, obs: torch.Tensor, actions: torch.Tensor, candidates: int) -> torch.Tensor:
    """pi_e(a | s) of the logged actions: from ``policy.probs(obs)`` when the policy offers its
    probabilities, else the indicator that its action equals the logged one (for a stochastic
    policy an unbiased estimate of its probability)."""
    if hasattr(policy, "probs"):
        p = torch.as_tensor(policy.probs(obs), dtype=torch.float32)
        if tuple(p.shape) != (obs.shape[0], candidates):
            raise ValueError(f"policy.probs returned shape {tuple(p.shape)}, expected {(obs.shape[0], candidates)}")
        return p.gather(1, actions[:, None])[:, 0]
    a = torch.as_tensor(policy(obs))
    a = a.reshape(obs.shape[0], -1)[:, 0]
    return (a.float().floor().long().clamp(0, candidates - 1) == actions).float()


def ncis(values: torch.Tensor, target: torch.Tensor, propensity: torch.Tensor, cap: float = NCIS_CAP):
    """Normalised capped importance sampling (Gilotte et al. 2018), per impression as the
    paper: w = clip(pi_e / pi_b, 0, cap), estimate = sum w r / sum w. ``values`` [N, k];
    -> (estimates [k], weights [N])."""
    w = (target / propensity).clamp(0.0, cap)
    if float(w.sum()) <= 0:
        return torch.full((values.shape[1],), float("nan")), w
    return (w[:, None] * values).sum(0) / w.sum(), w


@torch.no_grad()
def ncis_per_session(log: Log, policy, batch: int = 8192, cap: float = NCIS_CAP):
    """The NCIS estimate of each response on ``log`` written as per-session contributions
    x_j = S x sum_{rows of j} w r / sum_all w, whose mean over the S sessions is the estimate
    itself (so the engine's mean over scenarios reproduces it). -> [S, 7]."""
    target = torch.cat([target_probabilities(policy, log.observe(torch.arange(s, min(s + batch, len(log)))),
                                             log.action[s:s + batch], log.candidates)
                        for s in range(0, len(log), batch)])
    w = (target / log.propensity).clamp(0.0, cap)
    S = log.sessions
    contrib = torch.zeros(S, 7, dtype=torch.float64).index_add_(0, log.session, (w[:, None] * log.rewards()).double())
    total = float(w.sum())
    if total <= 0:
        return torch.full((S, 7), float("nan"), dtype=torch.float64)
    return S * contrib / total
