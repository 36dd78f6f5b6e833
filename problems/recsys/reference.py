"""The constraint thresholds (the production ranker's session totals) and the exact constrained
reference for small worlds: a linear programme over occupancy measures.

With at most WINDOW steps a session's state is (user, the videos shown so far with their
realised hate flags, the candidate set): the tree of these states is finite, and the CMDP
max E[play] s.t. E[response totals] >= thresholds (hate <=) is the LP over the expected
number of visits x(s, a) of each state-action pair (flow conservation from the root, the
response constraints on sum x c) (Altman 1999, ch. 3). Its optimum is the best value of any
policy, randomised or history-dependent, so the reference is ``optimal``; the policy it
induces (x(s, a) / sum_a x(s, a)) is what tests simulate.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .dynamics import ShortVideoSim, ranker_statistics
from .world import AUX, WINDOW, World, dissatisfaction, leave_probability, respond

THRESHOLD_SESSIONS = 16384
THRESHOLD_SEED = 424242
LP_MAX_DECISIONS = 200_000  # decision nodes (state x candidate set) the LP accepts


def significant(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def ranker_values(sim: ShortVideoSim) -> dict:
    """The production ranker's mean session totals (play time, then the six auxiliaries'
    expected counts) on THRESHOLD_SESSIONS simulated sessions with a fixed seed, rounded to four
    significant digits (so the thresholds are the same on any machine)."""
    st = ranker_statistics(sim, THRESHOLD_SESSIONS, THRESHOLD_SEED)
    totals = [significant(x) for x in st["session_totals"]]
    return {"play_time": totals[0], **dict(zip(AUX, totals[1:])), "session_length": significant(st["session_length"])}


def candidate_sets(world: World, candidates: int) -> list[tuple[tuple[int, ...], float]]:
    """Every candidate set with its probability: popularity-weighted draws without replacement
    (successive sampling), or the whole pool with probability 1."""
    V = world.videos
    if candidates == V:
        return [(tuple(range(V)), 1.0)]
    p = world.exposure.double().numpy()
    out = {}
    for perm in itertools.permutations(range(V), candidates):
        prob, left = 1.0, 1.0
        for v in perm:
            prob *= p[v] / left
            left -= p[v]
        key = tuple(sorted(perm))
        out[key] = out.get(key, 0.0) + prob
    return sorted(out.items())


def lp_size(world: World, candidates: int, horizon: int) -> int:
    """The number of decision nodes of the LP's tree."""
    sets = math.comb(world.videos, candidates)
    return world.users * sets * sum((candidates * 2) ** t for t in range(horizon))


def build_tree(world: World, candidates: int, horizon: int):
    """The decision nodes level by level, one per state (user, window of video ids most recent
    first, the window's hate flags, candidate set). Level 0 nodes carry their probability
    ``prob``; deeper ones their incoming edges ``in``: (node at the previous level, video
    shown there, probability of moving to this node)."""
    if horizon > WINDOW:
        raise ValueError(f"the exact reference needs horizon <= {WINDOW} (the user's memory)")
    sets = candidate_sets(world, candidates)
    levels = []
    # level 0: user x candidate set
    U = world.users
    nodes = [{"user": u, "hist": (), "hate": (), "ratios": (), "prob": (1.0 / U) * ps, "in": [], "cset": cs}
             for u in range(U) for cs, ps in sets]
    levels.append(nodes)
    for t in range(1, horizon):
        prev = levels[-1]
        # responses of every (node, candidate) pair at once
        pu, pv, ph, pidx = [], [], [], []
        for i, n in enumerate(prev):
            for v in n["cset"]:
                pu.append(n["user"]), pv.append(v), pidx.append(i)
                ph.append(list(n["hist"]) + [-1] * (WINDOW - len(n["hist"])))
        u = torch.tensor(pu)
        v = torch.tensor(pv)
        h = torch.tensor(ph, dtype=torch.long)
        r = respond(world, u, v, h)
        p_hate = r["probs"][:, AUX.index("hate")].double()
        nxt, where = [], {}
        for k, i in enumerate(pidx):
            n = prev[i]
            for hated in (0, 1):
                ph_k = float(p_hate[k]) if hated else 1 - float(p_hate[k])
                hist = (pv[k],) + n["hist"]
                hate = (float(hated),) + n["hate"]
                ratios = (float(r["ratio"][k]),) + n["ratios"]
                pad = [0.0] * (WINDOW - len(hist))
                dis = dissatisfaction(world.model, torch.tensor([list(ratios) + pad]), torch.tensor([list(hate) + pad]),
                                      torch.tensor([[1.0] * len(hist) + pad]))
                stay = 1.0 - float(leave_probability(world, torch.tensor([n["user"]]), dis)[0])
                for cs, ps in sets:
                    key = (n["user"], hist, hate, cs)  # one node per state: several parents may reach it
                    if key not in where:
                        where[key] = len(nxt)
                        nxt.append({"user": n["user"], "hist": hist, "hate": hate, "ratios": ratios, "prob": 0.0,
                                    "in": [], "cset": cs})
                    nxt[where[key]]["in"].append((i, pv[k], ph_k * stay * ps))
        levels.append(nxt)
    return levels


