"""Navier-Stokes (vorticity form, periodic) as the methods see it, following the authors'
``neptune/pdes/navier_stokes_2d.py``: the residual w_t + u . grad w - nu lap w - f with w_t by
central differences between snapshots (one-sided at the ends) and velocity from the stream
function; the hard-constraint layer (one global constraint, or K experts over a 2 x 2 split of
the square, all times) with the field w = w0 + Phi c, c chosen per sample (and expert) by the
LM solve of ``lm.py`` so that the residual vanishes at sampled points.

Our choices against the authors' code: space derivatives are periodic spectral ones (theirs:
``jnp.gradient``, one-sided at the edges of a periodic domain), the LM residual is the
residual itself (theirs: its square, which makes the problem quartic and its Jacobian vanish at
a root), and the residual is made dimensionless (x T / the initial field's RMS) so that the
LM's Cauchy tolerances are relative.

The residual is quadratic in c: with the basis' velocities U_n and gradients G_n at a point,
r(c) = r0 + A c + sum_d (U_d c)(G_d c), A = Phi_t + u0 . G + g0 . U - nu lap Phi (u0, g0:
velocity and gradient of w0), so its Jacobian, the gradient J^T r and the Hessian that the
implicit backward needs are written out (forward-over-reverse costs ten times as much here).
"""
from __future__ import annotations

import torch

from ...problems.pde import Spectral
from .lm import LMOptions, solve
from .physics import d1

RIDGE = 1e-4
PAPER_POINTS = 20000                  # per constraint problem (the authors' config)
HC_FRACTION = PAPER_POINTS / 64 ** 3  # PI-HC: 20k points of the 64^3 training grid
MOE_FRACTION = PAPER_POINTS / (64 * 32 * 32)  # PI-HC-MoE: 20k of each expert's 64 x 32 x 32 block
SPLITS = {1: (1, 1), 2: (2, 1), 4: (2, 2)}     # experts -> (x halves, y halves); t is never split


def spatial_terms(w):
    """(u, v, w_x, w_y, lap w) of fields [..., n, n] (periodic, spectral)."""
    return Spectral(w.shape[-1], dtype=w.dtype, device=w.device).terms(w)


def residual(w, t, nu: float, f, scale: float):
    """The methods' residual of trajectories w [..., nt, n, n], dimensionless (x T / scale):
    central differences in t, spectral derivatives in space."""
    u, v, wx, wy, lap = spatial_terms(w)
    r = d1(w, t, -3) + u * wx + v * wy - nu * lap
    if f is not None:
        r = r - f
    return float(t[-1]) / scale * r


def _parts(c, r0, A, U, G):
    """(the PDE residual [P, M], U c and G c [P, 2, M]) with U, G [P, 2, M, N] (d = x, y)."""
    uc = (U @ c[:, None, :, None]).squeeze(-1)
    gc = (G @ c[:, None, :, None]).squeeze(-1)
    r = r0 + (A @ c[..., None]).squeeze(-1) + (uc * gc).sum(1)
    return r, uc, gc


def constraint_residual(c, r0, A, U, G):
    """r(c) [P, M + N] for P problems: r0 [P, M] + A c + sum_d (U_d c)(G_d c) (A [P, M, N],
    U and G [P, 2, M, N]), then the ridge 1e-4 c."""
    return torch.cat([_parts(c, r0, A, U, G)[0], RIDGE * c], 1)


def _pde_jacobian(c, r0, A, U, G):
    r, uc, gc = _parts(c, r0, A, U, G)
    return r, A + (gc[..., None] * U).sum(1) + (uc[..., None] * G).sum(1)


def _jacobian(c, r0, A, U, G):
    r, J = _pde_jacobian(c, r0, A, U, G)
    eye = torch.eye(c.shape[1], dtype=c.dtype, device=c.device).expand(c.shape[0], -1, -1)
    return torch.cat([r, RIDGE * c], 1), torch.cat([J, RIDGE * eye], 1)


def _gradient(c, r0, A, U, G):
    """J^T r of 0.5 ||r||^2 (the ridge included)."""
    r, J = _pde_jacobian(c, r0, A, U, G)
    return (J.transpose(1, 2) @ r[..., None]).squeeze(-1) + RIDGE ** 2 * c


def _hessian(c, r0, A, U, G):
    """J^T J + sum_m r_m d2 r_m: the residual is quadratic, d2 r_m = sum_d U_dm G_dm^T + G_dm U_dm^T."""
    r, J = _pde_jacobian(c, r0, A, U, G)
    UrG = (U.transpose(-1, -2) @ (r[:, None, :, None] * G)).sum(1)
    eye = torch.eye(c.shape[1], dtype=c.dtype, device=c.device)
    return J.transpose(1, 2) @ J + UrG + UrG.transpose(1, 2) + RIDGE ** 2 * eye


