"""Views: what a solver may use of a problem beyond its ``Spec``, declared as typed protocols.

Every problem is a ``Problem``; what else it offers is a *view*: a runtime-checkable
``typing.Protocol`` naming the methods or attributes a solver calls. The engine declares the
views every family may offer (``Simulated``, ``GymView``, ``Instances``); a family declares its
own in its public API (e.g. the job shop's dispatching MDP), and a solver lists the views it
needs in ``Solver.requires``. ``missing_view`` turns a missing one into the sentence that
``mobench check`` and a refused pairing print, so a user sees which solvers fit a problem and
why the others do not.

A protocol checks that the members exist. The base ``Problem`` has every engine-view method
(returning None or raising NotImplementedError), so those views also check that the problem's
class overrides them: a problem offers a view by implementing it.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import gymnasium as gym

from .problem import BatchedSim, Problem

_REFINEMENTS: dict[type, Callable[[Any], bool]] = {}


def refine(view: type, offered: Callable[[Any], bool]) -> None:
    """Add a check beyond the members' presence to ``view`` (``offered(problem) -> bool``)."""
    _REFINEMENTS[view] = offered


def offers(problem, view: type) -> bool:
    """Whether ``problem`` offers ``view``."""
    if not isinstance(problem, view):
        return False
    check = _REFINEMENTS.get(view)
    return check is None or bool(check(problem))


def describe(view: type) -> str:
    """The view's name and the first line of its docstring."""
    doc = (view.__doc__ or "").strip().splitlines()
    return f"{view.__name__} ({doc[0].rstrip('.')})" if doc else view.__name__


def missing_view(problem, views) -> str | None:
    """The sentence naming the first of ``views`` that ``problem`` does not offer, else None."""
    for view in views:
        if not offers(problem, view):
            return f"needs the view {describe(view)}"
    return None


def _overrides(name: str) -> Callable[[Any], bool]:
    return lambda problem: getattr(type(problem), name, None) is not getattr(Problem, name)


@runtime_checkable
class Simulated(Protocol):
    """A batched torch simulator: ``sim()`` returns a BatchedSim."""

    def sim(self) -> BatchedSim: ...


@runtime_checkable
class GymView(Protocol):
    """A Gymnasium environment: ``env()`` (a view of the batched simulator where there is one)."""

    def env(self) -> gym.Env: ...


@runtime_checkable
class Instances(Protocol):
    """Per-instance answers: ``instances()`` and ``verify(index, solution)``."""

    def instances(self) -> list: ...

    def verify(self, index: int, solution) -> tuple: ...


@runtime_checkable
class PolicyScoring(Protocol):
    """Scores policies by the problem's own evaluation procedure: ``score_policies(policies, device)``.

    For problems whose score is not a rollout of the batched simulator (e.g. an offline
    problem scored both by an estimator on held-out logs and by simulation). Returns
    ``(objectives [answers, n, n_obj], costs [answers, n, n_con])``: per-scenario values in
    each objective's own units and sense, as the engine's rollouts give them; the engine
    summarises them as it summarises rollouts."""

    def score_policies(self, policies, device) -> tuple: ...


refine(Simulated, _overrides("sim"))
refine(GymView, lambda p: _overrides("env")(p) or _overrides("sim")(p))
refine(Instances, lambda p: _overrides("instances")(p) and _overrides("verify")(p))

__all__ = ["Simulated", "GymView", "Instances", "PolicyScoring", "offers", "missing_view", "refine", "describe"]
