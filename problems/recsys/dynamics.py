"""The batched short-video session simulator (one torch implementation; the Gymnasium env is
``SimEnv`` over it) and the observation layout.

A session is one user's episode. Each step the platform shows ``candidates`` videos (the whole
pool, in a fixed order, when ``candidates == videos`` as in the paper's KuaiRand subset; else a
popularity-weighted draw of the pool, a retrieval stage) and the policy picks one by its index.
The user watches it (play time: expected play x a mean-one log-normal factor), responds
(click, like, follow, comment, forward, hate: Bernoulli with ``world.respond``'s
probabilities), and leaves with a probability that grows with the dissatisfaction of the
recent window (videos watched for a small share of their length, hated videos), so a policy
that chases watch time with long videos ends sessions sooner.

Outputs per step: reward = play time in seconds (and, for the two-objective view, the
expected interactions); constraint costs = the expected click, like, follow, comment, forward
and hate of the impression (their probabilities: the conditional expectation of the realised
flag, so session totals are unbiased with far less variance than counting rare events; the
realised flags drive the dynamics and the observation and are what logs record). Sessions that
ended give zeros. All randomness (users, candidate draws, play noise, response and leaving
uniforms) is drawn at ``reset`` from the generator on the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...errors import InvalidAction, InvalidParameter
from ...problem import BatchedSim
from .world import (AUX, HIST_FEATURES, INTERACTIONS, USER_FEATURES, VIDEO_FEATURES, WINDOW, World,
                    dissatisfaction, leave_probability, outcomes, respond)

OBS_HIST = ("watch_ratio", "click", "like", "hate", "used")  # realised responses shown per history slot
INTERACTION_IDX = [AUX.index(k) for k in INTERACTIONS]


@dataclass(frozen=True)
class Layout:
    """Where things are in the flat observation: the user block (features, then t / T), the
    candidate block (``candidates`` x VIDEO_FEATURES) and the history block (WINDOW slots, most
    recent first, each VIDEO_FEATURES then OBS_HIST)."""
    candidates: int

    @property
    def user_dim(self) -> int:
        return USER_FEATURES + 1

    @property
    def dim(self) -> int:
        return self.user_dim + self.candidates * VIDEO_FEATURES + WINDOW * HIST_FEATURES

    def split(self, obs: torch.Tensor):
        """-> user [B, user_dim], candidates [B, C, VIDEO_FEATURES], history [B, WINDOW, HIST_FEATURES]."""
        B, u, c = obs.shape[0], self.user_dim, self.candidates * VIDEO_FEATURES
        return obs[:, :u], obs[:, u:u + c].reshape(B, self.candidates, VIDEO_FEATURES), \
            obs[:, u + c:].reshape(B, WINDOW, HIST_FEATURES)

    def crosses(self, obs: torch.Tensor) -> torch.Tensor:
        """Per candidate [B, C, 2]: the share of the history window in its category, and
        whether it is in the window (what fatigue and the repeat penalty depend on), computed
        from the observation alone."""
        from .world import CATEGORIES
        _, cands, hist = self.split(obs)
        used = hist[..., -1:]  # [B, H, 1]
        hc = hist[..., :CATEGORIES] * used
        same = torch.einsum("bck,bhk->bc", cands[..., :CATEGORIES], hc) / WINDOW
        key = CATEGORIES + 1  # the first content-embedding entry: continuous, so it tells videos apart
        seen = ((cands[:, :, None, key] == hist[:, None, :, key]) & (used[:, None, :, 0] > 0)).any(-1).float()
        return torch.stack([same, seen], -1)


def assemble(world: World, layout: Layout, user, t, T, cands, hist_v, hist_obs) -> torch.Tensor:
    """The flat observation from its parts: user [B], t [B] or int, horizon T, candidate video
    ids [B, C] (or [C], shared), window video ids [B, WINDOW] (-1 empty) and the realised
    responses shown per slot [B, WINDOW, len(OBS_HIST)]. Written into one preallocated tensor
    (the candidate block is most of the observation)."""
    B, u, c = user.shape[0], layout.user_dim, layout.candidates * VIDEO_FEATURES
    out = torch.empty(B, layout.dim, device=user.device)
    out[:, :USER_FEATURES] = world.user_x[user]
    out[:, USER_FEATURES] = torch.as_tensor(t, dtype=torch.float32, device=user.device) / float(T)
    cx = world.video_x[cands]
    out[:, u:u + c].view(B, layout.candidates, VIDEO_FEATURES).copy_(cx.expand(B, *cx.shape) if cands.dim() == 1 else cx)
    hist = out[:, u + c:].view(B, WINDOW, HIST_FEATURES)
    used = (hist_v >= 0).unsqueeze(-1).to(out.dtype)
    hist[..., :VIDEO_FEATURES] = world.video_x[hist_v.clamp_min(0)] * used
    hist[..., VIDEO_FEATURES:] = hist_obs
    return out


class ShortVideoSim(BatchedSim):
    """``mode``: 'constrained' (reward: play time; costs: the six auxiliary responses) or
    '2obj' (rewards: play time and the interactions like + follow + comment + forward)."""
    differentiable = False
    obs_low, obs_high = -np.inf, np.inf

    def __init__(self, world: World, candidates: int, horizon: int, mode: str = "constrained"):
        if not 1 <= candidates <= world.videos:
            raise InvalidParameter(f"candidates={candidates} must be between 1 and videos={world.videos}")
        if mode not in ("constrained", "2obj"):
            raise ValueError(f"unknown mode {mode!r}")
        self.world, self.candidates, self.horizon, self.mode = world, int(candidates), int(horizon), mode
        self.fixed = self.candidates == world.videos  # the whole pool, in a fixed order, every step
        self.layout = Layout(self.candidates)
        self.obs_dim, self.act_dim = self.layout.dim, 1
        self.action_low, self.action_high = np.zeros(1), np.full(1, float(self.candidates))
        self.n_obj, self.n_con = (1, len(AUX)) if mode == "constrained" else (2, 0)
        self._worlds = {"cpu": world}

    def world_on(self, device) -> World:
        key = str(device)
        if key not in self._worlds:
            self._worlds[key] = self.world.to(device)
        return self._worlds[key]

    def draw_candidates(self, batch: int, T: int, generator: torch.Generator) -> torch.Tensor | None:
        """Per-step candidate sets [batch, T, C]: popularity-weighted draws without replacement
        (None when every step shows the whole pool)."""
        if self.fixed:
            return None
        rows, out = batch * T, []
        p = self.world.exposure
        chunk = max(1, 4_000_000 // self.world.videos)
        for s in range(0, rows, chunk):
            n = min(chunk, rows - s)
            out.append(torch.multinomial(p.expand(n, -1), self.candidates, replacement=False, generator=generator))
        return torch.cat(out).view(batch, T, self.candidates)

    def reset(self, batch, generator, device="cpu", horizon=None):
        T = self.horizon if horizon is None else int(horizon)
        user = torch.randint(0, self.world.users, (batch,), generator=generator)
        noise = torch.randn(batch, T, generator=generator)
        unif = torch.rand(batch, T, len(AUX) + 1, generator=generator)  # response flags, then leaving
        cands = self.draw_candidates(batch, T, generator)
        H = WINDOW
        state = {"t": 0, "T": T, "user": user, "noise": noise, "unif": unif, "cands": cands,
                 "alive": torch.ones(batch, dtype=torch.bool),
                 "hist_v": torch.full((batch, H), -1, dtype=torch.long),
                 "hist_ratio": torch.zeros(batch, H), "hist_hate": torch.zeros(batch, H),
                 "hist_obs": torch.zeros(batch, H, len(OBS_HIST))}
        return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in state.items()}

    def candidates_at(self, state: dict, t: int | None = None) -> torch.Tensor:
        """The candidate video ids shown at period t (default: now) [B, C]."""
        t = min(state["t"] if t is None else t, state["T"] - 1)
        if state["cands"] is None:
            B = state["user"].shape[0]
            return torch.arange(self.candidates, device=state["user"].device).expand(B, -1)
        return state["cands"][:, t]

    def observe(self, state):
        world = self.world_on(state["user"].device)
        cands = (torch.arange(self.candidates, device=state["user"].device) if state["cands"] is None
                 else state["cands"][:, min(state["t"], state["T"] - 1)])
        return assemble(world, self.layout, state["user"], state["t"], state["T"], cands,
                        state["hist_v"], state["hist_obs"])

    def index(self, action: torch.Tensor) -> torch.Tensor:
        """The candidate index of each action (a real number a picks floor(a), C picks C - 1)."""
        if action.dim() != 2 or action.shape[1] != 1:
            raise InvalidAction(f"action has shape {tuple(action.shape)}, expected (batch, 1): one candidate index")
        return action[:, 0].floor().long().clamp(0, self.candidates - 1)

    def step(self, state, action):
        world = self.world_on(state["user"].device)
        m = world.model
        t, T = state["t"], state["T"]
        if t >= T:
            raise InvalidAction(f"the session's horizon ({T}) is reached: reset first")
        idx = self.index(action)
        video = self.candidates_at(state).gather(1, idx[:, None])[:, 0]
        user, alive = state["user"], state["alive"]
        r = respond(world, user, video, state["hist_v"])
        play = r["play"] * torch.exp(m.play_noise * state["noise"][:, t] - 0.5 * m.play_noise ** 2)
        u = state["unif"][:, t]
        flags = (u[:, :len(AUX)] < r["probs"]).float()
        shift = lambda old, new: torch.cat([new.unsqueeze(1), old[:, :-1]], 1)
        hist_v = shift(state["hist_v"], video)
        hist_ratio = shift(state["hist_ratio"], r["ratio"])
        hist_hate = shift(state["hist_hate"], flags[:, AUX.index("hate")])
        shown = torch.stack([(play / world.duration[video]).clamp(max=3.0), flags[:, 0], flags[:, 1],
                             flags[:, AUX.index("hate")], torch.ones_like(play)], 1)
        hist_obs = shift(state["hist_obs"], shown)
        dis = dissatisfaction(m, hist_ratio, hist_hate, (hist_v >= 0).float())
        leave = u[:, len(AUX)] < leave_probability(world, user, dis)
        a = alive.unsqueeze(1)
        keep = lambda new, old: torch.where(alive.view(-1, *([1] * (new.dim() - 1))), new, old)
        new = {**state, "t": t + 1, "alive": alive & ~leave,
               "hist_v": keep(hist_v, state["hist_v"]), "hist_ratio": keep(hist_ratio, state["hist_ratio"]),
               "hist_hate": keep(hist_hate, state["hist_hate"]), "hist_obs": keep(hist_obs, state["hist_obs"]),
               "last": {"video": video, "index": idx, "play": play * alive, "probs": r["probs"] * a,
                        "flags": flags * a, "was_alive": alive, "left": alive & leave}}
        done = ~new["alive"] | (t + 1 >= T)
        probs = r["probs"] * a
        if self.mode == "constrained":
            reward, cost = (play * alive).unsqueeze(1), probs
        else:
            reward = torch.stack([play * alive, probs[:, INTERACTION_IDX].sum(1)], 1)
            cost = play.new_zeros(play.shape[0], 0)
        return new, reward, cost, done


def _lookup(table: torch.Tensor, rows: torch.Tensor, key: int) -> torch.Tensor:
    """Index of each of ``rows`` [N, F] in ``table`` [K, F] (exact match): a binary search on
    column ``key``, then a full comparison for the few rows whose key is shared."""
    order = torch.argsort(table[:, key])
    pos = torch.searchsorted(table[order, key].contiguous(), rows[:, key].contiguous()).clamp(max=len(order) - 1)
    idx = order[pos]
    bad = (table[idx] != rows).any(1).nonzero()[:, 0]
    for b in bad.tolist():
        hit = (table == rows[b]).all(1).nonzero()[:, 0]
        if len(hit) == 0:
            raise ValueError("observation does not come from this world (unknown user or video features)")
        idx[b] = hit[0]
    return idx


def decode(world: World, layout: Layout, obs: torch.Tensor) -> dict:
    """The simulator's state behind an observation, read back from the world's tables (what
    an oracle that knows the latent factors uses): user [B], t / T [B], candidate ids [B, C],
    window ids [B, WINDOW] (-1 empty) and the window's realised hate flags [B, WINDOW]."""
    from .world import CATEGORIES
    user_x, cands, hist = layout.split(obs)
    user = _lookup(world.user_x, user_x[:, :USER_FEATURES], 4)
    B, C = cands.shape[:2]
    vid = lambda x: _lookup(world.video_x, x.reshape(-1, VIDEO_FEATURES), CATEGORIES + 1).reshape(x.shape[:-1])
    used = hist[..., -1] > 0
    hist_x = torch.where(used[..., None], hist[..., :VIDEO_FEATURES], world.video_x[0])
    hist_v = torch.where(used, vid(hist_x), torch.full_like(used, -1, dtype=torch.long))
    return {"user": user, "t_frac": user_x[:, -1], "cands": vid(cands), "hist_v": hist_v,
            "hist_hate": hist[..., VIDEO_FEATURES + OBS_HIST.index("hate")] * used}