constraint_residual.jacobian = _jacobian
constraint_residual.gradient = _gradient
constraint_residual.hessian = _hessian


def expert_map(n: int, experts: int, device="cpu") -> torch.Tensor:
    """[n, n] expert index of every grid point: x halves then y halves, row-major."""
    if experts not in SPLITS:
        raise ValueError(f"experts must be one of {sorted(SPLITS)}, got {experts}")
    sx, sy = SPLITS[experts]
    if n % sx or n % sy:
        raise ValueError(f"{n} points do not split into {sx} x {sy} experts")
    i = torch.arange(n, device=device)
    return (i // (n // sx))[:, None] * sy + (i // (n // sy))[None, :]


class NSHardConstraint:
    """Per sample (and expert) weights c of the N basis functions so that the residual of
    w0 + Phi c is least at ``points`` sampled points of the expert's block (all times, a
    quarter of the square for K = 4); the output is stitched from the experts' fields.
    K = 1 is PI-HC."""

    def __init__(self, points: int, experts: int = 1, opts: LMOptions | None = None):
        self.points, self.experts = points, experts
        self.opts = opts or LMOptions()
        self.stats: dict = {}

    def __call__(self, phi, w0, t, nu: float, f, scale: float, generator: torch.Generator):
        """phi [B, N, nt, n, n], w0 [B, n, n] -> (c [B, K, N], expert fields [B, K, nt, n, n]
        (float64), the expert map [n, n])."""
        w0 = torch.as_tensor(w0, dtype=torch.float64, device=phi.device)
        B, N, nt, n, _ = phi.shape
        K = self.experts
        emap = expert_map(n, K, phi.device)
        s = float(t[-1]) / scale
        # the basis' terms (autograd flows through them) in the network's precision, float64
        # from the sampled points on; those of w0 (constant in time) in float64
        basis_terms = (d1(phi, t, -3), *spatial_terms(phi))  # phi_t, u, v, phi_x, phi_y, lap phi
        u0, v0, gx0, gy0, lap0 = spatial_terms(w0)
        base = u0 * gx0 + v0 * gy0 - nu * lap0 - (0.0 if f is None else f)
        # sampled points: per sample and expert, uniform without replacement over its block
        cells = [torch.nonzero(emap.flatten() == k).squeeze(1) for k in range(K)]  # [n*n/K] each
        per = nt * len(cells[0])
        m = min(self.points, per)
        idx = []
        for b in range(B):
            for k in range(K):
                j = torch.randperm(per, generator=generator)[:m].sort().values.to(phi.device)
                idx.append((j // len(cells[k])) * n * n + cells[k][j % len(cells[k])])
        flat = torch.stack(idx).view(B, K * m)  # into nt*n*n, per sample

        def at(x):  # [B, N, nt, n, n] -> [B*K, m, N]
            x = torch.gather(x.flatten(2), 2, flat[:, None, :].expand(-1, N, -1))  # [B, N, K*m]
            return x.view(B, N, K, m).permute(0, 2, 3, 1).reshape(B * K, m, N).double()

        def at0(x):  # [B, n, n] (constant in time) -> [B*K, m, 1]
            return torch.gather(x.flatten(1), 1, flat % (n * n)).view(B * K, m, 1)
        pt, pu, pv, pgx, pgy, plap = (at(x) for x in basis_terms)
        u0, v0, gx0, gy0 = (at0(x) for x in (u0, v0, gx0, gy0))
        r0 = s * at0(base)[..., 0]
        A = s * (pt + u0 * pgx + v0 * pgy + gx0 * pu + gy0 * pv - nu * plap)
        U = s * torch.stack([pu, pv], 1)
        G = torch.stack([pgx, pgy], 1)
        c0 = torch.zeros(B * K, N, dtype=torch.float64, device=phi.device)
        stats: dict = {}
        c = solve(constraint_residual, c0, r0, A, U, G, opts=self.opts, stats=stats).view(B, K, N)
        self.stats = stats
        fields = w0[:, None, None] + torch.einsum("bntxy,bkn->bktxy", phi.double(), c)
        return c, fields, emap


def stitch(fields, emap):
    """[B, K, nt, n, n] expert fields -> [B, nt, n, n], each point from its expert."""
    K = fields.shape[1]
    sel = torch.nn.functional.one_hot(emap, K).to(fields.dtype).permute(2, 0, 1)  # [K, n, n]
    return (fields * sel[None, :, None]).sum(1)
