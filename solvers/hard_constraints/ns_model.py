"""The four learned solution operators on 2D Navier-Stokes (``pde/navier-stokes-2d-v0``),
their training and checkpoints; the diffusion-sorption counterparts are in ``model.py``.

The network is an FNO over (x, y) with time as channels: input w0 (divided by the initial
field's RMS) and sin/cos of 2 pi x and 2 pi y (periodic position features), output ``nt``
channels (``pi-sc``, ``fno``) or N x nt (the N = 64 basis functions of ``pi-hc`` and
``pi-hc-moe``, with the authors' final GELU). The authors' "mollifier" makes every output meet
the initial condition and zero circulation: a channel g becomes (t / T) (g - its spatial
mean), the field w0 + RMS x that (soft) or w0 + Phi c (hard). ``pi-hc-moe`` has K = 4 experts
over a 2 x 2 split of the square (all times), the authors' [1, 2, 2].

Training (the authors' ``configs/training/ns.yaml``): batch 4, Adam from lr 1e-3 decaying
exponentially (to 1e-4 over the planned steps here), gradients clipped to norm 1, loss = the
PDE residual's RMS alone for the physics-informed variants (the initial condition holds by
construction), relative L2 to reference trajectories for ``fno``; the model kept is the best
on 8 development fields (seeds 8000-8999).

    python -m mobench.solvers.hard_constraints.ns_model --variant pi-hc-moe --seconds 1200 --out ns-pi-hc-moe.pt
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from ...problems.pde import grf_std
from .fno import FNO2d
from .lm import LMOptions
from .model import relative_l2
from .ns_physics import HC_FRACTION, MOE_FRACTION, NSHardConstraint, residual, stitch

NS_VARIANTS = {
    "pi-sc": dict(basis=1, activate_last=False, experts=0, fraction=0.0, loss="physics"),
    "pi-hc": dict(basis=64, activate_last=True, experts=1, fraction=HC_FRACTION, loss="physics"),
    "pi-hc-moe": dict(basis=64, activate_last=True, experts=4, fraction=MOE_FRACTION, loss="physics"),
    "fno": dict(basis=1, activate_last=False, experts=0, fraction=0.0, loss="data"),
}
# The authors' FNO3d has 8 layers, width 64, 8 modes per axis; here an FNO2d over space with
# time as channels, 4 layers of width 24 and 8 x 8 modes: CPU time, and checkpoints near 2 MB.
NS_FNO = dict(cin=5, lift=24, width=24, layers=4, modes=(8, 8), fc=128)
NS_TRAIN = dict(batch=4, lr=1e-3, lr_end=1e-4, clip=1.0, eval_every=25, dev=8, lm_steps=50, data_pool=256)


class NSOperatorModel(torch.nn.Module):
    """w0 [B, n, n] on the grid (t [nt], x [n]) -> w [B, nt, n, n] (and, for the hard
    constraint, the weights and the expert fields in ``self.last``)."""

    def __init__(self, variant: str, nt: int, lm_steps: int = 50, points: int | None = None,
                 experts: int | None = None):
        super().__init__()
        v = NS_VARIANTS[variant]
        self.variant, self.nt, self.basis_n = variant, nt, v["basis"]
        self.net = FNO2d(cout=v["basis"] * nt, activate_last=v["activate_last"], **NS_FNO)
        self.experts = v["experts"] if experts is None else experts
        self.fraction = v["fraction"]
        self.points = points
        self.lm = LMOptions(max_steps=lm_steps)
        self.scale = grf_std()
        self.constraint = None
        self.last: dict = {}

    def channels(self, w0, t, x):
        """The mollified outputs [B, C, nt, n, n]: (t / T) (g - spatial mean of g)."""
        w0 = torch.as_tensor(w0, dtype=torch.float32)
        B, n = w0.shape[0], w0.shape[-1]
        xs = 2 * math.pi * torch.as_tensor(x, dtype=torch.float32)
        feats = torch.stack([torch.sin(xs)[:, None].expand(n, n), torch.cos(xs)[:, None].expand(n, n),
                             torch.sin(xs)[None, :].expand(n, n), torch.cos(xs)[None, :].expand(n, n)])
        inp = torch.cat([w0[:, None] / self.scale, feats.expand(B, 4, n, n)], 1)
        g = self.net(inp).view(B, self.basis_n, self.nt, n, n)
        ramp = torch.as_tensor(np.asarray(t) / t[-1], dtype=g.dtype)[:, None, None]
        return ramp * (g - g.mean((-2, -1), keepdim=True))

    def forward(self, w0, t, x, nu: float, f=None, generator: torch.Generator | None = None):
        if len(t) != self.nt:
            raise ValueError(f"this model predicts {self.nt} snapshots, the grid has {len(t)}")
        phi = self.channels(w0, t, x)
        w0 = torch.as_tensor(w0)
        if not self.experts:
            return w0.to(phi.dtype)[:, None] + self.scale * phi[:, 0]
        nt, n = phi.shape[2], phi.shape[-1]
        pts = self.points or max(1, round(self.fraction * nt * n * n / self.experts))
        self.constraint = NSHardConstraint(pts, self.experts, self.lm)
        c, fields, emap = self.constraint(phi, w0, t, nu, f, self.scale, generator or torch.Generator().manual_seed(0))
        self.last = {"weights": c, "fields": fields, "experts": emap}
        return stitch(fields, emap)


def physics_loss(model: NSOperatorModel, w, t, nu: float, f):
    """RMS of the dimensionless residual: of the field (soft), or of each expert's field on its
    own block (hard; K = 1: the global field)."""
    if not model.experts:
        return residual(w, t, nu, f, model.scale).pow(2).mean().sqrt()
    fields, emap = model.last["fields"], model.last["experts"]
    r = residual(fields, t, nu, f, model.scale)  # [B, K, nt, n, n]
    return stitch(r, emap).pow(2).mean().sqrt()


def train(problem, variant: str, steps: int, seconds: float = math.inf, seed: int = 0, log=None,
          cfg: dict | None = None, model: NSOperatorModel | None = None) -> tuple[NSOperatorModel, dict]:
    """Train on ``problem``'s grid for ``steps`` Adam steps or ``seconds``, whichever ends first;
    -> (the best model on the development fields, info)."""
    cfg = {**NS_TRAIN, **(cfg or {})}
    start = time.monotonic()  # the data (reference trajectories for fno) counts against ``seconds``
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t, x = problem.grid()
    nu, f = problem.viscosity(), _forcing(problem)
    model = model or NSOperatorModel(variant, len(t), cfg["lm_steps"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    dev_w0, dev_w = problem.training_data(cfg["dev"], 0, split="dev")
    dev_w = torch.as_tensor(dev_w, dtype=torch.float64)
    if NS_VARIANTS[variant]["loss"] == "data":
        pool_w0, pool_w = problem.training_data(cfg["data_pool"], seed)
        pool_w = torch.as_tensor(pool_w, dtype=torch.float32)
    else:
        pool_w0, pool_w = None, None
    rng = np.random.default_rng(seed)
    best, best_state, history, step = math.inf, None, [], 0
    for step in range(1, steps + 1):
        if time.monotonic() - start > seconds:
            step -= 1
            break
        if pool_w0 is not None:
            idx = rng.choice(len(pool_w0), cfg["batch"], replace=False)
            w0 = torch.as_tensor(pool_w0[idx])
        else:  # a fresh batch of training fields every step (seeds 0-7999)
            w0 = torch.as_tensor(problem.training_ics(cfg["batch"], int(rng.integers(2 ** 31))))
        for g in opt.param_groups:
            g["lr"] = cfg["lr"] * (cfg["lr_end"] / cfg["lr"]) ** ((step - 1) / max(1, steps - 1))
        model.train()
        w = model(w0, t, x, nu, f, gen)
        if pool_w is not None:
            loss = relative_l2(w.float(), pool_w[idx]).mean()
        else:
            loss = physics_loss(model, w, t, nu, f)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        for p in model.parameters():
            if p.grad is not None:
                torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        opt.step()
        if step % cfg["eval_every"] == 0 or step == steps:
            err = float(relative_l2(torch.as_tensor(predict(model, problem, dev_w0, seed=1)), dev_w).mean())
            history.append({"step": step, "seconds": time.monotonic() - start, "loss": float(loss), "dev_rel_l2": err})
            if log is not None:
                log(step, err, loss=float(loss))
            if err < best:
                best, best_state = err, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, {"steps": step, "seconds": time.monotonic() - start, "dev_rel_l2": best, "history": history}


def _forcing(problem):
    f = problem.forcing()
    return None if not np.any(f) else torch.as_tensor(f, dtype=torch.float64)


@torch.no_grad()
def predict(model: NSOperatorModel, problem, w0, seed: int = 0, batch: int = 8) -> np.ndarray:
    """Trajectories [len(w0), nt, n, n] (float64) on ``problem``'s grid; the constraint points
    are drawn from ``seed``."""
    model.eval()
    t, x = problem.grid()
    nu, f = problem.viscosity(), _forcing(problem)
    gen = torch.Generator().manual_seed(seed)
    out = [model(torch.as_tensor(w0[i:i + batch]), t, x, nu, f, gen).double().numpy()
           for i in range(0, len(w0), batch)]
    return np.concatenate(out)


def save(model: NSOperatorModel, path, meta: dict) -> None:
    """The model alone (float16 weights) with its architecture and how it was trained."""
    state = {k: v.detach().to(torch.float16) for k, v in model.net.state_dict().items()}
    torch.save({"variant": model.variant, "problem": "navier-stokes-2d", "nt": model.nt,
                "fno": {**model.net.config, "modes": list(model.net.config["modes"])},
                "experts": model.experts, "state": state, "meta": meta}, path)


def load(path, lm_steps: int = 50) -> NSOperatorModel:
    ck = torch.load(path, weights_only=True)
    if ck.get("problem") != "navier-stokes-2d":
        raise ValueError(f"{path} is not a Navier-Stokes model")
    model = NSOperatorModel(ck["variant"], ck["nt"], lm_steps, experts=ck["experts"])
    model.net.load_state_dict({k: v.float() for k, v in ck["state"].items()})
    model.meta = ck["meta"]
    return model


def main():
    from .model import train_cli
    train_cli("train a Navier-Stokes operator (CPU)", NS_VARIANTS, "pde/navier-stokes-2d-v0", 2000, 1200.0,
              train, save, one_thread=True)


if __name__ == "__main__":
    main()
