"""Pieces the short-video learners share: candidate-scoring actors and state-value critics
(several independent networks evaluated as one batched stack), minibatches of a ``Log``, where
the data comes from (the offline problem's log, or sessions the learner runs in the simulator
with the production ranker), and how a learner estimates its policy's constraint values (by
simulation on its own seeds online, by NCIS on a validation split of the log offline).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ...problems.recsys import (AUX, Layout, Log, LoggedData, ShortVideoView, collect, ncis, ranker_policy,
                                simulate_totals, target_probabilities)
from ...views import Simulated, offers

GAMMA = 0.99
CROSSES = 2  # per-candidate features computed from the observation (Layout.crosses)


class StackedLinear(nn.Module):
    """M independent linear layers applied at once: [M, N, in] -> [M, N, out]."""

    def __init__(self, m: int, inp: int, out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(inp)
        self.weight = nn.Parameter(torch.empty(m, inp, out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(m, 1, out).uniform_(-bound, bound))

    def forward(self, x):
        return torch.baddbmm(self.bias, x, self.weight)


class Actors(nn.Module):
    """M independent candidate scorers. Each encodes the state (user block and history window)
    into s, and scores candidate j with features x_j (its observed features and the two
    window crosses) as x_j . (W s) + v . relu(A x_j + B s) + b . x_j: linear in the candidate
    given the state, plus a small non-linear term. -> logits [M, B, C]."""

    def __init__(self, layout: Layout, m: int = 1, hidden: int = 64, cand_hidden: int = 8):
        super().__init__()
        from ...problems.recsys import HIST_FEATURES, VIDEO_FEATURES, WINDOW
        self.layout, self.m = layout, m
        state_dim = layout.user_dim + WINDOW * HIST_FEATURES
        xd = VIDEO_FEATURES + CROSSES
        self.s1, self.s2 = StackedLinear(m, state_dim, hidden), StackedLinear(m, hidden, hidden)
        self.to_lin = StackedLinear(m, hidden, xd)
        self.to_hid = StackedLinear(m, hidden, cand_hidden)
        self.cand_a = nn.Parameter(torch.randn(m, xd, cand_hidden) / math.sqrt(xd))
        self.cand_v = nn.Parameter(torch.randn(m, cand_hidden) / math.sqrt(cand_hidden))
        self.cand_b = nn.Parameter(torch.zeros(m, xd))

    def head(self, i: int) -> "Actors":
        """Actor ``i`` alone (an M = 1 stack sharing nothing with this one)."""
        one = Actors(self.layout, 1, self.s1.weight.shape[2], self.cand_a.shape[2])
        with torch.no_grad():
            for (name, p1), p0 in zip(one.named_parameters(), self.parameters()):
                p1.copy_(p0[i:i + 1])
        return one.eval()

    def features(self, obs: torch.Tensor):
        user, cands, hist = self.layout.split(obs)
        state = torch.cat([user, hist.reshape(obs.shape[0], -1)], 1)
        x = torch.cat([cands, self.layout.crosses(obs)], -1)  # [B, C, xd]
        return state, x

    def forward(self, obs: torch.Tensor, feats=None) -> torch.Tensor:
        state, x = self.features(obs) if feats is None else feats
        M = self.m
        s = torch.relu(self.s2(torch.relu(self.s1(state.expand(M, *state.shape)))))  # [M, B, h]
        lin = torch.einsum("bcx,mbx->mbc", x, self.to_lin(s))
        hid = torch.relu(torch.einsum("bcx,mxk->mbck", x, self.cand_a) + self.to_hid(s).unsqueeze(2))
        return lin + torch.einsum("mbck,mk->mbc", hid, self.cand_v) + torch.einsum("bcx,mx->mbc", x, self.cand_b)


class Critics(nn.Module):
    """M independent state-value networks V_m(s) on the user block and the history window
    (the candidates are drawn afresh each step, so the value of a state is their expectation)."""

    def __init__(self, layout: Layout, m: int, hidden: int = 64):
        super().__init__()
        from ...problems.recsys import HIST_FEATURES, WINDOW
        self.layout, self.m = layout, m
        d = layout.user_dim + WINDOW * HIST_FEATURES
        self.net = nn.ModuleList([StackedLinear(m, d, hidden), StackedLinear(m, hidden, hidden),
                                  StackedLinear(m, hidden, 1)])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:  # -> [M, B]
        user, _, hist = self.layout.split(obs)
        x = torch.cat([user, hist.reshape(obs.shape[0], -1)], 1).expand(self.m, obs.shape[0], -1)
        x = torch.relu(self.net[0](x))
        x = torch.relu(self.net[1](x))
        return self.net[2](x)[..., 0]


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.mul_(1 - tau).add_(s, alpha=tau)


class GreedyPolicy:
    """Deterministic policy: the candidate with the highest logit of actor head ``head``.
    ``probs`` gives its (one-hot) probabilities, so the NCIS estimate and the simulation score
    the same policy."""

    def __init__(self, actors: Actors, head: int = 0, device: str = "cpu"):
        self.actors, self.head, self.device = (actors.head(head) if actors.m > 1 else actors.eval()), 0, device

    @torch.no_grad()
    def logits(self, obs):
        out = []
        for s in range(0, obs.shape[0], 4096):
            o = obs[s:s + 4096].to(self.device).float()
            out.append(self.actors(o)[self.head])
        return torch.cat(out)

    def __call__(self, obs):
        return self.logits(obs).argmax(1, keepdim=True).float().to(obs.device)

    def probs(self, obs):
        lg = self.logits(obs)
        return torch.nn.functional.one_hot(lg.argmax(1), lg.shape[1]).float().cpu()


# ---- data -------------------------------------------------------------------------------

def data_source(problem) -> str | None:
    """'log' (the offline problem), 'sim' (a simulator to collect from), or None."""
    if not offers(problem, ShortVideoView):
        return None
    if offers(problem, LoggedData):
        return "log"
    if offers(problem, Simulated):
        return "sim"
    return None


def fits(problem, answers=("policy",)) -> str | None:
    if data_source(problem) is None:
        return "needs a short-video problem (recsys family) with a log or a simulator"
    if problem.spec.answer not in answers:
        return f"answers {', '.join(answers)} only"
    return None


def training_log(problem, clock, seed: int, sessions: int) -> Log:
    """The data a learner trains on: the offline problem's log, or ``sessions`` sessions of
    the production ranker in the simulator (the platform's logs; counted on the clock)."""
    if data_source(problem) == "log":
        return problem.log()
    sim = problem.sim()
    if clock.budget.steps is not None:  # at most 40% of the step budget on data
        sessions = max(50, min(sessions, int(0.4 * clock.steps_left / sim.horizon)))
    log = collect(sim, ranker_policy, sessions, torch.Generator().manual_seed(seed))
    clock.add(int(len(log)))
    return log


def split_sessions(log: Log, share: float, seed: int):
    """(training part, validation part) of a log, split by session."""
    S = log.sessions
    perm = torch.randperm(S, generator=torch.Generator().manual_seed(seed))
    k = max(1, int(round(share * S)))
    return log.subset(perm[k:].sort().values), log.subset(perm[:k].sort().values)


class Batches:
    """Uniform minibatches of transitions (s, a, r [7], s', done, propensity) of a log, with
    the responses scaled for learning: play time in 10 s units (the paper's reward unit), each
    auxiliary divided by its mean per impression in the log, and hate negated (so that every
    channel is to be maximised)."""

    def __init__(self, log: Log, batch: int, seed: int):
        self.log, self.batch = log, batch
        self.gen = torch.Generator().manual_seed(seed)
        r = log.rewards()
        mean = r.mean(0).clamp_min(1e-8)
        self.scale = torch.cat([torch.tensor([0.1]), 1.0 / mean[1:]])
        self.sign = torch.tensor([1.0] + [(-1.0 if k == "hate" else 1.0) for k in AUX])
        self.rewards = r * self.scale * self.sign

    def sample(self, rows=None) -> dict:
        log = self.log
        if rows is None:
            rows = torch.randint(0, len(log), (self.batch,), generator=self.gen)
        nxt = log.next_rows(rows)
        return {"rows": rows, "obs": log.observe(rows), "next_obs": log.observe(nxt), "action": log.action[rows],
                "reward": self.rewards[rows], "done": log.done[rows].float(), "propensity": log.propensity[rows]}


def td_step(critics: Critics, target: Critics, opt, b: dict, channels: list[int], gamma: float = GAMMA) -> torch.Tensor:
    """One TD(0) step of the state-value critics of ``channels`` (columns of the scaled
    rewards); -> the one-step advantages r + gamma V'(s') - V(s) of the logged actions [M, B]."""
    r = b["reward"][:, channels].T  # [M, B]
    with torch.no_grad():
        boot = r + gamma * (1 - b["done"]) * target(b["next_obs"])
    v = critics(b["obs"])
    loss = ((v - boot) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return (boot - v).detach()


def standardise(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return (x - x.mean(dim, keepdim=True)) / (x.std(dim, keepdim=True) + 1e-8)


# ---- constraint estimates ---------------------------------------------------------------

def thresholds(problem) -> tuple[np.ndarray, np.ndarray]:
    """(threshold, sign) per auxiliary constraint, sign +1 for >= and -1 for <=."""
    cons = problem.spec.constraints
    return (np.array([c.threshold for c in cons]), np.array([1.0 if c.sense == "ge" else -1.0 for c in cons]))


class ConstraintEstimator:
    """How a learner judges its policy's auxiliary values against the thresholds, without the
    test scenarios: online, the mean session totals of ``dev_sessions`` simulated sessions on
    its own seed (counted on the clock); offline, NCIS per impression on a validation split
    of the log against the logged policy's per-impression means there (the paper's way of
    comparing with the log). ``margins`` -> the relative slack of each constraint (positive
    = met), so both read alike."""

    def __init__(self, problem, clock, seed: int, validation: Log | None, dev_sessions: int = 1024):
        self.problem, self.clock, self.seed = problem, clock, seed
        self.validation, self.dev_sessions = validation, dev_sessions
        self.source = data_source(problem)
        if self.source == "sim":
            self.sim = problem.sim()
            self.limits, self.sign = thresholds(problem)
        else:
            self.limits = validation.rewards()[:, 1:].mean(0).numpy()
            self.sign = np.array([(-1.0 if k == "hate" else 1.0) for k in AUX])
        self.calls = 0

    def values(self, policy) -> tuple[float, np.ndarray]:
        """(play time, auxiliary values): session totals online, per-impression NCIS offline."""
        self.calls += 1
        if self.source == "sim":
            n = self.dev_sessions
            if self.clock.budget.steps is not None:  # what the step budget still allows
                n = max(32, min(n, int(self.clock.steps_left / (4 * self.sim.horizon))))
            tot, aux, steps = simulate_totals(self.sim, policy, n, self.seed * 1000 + self.calls)
            self.clock.add(int(steps.sum()))
            return float(tot[:, 0].mean()), aux.mean(0).numpy()
        v = self.validation
        obs_rows = torch.arange(len(v))
        target = torch.cat([target_probabilities(policy, v.observe(obs_rows[s:s + 8192]), v.action[s:s + 8192],
                                                 v.candidates) for s in range(0, len(v), 8192)])
        est, _ = ncis(v.rewards(), target, v.propensity)
        return float(est[0]), est[1:].numpy()

    def margins(self, aux: np.ndarray) -> np.ndarray:
        """Relative slack per constraint; 0 where the limit is 0 and so is the value (a
        response never seen in a small validation log)."""
        scale = np.maximum(np.abs(self.limits), 1e-12)
        return np.nan_to_num(self.sign * (np.asarray(aux) - self.limits) / scale, nan=0.0, posinf=1.0, neginf=-1.0)
