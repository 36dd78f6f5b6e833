"""Job-shop instances: the public benchmark set, the standard text formats, a seeded generator.

An instance has J jobs, each a sequence of operations ``(machine, duration)``; every job visits
each of its machines once. ``durations[j][k]`` and ``machines[j][k]`` describe job j's k-th
operation. The 162 benchmark instances (ft, la, abz, orb, swv, yn, ta) and their known optimum
or bounds are in ``data/instances.json`` (see ``data/README.md`` for sources and licence).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import MobenchError

DATA = Path(__file__).parent / "data" / "instances.json"


class InstanceFormatError(MobenchError, ValueError):
    """A malformed instance file or matrix."""


@dataclass(frozen=True, eq=False)
class Instance:
    name: str
    durations: np.ndarray          # [J, K] int
    machines: np.ndarray           # [J, K] int in 0..M-1
    optimum: int | None = None     # proved optimal makespan, when known
    lower_bound: int | None = None
    upper_bound: int | None = None  # best-known makespan
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        d, m = np.asarray(self.durations), np.asarray(self.machines)
        if d.ndim != 2 or d.shape != m.shape or d.size == 0:
            raise InstanceFormatError(f"{self.name}: durations {d.shape} and machines {m.shape} "
                                      "must be two matrices of the same non-empty shape")
        if (d < 0).any() or not np.issubdtype(d.dtype, np.integer):
            raise InstanceFormatError(f"{self.name}: durations must be non-negative integers")
        if (m < 0).any() or not np.issubdtype(m.dtype, np.integer):
            raise InstanceFormatError(f"{self.name}: machine ids must be non-negative integers")
        for j, row in enumerate(m):
            if len(set(row.tolist())) != len(row):
                raise InstanceFormatError(f"{self.name}: job {j} visits a machine twice: {row.tolist()}")
        object.__setattr__(self, "durations", d.astype(np.int64))
        object.__setattr__(self, "machines", m.astype(np.int64))

    @property
    def n_jobs(self) -> int:
        return self.durations.shape[0]

    @property
    def n_ops(self) -> int:  # operations per job
        return self.durations.shape[1]

    @property
    def n_machines(self) -> int:
        return int(self.machines.max()) + 1

    def trivial_lower_bound(self) -> int:
        """max(longest job, most loaded machine): a valid lower bound on the makespan."""
        load = np.bincount(self.machines.ravel(), weights=self.durations.ravel(), minlength=self.n_machines)
        return int(max(self.durations.sum(1).max(), load.max()))


@functools.lru_cache(maxsize=1)
def _benchmark_table() -> dict:
    return json.loads(DATA.read_text())


def benchmark_names() -> list[str]:
    return list(_benchmark_table())


def load_benchmark(name: str) -> Instance:
    table = _benchmark_table()
    if name not in table:
        import difflib
        close = difflib.get_close_matches(name, table, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InstanceFormatError(f"unknown benchmark instance {name!r}{hint}")
    v = table[name]
    return Instance(name, np.array(v["durations"]), np.array(v["machines"]), v["optimum"],
                    v["lower_bound"], v["upper_bound"], v["reference"] or "")


def generate(n_jobs: int, n_machines: int, seed: int, low: int = 1, high: int = 99) -> Instance:
    """Taillard-style random instance: durations uniform in low..high, each job's machine
    order a uniformly random permutation (numpy's generator, not Taillard's LCG)."""
    if n_jobs < 1 or n_machines < 1:
        raise InstanceFormatError("a generated instance needs at least one job and one machine")
    rng = np.random.default_rng(seed)
    durations = rng.integers(low, high + 1, (n_jobs, n_machines))
    machines = np.argsort(rng.random((n_jobs, n_machines)), axis=1)
    return Instance(f"gen-{n_jobs}x{n_machines}-s{seed}", durations, machines,
                    source=f"Taillard-style generator, seed {seed}")


# --- text formats ---------------------------------------------------------------------------
# OR-Library ("standard"): a line "J M", then one line per job with M pairs "machine duration"
# (machines numbered from 0). Taillard: a line "J M", a line "Times", J lines of durations, a
# line "Machines", J lines of machine ids numbered from 1. Lines starting with '#' and text
# before the "J M" line are ignored in both.

def _ints(line: str) -> list[int]:
    return [int(x) for x in line.split()]


def read_instance(path: str | Path) -> Instance:
    path = Path(path)
    if not path.is_file():
        raise InstanceFormatError(f"instance file {str(path)!r} not found")
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise InstanceFormatError(f"{path}: not a text file ({e})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    try:
        start = next(i for i, ln in enumerate(lines) if len(ln.split()) == 2 and all(x.isdigit() for x in ln.split()))
    except StopIteration:
        raise InstanceFormatError(f"{path}: no 'jobs machines' header line") from None
    J, M = _ints(lines[start])
    body = lines[start + 1:]
    try:
        if body and body[0].lower().startswith("times"):
            mach_at = next(i for i, ln in enumerate(body) if ln.lower().startswith("machines"))
            d = np.array([_ints(ln) for ln in body[1:mach_at]])
            m = np.array([_ints(ln) for ln in body[mach_at + 1:mach_at + 1 + J]]) - 1
        else:
            rows = [_ints(ln) for ln in body[:J]]
            if len(rows) != J or any(len(r) != 2 * M for r in rows):
                raise InstanceFormatError(f"{path}: expected {J} job lines of {M} (machine, duration) pairs")
            arr = np.array(rows)
            m, d = arr[:, 0::2], arr[:, 1::2]
    except (ValueError, StopIteration) as e:
        raise InstanceFormatError(f"{path}: malformed instance ({e})") from None
    if d.shape != (J, M) or m.shape != (J, M):
        raise InstanceFormatError(f"{path}: header says {J} jobs x {M} machines, body has "
                                  f"durations {d.shape} and machines {m.shape}")
    if m.min() < 0 or m.max() >= M:
        raise InstanceFormatError(f"{path}: machine ids must be in 0..{M - 1} (OR-Library) or 1..{M} (Taillard)")
    return Instance(path.stem, d, m, source=str(path))


def write_instance(instance: Instance, path: str | Path, fmt: str = "orlib") -> Path:
    """Write in the OR-Library ("orlib") or Taillard ("taillard") text format."""
    J, K = instance.durations.shape
    M = instance.n_machines
    lines = [f"# {instance.name}", f"{J} {M}"]
    if fmt == "orlib":
        lines += [" ".join(f"{m} {d}" for m, d in zip(mr, dr))
                  for mr, dr in zip(instance.machines, instance.durations)]
    elif fmt == "taillard":
        lines += ["Times"] + [" ".join(map(str, r)) for r in instance.durations]
        lines += ["Machines"] + [" ".join(str(x + 1) for x in r) for r in instance.machines]
    else:
        raise ValueError(f"format must be 'orlib' or 'taillard', got {fmt!r}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
