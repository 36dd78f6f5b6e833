"""Solver contract: ``solve(problem, clock, seed, log) -> Outcome``. A solver never scores itself.

The ``clock`` is the run's budget as the solver sees it while it runs (``clock.budget`` the
limits, ``clock.steps_left`` / ``clock.seconds_left`` what is left, ``clock.add(steps)`` to
count); ``log(steps, estimate)`` records anytime points."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .problem import Problem


@dataclass(frozen=True)
class Budget:
    """Environment steps (scenario-periods simulated, summed over a batch) and/or wall seconds."""
    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self):
        if self.steps is not None and self.steps <= 0 or self.seconds is not None and self.seconds <= 0:
            raise ValueError("budget steps and seconds must be positive")

    def merged(self, steps=None, seconds=None) -> "Budget":
        return Budget(steps if steps is not None else self.steps,
                      seconds if seconds is not None else self.seconds)

    def describe(self) -> str:
        parts = []
        if self.steps is not None:
            parts.append(f"steps={self.steps}")
        if self.seconds is not None:
            parts.append(f"seconds={self.seconds:g}")
        return ",".join(parts) or "unbounded"


class Checkpoint:
    """A run's resumable state, in one file. The runner gives each run one (in its store, named
    by the run id) and deletes it once the run is stored; a solver that trains for long saves
    at safe points (``save``) and, started again on the same run after an interruption (a
    killed job, a timeout, Ctrl-C), ``load``s it and goes on. The steps and seconds spent
    before the interruption stay spent: ``load`` sets them on the clock; the anytime points
    logged before it come back too (the ``Log`` made on the clock registers itself here).

    The state is a dict of tensors, numbers, strings, lists and dicts (loaded with
    ``weights_only=True``); numpy arrays go in as lists or tensors."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.log: Log | None = None

    def save(self, clock: "Clock", state: dict) -> None:
        import torch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        points = [] if self.log is None else list(self.log.points)
        torch.save({"steps": clock.steps, "elapsed": clock.elapsed, "log": points, "state": state}, tmp)
        tmp.replace(self.path)  # atomic: an interruption leaves the previous checkpoint whole

    def load(self, clock: "Clock") -> dict | None:
        """The saved state (None when there is none), with the clock set to the steps and
        seconds used when it was saved."""
        import torch
        if not self.path.exists():
            return None
        saved = torch.load(self.path, weights_only=True)
        clock.steps = int(saved["steps"])
        clock.start = time.monotonic() - float(saved["elapsed"])
        if self.log is not None:
            self.log.points[:] = saved["log"]
        return saved["state"]


class Clock:
    """What a solver sees of its budget while it runs: steps used and the wall deadline; and
    where to checkpoint the run, when the runner gives it a place (``checkpoint``, else None)."""

    def __init__(self, budget: Budget, checkpoint: Checkpoint | None = None):
        self.budget = budget
        self.start = time.monotonic()
        self.steps = 0
        self.checkpoint = checkpoint

    def add(self, steps: int) -> None:
        self.steps += int(steps)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def seconds_left(self) -> float:
        return float("inf") if self.budget.seconds is None else self.budget.seconds - self.elapsed

    @property
    def steps_left(self) -> float:
        return float("inf") if self.budget.steps is None else self.budget.steps - self.steps

    def exhausted(self) -> bool:
        return self.seconds_left <= 0 or self.steps_left <= 0


class Log:
    """Anytime points: (steps, seconds, the solver's own current estimate, extras)."""

    def __init__(self, clock: Clock | None = None):
        self.clock = clock
        self.points: list[dict] = []
        if clock is not None and clock.checkpoint is not None:
            clock.checkpoint.log = self  # a resumed run keeps the points logged before

    def __call__(self, steps: int, estimate: float, **extra) -> None:
        seconds = self.clock.elapsed if self.clock is not None else float("nan")
        self.points.append({"steps": int(steps), "seconds": float(seconds),
                            "estimate": float(estimate), **{k: float(v) for k, v in extra.items()}})


@dataclass
class Outcome:
    """What a solver returns: policies (batched callables obs[B, d] -> action[B, k]) or
    per-instance solutions. ``info`` is free-form (hyper-parameters found, iterations...)."""
    policies: list[Callable] = field(default_factory=list)
    solutions: list[Any] | None = None
    info: dict = field(default_factory=dict)


class Solver:
    """Base class. Subclasses set ``defaults`` (parameter -> default value, or a ``Param``),
    ``default_budget``, the views they need (``requires``: protocols from ``mobench.views`` or
    a family's public API) and implement ``solve``; ``supports`` adds conditions the views
    cannot express (objective counts, constraint senses, ...)."""
    defaults: dict = {}
    requires: tuple = ()
    default_budget: Budget = Budget(seconds=60)
    description: str = ""
    # Bump when a change (new defaults, a fix) makes earlier results of this solver stale: the
    # version is part of a run's identity, so stored runs of an older version are not resumed,
    # and the leaderboard shows each solver's newest version only.
    version: int = 1

    def __init__(self, name: str, device: str = "cpu", **params):
        self.name, self.device, self.params = name, device, params
        for k, v in params.items():
            setattr(self, k, v)

    def supports(self, problem: Problem) -> str | None:
        """None if this solver can handle ``problem`` (given that it offers the views in
        ``requires``), else the reason it cannot."""
        return None

    def unfit(self, problem: Problem) -> str | None:
        """Why this solver cannot run on ``problem``: the first view in ``requires`` that the
        problem does not offer, else what ``supports`` says; None when it can."""
        from .views import missing_view
        return missing_view(problem, self.requires) or self.supports(problem)

    def solve(self, problem: Problem, clock: Clock, seed: int, log: Log) -> Outcome:
        raise NotImplementedError
