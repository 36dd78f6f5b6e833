"""`bq-nco` (Drakulic, Michel, Mai, Sors, Andreoli, NeurIPS 2023) for the TSP BQ-MDP
(``problems/routing/tsp.py``): at every step the remaining sub-problem (origin, destination,
unvisited nodes) is re-encoded from scratch by a transformer without positional encoding, and
the next node is chosen among the unvisited ones.

Model: node coordinates embedded linearly, plus learned marks for the origin and the
destination tokens; ``layers`` pre-norm transformer encoder layers; a linear score per token;
origin and destination masked. Training (imitation): for reference tours (LKH through elkai)
of generated instances, a random sub-path start k (shared within a batch, so the sub-problems
have one size), the sub-problem "from tour[k] through tour[k+1..] back to tour[0]" and the
target tour[k+1], with the tour's direction drawn at random (both are optimal); cross-entropy,
Adam. Inference: greedy, or beam search of width ``beam`` over the same re-encoding.

Checkpoints: ``checkpoint="shipped"`` loads ``solvers/data/bq-nco-tsp.pt`` when it ships;
"none" trains within the run's budget (``train_fraction`` of it); a path loads that file.
No trained checkpoint ships yet (see the README of ``problems/routing``).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..registry import register_solver
from ..solver import Budget, Outcome, Solver

DEFAULTS = {
    "d_model": 128,
    "heads": 8,
    "layers": 4,
    "ff": 512,
    "lr": 1e-4,
    "batch": 128,
    "train_n": 50,           # nodes of the generated training instances
    "train_instances": 2000,  # instances with LKH tours in the training pool
    "beam": 1,               # 1: greedy
    "train_fraction": 0.8,
    "checkpoint": "shipped",  # "shipped" | "none" | a path
}
SHIPPED = Path(__file__).parent / "data" / "bq-nco-tsp.pt"


class BQModel(nn.Module):
    def __init__(self, d_model=128, heads=8, layers=4, ff=512):
        super().__init__()
        self.embed = nn.Linear(2, d_model)
        self.mark = nn.Parameter(torch.randn(2, d_model) * 0.1)  # origin, destination
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.score = nn.Linear(d_model, 1)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """coords [B, M, 2] of the sub-problem: token 0 the origin, token 1 the destination,
        tokens 2.. the unvisited nodes -> logits [B, M - 2] over the unvisited nodes."""
        h = self.embed(coords)
        h = torch.cat([h[:, :1] + self.mark[0], h[:, 1:2] + self.mark[1], h[:, 2:]], 1)
        return self.score(self.norm(self.encoder(h)))[:, 2:, 0]


def sub_problem(coords, tours, k: int, reverse) -> tuple[torch.Tensor, torch.Tensor]:
    """The BQ sub-problem after k steps along each reference tour, and the index of the next
    node among the unvisited tokens (0). Unvisited tokens are shuffled by the caller's order."""
    t = torch.where(reverse[:, None], torch.cat([tours[:, :1], tours[:, 1:].flip(1)], 1), tours)
    idx = torch.cat([t[:, k:k + 1], t[:, :1], t[:, k + 1:]], 1)  # origin, destination, rest (next first)
    return torch.gather(coords, 1, idx[..., None].expand(-1, -1, 2))


