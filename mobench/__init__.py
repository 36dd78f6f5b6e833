"""mobench: a benchmark suite for constrained and multi-objective sequential decision-making.

The names below are imported on first use (PEP 562), so that ``import mobench.cli`` costs
milliseconds and a command imports torch, pandas or a family only when it needs them."""
import importlib
import sys
import types

__version__ = "0.1.0"

_WHERE = {"MobenchError": "errors", "Evaluation": "evaluate", "evaluate": "evaluate",
          "BatchedSim": "problem", "Problem": "problem", "SimEnv": "problem",
          "Param": "registry", "make": "registry", "make_solver": "registry", "register": "registry",
          "register_solver": "registry", "Budget": "solver", "Clock": "solver", "Log": "solver",
          "Outcome": "solver", "Solver": "solver", "Constraint": "spec", "Objective": "spec",
          "Reference": "spec", "Spec": "spec", "TestScenarios": "spec"}

__all__ = list(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mobench' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)


class _Package(types.ModuleType):
    """``mobench.evaluate`` is the function, though a submodule has the same name: importing
    the submodule sets the package's attribute to the module, which this property ignores."""

    @property
    def evaluate(self):
        return importlib.import_module(".evaluate", __name__).evaluate

    @evaluate.setter
    def evaluate(self, value):
        pass  # the import system binding the submodule mobench.evaluate


sys.modules[__name__].__class__ = _Package
