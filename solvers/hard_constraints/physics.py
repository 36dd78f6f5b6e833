"""Diffusion-sorption physics as the methods see it: the authors' finite-difference stencils,
the physics-informed loss, and the hard-constraint layer (one global constraint, or K experts
over slabs of x), following ``neptune/pdes/diffusion_sorption.py`` and
``neptune/models/constraints`` / ``models/MoE`` of the authors' code.

Stencils (the authors'): first derivatives central inside, one-sided at the ends, on the
physical grid (t in seconds); u_xx is the first-derivative operator applied twice. The
operators are linear, so they are applied to the basis channels before the weights.
"""
from __future__ import annotations

import math

import torch
from torch.func import jvp

from ...problems.pde import D, retardation
from .lm import LMOptions, solve

PAPER_GRID_POINTS = 101 * 1024      # the paper's grid; the loss's PDE norm is scaled to it
HC_FRACTION = 20000 / PAPER_GRID_POINTS   # PI-HC: 20k points of the 101 x 1024 grid
MOE_FRACTION = 20000 / (101 * 256)        # PI-HC-MoE: 20k points of each expert's 101 x 256 slab
RIDGE = 1e-4


def d1(f, coord, dim: int):
    """First derivative along ``dim`` (coordinates ``coord``): central inside, one-sided ends."""
    f = f.movedim(dim, -1)
    c = torch.as_tensor(coord, dtype=f.dtype, device=f.device)
    inner = (f[..., 2:] - f[..., :-2]) / (c[2:] - c[:-2])
    first = (f[..., 1:2] - f[..., :1]) / (c[1] - c[0])
    last = (f[..., -1:] - f[..., -2:-1]) / (c[-1] - c[-2])
    return torch.cat([first, inner, last], -1).movedim(-1, dim)


def terms(u, t, x):
    """(u_t, u_x, u_xx) of u [..., nt, nx]."""
    ux = d1(u, x, -1)
    return d1(u, t, -2), ux, d1(ux, x, -1)


def pde_residual(u, t, x):
    """u_t - D / R(u) u_xx on the whole grid (the authors' stencils)."""
    ut, _, uxx = terms(u, t, x)
    return ut - D / retardation(u) * uxx


def physics_loss(u, u0, t, x):
    """The authors' training loss (no data): relative IC error + left and right boundary
    errors + PDE residual norm, each an unsquared L2 norm (batch means). Our choices: the right
    boundary term is the Robin condition u + D u_x = 0 (the authors used the reference data's
    trace there), both boundary terms skip t = 0 (the initial value is incompatible with
    u(0, t) = 1), and the PDE norm is scaled to the paper's 101 x 1024 grid so that the terms
    keep their balance on a smaller grid. -> (loss, parts)."""
    ic = torch.linalg.norm(u[:, 0] - u0) / torch.linalg.norm(u0)
    bcl = torch.linalg.norm(u[:, 1:, 0] - 1.0, dim=1).mean()
    ux = d1(u, x, -1)
    bcr = torch.linalg.norm(u[:, 1:, -1] + D * ux[:, 1:, -1], dim=1).mean()
    r = pde_residual(u, t, x).flatten(1)
    pde = (torch.linalg.norm(r, dim=1) * math.sqrt(PAPER_GRID_POINTS / r.shape[1])).mean()
    return ic + bcl + bcr + pde, {"ic": ic, "bc_left": bcl, "bc_right": bcr, "pde": pde}


def constraint_residual(w, phi, phit, phixx, ic_basis, u0, bc_left, bc_right):
    """The hard constraint's residual vector for one problem per row of w [P, N]: the PDE at the
    sampled points, the initial condition relative to u0 (all cells), u(x_0, t) - 1 and
    u + D u_x at the last cell (t > 0), and the ridge 1e-4 w."""
    def dot(basis):  # [P, m, N] . w -> [P, m]
        return (basis @ w.unsqueeze(-1)).squeeze(-1)
    pde = dot(phit) - D * dot(phixx) / retardation(dot(phi))
    ic = (dot(ic_basis) - u0) / u0
    left = dot(bc_left) - 1.0
    right = dot(bc_right)
    return torch.cat([pde, ic, left, right, RIDGE * w], 1)