def solve_lp(world: World, candidates: int, horizon: int, thresholds: dict | None, senses: dict | None = None) -> dict:
    """The constrained optimum: max expected session play time subject to each auxiliary's
    expected session total >= its threshold (<= for hate); ``thresholds`` None: unconstrained.
    -> {"value", "status", "totals" (the optimum's expected totals), "policy" (per level, a list
    of {candidate video: probability} per node), "levels"}."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix
    if lp_size(world, candidates, horizon) > LP_MAX_DECISIONS:
        raise ValueError(f"the LP would have more than {LP_MAX_DECISIONS} decision nodes")
    levels = build_tree(world, candidates, horizon)
    # variables: one per (node, candidate in its set)
    var_of, offset = [], 0
    for nodes in levels:
        ids = []
        for n in nodes:
            ids.append({v: offset + j for j, v in enumerate(n["cset"])})
            offset += len(n["cset"])
        var_of.append(ids)
    nvar = offset
    play = np.zeros(nvar)
    resp = np.zeros((len(AUX), nvar))
    for t, nodes in enumerate(levels):
        u = torch.tensor([n["user"] for n in nodes for _ in n["cset"]])
        v = torch.tensor([v for n in nodes for v in n["cset"]])
        h = torch.tensor([list(n["hist"]) + [-1] * (WINDOW - len(n["hist"])) for n in nodes for _ in n["cset"]],
                         dtype=torch.long).reshape(len(u), WINDOW)
        r = respond(world, u, v, h)
        ids = np.array([var_of[t][i][vv] for i, n in enumerate(nodes) for vv in n["cset"]])
        play[ids] = r["play"].double().numpy()
        resp[:, ids] = r["probs"].double().numpy().T
    # flow: sum_a x(n, a) - prob(n) x(parent, video) = [root] prob(n)
    rows, cols, vals, rhs = [], [], [], []
    row = 0
    for t, nodes in enumerate(levels):
        for i, n in enumerate(nodes):
            for j in var_of[t][i].values():
                rows.append(row), cols.append(j), vals.append(1.0)
            if t == 0:
                rhs.append(n["prob"])
            else:
                for parent, video, prob in n["in"]:
                    rows.append(row), cols.append(var_of[t - 1][parent][video]), vals.append(-prob)
                rhs.append(0.0)
            row += 1
    A_eq = coo_matrix((vals, (rows, cols)), shape=(row, nvar)).tocsr()
    A_ub, b_ub = [], []
    if thresholds is not None:
        for k, name in enumerate(AUX):
            sense = (senses or {}).get(name, "le" if name == "hate" else "ge")
            if sense == "ge":
                A_ub.append(-resp[k]), b_ub.append(-thresholds[name])
            else:
                A_ub.append(resp[k]), b_ub.append(thresholds[name])
    res = linprog(-play, A_ub=np.array(A_ub) if A_ub else None, b_ub=np.array(b_ub) if b_ub else None,
                  A_eq=A_eq, b_eq=np.array(rhs), bounds=(0, None), method="highs")
    out = {"status": res.status, "message": res.message, "levels": levels}
    if res.status != 0:
        return {**out, "value": None}
    x = res.x
    policy = []
    for t, nodes in enumerate(levels):
        level = []
        for i in range(len(nodes)):
            ids = var_of[t][i]
            tot = sum(x[j] for j in ids.values())
            level.append({v: (x[j] / tot if tot > 1e-12 else 1.0 / len(ids)) for v, j in ids.items()})
        policy.append(level)
    return {**out, "value": float(play @ x), "totals": dict(zip(AUX, (resp @ x).tolist())), "policy": policy}


class TreePolicy:
    """A policy of the LP's tree (per level, node -> {video: probability}) acting on
    observations: it reads the node from the observation (user, shown videos, hate flags,
    candidate set) and draws a candidate index with its own generator."""

    def __init__(self, world: World, layout, levels, policy, seed: int = 0):
        from .dynamics import decode
        self.world, self.layout, self.decode = world, layout, decode
        self.index = [{(n["user"], n["hist"], n["hate"], n["cset"]): i for i, n in enumerate(nodes)} for nodes in levels]
        self.policy = policy
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, obs):
        d = self.decode(self.world, self.layout, obs)
        out = torch.zeros(obs.shape[0], 1)
        for b in range(obs.shape[0]):
            hist = tuple(int(v) for v in d["hist_v"][b] if v >= 0)
            hate = tuple(float(x) for x in d["hist_hate"][b][:len(hist)])
            cands = [int(c) for c in d["cands"][b]]
            t = len(hist)
            node = self.index[min(t, len(self.index) - 1)].get((int(d["user"][b]), hist, hate, tuple(sorted(cands))))
            if node is None:  # a state the LP never reaches (e.g. after the session ended)
                continue
            dist = self.policy[t][node]
            vids = list(dist)
            k = int(torch.multinomial(torch.tensor([dist[v] for v in vids], dtype=torch.float64), 1, generator=self.gen))
            out[b, 0] = cands.index(vids[k])
        return out
