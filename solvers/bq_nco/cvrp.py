"""`bq-nco` for the CVRP BQ-MDP (``problems/routing/cvrp.py``; Drakulic et al., NeurIPS 2023,
their CVRP model): the state is the current node with the capacity left, the depot, and the
unserved customers, re-encoded from scratch at every step; each customer offers two actions,
going to it directly or through the depot (which refills the vehicle).

Model: tokens (x, y, z) embedded linearly: the origin (the current node) with z = capacity left
/ capacity and a learned mark, the depot with z = 0 and its own mark, every unserved customer
with z = demand / capacity; a pre-norm transformer encoder without positional encoding; two
linear scores per customer token (direct, through the depot). Direct moves whose demand exceeds
the capacity left, and depot moves from the depot, are masked.

Training (imitation): routes of generated instances by PyVRP's iterated local search; for each
batch the routes are put in a random order, each in a random direction (both keep the solution's
length and every route's load), one of the unit square's 8 symmetries is applied; a random
step k (shared within the batch, so the sub-problems have one size) gives the sub-problem
after the first k customers and its target, the (k+1)-th customer and whether it starts a new
route (through the depot). Cross-entropy over the 2M masked actions, Adam, cosine learning-rate
decay over the whole (resumable) run.

Inference: greedy or beam search (the ``beam`` most probable partial solutions, the shortest
complete one kept), batched over instances, with ``CVRPBatch``'s masks.
Training: ``python -m mobench.solvers.bq_nco.cvrp --help``; the shipped model and its command are
in ``solvers/data/README.md``. The solver is ``bq-nco`` (``solvers/bq_nco/__init__.py``), which picks this
model for CVRP problems.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import common
from .common import (OriginDepotModel, TrainingRun, beam_expand, dihedral, imitation_updates,
                     origin_depot_tokens, solve_grouped, timed_map)

SHIPPED = Path(__file__).parent.parent / "data" / "bq-nco-cvrp.pt"
DEFAULTS = {"d_model": 128, "heads": 8, "layers": 6, "ff": 512, "lr": 3e-4, "batch": 128}


class CVRPModel(OriginDepotModel):
    def __init__(self, d_model=128, heads=8, layers=6, ff=512):
        super().__init__(d_model, heads, layers, ff, outputs=2)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """tokens [B, M + 2, 3] (origin, depot, M customers), mask [B, 2M] of the allowed actions
        (index j: customer token j directly, M + j: through the depot) -> logits [B, 2M], -inf
        where not allowed."""
        s = self.scores(tokens)[:, 2:]                              # [B, M, 2]
        return s.transpose(1, 2).reshape(len(s), -1).float().masked_fill(~mask, -math.inf)


def tokens_and_mask(xy, cur_xy, left, rest_xy, rest_demand, capacity: int, at_depot):
    """The sub-problem's tokens and action mask from the depot's coordinates xy [B, 2], the
    current node's cur_xy [B, 2], the capacity left [B], the unserved customers' coordinates
    [B, M, 2] and demands [B, M], and whether the vehicle is at the depot [B]."""
    C = float(capacity)
    toks = origin_depot_tokens(cur_xy, left.float() / C, xy, rest_xy, rest_demand.float() / C)
    direct = rest_demand <= left[:, None]
    via = (~at_depot)[:, None].expand_as(direct)
    return toks, torch.cat([direct, via], 1)


# --- training data ------------------------------------------------------------------------------

def _pyvrp(args):
    from ...problems.routing import pyvrp_routes
    from ...problems.routing import CVRPInstance
    coords, demand, cap, seconds = args
    try:
        return pyvrp_routes(CVRPInstance(coords, demand, cap), seconds)
    except RuntimeError:
        return None  # no feasible solution even after longer runs: the instance is left out of the pool


def training_pool(n: int, count: int, seed: int, workers: int = 1, seconds_each: float = 1.0,
                  seconds: float = math.inf):
    """``count`` generated instances of ``n`` customers (seed ``seed``, never a test set's) and
    their PyVRP routes (``seconds_each`` per instance), by ``workers`` processes, stopping after
    ``seconds``. -> dict of arrays: coords [M, n + 1, 2], demand [M, n + 1], seq [M, n] (customers
    in route order), route [M, n] (route number of each position), capacity."""
    from ...problems.routing import cvrp_test_set
    insts = cvrp_test_set(n, count, seed)
    sols, kept = [], []
    jobs = [(i.coords, i.demand, i.capacity, seconds_each) for i in insts]
    for i, routes in enumerate(timed_map(_pyvrp, jobs, workers, seconds)):
        if routes is not None:
            sols.append(routes)
            kept.append(i)
    m, insts = len(sols), [insts[i] for i in kept]
    seq = np.array([[c for r in routes for c in r] for routes in sols], dtype=np.int64).reshape(m, n)
    route = np.array([[k for k, r in enumerate(routes) for _ in r] for routes in sols], dtype=np.int64).reshape(m, n)
    return {"coords": np.stack([i.coords for i in insts[:m]]).astype(np.float32),
            "demand": np.stack([i.demand for i in insts[:m]]).astype(np.int64),
            "seq": seq, "route": route, "capacity": np.int64(insts[0].capacity), "seed": np.int64(seed)}


def shuffle_routes(seq, route, gen):
    """Every row's routes in a random order, each in a random direction; -> (seq, starts): the
    customers in the new order [B, n] and whether each begins a route [B, n]."""
    B, n = seq.shape
    dev = seq.device
    rank = torch.argsort(torch.argsort(torch.rand(B, n, generator=gen, device=dev), 1), 1)  # a random rank per route
    rev = torch.rand(B, n, generator=gen, device=dev) < 0.5       # a random direction per route
    pos = torch.arange(n, device=dev).expand(B, n)
    rk, rr = rank.gather(1, route), rev.gather(1, route)
    order = torch.argsort(rk * 2 * n + torch.where(rr, n - pos, pos), dim=1)  # routes by rank, positions within
    new_route = route.gather(1, order)
    starts = torch.ones_like(new_route, dtype=torch.bool)
    starts[:, 1:] = new_route[:, 1:] != new_route[:, :-1]
    return seq.gather(1, order), starts


def sub_problems(coords, demand, seq, route, capacity: int, gen):
    """A batch of sub-problems after a random number k of served customers (one k per batch)
    with their targets: -> (tokens [B, n - k + 2, 3], mask [B, 2(n - k)], target [B])."""
    B, n = seq.shape
    dev = seq.device
    rows = torch.arange(B, device=dev)
    order, starts = shuffle_routes(seq, route, gen)
    xy = dihedral(coords, torch.randint(8, (B,), generator=gen, device=dev))
    k = int(torch.randint(0, n, (1,), generator=gen, device=dev))
    d = demand.gather(1, order)                                   # demands in visiting order
    csum = d.cumsum(1)
    last_start = torch.cummax(torch.where(starts, torch.arange(n, device=dev), 0), 1).values
    load = csum - (csum - d).gather(1, last_start)                # load of the route so far, per position
    if k == 0:
        cur_xy, left, at_depot = xy[:, 0], torch.full((B,), capacity, device=dev), torch.ones(B, dtype=torch.bool, device=dev)
    else:
        cur_xy, left = xy[rows, order[:, k - 1]], capacity - load[:, k - 1]
        at_depot = torch.zeros(B, dtype=torch.bool, device=dev)
    rest = order[:, k:]
    perm = torch.argsort(torch.rand(B, n - k, generator=gen, device=dev), dim=1)
    rest = rest.gather(1, perm)
    toks, mask = tokens_and_mask(xy[:, 0], cur_xy, left,
                                 torch.gather(xy, 1, rest[..., None].expand(-1, -1, 2)), demand.gather(1, rest),
                                 capacity, at_depot)
    j = torch.argsort(perm, dim=1)[:, 0]                           # where the next customer went
    via = starts[:, k] & ~at_depot
    return toks, mask, j + via.long() * (n - k)


def train(model, pool: dict, seconds: float, cfg: dict, seed: int = 0, opt=None, schedule=None,
          max_updates: int | None = None, log=None) -> int:
    """Imitation on random sub-problems of the pool's routes; -> the number of updates."""
    dev = pool["seq"].device
    cap, B = int(pool["capacity"]), cfg["batch"]
    M = len(pool["seq"])

    def batch_loss(gen):
        r = torch.randint(M, (B,), generator=gen, device=dev)
        toks, mask, target = sub_problems(pool["coords"][r], pool["demand"][r], pool["seq"][r], pool["route"][r], cap, gen)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(toks, mask)
        return nn.functional.cross_entropy(logits, target)
    return imitation_updates(model, batch_loss, seconds, cfg, seed, dev, opt, schedule, max_updates, log)


# --- inference ----------------------------------------------------------------------------------

@torch.no_grad()
def decode(model, coords, demand, capacity: int, beam: int = 1) -> list[list[int]]:
    """Solutions (flat sequences, 0 for each depot return) of B instances of one size, greedy
    (``beam`` 1) or by beam search: the ``beam`` most probable partial solutions per instance are
    kept, and the shortest complete one is returned. Moves follow the BQ-MDP's masks (those of
    ``CVRPBatch``); the engine re-verifies every solution."""
    coords = torch.as_tensor(coords, dtype=torch.float64)
    demand = torch.as_tensor(demand, dtype=torch.long)
    B, n1, _ = coords.shape
    N, W = n1 - 1, max(1, beam)
    R = B * W
    rows = torch.arange(B).repeat_interleave(W)
    xy, dem = coords[rows], demand[rows]
    xy32 = xy.float()
    ar = torch.arange(R)
    current = torch.zeros(R, dtype=torch.long)
    left = torch.full((R,), capacity, dtype=torch.long)
    visited = torch.zeros(R, n1, dtype=torch.bool)
    visited[:, 0] = True
    length = torch.zeros(R, dtype=torch.float64)
    seq = torch.zeros(R, 0, dtype=torch.long)          # signed: -node when reached through the depot
    score = torch.zeros(R, dtype=torch.float64)
    score[ar % W != 0] = -math.inf                      # one live beam per instance at the start
    for step in range(N):
        M = N - step
        rest = torch.argsort(visited[:, 1:].float(), dim=1, stable=True)[:, :M] + 1  # unserved ids
        toks, mask = tokens_and_mask(xy32[:, 0], xy32[ar, current], left,
                                     torch.gather(xy32, 1, rest[..., None].expand(-1, -1, 2)), dem.gather(1, rest),
                                     capacity, current == 0)
        logp = torch.log_softmax(model(toks, mask), dim=1).double()               # [R, 2M]
        if W == 1:
            a, parent = logp.argmax(1), ar
        else:  # expand every beam by its top moves, keep the W most probable per instance
            a, parent, score = beam_expand(logp, score, B, W)
            rest, current, left = rest[parent], current[parent], left[parent]
            visited, length, seq = visited[parent].clone(), length[parent], seq[parent]
        via, node = a >= M, rest[ar, a % M]
        d = lambda u, v: (xy[ar, u] - xy[ar, v]).norm(dim=-1)
        zero = torch.zeros_like(node)
        length = length + torch.where(via, d(current, zero) + d(zero, node), d(current, node))
        left = torch.where(via, torch.full_like(left, capacity), left) - dem[ar, node]
        visited[ar, node] = True
        seq = torch.cat([seq, torch.where(via, -node, node)[:, None]], 1)
        current = node
    length = length + (xy[ar, current] - xy[:, 0]).norm(dim=-1)
    if W > 1:  # the shortest of the live beams
        length = torch.where(torch.isfinite(score), length, math.inf)
        pick = length.reshape(B, W).argmin(1) + torch.arange(B) * W
        seq = seq[pick]
    out = []
    for row in seq.numpy():
        flat = []
        for x in row:
            flat += [0, -int(x)] if x < 0 else [int(x)]
        out.append(flat)
    return out


def unit_square(coords: np.ndarray) -> np.ndarray:
    """Coordinates outside the unit square (CVRPLIB files) moved into it, aspect kept; the
    model was trained there. Generated instances stay as they are."""
    lo, span = coords.min(0), (coords.max(0) - coords.min(0)).max()
    return (coords - lo) / span if span > 1.0 else coords


def solve_instances(model, insts, beam: int = 1) -> list[list[int]]:
    """Flat solutions per instance (instances grouped by size and capacity, 256 / beam at a time)."""
    return solve_grouped(insts, lambda i: (i.n, i.capacity), lambda key, part: decode(
        model, np.stack([unit_square(i.coords) for i in part]), np.stack([i.demand for i in part]), key[1], beam),
        256 // beam or 1)


def load_model(path, device="cpu") -> tuple[CVRPModel, dict]:
    return common.load_model(path, CVRPModel)


def main(argv=None):
    """Train the CVRP model on PyVRP routes of generated instances; resumable (``--out`` is
    reloaded when it exists, ``--data`` reused)."""
    run = TrainingRun(main.__doc__, "mobench.solvers.bq_nco.cvrp", DEFAULTS, 50, 2000, 3600.0)
    run.parser.add_argument("--pyvrp-seconds", type=float, default=1.0, help="PyVRP's time per training instance")
    run.parser.add_argument("--data-seconds", type=float, default=math.inf, help="stop computing routes after this")
    a = run.parse(argv)
    z = run.data(lambda: training_pool(a.n, a.instances, 30_000 + a.seed, a.workers, a.pyvrp_seconds, a.data_seconds),
                 "solutions")
    run.train_on_pool(CVRPModel, train, lambda z, dev: {k: torch.as_tensor(v, device=dev) for k, v in z.items()}, z, "CVRP")


if __name__ == "__main__":
    main()
