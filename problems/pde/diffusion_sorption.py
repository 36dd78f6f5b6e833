"""1D diffusion-sorption (PDEBench; Takamoto et al. 2022): the physics, the initial conditions,
the reference solver and the measures ``verify`` applies to a submitted field.

    R(u) u_t = D u_xx  on x in (0, 1), t in (0, T],     R(u) = 1 + (1 - phi)/phi rho_s k n u^(n - 1)
    u(0, t) = 1,   D u_x(1, t) + u(1, t) = 0,   u(x, 0) = c (a constant drawn per instance)

In conservation form, d/dt M(u) = D u_xx with M(u) = u + (1 - phi)/phi rho_s k u^n (dissolved
plus sorbed mass, M' = R), which is what the solver integrates: cell averages on N equal cells
(finite volumes, the boundary values imposed at the faces x = 0 and x = 1), then TR-BDF2 in
time (second order, L-stable) on graded steps, one Newton solve per stage with a tridiagonal
Jacobian diag(R(u)) - alpha A. All instances are one stacked banded system (LAPACK through
``scipy.linalg.solve_banded``), so a batch of 1,000 costs little more than one.

The right boundary condition: the issue and the paper write u(1, t) = D u_x(1, t); PDEBench's
solver implements the ghost value u_N = D (u_{N-2} - u_{N-1}) / dx, i.e. u = -D u_x, the
outflow condition (the diffusive flux out equals u). The written sign makes the steady state
u = 1 + x / (D - 1) negative at x = 1, where R is undefined, so the reference uses the
implemented sign; both give |u(1, t)| of order D (see README.md).
"""
from __future__ import annotations

import numpy as np

D = 5e-4
PHI = 0.29
RHO_S = 2880.0
K_F = 3.5e-4
N_F = 0.874
T_END = 500.0
EPS = 1e-6  # u^(n - 1) is regularised as (u + EPS)^(n - 1) (PDEBench's solver and the authors')
A_SORB = (1.0 - PHI) / PHI * RHO_S * K_F  # M(u) = u + A_SORB u^n
IC_LOW, IC_HIGH = 0.0, 0.2  # u(x, 0) = c ~ U(0, 0.2), one draw per instance (PDEBench)


def retardation(u):
    """R(u) = M'(u); for u <= 0 the constant R(0) (M continues linearly), as the authors' code."""
    xp = _ns(u)
    pos = u > 0
    safe = xp.where(pos, u, xp.zeros_like(u) if xp is not np else 0.0)
    return xp.where(pos, 1.0 + A_SORB * N_F * (safe + EPS) ** (N_F - 1.0),
                    1.0 + A_SORB * N_F * EPS ** (N_F - 1.0))


def mass(u):
    """M(u) = u + A_SORB ((u + EPS)^n - EPS^n), continued linearly (slope R(0)) below 0."""
    xp = _ns(u)
    pos = u > 0
    safe = xp.where(pos, u, xp.zeros_like(u) if xp is not np else 0.0)
    return xp.where(pos, u + A_SORB * ((safe + EPS) ** N_F - EPS ** N_F), retardation(xp.zeros_like(u)) * u)


def _ns(u):
    if isinstance(u, np.ndarray) or np.isscalar(u):
        return np
    import torch
    return torch


def cell_centres(nx: int) -> np.ndarray:
    return (np.arange(nx) + 0.5) / nx


def output_times(nt: int, t_end: float = T_END) -> np.ndarray:
    return np.linspace(0.0, t_end, nt)


def pdebench_ic(seed: int) -> float:
    """PDEBench's initial value for sample ``seed`` (``default_rng(seed).uniform(0, 0.2)``)."""
    return float(np.random.default_rng(seed).uniform(IC_LOW, IC_HIGH))


def right_face_value(u_last, dx: float):
    """u at x = 1 from D u_x + u = 0 with u_x = (u_f - u_last) / (dx / 2)."""
    return 2 * D * u_last / (dx + 2 * D)


def operator(nx: int):
    """The finite-volume operator: dM_i/dt = (A u)_i + b_i. -> (sub, diag, sup, b) of A."""
    dx = 1.0 / nx
    s = D / dx ** 2
    sub, diag, sup = np.full(nx, s), np.full(nx, -2 * s), np.full(nx, s)
    b = np.zeros(nx)
    # x = 0: flux -D (u_0 - 1) / (dx / 2) in; x = 1: flux u_f = 2 D u / (dx + 2 D) out
    diag[0] = -3 * s
    b[0] = 2 * s
    diag[-1] = -s - 2 * D / (dx + 2 * D) / dx
    sub[0] = sup[-1] = 0.0  # (unused corners)
    return sub, diag, sup, b


def time_grid(t_out: np.ndarray, dt_max: float, dt_min: float, growth: float) -> np.ndarray:
    """Steps from ``dt_min`` at t = 0 growing by ``growth`` up to ``dt_max`` (the boundary value
    jumps from c to 1 at t = 0), each output time hit exactly."""
    steps, t, dt = [0.0], 0.0, dt_min
    for t_next in t_out[1:]:
        while t < t_next:
            left = t_next - t
            h = left if left <= 1.3 * dt else (left / 2 if left < 2 * dt else dt)  # no sliver steps
            t = t_next if h == left else t + h
            steps.append(t)
            dt = min(dt * growth, dt_max)
    return np.array(steps)


