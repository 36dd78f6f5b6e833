"""`bq-nco` for the orienteering BQ-MDP (``problems/routing/op.py``; Drakulic et al., NeurIPS
2023, their OP model): the state is the current node with the length budget left, the depot,
and the unvisited nodes with their prizes, re-encoded from scratch at every step; an action
visits a node (masked when it could not be reached and the depot regained within the budget) or
returns to the depot, which ends the tour.

Model: tokens (x, y, z) embedded linearly: the origin (the current node) with z = budget left
and a learned mark, the depot with z = 0 and its own mark, every unvisited node with z = its
prize; a pre-norm transformer encoder without positional encoding; one linear score per token,
the depot token's being the score of ending the tour.

Training (imitation): tours of generated instances by PyVRP's iterated local search (the OP as a
prize-collecting single-vehicle problem, as the reference); for each batch a step k is drawn as
a random position of a random pool tour (so k follows the pool's distribution of tour
positions), rows are drawn among the tours with at least k nodes, each tour is read in a random
direction (the reverse tour has the same nodes and length) and one of the unit square's 8
symmetries is applied; the sub-problem after the first k nodes has the target "the (k+1)-th
node", or "end" when the tour has k nodes. Cross-entropy, Adam, cosine learning-rate decay over
the whole (resumable) run.

Inference: greedy or beam search (the ``beam`` most probable partial tours; the complete one of
most prize kept), batched over instances, with ``OPBatch``'s masks computed in float64.
Training: ``python -m mobench.solvers.bq_nco.op --help``; the shipped model and its command are
in ``solvers/data/README.md``. The solver is ``bq-nco`` (``solvers/bq_nco/__init__.py``), which picks this
model for OP problems.
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

SHIPPED = Path(__file__).parent.parent / "data" / "bq-nco-op.pt"
DEFAULTS = {"d_model": 128, "heads": 8, "layers": 6, "ff": 512, "lr": 3e-4, "batch": 128}
TOL = 1e-9  # on the budget, as OPBatch


class OPModel(OriginDepotModel):
    def __init__(self, d_model=128, heads=8, layers=6, ff=512):
        super().__init__(d_model, heads, layers, ff, outputs=1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """tokens [B, M + 2, 3] (origin, depot, M nodes), mask [B, M + 1] of the allowed actions
        (index j < M: node token j; M: end the tour) -> logits [B, M + 1], -inf where not allowed."""
        s = self.scores(tokens)[..., 0]                             # [B, M + 2]
        return torch.cat([s[:, 2:], s[:, 1:2]], 1).float().masked_fill(~mask, -math.inf)


def tokens(depot_xy, cur_xy, left, rest_xy, rest_prize) -> torch.Tensor:
    """The sub-problem's tokens [B, M + 2, 3] from the depot's and the current node's
    coordinates [B, 2], the budget left [B], the unvisited nodes' coordinates [B, M, 2] and prizes [B, M]."""
    return origin_depot_tokens(cur_xy, left, depot_xy, rest_xy, rest_prize)


def action_mask(depot_xy, cur_xy, left, rest_xy) -> torch.Tensor:
    """[B, M + 1]: the nodes that can be visited with the depot still in reach, then "end" (always)."""
    reach = (rest_xy - cur_xy[:, None]).norm(dim=-1) + (rest_xy - depot_xy[:, None]).norm(dim=-1) <= left[:, None] + TOL
    return torch.cat([reach, torch.ones_like(reach[:, :1])], 1)


# --- training data ------------------------------------------------------------------------------

def _pyvrp(args):
    from ...problems.routing import OPInstance
    from ...problems.routing import pyvrp_op
    coords, prize, max_length, seconds = args
    try:
        return pyvrp_op(OPInstance(coords, prize, max_length), seconds)
    except RuntimeError:
        return None  # over the budget even after longer runs: the instance is left out of the pool


