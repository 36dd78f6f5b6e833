"""The four learned solution operators of the PI-HC-MoE paper on diffusion-sorption, their
training loop, and their checkpoints.

- ``pi-sc``: FNO -> u (one channel), trained on the physics loss (soft constraint).
- ``pi-hc``: FNO -> N = 16 basis functions (GELU) -> one global hard constraint (LM solve).
- ``pi-hc-moe``: the same basis, K = 4 experts over equal slabs of x, each its own LM solve.
- ``fno``: FNO -> u trained on reference solutions (relative L2 data loss, no physics).

Training (the authors' ``configs/training/ds.yaml``): batch 6, Adam lr 1e-3 halved every
``decay_every`` of the steps (800 of the paper's 4,000) down to 1e-4, gradients clipped to
global norm 1; the physics-informed variants see only initial conditions (PDEBench seeds
0-7999), never a solution; the model kept is the best on 24 development initial conditions
(seeds 8000-8999). The FNO runs in float32; the constraint solve and everything after it in
float64.

    python -m mobench.solvers.hard_constraints.model --variant pi-hc-moe --seconds 900 --out pi-hc-moe.pt
"""
from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import numpy as np
import torch

from .fno import FNO2d
from .lm import LMOptions
from .physics import HC_FRACTION, MOE_FRACTION, HardConstraint, physics_loss

VARIANTS = {
    "pi-sc": dict(basis=1, activate_last=False, experts=0, fraction=0.0, loss="physics"),
    "pi-hc": dict(basis=16, activate_last=True, experts=1, fraction=HC_FRACTION, loss="physics"),
    "pi-hc-moe": dict(basis=16, activate_last=True, experts=4, fraction=MOE_FRACTION, loss="physics"),
    "fno": dict(basis=1, activate_last=False, experts=0, fraction=0.0, loss="data"),
}
# The FNO: the authors' 5 Fourier layers and 128-wide projection at width 32 (theirs: a lift
# to 32, then 64) and 6 x 8 modes (theirs 8 x 8), so that training fits a CPU and a checkpoint
# stays near 2 MB in float16 (the paper grid's 101 snapshots become 51 by default).
FNO = dict(cin=3, lift=32, width=32, layers=5, modes=(6, 8), fc=128)
TRAIN = dict(batch=6, lr=1e-3, decay_every=0.2, decay=0.5, lr_min=1e-4, clip=1.0, eval_every=50, dev=24,
             lm_steps=50, data_pool=512)


class OperatorModel(torch.nn.Module):
    """u0 [B, nx] on the grid (t [nt], x [nx]) -> u [B, nt, nx]."""

    def __init__(self, variant: str, lm_steps: int = 50, points: int | None = None, experts: int | None = None):
        super().__init__()
        v = VARIANTS[variant]
        self.variant = variant
        self.net = FNO2d(cout=v["basis"], activate_last=v["activate_last"], **FNO)
        self.experts = v["experts"] if experts is None else experts
        self.fraction = v["fraction"]
        self.points = points  # per constraint problem; None: the paper's share of the (slab's) grid
        self.lm = LMOptions(max_steps=lm_steps)
        self.constraint = None

    def basis(self, u0, t, x):
        t = torch.as_tensor(t, dtype=torch.float32)
        x = torch.as_tensor(x, dtype=torch.float32)
        u0 = torch.as_tensor(u0, dtype=torch.float32)
        B, nt, nx = u0.shape[0], len(t), len(x)
        grid = torch.stack([(t / t[-1])[:, None].expand(nt, nx), (x / x[-1])[None, :].expand(nt, nx)])
        inp = torch.cat([grid.expand(B, 2, nt, nx), u0[:, None, None, :].expand(B, 1, nt, nx)], 1)
        return self.net(inp)

    def forward(self, u0, t, x, generator: torch.Generator | None = None):
        phi = self.basis(u0, t, x)
        if not self.experts:
            return phi[:, 0]
        nt, nx = phi.shape[-2:]
        pts = self.points or max(1, round(self.fraction * nt * nx / self.experts))
        self.constraint = HardConstraint(pts, self.experts, self.lm)
        return self.constraint(phi, u0, t, x, generator or torch.Generator().manual_seed(0))


def relative_l2(u, ref):
    """Per sample ||u - ref|| / ||ref|| over the space-time grid."""
    return (torch.linalg.norm((u - ref).flatten(1), dim=1) / torch.linalg.norm(ref.flatten(1), dim=1))


