"""PDE solution operators scored per instance (Chalapathi, Du, Krishnapriyan, "Scaling
physics-informed hard constraints with mixture-of-experts", ICLR 2024, arXiv 2402.13412).

``pde/diffusion-sorption-v0``: PDEBench's 1D diffusion-sorption equation (see
``diffusion_sorption.py``) on ``nx`` finite-volume cells of (0, 1) and ``nt`` snapshots of
[0, 500] s (default 128 x 51; the paper's 1024 x 101 as parameters). An instance is an initial
condition u(x, 0) = c, c = ``default_rng(seed).uniform(0, 0.2)`` as PDEBench draws it, with the
test seeds 9000 + i for i < ``count`` (default 200; the paper's 1,000 as a parameter); ``training_data(n, seed)`` draws from the
seeds 0-7999 (``split="dev"``: 8000-8999), never a test seed.
Answer: one field u[nt, nx] (cell centres, row 0 = t = 0) per instance. Objective: the relative
L2 error ||u - u_ref|| / ||u_ref|| over the space-time grid (min). Constraint costs: the
dimensionless PDE residual (RMS over interior cells and intervals after the first, at most
twice the reference solution's own worst value on that grid) and the boundary-condition error
(RMS over t > 0 of u(0) - 1 and u(1) + D u_x(1), at most 0.01). The reference solution: our
finite-volume + TR-BDF2 solver (validated against scipy's BDF and by grid refinement in
tests/test_pde.py), cached under $MOBENCH_CACHE/pde keyed by a checksum of the instances, grid
and solver settings. The objective's optimum is 0 by construction, so the engine's reference
is ``none`` (no gap); its details give the reference's own error estimate.

``pde/navier-stokes-2d-v0``: the 2D incompressible vorticity equation on the periodic unit
square (see ``navier_stokes.py``), nu = 1e-4, T = 5 s, unforced as the authors' data (Li et al.'s
forcing as ``forcing=li``), on ``n`` x ``n`` points and ``nt`` snapshots (default 32 x 32 x 16;
the paper's 256 x 256 x 64 as parameters). An instance is an initial vorticity, Li et al.'s
Gaussian random field drawn from ``default_rng(9000 + i)``; ``training_data(n, seed)`` draws
seeds 0-7999 (``split="dev"``: 8000-8999). Answer: one field w[nt, n, n] per instance.
Objective: relative L2 error to the pseudo-spectral reference (min). Constraint costs: the
dimensionless PDE residual between snapshots, the initial-condition error and the circulation
(mean vorticity, which must vanish for a periodic divergence-free velocity to exist).
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ...cache import cache_dir, cached_json
from ...errors import InvalidSolution
from ...problem import Problem
from ...registry import Param, register, register_suite
from ...spec import Constraint, Objective, Reference, Spec
from .diffusion_sorption import (A_SORB, D, EPS, IC_HIGH, IC_LOW, K_F, N_F, PHI, RHO_S, T_END, FVSolver,
                                 boundary_error, cell_centres, mass, output_times, pde_residual, pdebench_ic,
                                 retardation, right_face_value, solve_ivp_reference)
from .navier_stokes import (FORCINGS, GRF_ALPHA, GRF_SIGMA, GRF_TAU, IC_KMAX, NU, Spectral, SpectralSolver,
                            circulation, forcing_field, grf_field, grf_std, grid_points, snapshot_times, taylor_green)
from .navier_stokes import T_END as NS_T_END
from .navier_stokes import pde_residual as ns_pde_residual

TEST_SEED = 9000          # test instance i: PDEBench seed 9000 + i
TRAIN_SEEDS = (0, 8000)   # training_data(split="train") draws from these PDEBench seeds
DEV_SEEDS = (8000, 9000)  # split="dev"
RESIDUAL_FACTOR = 2.0     # pde_residual limit: this x the reference's worst value (c = 0) on the grid
BC_LIMIT = 0.01           # bc_error limit (1% of the boundary value at x = 0)
SOLVER_SETTINGS = dict(dt_max=0.5, dt_min=1e-3, growth=1.2)  # part of the cache key
CACHE_VERSION = 1


@dataclass(frozen=True)
class DSInstance:
    """One initial condition: u(x, 0) = c on every cell; ``seed`` is PDEBench's sample seed."""
    index: int
    seed: int
    c: float


