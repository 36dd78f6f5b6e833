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
"""
from __future__ import annotations

import hashlib
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

__all__ = ["A_SORB", "BC_LIMIT", "D", "DEV_SEEDS", "DSInstance", "DiffusionSorption", "DiffusionSorptionView", "EPS",
           "FVSolver", "IC_HIGH", "IC_LOW", "K_F", "N_F", "PAPER_TARGET", "PHI", "RHO_S", "T_END", "TEST_SEED",
           "TRAIN_SEEDS", "boundary_error", "cell_centres", "mass", "output_times", "pde_residual", "pdebench_ic",
           "retardation", "right_face_value", "solve_ivp_reference"]
