"""Problem families: one sub-package per family; each registers its versions on import.

The suite's own families are found as any external package's are: through the entry point
``builtin`` of the group ``mobench.problems`` (``pyproject.toml``), which names
``register_builtin`` below. It imports every sub-package, so adding a family is adding a folder.
"""
import importlib
import pkgutil


def register_builtin() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
