"""`bq-nco` for the 0/1 knapsack BQ-MDP (``problems/routing/knapsack.py``; Drakulic et al.,
NeurIPS 2023, their KP experiments): the state is the set of items that still fit and the
remaining capacity, re-encoded from scratch at every step; the action takes one item.

Model: each remaining item is a token with features (weight, value, weight / remaining
capacity, log(value / weight) / 4), embedded linearly; a pre-norm transformer encoder without
positional encoding; a linear score per token. Items that no longer fit are dropped from the
state (the capacity only shrinks, so they can never be taken again).

Training (imitation, as the paper's KP model): the optimal item set S of generated instances
(OR-Tools' branch-and-bound knapsack solver, exact; values scaled to integers by 1e7), a random
part of S taken in random order, and as target *every* remaining item of S: by the principle of
optimality the rest of S is an optimal answer of the sub-problem, and taking any of its items
keeps optimality, so the loss is -log(sum of the probabilities of S's remaining items) (the
order within S carries no information). Adam, cosine learning-rate decay over the whole
(resumable) run, bf16 autocast on a GPU.

Inference: greedy (the most probable item until none fits), batched over instances, exact
integer capacity arithmetic (the engine's rule).
Training: ``python -m mobench.solvers.bq_nco.knapsack --help``; the shipped model and its
command are in ``solvers/data/README.md``. The solver is ``bq-nco`` (``solvers/bq_nco/__init__.py``),
which picks this model for knapsack problems.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...problems.routing import WEIGHT_UNITS as UNITS  # knapsack weights' integer units
from . import common
from .common import ARCH, TrainingRun, encoder_stack, imitation_updates

SHIPPED = Path(__file__).parent.parent / "data" / "bq-nco-knapsack.pt"
DEFAULTS = {"d_model": 128, "heads": 8, "layers": 6, "ff": 512, "lr": 3e-4, "batch": 256}
FEATURES = 4


class KPModel(nn.Module):
    def __init__(self, d_model=128, heads=8, layers=6, ff=512):
        super().__init__()
        self.embed = nn.Linear(FEATURES, d_model)
        self.encoder = encoder_stack(d_model, heads, layers, ff)
        self.norm = nn.LayerNorm(d_model)
        self.score = nn.Linear(d_model, 1)

    def forward(self, feats: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """feats [B, M, 4] of the remaining items, pad [B, M] (True: no item there; every row
        has at least one item) -> logits [B, M], -inf on padding."""
        h = self.encoder(self.embed(feats), src_key_padding_mask=pad)
        return self.score(self.norm(h))[..., 0].float().masked_fill(pad, -math.inf)


def features(w: torch.Tensor, v: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
    """Token features from weights and values [B, M] (floats) and the capacity left [B]."""
    return torch.stack([w, v, w / left[:, None].clamp_min(1e-9),
                        torch.log(v.clamp_min(1e-9) / w.clamp_min(1e-9)) / 4], -1)


def compact(valid: torch.Tensor) -> torch.Tensor:
    """Column order putting each row's valid items first, cut to the longest row: [B, M]."""
    order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)
    return order[:, :max(1, int(valid.sum(1).max()))]


def optimal_sets(w_int: np.ndarray, values: np.ndarray, cap_int: int) -> np.ndarray:
    """Optimal item sets [M, N] (bool) by OR-Tools' branch-and-bound knapsack solver on
    integer weights and values scaled by 1e7 (exact up to that rounding of the values)."""
    from ortools.algorithms.python import knapsack_solver as ks
    out = np.zeros(w_int.shape, dtype=bool)
    for r, (w, v) in enumerate(zip(w_int, values)):
        s = ks.KnapsackSolver(ks.SolverType.KNAPSACK_MULTIDIMENSION_BRANCH_AND_BOUND_SOLVER, "bq")
        s.init(np.rint(v * 1e7).astype(np.int64).tolist(), [w.tolist()], [cap_int])
        s.solve()
        out[r] = [s.best_solution_contains(i) for i in range(len(w))]
    return out


def training_pool(n: int, count: int, seed: int, workers: int = 1):
    """``count`` generated instances of ``n`` items (seed ``seed``, never a test set's) and their
    optimal sets. -> (int weights [M, n], values [M, n], optimal [M, n] bool, capacity units)."""
    from ...problems.routing import knapsack_test_set
    insts = knapsack_test_set(n, count, seed)
    w = np.stack([i.int_weights()[0] for i in insts])
    cap = insts[0].int_weights()[1]
    v = np.stack([i.values for i in insts])
    chunks = np.array_split(np.arange(count), max(1, workers * 8))
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.starmap(optimal_sets, [(w[c], v[c], cap) for c in chunks])
    else:
        parts = [optimal_sets(w[c], v[c], cap) for c in chunks]
    return w, v, np.concatenate(parts), cap


