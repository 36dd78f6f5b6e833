"""Targets: the text ``family/name-vN:key=value,...`` that names a problem (or a solver) with its
parameters, and the identity the registry hands a problem when it builds one.

Parsing and formatting are inverse: ``format_target(*parse_target(t))`` is the canonical text of
``t`` (keys sorted), which is what a run's identity and the leaderboard's rows use.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidParameter


def parse_value(text: str):
    """'4' -> 4, '0.5' -> 0.5, 'true' -> True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        value = ast.literal_eval(text.strip())
        if isinstance(value, (int, float, str, tuple)):
            return value
    except (ValueError, SyntaxError):
        pass
    return text.strip()


def parse_target(text: str) -> tuple[str, dict]:
    """``'family/name-v0:key=value,key2=value2'`` -> (id, {key: value})."""
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise InvalidParameter(f"{text!r}: parameters must be written key=value, got {item!r}")
        params[key.strip()] = parse_value(value)
    return name.strip(), params


def format_target(name: str, params: dict) -> str:
    """Canonical text of a (name, params) pair: keys sorted, inverse of ``parse_target``."""
    if not params:
        return name

    def text(v):
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return repr(v) if isinstance(v, str) and not v.replace("-", "").replace("_", "").isalnum() else str(v)
    return name + ":" + ",".join(f"{k}={text(params[k])}" for k in sorted(params))


@dataclass(frozen=True)
class Target:
    """What the registry hands a problem it builds: the version id, every bound parameter, and
    the parameters that are part of the problem's key (a run's identity, a leaderboard row)."""
    id: str
    params: dict[str, Any] = field(default_factory=dict)
    key_params: dict[str, Any] | None = None  # None: every parameter is part of the key

    @property
    def key(self) -> str:
        return format_target(self.id, self.params if self.key_params is None else self.key_params)
