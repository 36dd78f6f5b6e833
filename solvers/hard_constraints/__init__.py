"""Physics hard constraints with a mixture of experts (Chalapathi, Du, Krishnapriyan, ICLR 2024,
arXiv 2402.13412) on the PDE family, and the same layer as a decision-policy head (hydro).

Solvers: ``pi-sc``, ``pi-hc``, ``pi-hc-moe`` (the shipped models in ``solvers/data/``, or
trained within the run's budget with ``checkpoint=none``), ``fno`` (data-driven, trained within
the budget), ``numerical`` (the reference's finite-volume solver run on the instances: the time
column), and ``hc-moe-policy`` (``policy.py``). Modules: ``lm.py`` (batched Levenberg-Marquardt
with implicit gradients), ``fno.py``, ``physics.py`` (stencils, loss, the constraint layer),
``model.py`` (the operators, training, checkpoints).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...problems.pde import DiffusionSorptionView, FVSolver
from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...views import Instances
from . import policy  # noqa: F401  (registers hc-moe-policy)
from .model import VARIANTS, load, predict, train

DATA = Path(__file__).resolve().parent.parent / "data"


def checkpoint_path(variant: str) -> Path:
    return DATA / f"{variant}.pt"


class OperatorSolver(Solver):
    """Predicts every test field with a trained operator. ``checkpoint``: ``shipped`` (the
    model in solvers/data/), a path, or ``none`` (train within the budget: ``train_steps``
    Adam steps at most, the seconds budget less a reserve for the predictions)."""
    variant = ""
    defaults = {"checkpoint": "shipped", "train_steps": 1000, "lm_steps": 50, "batch": 8}
    default_budget = Budget(seconds=900)
    requires = (DiffusionSorptionView, Instances)

    def supports(self, problem):
        if self.checkpoint == "shipped" and not checkpoint_path(self.variant).exists():
            return f"no shipped model {checkpoint_path(self.variant).name}; use checkpoint=none to train"
        return None

    def solve(self, problem, clock, seed, log):
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


class PISC(OperatorSolver):
    variant = "pi-sc"
    description = "FNO trained with the PDE residual as a soft penalty (PI-SC)"


class PIHC(OperatorSolver):
    variant = "pi-hc"
    description = "FNO basis + one global hard constraint (LM solve, implicit gradients) (PI-HC)"


class PIHCMoE(OperatorSolver):
    variant = "pi-hc-moe"
    description = "FNO basis + K = 4 expert hard constraints over slabs of x (PI-HC-MoE)"


class DataFNO(OperatorSolver):
    variant = "fno"
    description = "FNO trained on reference solutions (data only, no physics)"
    defaults = {**OperatorSolver.defaults, "checkpoint": "none"}
    default_budget = Budget(seconds=420)


class Numerical(Solver):
    """The reference's finite-volume + TR-BDF2 solver on the instances, all at once: the time a
    classical solver takes, beside the operators' inference time. With the reference's steps
    (``dt_max`` 0.5 s) its error is the float32 rounding of the stored fields; when a probe of
    the first interval says those steps do not fit in 80% of the seconds left, the largest step
    grows until they do (the error then grows as dt^2; ``info`` says which step was used)."""
    defaults = {"dt_max": 0.5}
    default_budget = Budget(seconds=900)
    requires = (DiffusionSorptionView, Instances)
    description = "finite volumes + TR-BDF2 (the reference solver), batched"

    def solve(self, problem, clock, seed, log):
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