def save_pool(path, seed: int, w, v, s):
    """The optimal sets as bits, with the generator's seed: the instances are regenerated on
    loading (a pool of 200,000 instances of 200 items is 5 MB instead of 300)."""
    np.savez_compressed(path, seed=seed, s=np.packbits(s, axis=1), n=s.shape[1], check=_check(w, v))


def load_pool(path):
    from ...problems.routing import knapsack_test_set
    z = np.load(path)
    n, seed, count = int(z["n"]), int(z["seed"]), len(z["s"])
    insts = knapsack_test_set(n, count, seed)
    w = np.stack([i.int_weights()[0] for i in insts])
    v = np.stack([i.values for i in insts])
    if _check(w, v) != str(z["check"]):
        raise RuntimeError(f"{path}: the regenerated instances differ from those the sets were computed on")
    return w, v, np.unpackbits(z["s"], axis=1, count=n).astype(bool), insts[0].int_weights()[1]


def _check(w, v) -> str:
    import hashlib
    return hashlib.sha256(w.astype(np.int64).tobytes() + v.astype(np.float64).tobytes()).hexdigest()[:16]


def sub_problems(W, V, S, cap: int, gen: torch.Generator):
    """A random sub-problem per row: a random part of the optimal set S taken (in random
    order). -> (features [B, M, 4], pad [B, M], target [B, M] bool: the rest of S, the capacity
    left [B] in integer units)."""
    B, N = W.shape
    dev = W.device
    size = S.sum(1)
    # items of S still to take: r in 1..|S|, log-uniform, so that the decisive last steps (few
    # items left, near the capacity boundary) are seen as often as the easy first ones
    r = torch.exp(torch.rand(B, generator=gen, device=dev) * torch.log(size.double() + 1)).long().clamp(1)
    k = (size - r.clamp(max=size)).clamp(min=0)                            # 0 .. |S| - 1 taken
    # the order in which S was taken: random for half the rows; for the other half by value /
    # weight, best first, as a trained model takes them, which leaves the decisive items near
    # the capacity boundary (a random order alone leaves easy items and misses those states)
    key = torch.where(torch.rand(B, 1, generator=gen, device=dev) < 0.5,
                      torch.rand(B, N, generator=gen, device=dev), -torch.log(V.float() / W.float()))
    rank = torch.argsort(torch.argsort(torch.where(S, key, math.inf), 1), 1)
    taken = S & (rank < k[:, None])
    left = cap - (W * taken).sum(1)                                         # integer units
    valid = ~taken & (W <= left[:, None])
    cols = compact(valid)
    w, v = torch.gather(W, 1, cols), torch.gather(V, 1, cols)
    pad = ~torch.gather(valid, 1, cols)
    target = torch.gather(S & ~taken, 1, cols) & ~pad
    scale = 1.0 / UNITS
    return features(w.float() * scale, v.float(), left.float() * scale), pad, target, left


