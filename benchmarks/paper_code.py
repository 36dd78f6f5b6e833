"""A checkout of the HDPO paper's code (github.com/MatiasAlvo/Neural_inventory_control), for the
benchmarks that run its simulator beside ours (``hdpo_step.py``, ``inventory_networks.py``). It
is not a dependency and nothing of it is copied here."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

HOW = ("get one with\n"
       "  git clone https://github.com/MatiasAlvo/Neural_inventory_control ../Neural_inventory_control\n"
       "and pass --paper-code ../Neural_inventory_control (its simulator needs torch, numpy, gymnasium, "
       "pandas and pyyaml: this suite's venv has them)")


def found(path: str | None) -> bool:
    """Whether ``path`` is a checkout of the paper's code; says how to get one when it is not."""
    if path and (Path(path) / "environment.py").is_file():
        return True
    print(f"no checkout of the paper's code at {path!r}: {HOW}")
    return False


def imported(path: str, *names: str):
    """``module.attr`` names from the checkout at ``path``, imported from inside its folder (its
    modules read files relative to it)."""
    sys.path.insert(0, str(Path(path).resolve()))
    cwd = os.getcwd()
    os.chdir(path)
    try:
        return [getattr(importlib.import_module(n.split(".")[0]), n.split(".")[1]) for n in names]
    finally:
        os.chdir(cwd)