def lr_at(step: int, steps: int, cfg: dict) -> float:
    every = max(1, round(cfg["decay_every"] * steps))
    return max(cfg["lr"] * cfg["decay"] ** (step // every), cfg["lr_min"])


def train(problem, variant: str, steps: int, seconds: float = math.inf, seed: int = 0, log=None,
          cfg: dict | None = None, model: OperatorModel | None = None) -> tuple[OperatorModel, dict]:
    """Train on ``problem``'s grid for ``steps`` Adam steps or ``seconds``, whichever ends
    first; -> (the best model on the development set, info)."""
    cfg = {**TRAIN, **(cfg or {})}
    start = time.monotonic()  # the data (reference solutions for fno) counts against ``seconds``
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t, x = problem.grid()
    nx = len(x)
    model = model or OperatorModel(variant, cfg["lm_steps"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    dev_c, dev_u = problem.training_data(cfg["dev"], 0, split="dev")
    dev_u = torch.as_tensor(dev_u, dtype=torch.float64)
    if VARIANTS[variant]["loss"] == "data":
        pool_c, pool_u = problem.training_data(cfg["data_pool"], seed)
        pool_u = torch.as_tensor(pool_u, dtype=torch.float32)
    else:
        pool_c = problem.training_ics(8000, seed)
    rng = np.random.default_rng(seed)
    order, pos = rng.permutation(len(pool_c)), 0
    best, best_state, history = math.inf, None, []
    step = 0
    for step in range(1, steps + 1):
        if time.monotonic() - start > seconds:
            step -= 1
            break
        if pos + cfg["batch"] > len(order):
            order, pos = rng.permutation(len(pool_c)), 0
        idx = order[pos:pos + cfg["batch"]]
        pos += cfg["batch"]
        u0 = torch.as_tensor(pool_c[idx], dtype=torch.float64)[:, None].expand(-1, nx)
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1, steps, cfg)
        model.train()
        u = model(u0, t, x, gen)
        if VARIANTS[variant]["loss"] == "data":
            loss = relative_l2(u, pool_u[idx]).mean()
        else:
            loss, _ = physics_loss(u, u0.to(u.dtype), t, x)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        for p in model.parameters():  # the authors' nan_to_num on the update
            if p.grad is not None:
                torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        opt.step()
        if step % cfg["eval_every"] == 0 or step == steps:
            err = float(evaluate(model, dev_c, t, x, dev_u, seed=1).mean())
            history.append({"step": step, "seconds": time.monotonic() - start, "loss": float(loss), "dev_rel_l2": err})
            if log is not None:
                log(step, err, loss=float(loss))
            if err < best:
                best, best_state = err, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, {"steps": step, "seconds": time.monotonic() - start, "dev_rel_l2": best, "history": history}


@torch.no_grad()
def predict(model: OperatorModel, c, t, x, seed: int = 0, batch: int = 8) -> np.ndarray:
    """Fields [n, nt, nx] (float64) for constant initial values ``c``; the constraint points
    are drawn from ``seed``."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    c = np.asarray(c, float)
    out = []
    for i in range(0, len(c), batch):
        u0 = torch.as_tensor(c[i:i + batch], dtype=torch.float64)[:, None].expand(-1, len(x))
        out.append(model(u0, t, x, gen).double().numpy())
    return np.concatenate(out)


def evaluate(model, c, t, x, ref, seed: int = 0) -> torch.Tensor:
    return relative_l2(torch.as_tensor(predict(model, c, t, x, seed)), ref)


def save(model: OperatorModel, path, meta: dict) -> None:
    """The model alone (float16 weights) with its architecture and how it was trained."""
    state = {k: v.detach().to(torch.float16) for k, v in model.net.state_dict().items()}
    torch.save({"variant": model.variant, "fno": {**model.net.config, "modes": list(model.net.config["modes"])},
                "experts": model.experts, "state": state, "meta": meta}, path)


def load(path, lm_steps: int = 50) -> OperatorModel:
    ck = torch.load(path, weights_only=True)
    model = OperatorModel(ck["variant"], lm_steps, experts=ck["experts"])
    model.net.load_state_dict({k: v.float() for k, v in ck["state"].items()})
    model.meta = ck["meta"]
    return model


def train_cli(description: str, variants, target: str, steps: int, seconds: float, train_fn, save_fn,
              one_thread: bool = False) -> None:
    """The command line that trains and saves a shipped operator (this module's and ns_model's)."""
    import mobench
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--variant", choices=sorted(variants), required=True)
    ap.add_argument("--target", default=target)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--seconds", type=float, default=seconds)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if one_thread:
        torch.set_num_threads(1)
    problem = mobench.make(a.target)
    t0 = time.time()

    def log(step, err, loss):
        print(f"step {step:5d}  {time.time() - t0:7.1f} s  loss {loss:.4f}  dev rel L2 {err:.4f}", flush=True)
    model, info = train_fn(problem, a.variant, a.steps, a.seconds, a.seed, log)
    meta = {"target": problem.key, "steps": info["steps"], "seconds": round(info["seconds"], 1), "seed": a.seed,
            "dev_rel_l2": info["dev_rel_l2"], "command": f"--variant {a.variant} --steps {a.steps} --seconds {a.seconds:g}"}
    save_fn(model, a.out, meta)
    print(f"saved {a.out} ({Path(a.out).stat().st_size / 1e6:.2f} MB): {meta}")


def main():
    train_cli("train a diffusion-sorption operator (CPU)", VARIANTS, "pde/diffusion-sorption-v0", 4000, 900.0,
              train, save)


if __name__ == "__main__":
    main()
