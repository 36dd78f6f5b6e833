"""2D incompressible Navier-Stokes in vorticity form on the periodic unit square: the physics,
the initial vorticity, the pseudo-spectral reference solver and the measures ``verify`` applies
to a submitted field.

    w_t + u . grad w = nu lap w + f,    u = (psi_y, -psi_x),   -lap psi = w,   (x, y) in [0, 1)^2

Fields are point values on the grid x_i = i / n, y_j = j / n (no duplicated endpoint: the
layout is periodic by construction), arrays [..., x, y]; a trajectory is [nt, n, n] with
snapshot k at t_k = k T / (nt - 1) (row 0 is the initial vorticity).

Initial vorticity: Li et al.'s Gaussian random field (the FNO papers' Navier-Stokes data,
``random_fields.py``: N(0, 7^1.5 (-lap + 49 I)^-2.5), zero mean), band-limited to the Fourier
modes |k_x|, |k_y| <= ``IC_KMAX`` = 7 so that an instance is one function whatever the grid,
sampled at its points. 7 is below the smallest grid allowed (8 points): no mode then aliases
onto the mean on any grid, so the sampled field has zero mean exactly (as the circulation
constraint requires; with modes up to 16 a 16-point grid sees the k = +-16 modes as a mean of
several 1e-4), and grids of 16 or more points represent it exactly. The modes beyond carry 0.37%
of the unbounded spectrum's variance.

Reference: Fourier pseudo-spectral in space (2/3-rule dealiasing of the advection term),
Crank-Nicolson for diffusion and Heun for advection (Li et al.'s scheme; second order), fixed
steps that hit every snapshot, float64, all instances as one batch; the solution is computed on
``solver_n`` >= n points per side and sampled at the output grid's points.
"""
from __future__ import annotations

import math

import numpy as np
import torch

NU = 1e-4
T_END = 5.0
GRF_TAU, GRF_ALPHA = 7.0, 2.5
GRF_SIGMA = GRF_TAU ** (0.5 * (2 * GRF_ALPHA - 2))  # 7^1.5, Li et al.'s scale
IC_KMAX = 7  # < 8, the smallest grid: see the module's docstring
FORCINGS = ("none", "li")


def grid_points(n: int) -> np.ndarray:
    return np.arange(n) / n


def snapshot_times(nt: int, t_end: float = T_END) -> np.ndarray:
    return np.linspace(0.0, t_end, nt)


def _spectrum() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = np.arange(-IC_KMAX, IC_KMAX + 1)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    lam = math.sqrt(2.0) * GRF_SIGMA * (4 * math.pi ** 2 * (kx ** 2 + ky ** 2) + GRF_TAU ** 2) ** (-GRF_ALPHA / 2)
    lam[IC_KMAX, IC_KMAX] = 0.0  # zero mean
    return kx, ky, lam


