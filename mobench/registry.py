"""Versioned registry of problems and solvers, Gymnasium-style.

``register(id, entry_point, params=...)`` records a problem version; ``make(id, **params)``
builds it, handing it its ``Target``. Solvers live in one global namespace
(``register_solver``). Families and solvers are found through the entry-point groups
``mobench.problems`` / ``mobench.solvers`` (an entry point is a module, or a no-argument
function that calls ``register``): the suite's own through its entry points ``builtin``,
external packages through theirs, so the plug-in route is the route every family takes.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
import re
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .errors import InvalidParameter, UnknownId
from .targets import Target, format_target, parse_target, parse_value  # noqa: F401 (re-exported)

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*/[a-z0-9][a-z0-9_\-]*-v\d+$")
_MISSING = object()


@dataclass(frozen=True)
class Param:
    """A declared problem/solver parameter: default, optional allowed values or range, doc."""
    default: Any
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    doc: str = ""
    # Whether the parameter is part of the problem's key (a run's identity, the leaderboard's
    # row): False for parameters that do not change what is scored (e.g. the reward shaping of
    # a Gymnasium view), or a predicate on all the bound values (e.g. generator parameters
    # that matter only when the instance is generated).
    in_key: Any = True

    def validate(self, owner: str, name: str, value):
        typ = type(self.default)
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.default is not None and not isinstance(value, typ):
            raise InvalidParameter(f"{owner}: parameter {name}={value!r} must be of type "
                                   f"{typ.__name__}")
        if self.choices is not None and value not in self.choices:
            raise InvalidParameter(f"{owner}: parameter {name}={value!r} is not allowed; "
                                   f"choose one of {list(self.choices)}")
        if self.low is not None and value < self.low or self.high is not None and value > self.high:
            allowed = (f"[{self.low}, {self.high}]" if self.low is not None and self.high is not None
                       else f">= {self.low}" if self.low is not None else f"<= {self.high}")
            raise InvalidParameter(f"{owner}: parameter {name}={value!r} is outside "
                                   f"{allowed}" if "[" in allowed else
                                   f"{owner}: parameter {name}={value!r} is out of range: it must be {allowed}")
        return value


def _resolve(entry_point):
    if isinstance(entry_point, str):
        mod, _, attr = entry_point.partition(":")
        obj = importlib.import_module(mod)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
        return obj
    return entry_point


def bind_params(owner: str, declared: dict[str, Param], given: dict) -> dict:
    """Validate ``given`` against ``declared`` and return every parameter's value."""
    unknown = set(given) - set(declared)
    if unknown:
        raise InvalidParameter(f"{owner}: unknown parameter(s) {sorted(unknown)}; "
                               f"accepted: {sorted(declared) or 'none'}")
    return {k: (p.validate(owner, k, given[k]) if k in given else p.default)
            for k, p in declared.items()}


@dataclass
class ProblemEntry:
    id: str
    entry_point: Any
    params: dict[str, Param] = field(default_factory=dict)
    description: str = ""
    suites: tuple[str, ...] = ()
    # parameters of a quick configuration on which ``mobench check`` checks the reference (e.g.
    # a few test instances) when the full one is costly to compute
    check_params: dict = field(default_factory=dict)

    def make(self, **given):
        values = bind_params(self.id, self.params, given)
        key = {k: v for k, v in values.items()
               if (self.params[k].in_key(values) if callable(self.params[k].in_key) else self.params[k].in_key)}
        problem = _resolve(self.entry_point)(Target(self.id, values, key), **values)
        spec = getattr(problem, "spec", None)
        if spec is None or spec.id != self.id:
            raise TypeError(f"{self.id}: the problem's spec must carry the id handed to it "
                            f"(Spec(id=target.id, ...)), got {getattr(spec, 'id', None)!r}")
        return problem


@dataclass
class SolverEntry:
    name: str
    entry_point: Any

    @property
    def cls(self):
        return _resolve(self.entry_point)

    def make(self, device: str = "cpu", **given):
        cls = self.cls
        declared = {k: (v if isinstance(v, Param) else Param(v)) for k, v in cls.defaults.items()}
        values = bind_params(f"solver {self.name}", declared, given)
        return cls(name=self.name, device=device, **values)


def _same(a, b) -> bool:
    """Same entry point, also across a module reload (compared by qualified name)."""
    name = lambda x: x if isinstance(x, str) else f"{x.__module__}:{x.__qualname__}"
    return name(a) == name(b)


_problems: dict[str, ProblemEntry] = {}
_solvers: dict[str, SolverEntry] = {}
_loaded = False