# What the production ranker's log should look like, per impression (and per session for the
# length), and where each number comes from (README, "Calibration").
TARGETS = {
    "watch_floored_s": 12.855,  # mean of 10 s x floor(play / 10 s): TSCAC's KuaiRand subset (its reward unit)
    "click": 0.5338, "like": 1.231e-2, "follow": 4.608e-4, "comment": 3.225e-3, "forward": 1.119e-3,
    "hate": 2.304e-4,           # TSCAC's per-impression means on its KuaiRand test split
    "session_length": 17.9,     # 480,385 rows / 26,858 users in TSCAC's KuaiRand subset
}


@torch.no_grad()
def ranker_statistics(sim: ShortVideoSim, sessions: int, seed: int, keep: bool = False) -> dict:
    """The production ranker's per-impression statistics on ``sessions`` simulated sessions
    (the quantities of TARGETS, plus the mean play time and the session totals); with
    ``keep``, also each impression's user, video, affinity and play noise (for ``calibrate``)."""
    from .world import affinity, ranker_probs
    g = torch.Generator().manual_seed(seed)
    st = sim.reset(sessions, g)
    w = sim.world
    acc = {k: 0.0 for k in ("play", "floored", "impressions", *AUX)}
    totals = torch.zeros(sessions, 1 + len(AUX))
    rows = []
    for t in range(st["T"]):
        cands = sim.candidates_at(st)
        p = ranker_probs(w, st["user"], cands, st["hist_v"])
        a = torch.multinomial(p, 1, generator=g).float()
        alive = st["alive"]
        if keep:
            video = cands.gather(1, a.long())[:, 0]
            rows.append({"alive": alive, "video": video, "user": st["user"],
                         "aff": affinity(w, st["user"], video, st["hist_v"]), "noise": st["noise"][:, t]})
        st, reward, cost, _ = sim.step(st, a)
        last = st["last"]
        acc["play"] += float(reward[:, 0].sum())
        acc["floored"] += float((10 * torch.floor(last["play"] / 10)).sum())
        acc["impressions"] += float(alive.sum())
        for i, k in enumerate(AUX):
            acc[k] += float(last["probs"][:, i].sum())
        totals += torch.cat([reward[:, :1], last["probs"]], 1)
    n = acc["impressions"]
    out = {"watch_s": acc["play"] / n, "watch_floored_s": acc["floored"] / n, "session_length": n / sessions,
           **{k: acc[k] / n for k in AUX}, "session_totals": totals.mean(0).tolist()}
    if keep:
        out["rows"] = {k: torch.cat([r[k][r["alive"]] for r in rows]) for k in rows[0] if k != "alive"}
    return out