def training_pool(n: int, count: int, seed: int, workers: int = 1, seconds_each: float = 0.3,
                  seconds: float = math.inf) -> dict:
    """``count`` generated instances of ``n`` nodes (seed ``seed``, never a test set's) and their
    PyVRP tours (``seconds_each`` per instance), by ``workers`` processes, stopping after
    ``seconds``. -> dict of arrays: coords [M, n + 1, 2], prize [M, n + 1], tour [M, n] (the
    visited nodes in order, then zeros), size [M] (nodes in the tour), max_length."""
    from ...problems.routing import op_test_set
    insts = op_test_set(n, count, seed)
    jobs = [(i.coords, i.prize, i.max_length, seconds_each) for i in insts]
    kept = [(i, t) for i, t in enumerate(timed_map(_pyvrp, jobs, workers, seconds)) if t is not None]
    insts, tours = [insts[i] for i, _ in kept], [t for _, t in kept]
    m = len(tours)
    tour = np.zeros((m, n), dtype=np.int64)
    for r, t in enumerate(tours):
        tour[r, :len(t)] = t
    return {"coords": np.stack([i.coords for i in insts]).astype(np.float32),
            "prize": np.stack([i.prize for i in insts]).astype(np.float32),
            "tour": tour, "size": np.array([len(t) for t in tours], dtype=np.int64),
            "max_length": np.float32(insts[0].max_length), "seed": np.int64(seed)}


def as_pool(z: dict, device="cpu") -> dict:
    """``training_pool``'s arrays as tensors on ``device`` (the budget as a float)."""
    pool = {k: torch.as_tensor(v, device=device) for k, v in z.items()}
    pool["max_length"] = float(z["max_length"])
    return pool


def sub_problems(pool: dict, B: int, gen):
    """A batch of sub-problems after k visited nodes (one k per batch) with their targets:
    -> (tokens [B, n - k + 2, 3], mask [B, n - k + 1], target [B])."""
    size, dev = pool["size"], pool["tour"].device
    M_pool, n = pool["tour"].shape
    k = int(torch.randint(int(size[int(torch.randint(M_pool, (1,), generator=gen, device=dev))]) + 1, (1,),
                          generator=gen, device=dev))
    rows = torch.multinomial((size >= k).float(), B, replacement=True, generator=gen)
    tour, sz = pool["tour"][rows], size[rows]
    pos = torch.arange(n, device=dev).expand(B, n)
    rev = (torch.rand(B, generator=gen, device=dev) < 0.5)[:, None] & (pos < sz[:, None])
    tour = tour.gather(1, torch.where(rev, sz[:, None] - 1 - pos, pos))    # a random direction per tour
    xy = dihedral(pool["coords"][rows], torch.randint(8, (B,), generator=gen, device=dev))
    prize = pool["prize"][rows]
    ar = torch.arange(B, device=dev)
    path = torch.cat([torch.zeros(B, 1, dtype=torch.long, device=dev), tour[:, :k]], 1)   # depot, first k
    p_xy = xy.gather(1, path[..., None].expand(-1, -1, 2))
    left = pool["max_length"] - (p_xy[:, 1:] - p_xy[:, :-1]).norm(dim=-1).sum(1)
    visited = torch.zeros(B, n + 1, dtype=torch.bool, device=dev)
    visited[ar[:, None], path] = True
    rest = torch.argsort(visited[:, 1:].float(), dim=1, stable=True)[:, :n - k] + 1
    rest = rest.gather(1, torch.argsort(torch.rand(B, n - k, generator=gen, device=dev), dim=1))  # token order random
    rest_xy = xy.gather(1, rest[..., None].expand(-1, -1, 2))
    toks = tokens(xy[:, 0], p_xy[:, -1], left, rest_xy, prize.gather(1, rest))
    mask = action_mask(xy[:, 0], p_xy[:, -1], left, rest_xy)
    if k < n:
        nxt = tour[:, k]
        target = torch.where((sz > k) & (nxt > 0), (rest == nxt[:, None]).float().argmax(1), n - k)
    else:
        target = torch.full((B,), 0, dtype=torch.long, device=dev)
    mask[ar, target] = True  # a reference move on the float32 budget's edge stays allowed
    return toks, mask, target


def train(model, pool: dict, seconds: float, cfg: dict, seed: int = 0, opt=None, schedule=None,
          max_updates: int | None = None, log=None) -> int:
    """Imitation on random sub-problems of the pool's tours; -> the number of updates."""
    dev = pool["tour"].device

    def batch_loss(gen):
        toks, mask, target = sub_problems(pool, cfg["batch"], gen)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(toks, mask)
        return nn.functional.cross_entropy(logits, target)
    return imitation_updates(model, batch_loss, seconds, cfg, seed, dev, opt, schedule, max_updates, log)


# --- inference ----------------------------------------------------------------------------------

