"""BQ-NCO's TSP model (``problems/routing/tsp.py``'s BQ-MDP): at every step the remaining
sub-problem (origin, destination, unvisited nodes) is re-encoded from scratch by a transformer
without positional encoding, and the next node is chosen among the unvisited ones.

Model: node coordinates embedded linearly, plus learned marks for the origin and the
destination tokens; ``layers`` pre-norm transformer encoder layers; a linear score per token;
origin and destination masked. Training (imitation): for reference tours (LKH through elkai,
one run) of generated instances, a random sub-path start k (shared within a batch, so the
sub-problems have one size), the sub-problem "from tour[k] through tour[k+1..] back to
tour[0]" and the target tour[k+1], with the tour's direction and one of the unit square's 8
symmetries drawn at random (each maps an optimal tour to an optimal tour); cross-entropy, Adam,
cosine learning-rate decay over the run. Inference: greedy, or beam search of width ``beam``
(the most probable partial tours; the shortest complete one is kept). ``knn`` > 0 restricts
every sub-problem to the ``knn`` unvisited nodes nearest to the current node (the paper's
heuristic for large instances).

Training from the command line: ``python -m mobench.solvers.bq_nco.tsp --help`` (the shipped
model's commands are in ``solvers/data/README.md``).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...problems.routing import TSPInstance, lkh_tour, tour_length, tsp_test_set
from . import common
from .common import ARCH, TrainingRun, beam_expand, dihedral, encoder_stack, imitation_updates, timed_map

SHIPPED = Path(__file__).parent.parent / "data" / "bq-nco-tsp.pt"
DEFAULTS = {"d_model": 128, "heads": 8, "layers": 6, "ff": 512, "lr": 1e-4, "batch": 128}
TRAIN_N = 50  # nodes of the generated training instances


class BQModel(nn.Module):
    def __init__(self, d_model=128, heads=8, layers=4, ff=512):
        super().__init__()
        self.embed = nn.Linear(2, d_model)
        self.mark = nn.Parameter(torch.randn(2, d_model) * 0.1)  # origin, destination
        self.encoder = encoder_stack(d_model, heads, layers, ff)
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
          log=None, opt=None, schedule=None, max_updates: int | None = None) -> int:
    """Imitation on random sub-paths of the reference tours; -> the number of updates.
    Tensors may be on a GPU (bf16 autocast there)."""
    dev = coords.device
    n_inst, N = tours.shape
    B = cfg["batch"]

    def batch_loss(gen):
        rows = torch.randint(n_inst, (B,), generator=gen, device=dev)
        k = int(torch.randint(0, N - 2, (1,), generator=gen, device=dev))
        reverse = torch.rand(B, generator=gen, device=dev) < 0.5
        xy = dihedral(coords[rows], torch.randint(8, (B,), generator=gen, device=dev)) if cfg.get("augment") else coords[rows]
        sub = sub_problem(xy, tours[rows], k, reverse)
        perm = torch.argsort(torch.rand(B, sub.shape[1] - 2, generator=gen, device=dev), dim=1)
        rest = torch.gather(sub[:, 2:], 1, perm[..., None].expand(-1, -1, 2))
        target = torch.argsort(perm, dim=1)[:, 0]  # where the next node (rest token 0) went
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(torch.cat([sub[:, :2], rest], 1))
        return nn.functional.cross_entropy(logits.float(), target)
    return imitation_updates(model, batch_loss, seconds, cfg, seed, dev, opt, schedule, max_updates, log)


def reference_tours(n: int, count: int, seed: int, workers: int = 1, seconds: float = math.inf):
    """``count`` uniform instances of ``n`` nodes (seed ``seed``, never a test set's) and their
    LKH tours (one run each), computed by ``workers`` processes until ``seconds`` pass.
    -> (coords [M, n, 2] float32, tours [M, n] int64), M <= count."""
    coords = tsp_test_set(n, count, seed)
    tours = lkh_tours(coords, workers, seconds)
    return coords[:len(tours)].astype(np.float32), np.stack(tours).astype(np.int64)


def lkh_tours(coords, workers: int = 1, seconds: float = math.inf) -> list:
    """LKH tours (one run each) of the instances in order, by ``workers`` processes (this one
    when 1), stopping once ``seconds`` have passed."""
    return list(timed_map(_lkh, coords, workers, seconds, chunksize=8))



def _lkh(c):
    return lkh_tour(TSPInstance("train", c), runs=1)


@torch.no_grad()
def decode(model, coords: torch.Tensor, beam: int = 1, knn: int = 0) -> torch.Tensor:
    """Tours [B, N] from node 0, re-encoding the remaining sub-problem at every step; beam
    search keeps the ``beam`` most probable partial tours per instance and returns the shortest
    of the complete ones (greedy for 1). ``knn`` > 0: the sub-problem holds only the ``knn``
    unvisited nodes nearest to the current one (with the origin and the destination), so the
    model sees sub-problems of about its training size and a step costs O(knn^2), not O(N^2)."""
    B, N, _ = coords.shape
    dev = coords.device
    W = max(1, min(beam, N - 1))
    rows = torch.arange(B, device=dev).repeat_interleave(W)
    tours = torch.zeros(B * W, 1, dtype=torch.long, device=dev)
    ar = torch.arange(B * W, device=dev)  # row indices (B * W rows; B when greedy, W = 1)
    score = torch.zeros(B * W, dtype=torch.float64, device=dev)  # log-probability of each beam
    score[ar % W != 0] = -math.inf  # start from one live beam per instance
    visited = torch.zeros(B * W, N, dtype=torch.bool, device=dev)
    visited[:, 0] = True
    xy = coords[rows]
    for step in range(1, N):
        cur = tours[:, -1]
        rest = torch.argsort(visited.float(), dim=1, stable=True)[:, :N - step]  # unvisited node ids
        if 0 < knn < rest.shape[1]:  # the knn unvisited nodes nearest to the current node
            d = (torch.gather(xy, 1, rest[..., None].expand(-1, -1, 2)) - xy[ar, cur][:, None]).norm(dim=-1)
            rest = torch.gather(rest, 1, d.topk(knn, dim=1, largest=False).indices)
        sub = torch.cat([xy[ar, cur][:, None], xy[:, :1],
                         torch.gather(xy, 1, rest[..., None].expand(-1, -1, 2))], 1)
        logp = torch.log_softmax(model(sub.float()), dim=1)  # [B*W, N - step]
        if W == 1:
            nxt = rest[ar, logp.argmax(1)]
            parent = ar
        else:  # expand every beam by its top W moves, keep the W most probable partial tours
            a, parent, score = beam_expand(logp.double(), score, B, W)
            nxt = rest[parent, a]
        tours = torch.cat([tours[parent], nxt[:, None]], 1)
        visited = visited[parent].clone()
        visited[ar, nxt] = True
    if W == 1:
        return tours
    pts = torch.gather(xy, 1, tours[..., None].expand(-1, -1, 2))
    length = (pts - pts.roll(-1, 1)).norm(dim=-1).sum(1)  # closed tours; the shortest beam is kept
    best = length.reshape(B, W).argmin(1)
    return tours.reshape(B, W, N)[torch.arange(B, device=dev), best]




def load_model(path, device="cpu") -> tuple[BQModel, dict]:
    return common.load_model(path, BQModel, device)


def main(argv=None):
    """Train the TSP model: reference tours by LKH (``--workers`` processes), then imitation;
    resumable (``--out`` is reloaded when it exists, ``--data`` reused)."""
    run = TrainingRun(main.__doc__, "mobench.solvers.bq_nco.tsp", DEFAULTS, TRAIN_N, 20_000, 7200.0)
    run.parser.add_argument("--data-seconds", type=float, default=math.inf, help="stop computing tours after this")
    a = run.parse(argv)
    data = Path(a.data)
    if data.exists():
        z = np.load(data)
        coords, tours = z["coords"], z["tours"]
    else:
        t0 = time.monotonic()
        coords, tours = reference_tours(a.n, a.instances, 10_000 + a.seed, a.workers, a.data_seconds)
        np.savez_compressed(data, coords=coords, tours=tours)
        print(f"{len(tours)} LKH tours of N={a.n} in {time.monotonic() - t0:.0f} s ({a.workers} workers)", flush=True)
    run.n_instances = int(len(tours))
    model, opt = run.start(BQModel, {**DEFAULTS, "lr": a.lr, "batch": a.batch, "augment": True,
                                     **{k: getattr(a, k) for k in ARCH}})
    dev = run.dev
    X, T = torch.as_tensor(coords, device=dev), torch.as_tensor(tours, device=dev)
    chunk = lambda seconds, seed: train(model, X, T, seconds, run.cfg, seed, opt=opt, schedule=run.cosine)
    for st in run.chunks(chunk):
        model.train()
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            k = torch.randint(0, a.n - 2, (1,)).item()
            rows = torch.arange(min(1024, len(T)), device=dev)
            sub = sub_problem(X[rows], T[rows], k, torch.zeros(len(rows), dtype=torch.bool, device=dev))
            acc = (model(sub).argmax(1) == 0).float().mean().item()
        print(f"{st['updates']:7d} updates  {st['samples']:10d} samples  {st['seconds']:6.0f} s  "
              f"next-node accuracy on training sub-paths (k={k}) {acc:.3f}", flush=True)
    for n in run.finish():
        diagnose(model.eval(), n, a.eval_count, a.workers, dev)


def lkh_lengths(coords, workers: int = 1) -> np.ndarray:
    """Lengths of LKH's tours (one run each) of the instances: the reference of a printed gap."""
    return np.array([tour_length(c, t) for c, t in zip(coords, lkh_tours(coords, workers))])


def decoded_gap(model, coords: np.ndarray, ref: np.ndarray, beam: int = 1, knn: int = 0) -> tuple[float, float]:
    """(mean gap, %, of the model's tours of ``coords`` to the lengths ``ref``; decoding seconds),
    decoded on the model's device: printed by the training diagnostic and the validation script,
    never scored (the engine scores)."""
    dev = next(model.parameters()).device
    X = torch.as_tensor(coords, dtype=torch.float32, device=dev)
    t0 = time.monotonic()
    tours = torch.cat([decode(model, chunk, beam, knn) for chunk in X.split(4096 // beam)]).cpu().numpy()
    seconds = time.monotonic() - t0  # .cpu() waited for the device
    got = np.array([tour_length(c, t) for c, t in zip(coords, tours)])
    return 100 * float(np.mean(got / ref - 1)), seconds


def diagnose(model, n: int, count: int, workers: int, dev):
    """Mean gap (%) of greedy and beam-16 tours to LKH's on the first ``count`` instances of
    the N = ``n`` test set, and the decoding time: printed, not scored (the engine scores)."""
    coords = tsp_test_set(n, count, 1000 + n)
    ref = lkh_lengths(coords, workers)
    for beam in (1, 16):
        gap, dt = decoded_gap(model, coords, ref, beam)
        print(f"N={n} beam={beam}: mean gap to LKH {gap:.3f}% over {count} instances, decoding "
              f"{dt:.1f} s on {dev}", flush=True)


if __name__ == "__main__":
    main()
