"""Physics hard constraints with a mixture of experts (Chalapathi, Du, Krishnapriyan, ICLR 2024,
arXiv 2402.13412) on the PDE family, and the same layer as a decision-policy head (hydro).

Solvers: ``pi-sc``, ``pi-hc``, ``pi-hc-moe`` (the shipped models in ``solvers/data/``, or
trained within the run's budget with ``checkpoint=none``), ``fno`` (data-driven, trained within
the budget), ``numerical`` (the reference's own solver run on the instances: the time column),
on diffusion-sorption and on 2D Navier-Stokes, and ``hc-moe-policy`` (``policy.py``). Modules:
``lm.py`` (batched Levenberg-Marquardt with implicit gradients), ``fno.py``, ``physics.py``
(diffusion-sorption stencils, loss, the constraint layer), ``model.py`` (its operators,
training, checkpoints), ``ns_physics.py`` and ``ns_model.py`` (the same for Navier-Stokes).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...problems.pde import DiffusionSorptionView, FVSolver, NavierStokesView, SpectralSolver, grf_field
from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...views import Instances
from . import ns_model
from . import policy  # noqa: F401  (registers hc-moe-policy)
from .model import VARIANTS, load, predict, train

DATA = Path(__file__).resolve().parent.parent / "data"


def checkpoint_path(variant: str, pde: str = "diffusion-sorption") -> Path:
    """The shipped model of ``variant``: ``<variant>.pt`` (diffusion-sorption) or
    ``ns-<variant>.pt`` (Navier-Stokes)."""
    return DATA / (f"{variant}.pt" if pde == "diffusion-sorption" else f"ns-{variant}.pt")


def pde_of(problem) -> str | None:
    """Which of the two PDEs ``problem`` is (Navier-Stokes first: its view is the larger)."""
    if isinstance(problem, NavierStokesView):
        return "navier-stokes"
    if isinstance(problem, DiffusionSorptionView):
        return "diffusion-sorption"
    return None


class OperatorSolver(Solver):
    """Predicts every test field with a trained operator. ``checkpoint``: ``shipped`` (the
    model in solvers/data/), a path, or ``none`` (train within the budget: ``train_steps``
    Adam steps at most, the seconds budget less a reserve for the predictions)."""
    variant = ""
    defaults = {"checkpoint": "shipped", "train_steps": 1000, "lm_steps": 50, "batch": 8}
    default_budget = Budget(seconds=900)
    requires = (Instances,)

    def supports(self, problem):
        pde = pde_of(problem)
        if pde is None:
            return "needs the view DiffusionSorptionView or NavierStokesView"
        path = checkpoint_path(self.variant, pde)
        if self.checkpoint == "shipped" and not path.exists():
            return f"no shipped model {path.name}; use checkpoint=none to train"
        if self.checkpoint == "shipped" and pde == "navier-stokes":
            nt = ns_model.load(path).nt
            if len(problem.grid()[0]) != nt:
                return f"the shipped {path.name} predicts {nt} snapshots; use checkpoint=none to train on this grid"
        return None

    def solve(self, problem, clock, seed, log):
        if pde_of(problem) == "navier-stokes":
            return self._solve_ns(problem, clock, seed, log)
        t, x = problem.grid()
        c = problem.initial_values()
        info = {}
        if self.checkpoint == "none":
            # keep a fifth of the time (at least 60 s) for the predictions
            seconds = clock.seconds_left - max(60.0, 0.2 * clock.seconds_left)
            steps = int(min(self.train_steps, clock.steps_left))
            model, tinfo = train(problem, self.variant, steps, seconds, seed, log, {"lm_steps": self.lm_steps})
            clock.add(tinfo["steps"])
            info.update(train_steps=tinfo["steps"], train_seconds=tinfo["seconds"], dev_rel_l2=tinfo["dev_rel_l2"])
        else:
            path = checkpoint_path(self.variant) if self.checkpoint == "shipped" else Path(self.checkpoint)
            model = load(path, self.lm_steps)
            if model.variant != self.variant:
                raise ValueError(f"{path} holds a {model.variant} model, not {self.variant}")
            info["model"] = model.meta
        fields = predict(model, c, t, x, seed=seed, batch=self.batch)
        return Outcome(solutions=[f.astype(np.float32) for f in fields], info=info)

    def _solve_ns(self, problem, clock, seed, log):
        info = {}
        if self.checkpoint == "none":
            seconds = clock.seconds_left - max(60.0, 0.2 * clock.seconds_left)
            steps = int(min(self.train_steps, clock.steps_left))
            model, tinfo = ns_model.train(problem, self.variant, steps, seconds, seed, log, {"lm_steps": self.lm_steps})
            clock.add(tinfo["steps"])
            info.update(train_steps=tinfo["steps"], train_seconds=tinfo["seconds"], dev_rel_l2=tinfo["dev_rel_l2"])
        else:
            path = checkpoint_path(self.variant, "navier-stokes") if self.checkpoint == "shipped" else Path(self.checkpoint)
            model = ns_model.load(path, self.lm_steps)
            if model.variant != self.variant:
                raise ValueError(f"{path} holds a {model.variant} model, not {self.variant}")
            info["model"] = model.meta
        fields = ns_model.predict(model, problem, problem.initial_fields(), seed=seed, batch=self.batch)
        return Outcome(solutions=[f.astype(np.float32) for f in fields], info=info)


class PISC(OperatorSolver):
    variant = "pi-sc"
    description = "FNO trained with the PDE residual as a soft penalty (PI-SC)"


class PIHC(OperatorSolver):
    variant = "pi-hc"
    description = "FNO basis + one global hard constraint (LM solve, implicit gradients) (PI-HC)"


class PIHCMoE(OperatorSolver):
    variant = "pi-hc-moe"
    description = "FNO basis + K = 4 expert hard constraints over slabs of x or quarters of the square (PI-HC-MoE)"


class DataFNO(OperatorSolver):
    variant = "fno"
    description = "FNO trained on reference solutions (data only, no physics)"
    defaults = {**OperatorSolver.defaults, "checkpoint": "none"}
    default_budget = Budget(seconds=420)


class Numerical(Solver):
    """The reference's own solver on the instances, all at once: the time a classical solver
    takes, beside the operators' inference time. Diffusion-sorption: finite volumes + TR-BDF2;
    with the reference's steps (``dt_max`` 0.5 s) its error is the float32 rounding of the stored
    fields; when a probe of the first interval says those steps do not fit in 80% of the
    seconds left, the largest step grows until they do (the error then grows as dt^2; ``info``
    says which step was used). Navier-Stokes: the pseudo-spectral solver with the reference's
    settings (``dt_max`` does not apply)."""
    defaults = {"dt_max": 0.5}
    default_budget = Budget(seconds=900)
    requires = (Instances,)
    description = "the reference solver, batched (finite volumes + TR-BDF2, or pseudo-spectral)"

    def supports(self, problem):
        return None if pde_of(problem) else "needs the view DiffusionSorptionView or NavierStokesView"

    def solve(self, problem, clock, seed, log):
        if pde_of(problem) == "navier-stokes":
            st = problem.solver_settings()
            solver = SpectralSolver(**st)
            w0 = np.stack([grf_field(i.seed, solver.m) for i in problem.instances()])
            fields = np.concatenate([solver.solve(w0[i:i + 50]) for i in range(0, len(w0), 50)])
            return Outcome(solutions=[f.astype(np.float32) for f in fields],
                           info={"solver_n": st["solver_n"], "steps": st["steps"] * (st["nt"] - 1)})
        t, x = problem.grid()
        c = problem.initial_values()
        dt_max = self.dt_max
        probe = FVSolver(len(x), 2, t_end=t[1], dt_max=dt_max)
        t0 = time.monotonic()
        probe.solve(c)
        per_step = (time.monotonic() - t0) / (len(probe.steps) - 1)
        full = FVSolver(len(x), len(t), dt_max=dt_max)
        allowed = 0.8 * clock.seconds_left / per_step
        if len(full.steps) - 1 > allowed:
            dt_max = float(t[-1]) / max(allowed - (len(probe.steps) - 1), 10.0)
            full = FVSolver(len(x), len(t), dt_max=dt_max)
        fields = full.solve(c)
        return Outcome(solutions=[f.astype(np.float32) for f in fields],
                       info={"dt_max": dt_max, "steps": len(full.steps) - 1, "newton_iterations": full.newton_iterations})


for _name, _cls in (("pi-sc", PISC), ("pi-hc", PIHC), ("pi-hc-moe", PIHCMoE), ("fno", DataFNO),
                    ("numerical", Numerical)):
    register_solver(_name, _cls)

__all__ = ["VARIANTS", "checkpoint_path", "OperatorSolver", "Numerical"]
