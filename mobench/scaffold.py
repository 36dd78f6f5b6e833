"""``mobench new-problem NAME [--kind policy|solutions|env]``: scaffold ``problems/NAME``
(registration, the parts to fill, a test and a doc) that passes ``mobench check NAME/NAME-v0``
as generated. The kinds are the engine's three ways of scoring an answer:

- ``policy``: one policy scored on fixed test scenarios by a batched torch simulator
  (``dynamics.py``; the Gymnasium env is a view of it);
- ``solutions``: one solution per test instance, checked and scored by ``verify``;
- ``env``: one policy scored on episodes of a Gymnasium env (``env.py``), for dynamics that
  cannot be batched.
"""
from __future__ import annotations

import re
import zlib
from pathlib import Path

from .errors import InvalidParameter

TEMPLATES = Path(__file__).parent / "templates"
KINDS = {  # file written -> template
    "policy": {"__init__.py": "policy_init.py.tmpl", "dynamics.py": "policy_dynamics.py.tmpl"},
    "solutions": {"__init__.py": "solutions_init.py.tmpl"},
    "env": {"__init__.py": "env_init.py.tmpl", "env.py": "env_env.py.tmpl"},
}


def new_problem(name: str, root: str | Path = ".", kind: str = "policy") -> list[Path]:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise InvalidParameter(f"problem family name {name!r} must be a lower-case Python identifier")
    if kind not in KINDS:
        raise InvalidParameter(f"unknown kind {kind!r}; choose one of {list(KINDS)}")
    root = Path(root)
    folder = root / "problems" / name
    if folder.exists():
        raise InvalidParameter(f"{folder} already exists; nothing was changed")
    if not (root / "problems").is_dir():
        raise InvalidParameter(f"{root / 'problems'} not found: run from the repository root or pass --root")
    cls = "".join(part.capitalize() for part in name.split("_"))
    seed = zlib.crc32(name.encode()) % 10**8
    values = {"name": name, "cls": cls, "seed": seed, "dev_seed": seed + 1, "kind": kind}
    files = {folder / f: t for f, t in KINDS[kind].items()}
    files[folder / "README.md"] = "README.md.tmpl"
    files[root / "tests" / f"test_{name}.py"] = "test.py.tmpl"
    folder.mkdir(parents=True)
    (root / "tests").mkdir(exist_ok=True)
    for path, tmpl in files.items():
        path.write_text((TEMPLATES / tmpl).read_text().format(**values))
    return list(files)