@runtime_checkable
class DiffusionSorptionView(Protocol):
    """The diffusion-sorption grid, instances and training data: ``grid()``, ``instances()``,
    ``training_ics(n, seed)``, ``training_data(n, seed)``."""

    def grid(self) -> tuple[np.ndarray, np.ndarray]: ...

    def training_ics(self, n: int, seed: int, split: str = "train") -> np.ndarray: ...

    def training_data(self, n: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]: ...


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(np.asarray(p, dtype=float).tobytes() if not isinstance(p, str) else p.encode())
        h.update(b"|")
    return h.hexdigest()[:16]


def _cached_solutions(c: np.ndarray, nx: int, nt: int) -> np.ndarray:
    """Reference fields [n, nt, nx] (float32) for initial values ``c``, from an .npz under
    $MOBENCH_CACHE/pde named by a checksum of the values, grid and solver settings, or
    computed and written there atomically."""
    key = _digest(c, f"{nx}x{nt}", repr(sorted(SOLVER_SETTINGS.items())), f"v{CACHE_VERSION}")
    f = cache_dir("pde") / f"ds_{nx}x{nt}_{key}.npz"
    if f.exists():
        try:
            with np.load(f) as z:
                u = z["u"]
            if u.shape == (len(c), nt, nx):
                return u
        except (OSError, ValueError, KeyError):
            pass
    u = np.concatenate([FVSolver(nx, nt, **SOLVER_SETTINGS).solve(c[i:i + 250]) for i in range(0, len(c), 250)])
    u = u.astype(np.float32)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_name(f"{f.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, u=u, c=c)
    tmp.replace(f)
    return u


def reference_residual(nx: int, nt: int) -> float:
    """The reference solution's PDE residual on this grid for c = 0 (its largest over c in
    [0, 0.2]), cached."""
    def compute():
        u = FVSolver(nx, nt, **SOLVER_SETTINGS).solve([0.0])[0]
        return {"value": float(np.sqrt(np.mean(pde_residual(u, output_times(nt), nx) ** 2)))}
    return cached_json("pde", f"ds_residual_{nx}x{nt}_v{CACHE_VERSION}", compute)["value"]


class DiffusionSorption(Problem):
    def __init__(self, target, count: int, nx: int, nt: int):
        super().__init__(target)
        self.nx, self.nt, self.count = nx, nt, count
        self._instances = [DSInstance(i, TEST_SEED + i, pdebench_ic(TEST_SEED + i)) for i in range(count)]
        self.residual_limit = RESIDUAL_FACTOR * reference_residual(nx, nt)
        self.spec = Spec(
            id=self.id, objectives=(Objective("rel_l2", "min"),),
            constraints=(Constraint("pde_residual", self.residual_limit), Constraint("bc_error", BC_LIMIT)),
            answer="solutions",
            description=f"1D diffusion-sorption, {count} initial conditions, {nx} cells x {nt} snapshots of [0, 500] s",
            tags=("pde", "diffusion-sorption"))
        self._reference_fields = None

    # the view
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(t [nt] in seconds, x [nx] cell centres)."""
        return output_times(self.nt), cell_centres(self.nx)

    def instances(self) -> list[DSInstance]:
        return self._instances

    def initial_values(self) -> np.ndarray:
        return np.array([i.c for i in self._instances])

    def training_ics(self, n: int, seed: int, split: str = "train") -> np.ndarray:
        """``n`` initial values c, PDEBench seeds drawn without replacement by ``seed`` from the
        split's pool (``train``: 0-7999, ``dev``: 8000-8999; never a test seed)."""
        if split not in ("train", "dev"):
            raise ValueError(f"training_ics: split must be 'train' or 'dev', got {split!r}")
        lo, hi = TRAIN_SEEDS if split == "train" else DEV_SEEDS
        if not 0 < n <= hi - lo:
            raise ValueError(f"training_ics: n must be in 1..{hi - lo}, got {n}")
        seeds = lo + np.random.default_rng(seed).choice(hi - lo, n, replace=False)
        return np.array([pdebench_ic(int(s)) for s in seeds])

    def training_data(self, n: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """``n`` (initial value c [n], solution [n, nt, nx]) pairs on this grid (the initial
        values of ``training_ics``; solutions from the reference solver, cached)."""
        c = self.training_ics(n, seed, split)
        return c, _cached_solutions(c, self.nx, self.nt)

    def reference_fields(self) -> np.ndarray:
        """The test instances' reference solutions [count, nt, nx] (float32, cached)."""
        if self._reference_fields is None:
            self._reference_fields = _cached_solutions(self.initial_values(), self.nx, self.nt)
        return self._reference_fields

    def check_field(self, field) -> np.ndarray:
        """The field as float64 [nt, nx], or one InvalidSolution naming what is wrong."""
        try:
            u = np.asarray(field.detach().cpu() if hasattr(field, "detach") else field, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InvalidSolution(f"{self.id}: a field must be a numeric array of shape ({self.nt}, {self.nx}): {e}") from None
        if u.shape != (self.nt, self.nx):
            raise InvalidSolution(f"{self.id}: a field must have shape ({self.nt}, {self.nx}) "
                                  f"(snapshots x cells), got {u.shape}")
        if not np.isfinite(u).all():
            raise InvalidSolution(f"{self.id}: the field has {int((~np.isfinite(u)).sum())} NaN or infinite values")
        return u

    def measures(self, u: np.ndarray) -> tuple[float, float]:
        """(pde_residual, bc_error) of a field [nt, nx]."""
        t = output_times(self.nt)
        res = float(np.sqrt(np.mean(pde_residual(u, t, self.nx) ** 2)))
        bc = float(np.sqrt(np.mean(boundary_error(u, self.nx) ** 2)))
        return res, bc

    def verify(self, index, solution):
        u = self.check_field(solution)
        ref = self.reference_fields()[index].astype(np.float64)
        err = float(np.linalg.norm(u - ref) / np.linalg.norm(ref))
        return np.array([err]), np.array(self.measures(u)), True

    def reference_kind(self) -> str:
        return "none"

    def reference(self) -> Reference:
        self.reference_fields()  # computed (and cached) before the runs score against it
        est = self.reference_error_estimate()
        return Reference.none(
            "the objective is the relative L2 distance to the numerical reference solution (finite volumes + "
            "TR-BDF2, validated against scipy BDF and by grid refinement); its optimum is 0, so no gap; "
            f"the reference's own error on this grid (vs 2x finer cells and steps, 3 ICs): {est:.1e}")

    def reference_error_estimate(self) -> float:
        """Relative L2 distance between this grid's reference and one on cells and time steps
        halved (averaged back onto these cells), worst of c = 0.01, 0.1, 0.2; cached."""
        def compute():
            c = np.array([0.01, 0.1, 0.2])
            u = FVSolver(self.nx, self.nt, **SOLVER_SETTINGS).solve(c)
            fine = {**SOLVER_SETTINGS, "dt_max": SOLVER_SETTINGS["dt_max"] / 2, "dt_min": SOLVER_SETTINGS["dt_min"] / 2}
            v = FVSolver(2 * self.nx, self.nt, **fine).solve(c)
            v = 0.5 * (v[..., 0::2] + v[..., 1::2])
            return {"value": float(max(np.linalg.norm(u[i] - v[i]) / np.linalg.norm(v[i]) for i in range(3)))}
        return cached_json("pde", f"ds_error_{self.nx}x{self.nt}_v{CACHE_VERSION}", compute)["value"]


register("pde/diffusion-sorption-v0", DiffusionSorption, params={
    "count": Param(200, low=1, high=1000, doc="test initial conditions (PDEBench seeds 9000 + i); paper: 1,000"),
    "nx": Param(128, low=8, high=4096, doc="finite-volume cells; paper: 1024"),
    "nt": Param(51, low=3, high=1001, doc="snapshots of [0, 500] s; paper: 101")},
    description="1D diffusion-sorption (PDEBench), one field per initial condition",
    check_params={"count": 4})

# smoke: the shipped PI-HC-MoE model on 8 instances (seconds); the paper suite: the leaderboard's
# settings (benchmarks/pde.py; results/leaderboards/pde.md).
register_suite("smoke", "pde/diffusion-sorption-v0:count=8", {"pi-hc-moe": None})
PAPER_TARGET = "pde/diffusion-sorption-v0:count=200,nx=128,nt=51"
register_suite("paper-pi-hc-moe", PAPER_TARGET, {"pi-sc": None, "pi-hc": None, "pi-hc-moe": None,
                                                  "fno": (None, 300), "numerical": None})


# --- pde/navier-stokes-2d-v0 ------------------------------------------------------------------

NS_RESIDUAL_FACTOR = 2.0  # pde_residual limit: this x the reference's worst over NS_CALIBRATION dev fields
NS_CALIBRATION = 8        # dev seeds 8000-8007
NS_IC_LIMIT = 0.01        # ic_error limit: 1% relative L2 at t = 0
NS_CIRCULATION_LIMIT = 0.01  # circulation limit: RMS of the mean vorticity, 1% of the initial field's RMS
NS_DT_MAX = 0.025         # the reference's largest time step (s)
NS_SOLVER_MIN = 64        # the reference's smallest grid (points per side)
NS_CACHE_VERSION = 2  # 2: initial fields band-limited to |k| <= 7, the integrating-factor residual


@runtime_checkable
class NavierStokesView(Protocol):
    """The Navier-Stokes grid, physics, instances and training data: ``grid()`` (t, x; y = x),
    ``viscosity()``, ``forcing()`` [n, n], ``initial_fields()`` [count, n, n],
    ``training_ics(n, seed)``, ``training_data(n, seed)``, ``solver_settings()`` (the
    reference's ``SpectralSolver`` arguments)."""

    def grid(self) -> tuple[np.ndarray, np.ndarray]: ...

    def viscosity(self) -> float: ...

    def forcing(self) -> np.ndarray: ...

    def initial_fields(self) -> np.ndarray: ...

    def training_ics(self, n: int, seed: int, split: str = "train") -> np.ndarray: ...

    def training_data(self, n: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]: ...

    def solver_settings(self) -> dict: ...


@dataclass(frozen=True)
class NSInstance:
    """One initial vorticity: the Gaussian random field of ``seed`` (``grf_field``)."""
    index: int
    seed: int


def ns_solver_settings(n: int, nt: int, nu: float, forcing: str, t_end: float) -> dict:
    """The reference's settings: the smallest multiple of n with at least NS_SOLVER_MIN points
    per side, and the fewest equal steps per snapshot interval no longer than NS_DT_MAX."""
    return dict(n=n, nt=nt, solver_n=n * math.ceil(NS_SOLVER_MIN / n),
                steps=math.ceil(t_end / (nt - 1) / NS_DT_MAX - 1e-9), nu=nu, forcing=forcing, t_end=t_end)


def _ns_solutions(seeds, settings: dict) -> np.ndarray:
    """Reference trajectories [len(seeds), nt, n, n] (float32) of the fields of ``seeds``, from an
    .npz under $MOBENCH_CACHE/pde named by a checksum of the seeds and settings, or computed
    (batches of 50) and written there atomically."""
    seeds = np.asarray(seeds, dtype=np.int64)
    key = _digest(seeds, repr(sorted(settings.items())), f"v{NS_CACHE_VERSION}")
    n, nt = settings["n"], settings["nt"]
    f = cache_dir("pde") / f"ns_{n}x{nt}_{key}.npz"
    if f.exists():
        try:
            with np.load(f) as z:
                w = z["w"]
            if w.shape == (len(seeds), nt, n, n):
                return w
        except (OSError, ValueError, KeyError):
            pass
    solver = SpectralSolver(**settings)
    w = np.concatenate([solver.solve(np.stack([grf_field(int(s), solver.m) for s in seeds[i:i + 50]]))
                        for i in range(0, len(seeds), 50)]).astype(np.float32)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_name(f"{f.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, w=w, seeds=seeds)
    tmp.replace(f)
    return w


class NavierStokes2D(Problem):
    def __init__(self, target, count: int, n: int, nt: int, nu: float, forcing: str, t_end: float):
        super().__init__(target)
        self.count, self.n, self.nt, self.nu, self.forcing_kind, self.t_end = count, n, nt, nu, forcing, t_end
        self._instances = [NSInstance(i, TEST_SEED + i) for i in range(count)]
        self.scale = grf_std()
        self.residual_limit = NS_RESIDUAL_FACTOR * self.reference_residual()
        self.spec = Spec(
            id=self.id, objectives=(Objective("rel_l2", "min"),),
            constraints=(Constraint("pde_residual", self.residual_limit), Constraint("ic_error", NS_IC_LIMIT),
                         Constraint("circulation", NS_CIRCULATION_LIMIT)),
            answer="solutions",
            description=(f"2D Navier-Stokes (vorticity, periodic, nu = {nu:g}, forcing {forcing}), {count} initial "
                         f"fields, {n} x {n} points x {nt} snapshots of [0, {t_end:g}] s"),
            tags=("pde", "navier-stokes"))
        self._reference_fields = None
        self._w0 = None

    # the view
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(t [nt] in seconds, x [n] grid points; y is the same)."""
        return snapshot_times(self.nt, self.t_end), grid_points(self.n)

    def viscosity(self) -> float:
        return self.nu

    def forcing(self) -> np.ndarray:
        return forcing_field(self.forcing_kind, self.n)

    def solver_settings(self) -> dict:
        return ns_solver_settings(self.n, self.nt, self.nu, self.forcing_kind, self.t_end)

    def instances(self) -> list[NSInstance]:
        return self._instances

    def initial_fields(self) -> np.ndarray:
        """The test instances' initial vorticity [count, n, n] (float64)."""
        if self._w0 is None:
            self._w0 = np.stack([grf_field(i.seed, self.n) for i in self._instances])
        return self._w0

    def _seeds(self, n: int, seed: int, split: str) -> np.ndarray:
        if split not in ("train", "dev"):
            raise ValueError(f"training_ics: split must be 'train' or 'dev', got {split!r}")
        lo, hi = TRAIN_SEEDS if split == "train" else DEV_SEEDS
        if not 0 < n <= hi - lo:
            raise ValueError(f"training_ics: n must be in 1..{hi - lo}, got {n}")
        return lo + np.random.default_rng(seed).choice(hi - lo, n, replace=False)

    def training_ics(self, n: int, seed: int, split: str = "train") -> np.ndarray:
        """``n`` initial fields [n, self.n, self.n], seeds drawn without replacement by ``seed``
        from the split's pool (``train``: 0-7999, ``dev``: 8000-8999; never a test seed)."""
        return np.stack([grf_field(int(s), self.n) for s in self._seeds(n, seed, split)])

    def training_data(self, n: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """``n`` (initial field [n, N, N], trajectory [n, nt, N, N]) pairs on this grid (the
        fields of ``training_ics``; trajectories from the reference solver, cached)."""
        seeds = self._seeds(n, seed, split)
        w0 = np.stack([grf_field(int(s), self.n) for s in seeds])
        return w0, _ns_solutions(seeds, self.solver_settings())

    def reference_fields(self) -> np.ndarray:
        """The test instances' reference trajectories [count, nt, n, n] (float32, cached)."""
        if self._reference_fields is None:
            self._reference_fields = _ns_solutions([i.seed for i in self._instances], self.solver_settings())
        return self._reference_fields

    def reference_residual(self) -> float:
        """The largest ``pde_residual`` of the reference trajectories of dev seeds
        8000..8000 + NS_CALIBRATION - 1 on this grid (cached)."""
        def compute():
            w = _ns_solutions(DEV_SEEDS[0] + np.arange(NS_CALIBRATION), self.solver_settings())
            return {"value": max(self.measures(x.astype(np.float64))[0] for x in w)}
        key = _digest(repr(sorted(self.solver_settings().items())), f"v{NS_CACHE_VERSION}")
        return cached_json("pde", f"ns_residual_{key}", compute)["value"]

    def check_field(self, field) -> np.ndarray:
        """The field as float64 [nt, n, n], or one InvalidSolution naming what is wrong."""
        shape = (self.nt, self.n, self.n)
        try:
            w = np.asarray(field.detach().cpu() if hasattr(field, "detach") else field, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InvalidSolution(f"{self.id}: a field must be a numeric array of shape {shape}: {e}") from None
        if w.shape != shape:
            raise InvalidSolution(f"{self.id}: a field must have shape {shape} (snapshots x points x points), "
                                  f"got {w.shape}")
        if not np.isfinite(w).all():
            raise InvalidSolution(f"{self.id}: the field has {int((~np.isfinite(w)).sum())} NaN or infinite values")
        return w

    def measures(self, w: np.ndarray, w0: np.ndarray | None = None) -> tuple[float, ...]:
        """(pde_residual, ic_error, circulation) of a trajectory [nt, n, n]; without ``w0`` the
        initial-condition error is 0 (the calibration's own initial rows)."""
        t = snapshot_times(self.nt, self.t_end)
        f = forcing_field(self.forcing_kind, self.n) if self.forcing_kind != "none" else None
        r = ns_pde_residual(w, t, self.nu, f, self.scale)
        res = float(np.sqrt(np.mean(r ** 2)))
        ic = 0.0 if w0 is None else float(np.linalg.norm(w[0] - w0) / np.linalg.norm(w0))
        circ = float(np.sqrt(np.mean(circulation(w) ** 2)) / self.scale)
        return res, ic, circ

    def verify(self, index, solution):
        w = self.check_field(solution)
        ref = self.reference_fields()[index].astype(np.float64)
        err = float(np.linalg.norm(w - ref) / np.linalg.norm(ref))
        return np.array([err]), np.array(self.measures(w, self.initial_fields()[index])), True

    def reference_kind(self) -> str:
        return "none"

    def reference(self) -> Reference:
        self.reference_fields()
        est = self.reference_error_estimate()
        return Reference.none(
            "the objective is the relative L2 distance to the numerical reference (Fourier pseudo-spectral, 2/3 "
            "dealiasing, Crank-Nicolson + Heun, float64); its optimum is 0, so no gap; the reference's own error "
            f"on this grid (vs twice the points and half the step, 3 dev fields): {est:.1e}")

    def reference_error_estimate(self) -> float:
        """Relative L2 distance between this grid's reference and one with twice the solver's
        points per side and half its step, worst of 3 dev fields; cached."""
        st = self.solver_settings()

        def compute():
            seeds = DEV_SEEDS[0] + np.arange(3)
            a = _ns_solutions(seeds, st)
            b = _ns_solutions(seeds, {**st, "solver_n": 2 * st["solver_n"], "steps": 2 * st["steps"]})
            return {"value": float(max(np.linalg.norm(a[i] - b[i]) / np.linalg.norm(b[i]) for i in range(3)))}
        key = _digest(repr(sorted(st.items())), f"v{NS_CACHE_VERSION}")
        return cached_json("pde", f"ns_error_{key}", compute)["value"]


register("pde/navier-stokes-2d-v0", NavierStokes2D, params={
    "count": Param(100, low=1, high=1000, doc="test initial fields (seeds 9000 + i); paper: 100"),
    "n": Param(32, low=8, high=512, doc="grid points per side; paper: 256"),
    "nt": Param(16, low=3, high=257, doc="snapshots of [0, t_end] (t = 0 included); paper: 64"),
    "nu": Param(NU, low=1e-6, high=1.0, doc="viscosity; paper: 1e-4"),
    "forcing": Param("none", choices=FORCINGS, doc="none (the authors' data) or li (Li et al.'s FNO forcing)"),
    "t_end": Param(NS_T_END, low=0.1, high=50.0, doc="final time (s)")},
    description="2D incompressible Navier-Stokes (vorticity, periodic), one trajectory per initial field",
    check_params={"count": 4, "n": 16, "nt": 6})

register_suite("smoke", "pde/navier-stokes-2d-v0:count=4", {"pi-hc-moe": None})
NS_PAPER_TARGET = "pde/navier-stokes-2d-v0:count=100,n=32,nt=16"
# only PI-HC-MoE has a shipped NS model: the three PI variants also train within the run's budget
register_suite("paper-pi-hc-moe-ns", NS_PAPER_TARGET, {"pi-sc:checkpoint=none": (None, 1200),
                                                        "pi-hc:checkpoint=none": (None, 1200),
                                                        "pi-hc-moe:checkpoint=none": (None, 1200),
                                                        "pi-hc-moe": None, "fno": (None, 300), "numerical": None})

__all__ = ["A_SORB", "BC_LIMIT", "D", "DEV_SEEDS", "DSInstance", "DiffusionSorption", "DiffusionSorptionView", "EPS",
           "FVSolver", "IC_HIGH", "IC_LOW", "K_F", "N_F", "PAPER_TARGET", "PHI", "RHO_S", "T_END", "TEST_SEED",
           "TRAIN_SEEDS", "boundary_error", "cell_centres", "mass", "output_times", "pde_residual", "pdebench_ic",
           "retardation", "right_face_value", "solve_ivp_reference",
           "FORCINGS", "GRF_ALPHA", "GRF_SIGMA", "GRF_TAU", "IC_KMAX", "NS_PAPER_TARGET", "NSInstance", "NU",
           "NS_T_END", "NavierStokes2D", "NavierStokesView", "Spectral", "SpectralSolver", "circulation",
           "forcing_field", "grf_field", "grf_std", "grid_points", "ns_pde_residual", "ns_solver_settings",
           "snapshot_times", "taylor_green"]
