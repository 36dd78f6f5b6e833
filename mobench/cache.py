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


def cached_tensors(family: str, name: str, compute: Callable[[], dict]) -> dict:
    """The dict of tensors stored under ``family/name.pt``, or ``compute()`` written there
    atomically (a torn or unreadable file is recomputed). Loaded with ``weights_only``: tensors,
    numbers and strings only."""
    import torch
    f = cache_dir(family) / f"{name}.pt"
    try:
        return torch.load(f, weights_only=True)
    except Exception:  # absent, torn, from another torch (its unpickler raises many kinds)
        pass
    out = compute()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(f".{os.getpid()}.tmp")
    torch.save(out, tmp)
    tmp.replace(f)
    return out


def source_digest(*modules) -> str:
    """A fingerprint of the source files of ``modules``: a cache key that changes whenever the
    code that computed the cached values does."""
    import hashlib
    h = hashlib.sha256()
    for m in modules:
        h.update(Path(m.__file__).read_bytes())
    return h.hexdigest()[:16]


def peek_json(family: str, name: str) -> dict | None:
    """The JSON stored under ``family/name.json`` if it is there and readable, else None
    (never computes)."""
    f = cache_dir(family) / f"{name}.json"
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None