@torch.no_grad()
def decode(model, coords, prize, max_length: float, beam: int = 1) -> list[list[int]]:
    """Tours (visited nodes in order) of B instances of one size, greedy (``beam`` 1) or by beam
    search: the ``beam`` most probable partial tours per instance are kept, and the complete one
    of most prize is returned. Masks are ``OPBatch``'s (float64); the engine re-verifies."""
    coords = torch.as_tensor(coords, dtype=torch.float64)
    prize = torch.as_tensor(prize, dtype=torch.float64)
    B, n1, _ = coords.shape
    N, W = n1 - 1, max(1, beam)
    R = B * W
    rows = torch.arange(B).repeat_interleave(W)
    xy, pr = coords[rows], prize[rows]
    ar = torch.arange(R)
    current = torch.zeros(R, dtype=torch.long)
    left = torch.full((R,), float(max_length), dtype=torch.float64)
    gone = torch.zeros(R, n1, dtype=torch.bool)   # visited, or dropped to keep one size per step once ended
    gone[:, 0] = True
    ended = torch.zeros(R, dtype=torch.bool)
    collected = torch.zeros(R, dtype=torch.float64)
    seq = torch.zeros(R, 0, dtype=torch.long)     # 0 once ended
    score = torch.zeros(R, dtype=torch.float64)
    score[ar % W != 0] = -math.inf                # one live beam per instance at the start
    for step in range(N + 1):
        if ended.all():
            break
        M = N - step
        rest = torch.argsort(gone[:, 1:].float(), dim=1, stable=True)[:, :M] + 1
        rest_xy, cur_xy = torch.gather(xy, 1, rest[..., None].expand(-1, -1, 2)), xy[ar, current]
        mask = action_mask(xy[:, 0], cur_xy, left, rest_xy)
        mask[ended, :M] = False
        toks = tokens(xy[:, 0], cur_xy, left, rest_xy, pr.gather(1, rest))
        logp = torch.log_softmax(model(toks, mask), dim=1).double()          # [R, M + 1]
        if W == 1:
            a = logp.argmax(1)
        else:  # expand every beam by its top moves, keep the W most probable per instance
            a, parent, score = beam_expand(logp, score, B, W)
            rest, current, left, ended = rest[parent], current[parent], left[parent], ended[parent]
            gone, collected, seq = gone[parent].clone(), collected[parent], seq[parent]
        stop = (a == M) | ended
        node = rest[ar, a.clamp(max=max(M - 1, 0))] if M > 0 else current
        go = ~stop
        left = left - torch.where(go, (xy[ar, node] - xy[ar, current]).norm(dim=-1), torch.zeros_like(left))
        collected = collected + torch.where(go, pr[ar, node], torch.zeros_like(collected))
        if M > 0:
            gone[ar, torch.where(go, node, rest[:, 0])] = True   # ended rows drop a node: one size per step
        seq = torch.cat([seq, torch.where(go, node, torch.zeros_like(node))[:, None]], 1)
        current = torch.where(go, node, current)
        ended = stop
    if W > 1:  # the live beam of most prize
        collected = torch.where(torch.isfinite(score), collected, -math.inf)
        seq = seq[collected.reshape(B, W).argmax(1) + torch.arange(B) * W]
    return [[int(x) for x in row if x > 0] for row in seq.numpy()]


def solve_instances(model, insts, beam: int = 1) -> list[list[int]]:
    """Tours per instance (instances grouped by size and budget, 256 / beam at a time)."""
    return solve_grouped(insts, lambda i: (i.n, i.max_length), lambda key, part: decode(
        model, np.stack([i.coords for i in part]), np.stack([i.prize for i in part]), key[1], beam), 256 // beam or 1)


def load_model(path, device="cpu") -> tuple[OPModel, dict]:
    return common.load_model(path, OPModel)


def main(argv=None):
    """Train the OP model on PyVRP tours of generated instances; resumable (``--out`` is
    reloaded when it exists, ``--data`` reused)."""
    run = TrainingRun(main.__doc__, "mobench.solvers.bq_nco.op", DEFAULTS, 50, 4000, 3600.0)
    run.parser.add_argument("--pyvrp-seconds", type=float, default=0.3, help="PyVRP's time per training instance")
    run.parser.add_argument("--data-seconds", type=float, default=math.inf, help="stop computing tours after this")
    a = run.parse(argv)
    z = run.data(lambda: training_pool(a.n, a.instances, 40_000 + a.seed, a.workers, a.pyvrp_seconds, a.data_seconds),
                 "tours")
    run.train_on_pool(OPModel, train, as_pool, z, "OP")


if __name__ == "__main__":
    main()
