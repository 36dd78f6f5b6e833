"""On-disk cache for references that take seconds to minutes to compute (exact DP, CP-SAT):
computed once per key, never while scoring. Location: $MOBENCH_CACHE (default
~/.cache/mobench)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable


def cache_dir(family: str) -> Path:
    return Path(os.environ.get("MOBENCH_CACHE", Path.home() / ".cache" / "mobench")) / family


def cached_json(family: str, name: str, compute: Callable[[], dict]) -> dict:
    """The JSON stored under ``family/name.json``, or ``compute()`` written there atomically
    (a torn or unreadable file is recomputed)."""
    f = cache_dir(family) / f"{name}.json"
    if f.exists():
        try:
            return json.loads(f.read_text())
        except ValueError:
            pass
    out = compute()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(f)
    return out


def peek_json(family: str, name: str) -> dict | None:
    """The JSON stored under ``family/name.json`` if it is there and readable, else None
    (never computes)."""
    f = cache_dir(family) / f"{name}.json"
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None