def train(model, coords: torch.Tensor, tours: torch.Tensor, seconds: float, cfg: dict, seed: int = 0,
          log=None) -> int:
    """Imitation on random sub-paths of the reference tours; -> the number of updates."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    gen = torch.Generator().manual_seed(seed)
    n_inst, N = tours.shape
    t0, updates = time.monotonic(), 0
    while time.monotonic() - t0 < seconds:
        rows = torch.randint(n_inst, (cfg["batch"],), generator=gen)
        k = int(torch.randint(0, N - 2, (1,), generator=gen))
        reverse = torch.rand(cfg["batch"], generator=gen) < 0.5
        sub = sub_problem(coords[rows], tours[rows], k, reverse)
        perm = torch.argsort(torch.rand(cfg["batch"], sub.shape[1] - 2, generator=gen), dim=1)
        rest = torch.gather(sub[:, 2:], 1, perm[..., None].expand(-1, -1, 2))
        target = torch.argsort(perm, dim=1)[:, 0]  # where the next node (rest token 0) went
        logits = model(torch.cat([sub[:, :2], rest], 1))
        loss = nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        updates += 1
        if log is not None and updates % 50 == 0:
            log(updates, float(loss))
    return updates


@torch.no_grad()
def decode(model, coords: torch.Tensor, beam: int = 1) -> torch.Tensor:
    """Tours [B, N] from node 0, re-encoding the remaining sub-problem at every step; beam
    search keeps the ``beam`` partial tours of least length per instance (greedy for 1)."""
    B, N, _ = coords.shape
    W = max(1, min(beam, N - 1))
    rows = torch.arange(B).repeat_interleave(W)
    tours = torch.zeros(B * W, 1, dtype=torch.long)
    length = torch.zeros(B * W, dtype=torch.float64)
    length[torch.arange(B * W) % W != 0] = math.inf  # start from one live beam per instance
    visited = torch.zeros(B * W, N, dtype=torch.bool)
    visited[:, 0] = True
    xy = coords[rows]
    for step in range(1, N):
        cur = tours[:, -1]
        rest = torch.argsort(visited.float(), dim=1, stable=True)[:, :N - step]  # unvisited node ids
        sub = torch.cat([xy[torch.arange(B * W), cur][:, None], xy[:, :1],
                         torch.gather(xy, 1, rest[..., None].expand(-1, -1, 2))], 1)
        logp = torch.log_softmax(model(sub.float()), dim=1)  # [B*W, N - step]
        if W == 1:
            nxt = rest[torch.arange(B), logp.argmax(1)]
            cand_len = length
            parent = torch.arange(B)
        else:  # expand every beam by its top W moves, keep the W shortest partial tours
            k = min(W, rest.shape[1])
            top = logp.topk(k, dim=1).indices
            cand = torch.gather(rest, 1, top)                                         # [B*W, k]
            add = (torch.gather(xy, 1, cand[..., None].expand(-1, -1, 2)) - xy[torch.arange(B * W), cur][:, None]).norm(dim=-1)
            total = (length[:, None] + add).reshape(B, W * k)
            best = total.topk(W, dim=1, largest=False).indices                        # [B, W]
            parent = (best // k) + torch.arange(B)[:, None] * W
            parent = parent.reshape(-1)
            nxt = cand.reshape(B, W * k).gather(1, best).reshape(-1)
            cand_len = total.gather(1, best).reshape(-1)
        tours = torch.cat([tours[parent], nxt[:, None]], 1)
        visited = visited[parent].clone()
        visited[torch.arange(len(nxt)), nxt] = True
        if W == 1:
            length = length + (xy[torch.arange(B), nxt] - xy[torch.arange(B), cur]).norm(dim=-1)
        else:
            length = cand_len
    if W == 1:
        return tours
    closing = (xy[torch.arange(B * W), tours[:, -1]] - xy[:, 0]).norm(dim=-1)
    best = (length + closing).reshape(B, W).argmin(1)
    return tours.reshape(B, W, N)[torch.arange(B), best]


class BQNCO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(seconds=600)
    description = "BQ-NCO: transformer over the re-encoded sub-problem, imitation of LKH tours (TSP)"

    def supports(self, problem):
        return None if "tsp" in problem.spec.tags else "TSP problems only"

    def model(self) -> BQModel:
        return BQModel(self.d_model, self.heads, self.layers, self.ff)

    def solve(self, problem, budget, seed, log):
        torch.manual_seed(seed)
        model = self.model()
        path = None if self.checkpoint in ("", "none") else (SHIPPED if self.checkpoint == "shipped" else Path(self.checkpoint))
        if path is not None and path.exists():
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
        else:
            from ..problems.routing import TSPInstance, lkh_tour
            from ..problems.routing.instances import tsp_test_set
            seconds = budget.seconds_left * self.train_fraction
            coords = tsp_test_set(self.train_n, self.train_instances, 10_000 + seed)  # not the test sets' seeds
            tours, t0 = [], time.monotonic()
            for c in coords:  # reference tours, within a third of the training time
                tours.append(lkh_tour(TSPInstance("train", c), runs=1))
                if time.monotonic() - t0 > seconds / 3:
                    break
            coords = torch.as_tensor(coords[:len(tours)], dtype=torch.float32)
            train(model, coords, torch.as_tensor(np.stack(tours)), seconds - (time.monotonic() - t0),
                  {k: getattr(self, k) for k in DEFAULTS}, seed, log)
        model.eval()
        insts = problem.instances()
        coords = torch.as_tensor(np.stack([i.coords for i in insts]), dtype=torch.float32)
        scale = coords.reshape(len(insts), -1).abs().amax(1).clamp_min(1e-9)[:, None, None]  # TSPLIB: to the unit square
        tours = torch.cat([decode(model, chunk / s, self.beam)
                           for chunk, s in zip(coords.split(256), scale.split(256))])
        return Outcome(solutions=list(tours.numpy()),
                       info={"policy": str(path) if path is not None and path.exists() else "trained in the run"})


register_solver("bq-nco", BQNCO)