def set_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The imitation loss: mean over rows of -log of the probability of taking any remaining item
    of the optimal set (``target``)."""
    return (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~target, -math.inf), 1)).mean()


def train(model, W, V, S, cap: int, seconds: float, cfg: dict, seed: int = 0, opt=None, schedule=None,
          max_updates: int | None = None, log=None) -> int:
    """Imitation of the optimal sets (tensors on the model's device; bf16 autocast on a GPU);
    -> the number of updates."""
    dev = W.device

    def batch_loss(gen):
        rows = torch.randint(len(W), (cfg["batch"],), generator=gen, device=dev)
        feats, pad, target, _ = sub_problems(W[rows], V[rows], S[rows], cap, gen)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(feats, pad)
        return set_loss(logits, target)
    return imitation_updates(model, batch_loss, seconds, cfg, seed, dev, opt, schedule, max_updates, log)


@torch.no_grad()
def decode(model, W_int: torch.Tensor, V: torch.Tensor, cap: int) -> torch.Tensor:
    """Greedy item sets [B, N] (bool): the most probable remaining item until none fits; the
    capacity in exact integer units."""
    B, N = W_int.shape
    dev = W_int.device
    taken = torch.zeros(B, N, dtype=torch.bool, device=dev)
    left = torch.full((B,), cap, dtype=torch.long, device=dev)
    while True:
        valid = ~taken & (W_int <= left[:, None])
        live = valid.any(1).nonzero()[:, 0]
        if len(live) == 0:
            return taken
        cols = compact(valid[live])
        w, v = torch.gather(W_int[live], 1, cols), torch.gather(V[live], 1, cols)
        pad = ~torch.gather(valid[live], 1, cols)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(features(w.float() / UNITS, v.float(), left[live].float() / UNITS), pad)
        item = cols[torch.arange(len(live), device=dev), logits.argmax(1)]
        taken[live, item] = True
        left[live] -= W_int[live, item]


def load_model(path, device="cpu") -> tuple[KPModel, dict]:
    return common.load_model(path, KPModel)


def solve_instances(model, insts, device="cpu") -> list[np.ndarray]:
    """Item index arrays per instance (instances grouped by size and capacity)."""
    out: list = [None] * len(insts)
    groups: dict = {}
    for i, inst in enumerate(insts):
        w, cap = inst.int_weights()
        groups.setdefault((inst.n, cap), []).append(i)
    for (n, cap), idx in groups.items():
        for part in np.array_split(np.array(idx), max(1, math.ceil(len(idx) / 512))):
            W = torch.as_tensor(np.stack([insts[i].int_weights()[0] for i in part]), device=device)
            V = torch.as_tensor(np.stack([insts[i].values for i in part]), dtype=torch.float32, device=device)
            for i, row in zip(part, decode(model, W, V, cap).cpu().numpy()):
                out[i] = np.flatnonzero(row)
    return out


def main(argv=None):
    """Train the knapsack model on optimal sets of generated instances; resumable (``--out`` is
    reloaded when it exists, ``--data`` reused)."""
    run = TrainingRun(main.__doc__, "mobench.solvers.bq_nco.knapsack", DEFAULTS, 200, 100_000, 3600.0)
    a = run.parse(argv)
    data = Path(a.data)
    if data.exists():
        w, v, s, cap = load_pool(data)
    else:
        t0 = time.monotonic()
        w, v, s, cap = training_pool(a.n, a.instances, 20_000 + a.seed, a.workers)
        save_pool(data, 20_000 + a.seed, w, v, s)
        print(f"{len(w)} optimal sets of N={a.n} in {time.monotonic() - t0:.0f} s ({a.workers} workers)", flush=True)
    run.n_instances = int(len(w))
    model, opt = run.start(KPModel, {**DEFAULTS, "lr": a.lr, "batch": a.batch, **{k: getattr(a, k) for k in ARCH}})
    W, V, S = (torch.as_tensor(x, device=run.dev) for x in (w, v.astype(np.float32), s))
    losses: list = []
    chunk = lambda seconds, seed: train(model, W, V, S, cap, seconds, run.cfg, seed, opt=opt, schedule=run.cosine,
                                        log=lambda u, loss: losses.append(loss))
    for st in run.chunks(chunk):
        loss = f"  loss {np.mean(losses[-5:]):.4f} (last logged batches)" if losses else ""
        print(f"{st['updates']:7d} updates  {st['samples']:10d} samples  {st['seconds']:6.0f} s{loss}", flush=True)
    for n in run.finish():
        diagnose(model.eval(), n, a.eval_count, run.dev)


def diagnose(model, n: int, count: int, dev):
    """Mean gap (%) of greedy answers to the optimum on the first ``count`` instances of the
    N = ``n`` test set, and the decoding time: printed, not scored (the engine scores)."""
    from ...problems.routing import knapsack_test_set
    from ...problems.routing import knapsack_dp
    insts = knapsack_test_set(n, count, 1000 + n)
    v = np.stack([i.values for i in insts])
    opt = np.array([knapsack_dp(i) for i in insts])
    t0 = time.monotonic()
    got = np.array([v[i, s].sum() for i, s in enumerate(solve_instances(model, insts, dev))])
    dt = time.monotonic() - t0
    from ...problems.routing import KnapsackBatch
    from ..routing_baselines import ratio_greedy  # the value / weight rule on the same instances, for scale
    b = ratio_greedy(KnapsackBatch(np.stack([i.weights for i in insts]), v, insts[0].capacity))
    ratio = (b.taken.numpy() * v).sum(1)
    print(f"N={n} greedy: mean gap to the optimum {100 * np.mean(1 - got / opt):.4f}% over {count} instances "
          f"(value/weight rule {100 * np.mean(1 - ratio / opt):.4f}%), "
          f"{np.mean(np.isclose(got, opt)) * 100:.0f}% solved exactly, decoding {dt:.1f} s on {dev}", flush=True)


if __name__ == "__main__":
    main()