class FVSolver:
    """Batched finite-volume + TR-BDF2 solver. ``solve(c)`` -> u [B, nt, nx] at the output
    times (row 0 is the initial value c)."""
    GAMMA = 2.0 - np.sqrt(2.0)

    def __init__(self, nx: int = 128, nt: int = 51, t_end: float = T_END, dt_max: float = 0.5,
                 dt_min: float = 1e-3, growth: float = 1.2, newton_tol: float = 1e-12, max_newton: int = 30):
        self.nx, self.nt, self.t_end = nx, nt, t_end
        self.t_out = output_times(nt, t_end)
        self.steps = time_grid(self.t_out, dt_max, dt_min, growth)
        self.sub, self.diag, self.sup, self.b = operator(nx)
        self.newton_tol, self.max_newton = newton_tol, max_newton
        self.newton_iterations = 0

    def apply(self, u):
        """(A u) for u [B, nx]."""
        out = self.diag * u
        out[:, 1:] += self.sub[1:] * u[:, :-1]
        out[:, :-1] += self.sup[:-1] * u[:, 1:]
        return out

    def _stage(self, u_guess, rhs, alpha):
        """Solve M(u) - alpha (A u + b) = rhs (rhs already holds the known terms) by Newton."""
        from scipy.linalg import solve_banded  # here: importing scipy.linalg costs 0.25 s
        B, n = u_guess.shape
        u = u_guess.copy()
        ab = np.zeros((3, B * n))
        up = np.tile(-alpha * self.sup, B)
        lo = np.tile(-alpha * self.sub, B)
        up.reshape(B, n)[:, -1] = 0.0  # no coupling between stacked instances
        lo.reshape(B, n)[:, 0] = 0.0
        ab[0, 1:] = up[:-1]
        ab[2, :-1] = lo[1:]
        for _ in range(self.max_newton):
            g = mass(u) - alpha * (self.apply(u) + self.b) - rhs
            ab[1] = (retardation(u) - alpha * self.diag).reshape(-1)
            delta = solve_banded((1, 1), ab, g.reshape(-1), check_finite=False).reshape(B, n)
            u -= delta
            self.newton_iterations += 1
            if np.abs(delta).max() <= self.newton_tol:
                return u
        raise RuntimeError(f"Newton did not converge (last step {np.abs(delta).max():.3e})")

    def solve(self, c) -> np.ndarray:
        c = np.atleast_1d(np.asarray(c, float))
        B, g = len(c), self.GAMMA
        u = np.repeat(c[:, None], self.nx, 1)
        out = np.empty((B, self.nt, self.nx))
        out[:, 0] = u
        k = 1
        w1, w2 = 1.0 / (g * (2 - g)), (1 - g) ** 2 / (g * (2 - g))
        wb = (1 - g) / (2 - g)
        for t0, t1 in zip(self.steps[:-1], self.steps[1:]):
            h = t1 - t0
            m0, f0 = mass(u), self.apply(u) + self.b
            # trapezoid to t0 + g h
            us = self._stage(u, m0 + 0.5 * g * h * f0, 0.5 * g * h)
            # BDF2 through (t0, t0 + g h, t1)
            u = self._stage(us, w1 * mass(us) - w2 * m0, wb * h)
            if k < self.nt and abs(t1 - self.t_out[k]) < 1e-9:
                out[:, k] = u
                k += 1
        assert k == self.nt
        return out


def solve_ivp_reference(c: float, nx: int, nt: int, t_end: float = T_END, rtol=1e-10, atol=1e-12):
    """The same semi-discretisation integrated by scipy's BDF (adaptive order and step): the
    independent check of the time integrator. du/dt = (A u + b) / R(u)."""
    from scipy.integrate import solve_ivp
    from scipy.sparse import diags
    sub, diag, sup, b = operator(nx)
    A = diags([sub[1:], diag, sup[:-1]], [-1, 0, 1], format="csr")

    def rhs(_, u):
        return (A @ u + b) / retardation(u)

    def jac(_, u):
        r = retardation(u)
        # d/du_j [(A u + b)_i / R(u_i)]: A / R row-wise, minus (A u + b) R'(u) / R^2 on the diagonal
        du = 1e-7 * np.maximum(np.abs(u), 1e-6)
        dR = (retardation(u + du) - r) / du
        return diags(1.0 / r) @ A - diags((A @ u + b) * dR / r ** 2)

    t_out = output_times(nt, t_end)
    sol = solve_ivp(rhs, (0.0, t_end), np.full(nx, float(c)), method="BDF", t_eval=t_out,
                    rtol=rtol, atol=atol, jac=jac)
    if not sol.success:
        raise RuntimeError(sol.message)
    return sol.y.T  # [nt, nx]


# --- measures of a submitted field (what ``verify`` reports) -------------------------------

def pde_residual(u: np.ndarray, t: np.ndarray, nx: int) -> np.ndarray:
    """T x [(M(u^{n+1}) - M(u^n)) / dt - D (L u^{n+1} + L u^n) / 2] on the interior cells
    (a Crank-Nicolson balance between consecutive snapshots, 3-point Laplacian), for every
    interval after the first (the boundary value jumps at t = 0). Dimensionless (scaled by T)."""
    dx, dt = 1.0 / nx, np.diff(t)
    m = mass(u)
    lap = (u[:, 2:] - 2 * u[:, 1:-1] + u[:, :-2]) / dx ** 2
    r = (m[1:, 1:-1] - m[:-1, 1:-1]) / dt[:, None] - D * 0.5 * (lap[1:] + lap[:-1])
    return t[-1] * r[1:]


def boundary_error(u: np.ndarray, nx: int) -> np.ndarray:
    """[left, right] errors per snapshot t > 0: u(0) - 1 and u(1) + D u_x(1), the face values
    extrapolated from the two nearest cells (second order)."""
    dx = 1.0 / nx
    left = 1.5 * u[1:, 0] - 0.5 * u[1:, 1] - 1.0
    uf = 1.5 * u[1:, -1] - 0.5 * u[1:, -2]
    ux = (u[1:, -1] - u[1:, -2]) / dx
    return np.stack([left, uf + D * ux], 1)