def calibrate(world: World, candidates: int, horizon: int, sessions: int = 8192, rounds: int = 8):
    """Fit the model's intercepts so that the production ranker's log matches TARGETS: each
    response's intercept by a root search on the logged impressions' own predictors, the watch
    intercept on the floored play time, the leaving intercept by damped steps on the mean
    session length; repeated ``rounds`` times (the impressions depend on the intercepts
    through the sessions' lengths). -> the fitted Model and the last statistics."""
    from scipy.optimize import brentq
    from .world import with_model
    names = {"click": "click0", "like": "like0", "follow": "follow0", "comment": "comment0",
             "forward": "forward0", "hate": "hate0"}
    for _ in range(rounds):
        sim = ShortVideoSim(world, candidates, horizon)
        stats = ranker_statistics(sim, sessions, seed=12345, keep=True)
        rows, m = stats.pop("rows"), world.model
        u, v = rows["user"], rows["video"]
        probs = outcomes(world, u, v, rows["aff"])["probs"].double().clamp(1e-12, 1 - 1e-12)
        changes = {}
        for i, k in enumerate(AUX):  # each response's intercept, on the logged impressions' own predictors
            x = torch.logit(probs[:, i])
            shift = brentq(lambda d: float(torch.sigmoid(x + d).mean()) - TARGETS[k], -15, 15)
            changes[names[k]] = getattr(m, names[k]) + shift
        base = (m.watch0 + m.watch_aff * rows["aff"].double() - m.watch_dur * world.zdur[v].double()
                + m.watch_contro * world.controversy[v].double())
        factor = torch.exp(m.play_noise * rows["noise"].double() - 0.5 * m.play_noise ** 2)
        dur = world.duration[v].double()
        g = lambda d: float((10 * torch.floor(dur * torch.sigmoid(base + d) * factor / 10)).mean()) - TARGETS["watch_floored_s"]
        changes["watch0"] = m.watch0 + brentq(g, -10, 10)
        changes["leave0"] = m.leave0 + 1.2 * float(np.log(stats["session_length"] / TARGETS["session_length"]))
        world = with_model(world, **changes)
    return world.model, ranker_statistics(ShortVideoSim(world, candidates, horizon), sessions, seed=12345)
