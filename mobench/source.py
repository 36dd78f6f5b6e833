"""Which commit the running code came from (for the runs' provenance). Standard library only:
setup.py loads this file by path to record the commit in a built copy."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

BUILD_INFO = "_build_info.json"  # written into a built copy's package folder by setup.py


def _git(cwd: Path, *args: str) -> str | None:
    out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=cwd)
    return out.stdout.strip() if out.returncode == 0 else None


def checkout_commit(package_dir: Path) -> tuple[str | None, bool] | None:
    """(commit, whether tracked files have uncommitted changes) when ``package_dir`` is the
    package folder at the top of a git checkout, else None: a copy installed under a venv
    inside a checkout must not be credited with that checkout's commit."""
    package_dir = Path(package_dir).resolve()
    try:
        top = _git(package_dir, "rev-parse", "--show-toplevel")
        if top is None or Path(top).resolve() != package_dir.parent:
            return None
        return (_git(package_dir, "rev-parse", "HEAD") or None,
                bool(_git(package_dir, "status", "--porcelain", "--untracked-files=no")))
    except (OSError, subprocess.SubprocessError):
        return None


def source_commit(package_dir: Path) -> tuple[str | None, bool | None]:
    """The checkout's answer for an editable install; for a built copy (wheel, ``pip install
    --target``), what the checkout said when it was built; else (None, None)."""
    found = checkout_commit(package_dir)
    if found is not None:
        return found
    try:
        info = json.loads((Path(package_dir) / BUILD_INFO).read_text())
        return info.get("git_commit"), info.get("git_dirty")
    except (OSError, ValueError):
        return None, None
