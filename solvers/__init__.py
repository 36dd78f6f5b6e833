"""Solvers: one module (or one package, for a method of several modules) per method; each
registers itself with ``register_solver``.

The suite's own solvers are found as any external package's are: through the entry point
``builtin`` of the group ``mobench.solvers`` (``pyproject.toml``), which names
``register_builtin`` below. It imports every module and package not starting with ``_``, so
adding a solver is adding a file.
"""
import importlib
import pkgutil


def register_builtin() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
