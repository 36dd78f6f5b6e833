"""``mobench new-problem NAME``: scaffold ``problems/NAME`` (registration, dynamics to fill,
a test and a doc) that passes ``mobench check NAME/NAME-v0`` as generated."""
from __future__ import annotations

import re
import zlib
from pathlib import Path

from .errors import InvalidParameter

TEMPLATES = Path(__file__).parent / "templates"


def new_problem(name: str, root: str | Path = ".") -> list[Path]:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise InvalidParameter(f"problem family name {name!r} must be a lower-case Python identifier")
    root = Path(root)
    folder = root / "problems" / name
    if folder.exists():
        raise InvalidParameter(f"{folder} already exists; nothing was changed")
    if not (root / "problems").is_dir():
        raise InvalidParameter(f"{root / 'problems'} not found: run from the repository root or pass --root")
    cls = "".join(part.capitalize() for part in name.split("_"))
    seed = zlib.crc32(name.encode()) % 10**8
    values = {"name": name, "cls": cls, "seed": seed, "dev_seed": seed + 1}
    files = {folder / "__init__.py": "init.py.tmpl", folder / "dynamics.py": "dynamics.py.tmpl",
             folder / "README.md": "README.md.tmpl", root / "tests" / f"test_{name}.py": "test.py.tmpl"}
    folder.mkdir(parents=True)
    (root / "tests").mkdir(exist_ok=True)
    for path, tmpl in files.items():
        path.write_text((TEMPLATES / tmpl).read_text().format(**values))
    return list(files)