def grf_coefficients(seed: int) -> np.ndarray:
    """The complex amplitudes a_k [2K+1, 2K+1] (k = -K..K per axis) of instance ``seed``:
    a_k = sqrt(2) sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2) z_k, z_k complex standard normal
    (real and imaginary parts N(0, 1/2), as torch's complex randn), w0 = Re sum a_k e^{2 pi i k.x}."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, 2 * IC_KMAX + 1, 2 * IC_KMAX + 1)) / math.sqrt(2.0)
    return _spectrum()[2] * (z[0] + 1j * z[1])


def grf_field(seed: int, n: int) -> np.ndarray:
    """w0 [n, n] at the grid points (exact point values: modes beyond n/2 fold onto their
    aliases, which is what sampling the band-limited function gives)."""
    a = grf_coefficients(seed)
    kx, ky, _ = _spectrum()
    full = np.zeros((n, n), complex)
    np.add.at(full, (kx % n, ky % n), a)
    return np.real(np.fft.ifft2(full)) * n * n


def grf_std() -> float:
    """The pointwise standard deviation of w0 (sigma^2 sum lambda_k^2 / 2 summed over k)."""
    return float(np.sqrt(0.5 * (_spectrum()[2] ** 2).sum()))


def forcing_field(kind: str, n: int) -> np.ndarray:
    """f [n, n]: ``none`` (the authors' data, ``NS-no-forcing``) or ``li``, Li et al.'s
    0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))."""
    if kind == "none":
        return np.zeros((n, n))
    if kind == "li":
        s = grid_points(n)[:, None] + grid_points(n)[None, :]
        return 0.1 * (np.sin(2 * np.pi * s) + np.cos(2 * np.pi * s))
    raise ValueError(f"forcing must be one of {FORCINGS}, got {kind!r}")


class Spectral:
    """Wavenumbers of the rfft2 layout [n, n // 2 + 1] (physical: 2 pi k) and the spectral
    operators on fields [..., n, n]."""

    def __init__(self, n: int, dtype=torch.float64, device="cpu"):
        self.n = n
        k = torch.fft.fftfreq(n, 1.0 / n, dtype=dtype, device=device)
        kr = torch.fft.rfftfreq(n, 1.0 / n, dtype=dtype, device=device)
        kx = (2 * math.pi * k)[:, None].expand(n, n // 2 + 1)
        ky = (2 * math.pi * kr)[None, :].expand(n, n // 2 + 1)
        self.k2 = kx ** 2 + ky ** 2
        # first derivatives: 0 at the Nyquist wavenumber of an even grid (its mode is the cosine
        # through the grid points, whose derivative vanishes there; i k would make the product
        # non-Hermitian, and the inverse FFT would keep an arbitrary half of it)
        odd = lambda kk: torch.where(kk.abs() == n // 2, 0.0, kk) if n % 2 == 0 else kk  # noqa: E731
        self.kx = (2 * math.pi * odd(k))[:, None].expand(n, n // 2 + 1)
        self.ky = (2 * math.pi * odd(kr))[None, :].expand(n, n // 2 + 1)
        self.inv_k2 = torch.where(self.k2 > 0, 1.0 / torch.where(self.k2 > 0, self.k2, 1.0), 0.0)
        # 2/3 rule: keep |k| < n/3 per axis (integer wavenumbers)
        kmax = n / 3.0
        self.dealias = ((k.abs() < kmax)[:, None] & (kr.abs() < kmax)[None, :]).to(dtype)
        # multipliers of w_hat giving u, v, w_x, w_y, lap w
        self.multipliers = (1j * self.ky * self.inv_k2, -1j * self.kx * self.inv_k2, 1j * self.kx, 1j * self.ky,
                            -self.k2 + 0j)

    def fft(self, w):
        return torch.fft.rfft2(w)

    def ifft(self, w_hat):
        return torch.fft.irfft2(w_hat, s=(self.n, self.n))

    def velocity_hat(self, w_hat):
        """(u_hat, v_hat) of u = psi_y, v = -psi_x with psi_hat = w_hat / |k|^2."""
        psi = w_hat * self.inv_k2
        return 1j * self.ky * psi, -1j * self.kx * psi

    def terms(self, w):
        """(u, v, w_x, w_y, lap w) of fields w [..., n, n]: the periodic spectral derivatives."""
        wh = self.fft(w)
        return tuple(self.ifft(wh * m.to(wh.dtype)) for m in self.multipliers)

    def advection(self, w):
        """u . grad w of fields w [..., n, n] on the grid (no dealiasing)."""
        u, v, wx, wy, _ = self.terms(w)
        return u * wx + v * wy


class SpectralSolver:
    """Batched pseudo-spectral solver. ``solve(w0)`` with w0 [B, m, m] on its own grid (m =
    ``solver_n``) -> w [B, nt, n, n] at the output snapshots, sampled at the output points
    (every m / n-th point). ``steps``: time steps per snapshot interval."""

    def __init__(self, n: int, nt: int, solver_n: int, steps: int, nu: float = NU, forcing: str = "none",
                 t_end: float = T_END):
        if solver_n % n:
            raise ValueError(f"solver_n={solver_n} must be a multiple of the output grid n={n}")
        self.n, self.nt, self.m, self.steps, self.nu, self.t_end = n, nt, solver_n, steps, nu, t_end
        self.forcing = forcing
        self.sp = Spectral(solver_n)
        self.f_hat = self.sp.fft(torch.as_tensor(forcing_field(forcing, solver_n)))
        self.dt = t_end / ((nt - 1) * steps)

    def nonlinear_hat(self, w_hat):
        """FFT of u . grad w, dealiased (the product's modes beyond 2/3 of Nyquist dropped)."""
        sp = self.sp
        uh, vh = sp.velocity_hat(w_hat)
        u, v, wx, wy = sp.ifft(torch.stack([uh, vh, 1j * sp.kx * w_hat, 1j * sp.ky * w_hat])).unbind(0)
        return sp.fft(u * wx + v * wy) * sp.dealias

    def step(self, w_hat):
        """One Crank-Nicolson (diffusion) + Heun (advection, forcing) step."""
        dt, a = self.dt, 0.5 * self.dt * self.nu * self.sp.k2
        n0 = self.nonlinear_hat(w_hat)
        lhs, rhs = 1.0 + a, (1.0 - a) * w_hat
        pred = (rhs + dt * (self.f_hat - n0)) / lhs
        return (rhs + dt * (self.f_hat - 0.5 * (n0 + self.nonlinear_hat(pred)))) / lhs

    @torch.no_grad()
    def solve(self, w0) -> np.ndarray:
        w0 = torch.as_tensor(np.asarray(w0), dtype=torch.float64)
        s = self.m // self.n
        out = torch.empty(w0.shape[0], self.nt, self.n, self.n, dtype=torch.float64)
        w_hat = self.sp.fft(w0)
        out[:, 0] = w0[:, ::s, ::s]
        for k in range(1, self.nt):
            for _ in range(self.steps):
                w_hat = self.step(w_hat)
            out[:, k] = self.sp.ifft(w_hat)[:, ::s, ::s]
        return out.numpy()


def taylor_green(n: int, t: np.ndarray, nu: float = NU, k: tuple[int, int] = (1, 1), amp: float = 1.0):
    """The exact unforced solution w = amp sin(2 pi k_x x) sin(2 pi k_y y) exp(-nu |2 pi k|^2 t)
    (a single eigenmode of the Laplacian: its advection term vanishes) -> [len(t), n, n]."""
    x = grid_points(n)
    shape = np.sin(2 * np.pi * k[0] * x)[:, None] * np.sin(2 * np.pi * k[1] * x)[None, :]
    decay = np.exp(-nu * 4 * np.pi ** 2 * (k[0] ** 2 + k[1] ** 2) * np.asarray(t))
    return amp * decay[:, None, None] * shape


# --- measures of a submitted field (what ``verify`` reports) -------------------------------

def pde_residual(w: np.ndarray, t: np.ndarray, nu: float = NU, f: np.ndarray | None = None,
                 scale: float = 1.0) -> np.ndarray:
    """T / scale x [(w^{k+1} - E w^k) / dt + (A(w^{k+1}) + E A(w^k)) / 2 - phi f] for every
    snapshot interval -> [nt - 1, n, n]: the residual of the variation-of-constants form
    w(t + dt) = E w(t) + int_0^dt E(dt - s) (f - A(w(t + s))) ds, E(s) = exp(nu s lap), with
    viscosity integrated exactly (E per Fourier mode), the advection term A = u . grad w by the
    trapezoid rule and the steady forcing exactly (phi = (E - 1) / (dt nu lap), 1 at k = 0).
    A and the modes by periodic spectral derivatives on the field's own grid. To first order
    in dt it is the trapezoid rule on w_t + A(w) - nu lap w - f (nu = 0: exactly that); it is
    zero (to rounding) on any solution of the unforced or steadily forced heat equation, such
    as a single Fourier mode or a sum of modes of one |k| (their advection vanishes), and
    second order in dt otherwise. Dimensionless with ``scale`` the initial vorticity's RMS."""
    w = torch.as_tensor(w, dtype=torch.float64)
    sp = Spectral(w.shape[-1])
    u, v, wx, wy, _ = sp.terms(w)
    adv_hat = sp.fft(u * wx + v * wy)
    w_hat = sp.fft(w)
    dt = torch.as_tensor(np.diff(t), dtype=torch.float64)[:, None, None]
    x = nu * sp.k2 * dt  # [nt - 1, n, n // 2 + 1]
    E = torch.exp(-x)
    phi = torch.where(x > 1e-8, -torch.expm1(-x) / torch.where(x > 1e-8, x, 1.0), 1.0 - 0.5 * x)
    r_hat = (w_hat[1:] - E * w_hat[:-1]) / dt + 0.5 * (adv_hat[1:] + E * adv_hat[:-1])
    if f is not None:
        r_hat = r_hat - phi * sp.fft(torch.as_tensor(f, dtype=torch.float64))
    return (t[-1] / scale * sp.ifft(r_hat)).numpy()


def circulation(w: np.ndarray) -> np.ndarray:
    """The spatial mean of w per snapshot [nt]: the circulation around the periodic square.
    It must vanish: -lap psi = w has a periodic solution (so a periodic, divergence-free u)
    only for zero-mean w, and the dynamics keeps the mean at 0."""
    return np.asarray(w).mean((-2, -1))
