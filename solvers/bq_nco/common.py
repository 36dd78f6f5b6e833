"""What the BQ-NCO models share (TSP, CVRP, OP, knapsack): the encoder, the origin/depot token
model of the routing problems, the dihedral augmentation, the imitation-learning loop, beam
expansion, grouped decoding, loading a model file, and the command-line training run."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


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


def load_model(path, model_class, device="cpu") -> tuple[nn.Module, dict]:
    """A trained ``model_class`` from an exported policy or a training checkpoint (both carry
    their architecture); -> (model in eval mode, the file's metadata)."""
    blob = torch.load(path, map_location=device, weights_only=True)
    model = model_class(**{k: blob["cfg"][k] for k in ARCH}).to(device)
    model.load_state_dict({k: v.float() for k, v in blob["model"].items()})
    return model.eval(), {k: v for k, v in blob.items() if k not in ("model", "opt")}




class TrainingRun:
    """What the training entry points (``python -m mobench.solvers.bq_nco.<problem>``) share: the
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
