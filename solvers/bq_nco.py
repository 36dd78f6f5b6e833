"""`bq-nco` (Drakulic, Michel, Mai, Sors, Andreoli, NeurIPS 2023) for the TSP BQ-MDP
(``problems/routing/tsp.py``; the knapsack, CVRP and OP models are in
``solvers/bq_nco_knapsack.py``, ``solvers/bq_nco_cvrp.py`` and ``solvers/bq_nco_op.py``, and
this solver uses them on those problems): at every step the remaining sub-problem (origin,
destination, unvisited nodes) is re-encoded from scratch by a transformer without positional encoding, and
the next node is chosen among the unvisited ones.

Model: node coordinates embedded linearly, plus learned marks for the origin and the
destination tokens; ``layers`` pre-norm transformer encoder layers; a linear score per token;
origin and destination masked. Training (imitation): for reference tours (LKH through elkai,
one run) of generated instances, a random sub-path start k (shared within a batch, so the
sub-problems have one size), the sub-problem "from tour[k] through tour[k+1..] back to
tour[0]" and the target tour[k+1], with the tour's direction and one of the unit square's 8
symmetries drawn at random (each maps an optimal tour to an optimal tour); cross-entropy, Adam,
cosine learning-rate decay over the run. Inference: greedy, or beam search of width ``beam``
(the most probable partial tours; the shortest complete one is kept). TSPLIB instances are
moved to the unit square (aspect kept) before decoding; their tours are scored on the file's
own coordinates.

Departures from the paper, for CPU/short-GPU budgets: 6 layers (the paper: 9), tours by LKH
with one run instead of Concorde, about 22,000 training instances (the paper: 1M) multiplied
by the symmetries, minutes instead of days of training. ``knn`` > 0 restricts every
sub-problem to the ``knn`` unvisited nodes nearest to the current node (the paper's heuristic for
large instances; off by default), coordinates kept as they are.

Checkpoints: ``checkpoint="shipped"`` (default) loads ``solvers/data/bq-nco-tsp.pt`` (trained
at N = 100; ``solvers/data/README.md`` has the command and its cost); a path loads that file (an
export or a training checkpoint: both carry their architecture, which overrides
``d_model``/``heads``/``layers``/``ff``); "none" trains on the CPU within the run's budget
(``train_fraction`` of it). Training: ``python -m mobench.solvers.bq_nco --help``.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import MobenchError
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver

DEFAULTS = {
    "d_model": 128,
    "heads": 8,
    "layers": 6,
    "ff": 512,
    "lr": 1e-4,
    "batch": 128,
    "train_n": 50,           # nodes of the generated training instances
    "train_instances": 2000,  # instances with LKH tours in the training pool
    "beam": 1,               # 1: greedy
    "knn": 0,                # > 0: sub-problems restricted to the knn nodes nearest the current one
    "train_fraction": 0.8,
    "checkpoint": "shipped",  # "shipped" | "none" | a path
}
SHIPPED = Path(__file__).parent / "data" / "bq-nco-tsp.pt"


def encoder_stack(d_model: int, heads: int, layers: int, ff: int) -> nn.TransformerEncoder:
    """The BQ models' encoder (TSP, CVRP, knapsack): ``layers`` pre-norm transformer layers,
    no dropout, no positional encoding."""
    layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class OriginDepotModel(nn.Module):
    """The body of the CVRP and OP models: tokens (x, y, z) embedded linearly, learned marks
    added to the origin (token 0) and the depot (token 1), the encoder, and ``outputs`` linear
    scores per token."""

    def __init__(self, d_model: int, heads: int, layers: int, ff: int, outputs: int):
        super().__init__()
        self.embed = nn.Linear(3, d_model)
        self.mark = nn.Parameter(torch.randn(2, d_model) * 0.1)  # origin, depot
        self.encoder = encoder_stack(d_model, heads, layers, ff)
        self.norm = nn.LayerNorm(d_model)
        self.score = nn.Linear(d_model, outputs)

    def scores(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, M + 2, 3] (origin, depot, M nodes) -> scores [B, M + 2, outputs]."""
        h = self.embed(tokens)
        h = torch.cat([h[:, :1] + self.mark[0], h[:, 1:2] + self.mark[1], h[:, 2:]], 1)
        return self.score(self.norm(self.encoder(h)))