def register(id: str, entry_point, params: dict[str, Param] | None = None, description: str = "",
             suites: tuple[str, ...] = (), check_params: dict | None = None) -> None:
    """Register a problem version. ``id`` is ``family/name-vN``; ``entry_point`` is a Problem
    class (or ``"module:Class"``) called with the bound parameters. ``check_params``: the
    parameters of a quick configuration (a few instances, a short horizon) on which
    ``mobench check`` checks the reference when the full one takes long to compute."""
    if not ID_RE.match(id):
        raise ValueError(f"problem id {id!r} must look like 'family/name-v0' (lower case)")
    if id in _problems and _same(_problems[id].entry_point, entry_point) is False:
        raise ValueError(f"problem id {id!r} is already registered")
    unknown = set(check_params or {}) - set(params or {})
    if unknown:
        raise ValueError(f"{id}: check_params names undeclared parameters {sorted(unknown)}")
    _problems[id] = ProblemEntry(id, entry_point, dict(params or {}), description, tuple(suites),
                                 dict(check_params or {}))


def register_solver(name: str, entry_point) -> None:
    """Register a solver class (attributes ``defaults``, ``default_budget``, ``supports``)."""
    if not re.match(r"^[a-z0-9][a-z0-9_\-]*$", name):
        raise ValueError(f"solver name {name!r} must be lower case letters, digits, '-' or '_'")
    if name in _solvers and _same(_solvers[name].entry_point, entry_point) is False:
        raise ValueError(f"solver {name!r} is already registered")
    _solvers[name] = SolverEntry(name, entry_point)


def _load_plugin_files() -> None:
    """$MOBENCH_PLUGINS: comma-separated modules (or .py files) imported for their register()
    calls; it reaches the runner's worker processes through the environment."""
    for plugin in filter(None, (s.strip() for s in os.environ.get("MOBENCH_PLUGINS", "").split(","))):
        if plugin.endswith(".py"):
            if Path(plugin).stem in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(Path(plugin).stem, plugin)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(plugin)


def load_all() -> None:
    """Load every entry point of the groups ``mobench.problems`` and ``mobench.solvers`` (the
    suite's own families and solvers are the entry points ``builtin`` of this distribution),
    then $MOBENCH_PLUGINS; once. A failing entry point of this distribution is an error; an
    external one's is a warning (a broken plug-in must not break the suite)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for group in ("mobench.problems", "mobench.solvers"):
        found = sorted(entry_points(group=group), key=lambda ep: (ep.dist is None or ep.dist.name != "mobench", ep.name))
        if not any(ep.dist is not None and ep.dist.name == "mobench" for ep in found):
            raise RuntimeError(f"the entry points of group {group!r} of the mobench distribution are missing: "
                               "install it (pip install -e .) so that its families and solvers can be found")
        for ep in found:
            try:
                obj = ep.load()
                if callable(obj) and not isinstance(obj, type):
                    obj()
            except Exception as exc:
                if ep.dist is not None and ep.dist.name == "mobench":
                    raise
                warnings.warn(f"entry point {ep.name!r} in group {group!r} failed to load: {exc}")
    _load_plugin_files()


def problem_entries() -> dict[str, ProblemEntry]:
    load_all()
    return dict(sorted(_problems.items()))


def solver_entries() -> dict[str, SolverEntry]:
    load_all()
    return dict(sorted(_solvers.items()))


def _suggest(name: str, pool) -> str:
    close = difflib.get_close_matches(name, list(pool), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def problem_entry(id: str) -> ProblemEntry:
    entries = problem_entries()
    if id not in entries:
        raise UnknownId(f"unknown problem id {id!r}{_suggest(id, entries)} "
                        f"(`mobench list` shows every id)")
    return entries[id]


def solver_entry(name: str) -> SolverEntry:
    entries = solver_entries()
    if name not in entries:
        raise UnknownId(f"unknown solver {name!r}{_suggest(name, entries)} "
                        f"(`mobench list` shows every solver)")
    return entries[name]


def make(id: str, **params):
    """Build a problem: ``make('inventory/lost-sales-v0', L=2, p=9)``; the id may also carry
    parameters (``'inventory/lost-sales-v0:L=2,p=9'``)."""
    name, inline = parse_target(id)
    overlap = set(inline) & set(params)
    if overlap:
        raise InvalidParameter(f"parameter(s) {sorted(overlap)} given twice")
    return problem_entry(name).make(**inline, **params)


def make_solver(name: str, device: str = "cpu", **params):
    sname, inline = parse_target(name)
    return solver_entry(sname).make(device=device, **inline, **params)


@dataclass(frozen=True)
class SuiteEntry:
    """One (problem target, solver with parameters, budget) cell of a named suite; ``budget``
    is ``(steps, seconds)`` or None for the solver's default."""
    target: str
    solver: str
    budget: tuple | None = None


_suites: dict[str, list[SuiteEntry]] = {}


def register_suite(name: str, target: str, solvers: dict[str, tuple | None]) -> None:
    """Add cells to suite ``name`` (families contribute to shared suites such as ``smoke``)."""
    cells = _suites.setdefault(name, [])
    for solver, budget in solvers.items():
        cell = SuiteEntry(target, solver, budget)
        if cell not in cells:
            cells.append(cell)


def suites() -> dict[str, list[SuiteEntry]]:
    load_all()  # cells sorted, so that the order does not depend on which family loaded first
    return {k: sorted(v, key=lambda c: (c.target, c.solver)) for k, v in sorted(_suites.items())}