def _constraint_jacobian(w, phi, phit, phixx, ic_basis, u0, bc_left, bc_right):
    """(residual, Jacobian [P, M, N]) of ``constraint_residual``, analytically (the forward-mode
    Jacobian costs a hundred times the residual)."""
    def dot(basis):
        return (basis @ w.unsqueeze(-1)).squeeze(-1)
    u, v = dot(phi), dot(phixx)
    R, dR = jvp(retardation, (u,), (torch.ones_like(u),))
    pde = dot(phit) - D * v / R
    J_pde = phit - D * (phixx / R[..., None] - (v * dR / R ** 2)[..., None] * phi)
    ic = (dot(ic_basis) - u0) / u0
    eye = torch.eye(w.shape[1], dtype=w.dtype, device=w.device).expand(w.shape[0], -1, -1)
    r = torch.cat([pde, ic, dot(bc_left) - 1.0, dot(bc_right), RIDGE * w], 1)
    J = torch.cat([J_pde, ic_basis / u0[..., None], bc_left, bc_right, RIDGE * eye], 1)
    return r, J


constraint_residual.jacobian = _constraint_jacobian


class HardConstraint:
    """Weights of the N basis functions chosen per sample (and per expert) by the LM solve so
    that the constraint residual is least; the output field is the weighted basis.
    ``experts`` = K equal slabs of x, each with its own weights and its own ``points`` sampled
    points of its slab; the initial and boundary blocks are global and repeated for every
    expert (the authors' code). K = 1 is PI-HC."""

    def __init__(self, points: int, experts: int = 1, opts: LMOptions | None = None):
        self.points, self.experts = points, experts
        self.opts = opts or LMOptions()
        self.stats: dict = {}

    def __call__(self, phi, u0, t, x, generator: torch.Generator):
        """phi [B, N, nt, nx] (any float dtype), u0 [B, nx] -> u [B, nt, nx] (float64)."""
        phi = phi.double()
        u0 = torch.as_tensor(u0, dtype=torch.float64, device=phi.device)
        B, N, nt, nx = phi.shape
        K = self.experts
        if nx % K:
            raise ValueError(f"{nx} cells do not split into {K} equal expert slabs")
        w_slab = nx // K
        n = min(self.points, nt * w_slab)
        pt, px, pxx = terms(phi, t, x)
        # sampled points: per sample and expert, uniform without replacement over the slab
        idx = torch.stack([torch.randperm(nt * w_slab, generator=generator)[:n].sort().values
                           for _ in range(B * K)]).to(phi.device)  # [B*K, n]
        ti, xi = idx // w_slab, idx % w_slab + (torch.arange(B * K, device=phi.device) % K)[:, None] * w_slab
        flat = ti * nx + xi  # [B*K, n]

        def gather(f):  # [B, N, nt, nx] -> [B*K, n, N]
            f = f.flatten(2).repeat_interleave(K, 0)  # [B*K, N, nt*nx]
            return torch.gather(f, 2, flat[:, None, :].expand(-1, N, -1)).transpose(1, 2)
        rep = lambda f: f.repeat_interleave(K, 0)
        ic_basis = rep(phi[:, :, 0, :].transpose(1, 2))                  # [B*K, nx, N]
        bc_left = rep(phi[:, :, 1:, 0].transpose(1, 2))                  # [B*K, nt-1, N]
        bc_right = rep((phi[:, :, 1:, -1] + D * px[:, :, 1:, -1]).transpose(1, 2))
        w0 = torch.ones(B * K, N, dtype=torch.float64, device=phi.device)
        stats: dict = {}
        w = solve(constraint_residual, w0, gather(phi), gather(pt), gather(pxx), ic_basis, rep(u0), bc_left, bc_right,
                  opts=self.opts, stats=stats)
        self.stats = stats
        w = w.view(B, K, N)
        slabs = [torch.einsum("bnts,bn->bts", phi[..., k * w_slab:(k + 1) * w_slab], w[:, k]) for k in range(K)]
        return torch.cat(slabs, -1)