def origin_depot_tokens(cur_xy, origin_z, depot_xy, rest_xy, rest_z) -> torch.Tensor:
    """[B, M + 2, 3] float tokens: the origin (current node) with ``origin_z`` [B], the depot
    with z = 0, the M remaining nodes with ``rest_z`` [B, M]."""
    origin = torch.cat([cur_xy, origin_z[:, None]], 1)[:, None]
    depot = torch.cat([depot_xy, torch.zeros_like(depot_xy[:, :1])], 1)[:, None]
    rest = torch.cat([rest_xy, rest_z[..., None]], 2)
    return torch.cat([origin, depot, rest], 1).float()


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


def dihedral(coords: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """One of the unit square's 8 symmetries per instance (``which`` in 0..7): a symmetry maps
    an optimal tour to an optimal tour, so it multiplies the training set by 8."""
    x, y = coords[..., 0], coords[..., 1]
    w = which[:, None]
    x, y = torch.where(w % 2 == 1, 1 - x, x), torch.where((w // 2) % 2 == 1, 1 - y, y)
    x, y = torch.where(w >= 4, y, x), torch.where(w >= 4, x, y)
    return torch.stack([x, y], -1)


def imitation_updates(model, batch_loss, seconds: float, cfg: dict, seed: int, dev, opt=None, schedule=None,
                      max_updates: int | None = None, log=None) -> int:
    """Adam steps on ``batch_loss(generator) -> loss`` until ``seconds`` or ``max_updates``;
    ``schedule(elapsed) -> learning-rate factor`` (constant when None); ``log(updates, loss)``
    every 50 updates. -> the number of updates."""
    opt = opt or torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    gen = torch.Generator(device=dev).manual_seed(seed)
    model.train()
    t0, updates = time.monotonic(), 0
    while (elapsed := time.monotonic() - t0) < seconds and (max_updates is None or updates < max_updates):
        if schedule is not None:
            for g in opt.param_groups:
                g["lr"] = cfg["lr"] * schedule(elapsed)
        loss = batch_loss(gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        updates += 1
        if log is not None and updates % 50 == 0:
            log(updates, float(loss.detach()))
    return updates


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
    from ..problems.routing.instances import tsp_test_set
    coords = tsp_test_set(n, count, seed)
    tours = lkh_tours(coords, workers, seconds)
    return coords[:len(tours)].astype(np.float32), np.stack(tours).astype(np.int64)


def lkh_tours(coords, workers: int = 1, seconds: float = math.inf) -> list:
    """LKH tours (one run each) of the instances in order, by ``workers`` processes (this one
    when 1), stopping once ``seconds`` have passed."""
    return list(timed_map(_lkh, coords, workers, seconds, chunksize=8))


def timed_map(fn, jobs, workers: int = 1, seconds: float = math.inf, chunksize: int = 4):
    """``fn`` over ``jobs`` in order, by ``workers`` forked processes (this one when 1),
    stopping once ``seconds`` have passed; yields the results (training-set references)."""
    import contextlib
    import multiprocessing as mp
    t0 = time.monotonic()
    with mp.get_context("fork").Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        for out in (pool.imap(fn, jobs, chunksize=chunksize) if pool else map(fn, jobs)):
            yield out
            if time.monotonic() - t0 > seconds:
                break  # leaving the with-block terminates the pool


def _lkh(c):
    from ..problems.routing import TSPInstance, lkh_tour
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


def beam_expand(logp: torch.Tensor, score: torch.Tensor, B: int, W: int):
    """One beam-search step for B instances of W beams each (rows instance-major): every beam's
    top moves by ``logp`` [B * W, A] are scored by ``score`` [B * W] + their log-probability and
    the W best per instance kept. -> (move [B * W], parent row [B * W], new score [B * W])."""
    k = min(W, logp.shape[1])
    top = logp.topk(k, dim=1)
    total = (score[:, None] + top.values).reshape(B, W * k)
    best = total.topk(W, dim=1).indices
    parent = ((best // k) + torch.arange(B, device=logp.device)[:, None] * W).reshape(-1)
    move = top.indices.reshape(B, W * k).gather(1, best).reshape(-1)
    return move, parent, total.gather(1, best).reshape(-1)


def solve_grouped(insts, key, decode_group, per_call: int) -> list:
    """Answers per instance: instances grouped by ``key(instance)`` (one size, one capacity or
    budget), each group decoded by ``decode_group(key, instances)`` at most ``per_call`` at a time."""
    out: list = [None] * len(insts)
    groups: dict = {}
    for i, inst in enumerate(insts):
        groups.setdefault(key(inst), []).append(i)
    for k, idx in groups.items():
        for part in np.array_split(np.array(idx), max(1, math.ceil(len(idx) / per_call))):
            for i, s in zip(part, decode_group(k, [insts[i] for i in part])):
                out[i] = s
    return out


ARCH = ("d_model", "heads", "layers", "ff")


def load_model(path, device="cpu", model_class=None) -> tuple[nn.Module, dict]:
    """A trained model (``model_class``, default the TSP's ``BQModel``) from an exported policy
    or a training checkpoint (both carry their architecture); -> (model in eval mode, the file's
    metadata)."""
    blob = torch.load(path, map_location=device, weights_only=True)
    model = (model_class or BQModel)(**{k: blob["cfg"][k] for k in ARCH}).to(device)
    model.load_state_dict({k: v.float() for k, v in blob["model"].items()})
    return model.eval(), {k: v for k, v in blob.items() if k not in ("model", "opt")}


class BQNCO(Solver):
    defaults = DEFAULTS
    # 2: the shipped TSP model fine-tuned at N = 50 on the CPU (solvers/data/README.md); the
    #    CVRP, OP and knapsack models are those of version 1
    version = 2
    default_budget = Budget(seconds=600)
    description = ("BQ-NCO: transformer over the re-encoded sub-problem; imitation of LKH tours (TSP), "
                   "PyVRP routes (CVRP) and tours (OP), or optimal item sets (knapsack)")

    def supports(self, problem):
        kinds = {"tsp", "knapsack", "cvrp", "op"}
        return None if kinds & set(problem.spec.tags) else "TSP, CVRP, OP and knapsack problems only"

    def checkpoint_path(self, shipped: Path = SHIPPED) -> Path | None:
        if self.checkpoint in ("", "none"):
            return None
        path = shipped if self.checkpoint == "shipped" else Path(self.checkpoint)
        if self.checkpoint != "shipped" and not path.exists():
            raise MobenchError(f"bq-nco: checkpoint file {path} does not exist")
        return path if path.exists() else None

    def solve(self, problem, budget, seed, log):
        torch.manual_seed(seed)
        if self.knn != 0 and "tsp" not in problem.spec.tags:
            raise MobenchError("bq-nco: knn is implemented for the TSP only; use knn=0 on this problem")
        if "knapsack" in problem.spec.tags:
            return self._solve_knapsack(problem, budget, seed, log)
        if "cvrp" in problem.spec.tags:
            return self._solve_cvrp(problem, budget, seed, log)
        if "op" in problem.spec.tags:
            return self._solve_op(problem, budget, seed, log)

        def fit(seconds):  # train within the run's budget, on the CPU
            cfg = {k: getattr(self, k) for k in DEFAULTS}
            model, t0 = BQModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            coords, tours = reference_tours(self.train_n, self.train_instances, 10_000 + seed, 1, seconds / 3)
            train(model, torch.as_tensor(coords), torch.as_tensor(tours), seconds - (time.monotonic() - t0),
                  cfg, seed, log)
            return model
        model, policy = self._shipped_or_trained(SHIPPED, load_model, budget, fit)
        insts = problem.instances()
        coords = torch.as_tensor(np.stack([i.coords for i in insts]), dtype=torch.float32)
        lo = coords.amin(1, keepdim=True)  # TSPLIB coordinates: to the unit square, aspect kept
        scale = (coords.amax(1, keepdim=True) - lo).amax(2, keepdim=True).clamp_min(1e-9)
        unit = torch.where(scale > 1.0, (coords - lo) / scale, coords)  # generated instances as they are
        tours = torch.cat([decode(model, chunk, self.beam, self.knn) for chunk in unit.split(256)])
        return Outcome(solutions=list(tours.numpy()), info={"policy": policy})

    def _shipped_or_trained(self, shipped: Path, load, budget, fit):
        """-> (model in eval mode, where it comes from): the ``shipped`` model (or the
        ``checkpoint`` file) read by ``load``, else ``fit(seconds)`` trained in the run on
        ``train_fraction`` of the time left."""
        path = self.checkpoint_path(shipped)
        if path is not None:
            model, meta = load(path)
            return model, _describe(path, meta)
        return fit(budget.seconds_left * self.train_fraction).eval(), "trained in the run"

    def _solve_knapsack(self, problem, budget, seed, log):
        """The knapsack model (``solvers/bq_nco_knapsack.py``), greedy; with ``checkpoint=none``
        trained in the run on ``train_instances`` generated instances of the test set's size."""
        from . import bq_nco_knapsack as kp
        if self.beam != 1:
            raise MobenchError("bq-nco: beam search is implemented for the TSP, the CVRP and the OP only; use beam=1 "
                               "on knapsack")

        def fit(seconds):
            cfg = {**{k: getattr(self, k) for k in DEFAULTS}}
            model, t0 = kp.KPModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            w, v, s, cap = kp.training_pool(problem.instances()[0].n, self.train_instances, 20_000 + seed)
            kp.train(model, torch.as_tensor(w), torch.as_tensor(v, dtype=torch.float32), torch.as_tensor(s), cap,
                     seconds - (time.monotonic() - t0), cfg, seed, log=log)
            return model
        model, policy = self._shipped_or_trained(kp.SHIPPED, kp.load_model, budget, fit)
        return Outcome(solutions=kp.solve_instances(model, problem.instances()), info={"policy": policy})

    def _solve_cvrp(self, problem, budget, seed, log):
        """The CVRP model (``solvers/bq_nco_cvrp.py``), greedy or beam search; with
        ``checkpoint=none`` trained in the run on PyVRP routes of up to ``train_instances``
        generated instances of ``train_n`` customers."""
        from . import bq_nco_cvrp as cv

        def fit(seconds):
            cfg = {**cv.DEFAULTS, **{k: getattr(self, k) for k in (*ARCH, "batch")}}
            model, t0 = cv.CVRPModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            z = cv.training_pool(self.train_n, self.train_instances, 30_000 + seed, 1, 0.5, seconds / 3)
            cv.train(model, {k: torch.as_tensor(v) for k, v in z.items()}, seconds - (time.monotonic() - t0),
                     cfg, seed, log=log)
            return model
        model, policy = self._shipped_or_trained(cv.SHIPPED, cv.load_model, budget, fit)
        return Outcome(solutions=cv.solve_instances(model, problem.instances(), self.beam), info={"policy": policy})

    def _solve_op(self, problem, budget, seed, log):
        """The OP model (``solvers/bq_nco_op.py``), greedy or beam search; with ``checkpoint=none``
        trained in the run on PyVRP tours of up to ``train_instances`` generated instances of
        ``train_n`` nodes."""
        from . import bq_nco_op as op

        def fit(seconds):
            cfg = {**op.DEFAULTS, **{k: getattr(self, k) for k in (*ARCH, "batch")}}
            model, t0 = op.OPModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            z = op.training_pool(self.train_n, self.train_instances, 40_000 + seed, 1, 0.3, seconds / 3)
            op.train(model, op.as_pool(z), seconds - (time.monotonic() - t0), cfg, seed, log=log)
            return model
        model, policy = self._shipped_or_trained(op.SHIPPED, op.load_model, budget, fit)
        return Outcome(solutions=op.solve_instances(model, problem.instances(), self.beam), info={"policy": policy})


def _describe(path: Path, meta: dict) -> str:
    stages = [*meta.get("lineage", []), {**meta.get("train", {}), **meta.get("state", {})}]  # oldest first
    return f"{path.name} (trained " + ", then ".join(
        f"at N={x.get('n')}, {x.get('updates')} updates, {x.get('seconds', 0):.0f} s on {x.get('device')}"
        for x in stages) + ")"


register_solver("bq-nco", BQNCO)


class TrainingRun:
    """What the training entry points (TSP here, knapsack in ``bq_nco_knapsack``) share: the
    command line, the model and Adam restored from ``--out`` when it exists, checkpoints (or the
    fp16 export that ships, without the optimiser) written atomically, and a cosine learning
    rate over the whole, resumed run (down to 5%)."""

    def __init__(self, doc: str, module: str, defaults: dict, n: int, instances: int, seconds: float):
        import argparse
        self.module, self.n_instances, self.defaults = module, 0, defaults
        ap = self.parser = argparse.ArgumentParser(description=doc)
        ap.add_argument("--n", type=int, default=n, help="size of the training instances")
        ap.add_argument("--instances", type=int, default=instances)
        ap.add_argument("--data", required=True, help=".npz of training instances and references (made when absent)")
        ap.add_argument("--workers", type=int, default=1)
        ap.add_argument("--out", required=True, help="training checkpoint (resumed when it exists)")
        ap.add_argument("--init", help="start from this exported model (fine-tuning, e.g. at another size; its "
                        "architecture wins; ignored when --out is resumed)")
        ap.add_argument("--seconds", type=float, default=seconds, help="training seconds (cumulative over resumes)")
        ap.add_argument("--batch", type=int, default=defaults["batch"])
        ap.add_argument("--lr", type=float, default=defaults["lr"])
        for k in ARCH:
            ap.add_argument(f"--{k.replace('_', '-')}", type=int, default=defaults[k])
        ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
        ap.add_argument("--seed", type=int, default=0)
        ap.add_argument("--save-every", type=float, default=60.0)
        ap.add_argument("--export", help="after training, write the model alone (fp16, what ships) here")
        ap.add_argument("--eval", default="", help="sizes (e.g. 50,200) to decode on the first --eval-count "
                        "test instances after training: a diagnostic beside the engine's scores")
        ap.add_argument("--eval-count", type=int, default=128)

    def parse(self, argv=None):
        import sys
        self.a = self.parser.parse_args(argv)
        self.command = f"python -m {self.module} " + " ".join(sys.argv[1:] if argv is None else argv)
        return self.a

    def start(self, make_model, cfg: dict):
        """-> (model, optimiser) on ``--device``, restored from ``--out`` when it exists (its
        configuration wins over the command line's), else started from ``--init``'s weights when
        given (its architecture wins; fresh optimiser, counters from zero, and its training record
        joins ``lineage`` so the export says what the model was trained on in all)."""
        a, self.dev = self.a, torch.device(self.a.device)
        self.state = {"updates": 0, "seconds": 0.0, "samples": 0}
        self.lineage = []  # the exported models this training started from, oldest first
        blob = torch.load(a.out, map_location=self.dev, weights_only=True) if Path(a.out).exists() else None
        init = torch.load(a.init, map_location=self.dev, weights_only=True) if blob is None and a.init else None
        if blob is not None:    # resuming: the checkpoint's settings
            cfg = {**cfg, **blob["cfg"]}
        elif init is not None:  # fine-tuning: the exported model's architecture
            cfg = {**cfg, **{k: init["cfg"][k] for k in ARCH}}
        self.cfg = cfg
        self.model = make_model(**{k: self.cfg[k] for k in ARCH}).to(self.dev)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg["lr"])
        if blob is not None:
            self.model.load_state_dict(blob["model"])
            self.opt.load_state_dict(blob["opt"])
            self.state = blob["state"]
            self.lineage = list(blob.get("lineage", []))
            print(f"resumed {a.out}: {self.state['updates']} updates, {self.state['seconds']:.0f} s", flush=True)
        elif init is not None:
            try:
                self.model.load_state_dict({k: v.float() for k, v in init["model"].items()})
            except RuntimeError as e:
                raise ValueError(f"--init {a.init} is not a model of this trainer ({self.module}): "
                                 f"{str(e).splitlines()[0]}") from None
            self.lineage = list(init.get("lineage", [])) + [
                {"file": Path(a.init).name, **init.get("state", {}), **init.get("train", {})}]
            print(f"starting from {a.init}: {self.lineage[-1]}", flush=True)
        return self.model, self.opt

    def cosine(self, elapsed: float) -> float:
        frac = min(1.0, (self.state["seconds"] + elapsed) / self.a.seconds)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))

    def chunks(self, train_chunk):
        """Runs ``train_chunk(seconds, seed) -> updates`` in ``--save-every`` pieces until
        ``--seconds`` in all, saving after each; yields after each piece (to print)."""
        a, st = self.a, self.state
        while st["seconds"] < a.seconds - 1e-6:
            t0 = time.monotonic()
            done = train_chunk(min(a.save_every, a.seconds - st["seconds"]), a.seed + st["updates"])
            st["seconds"] += time.monotonic() - t0
            st["updates"] += done
            st["samples"] += done * self.cfg["batch"]
            self.save(a.out)
            yield st

    def save(self, path, export: bool = False):
        sd = {k: (v.half() if export else v).cpu() for k, v in self.model.state_dict().items()}
        blob = {"model": sd, "cfg": {k: self.cfg[k] for k in self.cfg if k in ("lr", "batch", "augment", *ARCH)},
                "state": self.state, "train": {"n": self.a.n, "instances": self.n_instances, "device": str(self.dev),
                                               "command": self.command}, "lineage": self.lineage}
        if not export:
            blob["opt"] = self.opt.state_dict()
        tmp = Path(path).with_suffix(".tmp")
        torch.save(blob, tmp)
        tmp.replace(path)

    def data(self, make, what: str) -> dict:
        """The training pool: ``--data`` when it exists, else ``make()`` (a dict of arrays whose
        first holds one row per solved instance), saved there, with its cost printed."""
        path = Path(self.a.data)
        if path.exists():
            z = dict(np.load(path))
        else:
            t0 = time.monotonic()
            z = make()
            np.savez_compressed(path, **z)
            print(f"{len(next(iter(z.values())))} PyVRP {what} of N={self.a.n} in {time.monotonic() - t0:.0f} s "
                  f"({self.a.workers} workers)", flush=True)
        self.n_instances = int(len(next(iter(z.values()))))
        return z

    def train_on_pool(self, make_model, train_fn, to_pool, z: dict, what: str):
        """The imitation loop of the CVRP and OP entry points: the model (restored when
        ``--out`` exists), ``train_fn(model, pool, seconds, cfg, seed, opt=, schedule=, log=)``
        on ``to_pool(z, device)`` in checkpointed chunks with the recent loss printed, then the
        export."""
        a = self.a
        model, opt = self.start(make_model, {**self.defaults, "lr": a.lr, "batch": a.batch,
                                             **{k: getattr(a, k) for k in ARCH}})
        pool, losses = to_pool(z, self.dev), []
        chunk = lambda seconds, seed: train_fn(model, pool, seconds, self.cfg, seed, opt=opt, schedule=self.cosine,
                                               log=lambda u, loss: losses.append(loss))
        for st in self.chunks(chunk):
            loss = f"  loss {np.mean(losses[-5:]):.4f} (last logged batches)" if losses else ""
            print(f"{st['updates']:7d} updates  {st['samples']:10d} samples  {st['seconds']:6.0f} s{loss}", flush=True)
        if self.finish():
            print(f"--eval is not implemented for the {what} model: score it through the engine "
                  "(benchmarks/routing_bq_nco.py)", flush=True)

    def finish(self):
        if self.a.export:
            self.save(Path(self.a.export), export=True)
            print(f"exported {self.a.export}", flush=True)
        return [int(x) for x in self.a.eval.split(",") if x]


def main(argv=None):
    """Train the TSP model: reference tours by LKH (``--workers`` processes), then imitation;
    resumable (``--out`` is reloaded when it exists, ``--data`` reused)."""
    run = TrainingRun(main.__doc__, "mobench.solvers.bq_nco", DEFAULTS, DEFAULTS["train_n"], 20_000, 7200.0)
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
    from ..problems.routing.instances import tour_length
    return np.array([tour_length(c, t) for c, t in zip(coords, lkh_tours(coords, workers))])


def decoded_gap(model, coords: np.ndarray, ref: np.ndarray, beam: int = 1, knn: int = 0) -> tuple[float, float]:
    """(mean gap, %, of the model's tours of ``coords`` to the lengths ``ref``; decoding seconds),
    decoded on the model's device: printed by the training diagnostic and the validation script,
    never scored (the engine scores)."""
    from ..problems.routing.instances import tour_length
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
    from ..problems.routing.instances import tsp_test_set
    coords = tsp_test_set(n, count, 1000 + n)
    ref = lkh_lengths(coords, workers)
    for beam in (1, 16):
        gap, dt = decoded_gap(model, coords, ref, beam)
        print(f"N={n} beam={beam}: mean gap to LKH {gap:.3f}% over {count} instances, decoding "
              f"{dt:.1f} s on {dev}", flush=True)


if __name__ == "__main__":
    main()
