"""Fast draws for the simulators' scenario generation.

``poisson(mean, shape, generator)``: Poisson counts by inverse-CDF lookup from 31-bit uniform
integers, through a guide table (Devroye, "Non-Uniform Random Variate Generation", 1986,
section III.2.4, "indexed search"). torch.poisson runs a rejection sampler per element; here a
draw is one random integer, two gathers from 4,096-entry tables and a comparison, which is
faster on the CPU (``benchmarks/scenario_draw.py`` measures both). The result is the exact inverse CDF of
the uniform integer r / 2^31 (each probability is moved by at most 2^-31 by the uniform's
resolution; ``tests/test_sampling.py`` checks it against ``torch.searchsorted`` element by
element and against the Poisson law by a chi-square test). Drawn on the CPU from a CPU
generator, so a seed gives the same paths on every device.

``cached_draws()``: inside it (the engine wraps the reset of a problem's fixed test scenarios
in it), every draw made through this module is kept on disk under the reference cache
(``$MOBENCH_CACHE/scenarios``), keyed by what is drawn and the generator's exact state, with the
generator's state after the draw: a repeated evaluation reads the paths instead of drawing them
and leaves the generator where the draw would have. The key holds no problem parameter, so the
sixteen lost-sales settings of the HDPO paper share one file of paths. Training draws are never
kept.

The table is written here, not taken from scipy: ``scipy.stats`` costs a second to import, and
every ``mobench run`` of an inventory problem would pay it.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
from functools import lru_cache

import numpy as np
import torch

BITS = 31                 # uniform integers in [0, 2^31)
SHIFT = 19                # bucket = r >> SHIFT: 2^(31 - 19) = 4,096 buckets
MAX_MEAN = 1e5            # above it the tables grow past a few thousand entries: torch.poisson


@lru_cache(maxsize=64)
def _tables(mean: float):
    """(first k, guide [M] int32, threshold [M] int32, thresholds of every k [n] int64,
    buckets below ``lo`` or from ``hi`` on that hold several CDF steps)."""
    sd = math.sqrt(mean)
    k0 = max(0, int(mean - 12 * sd - 10))
    k1 = int(mean + 14 * sd + 40)
    k = np.arange(k0, k1 + 1, dtype=np.float64)
    logpmf = k * math.log(mean) - mean - np.array([math.lgamma(x + 1) for x in k]) if mean > 0 else \
        np.where(k == 0, 0.0, -np.inf)
    cdf = np.cumsum(np.exp(logpmf))
    cdf = np.minimum(cdf / cdf[-1], 1.0)          # the mass beyond k1 (< 1e-30) goes to k1
    thr = np.ceil(cdf * 2.0 ** BITS).astype(np.int64)   # r >= thr[i]  <=>  value > k0 + i
    thr[-1] = 2 ** BITS
    m = 1 << (BITS - SHIFT)
    lo_r = np.arange(m, dtype=np.int64) << SHIFT
    first = np.searchsorted(thr, lo_r, side="right")                     # index for the bucket's first r
    last = np.searchsorted(thr, lo_r + (1 << SHIFT) - 1, side="right")   # and for its last
    several = np.flatnonzero(last - first > 1)
    half = m // 2
    lo = int(several[several < half].max() + 1) if (several < half).any() else 0
    hi = int(several[several >= half].min()) if (several >= half).any() else m
    nxt = thr[np.minimum(first, len(thr) - 1)]
    top = np.flatnonzero(nxt >= 2 ** BITS)   # the last value's buckets: no int32 threshold, searched
    if len(top):
        hi = min(hi, int(top.min()))
    return (k0, torch.from_numpy(first.astype(np.int32)), torch.from_numpy(nxt.astype(np.int32)),
            torch.from_numpy(thr), lo, hi)


_caching = False
MIN_CACHED = 1 << 20        # smaller draws cost less than reading a file


@contextlib.contextmanager
def cached_draws():
    """Keep the draws made inside on disk (see the module's docstring)."""
    global _caching
    before, _caching = _caching, True
    try:
        yield
    finally:
        _caching = before


def _cached(kind: str, params: tuple, shape: tuple, generator: torch.Generator, store_dtype, draw):
    """``draw()``, or its stored result when the same draw from the same generator state was
    kept before (then the generator is moved to the state the draw leaves)."""
    if not _caching or math.prod(shape) < MIN_CACHED:
        return draw()
    from .cache import cache_dir
    h = hashlib.sha256(f"{kind}|{params!r}|{shape!r}|{CACHE_VERSION}".encode())
    h.update(generator.get_state().numpy().tobytes())
    f = cache_dir("scenarios") / f"{kind}-{h.hexdigest()[:24]}.pt"
    try:
        got = torch.load(f, weights_only=True)
        generator.set_state(got["after"])
        return got["values"].to(torch.float32)
    except Exception:  # absent, torn, from another torch (the unpickler raises many kinds): draw again
        pass
    out = draw()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(f".{os.getpid()}.tmp")
    torch.save({"values": out.to(store_dtype), "after": generator.get_state()}, tmp)
    tmp.replace(f)
    return out


CACHE_VERSION = 1   # raise when a sampler's output for a given generator state changes


def normal(mean: float, std: float, shape, generator: torch.Generator) -> torch.Tensor:
    """torch.normal(mean, std, shape), float32 (kept on disk inside ``cached_draws``)."""
    shape = tuple(shape)
    return _cached("normal", (float(mean), float(std)), shape, generator, torch.float32,
                   lambda: torch.normal(float(mean), float(std), shape, generator=generator))


def poisson(mean: float, shape, generator: torch.Generator) -> torch.Tensor:
    """Poisson(mean) counts of the given shape, float32 on the CPU (see the module's docstring)."""
    mean = float(mean)
    if not (math.isfinite(mean) and mean >= 0):
        raise ValueError(f"poisson: the mean must be finite and >= 0, got {mean}")
    shape = tuple(shape)
    # counts below 2^15 are exact in int16, 2^24 in float32
    dtype = torch.int16 if mean < 16_000 else torch.float32
    return _cached("poisson", (mean,), shape, generator, dtype, lambda: _poisson(mean, shape, generator))


def _poisson(mean: float, shape: tuple, generator: torch.Generator) -> torch.Tensor:
    if mean > MAX_MEAN:
        return torch.poisson(torch.full(tuple(shape), mean), generator=generator)
    k0, guide, nxt, thr, lo, hi = _tables(mean)
    r = torch.randint(0, 2 ** BITS, tuple(shape), generator=generator, dtype=torch.int32).reshape(-1)
    j = r >> SHIFT
    d = (guide.index_select(0, j) + (r >= nxt.index_select(0, j))).float()
    if lo > 0 or hi < len(guide):  # the few buckets with several steps: a binary search for those
        several = (j < lo) | (j >= hi)
        at = several.nonzero().squeeze(1)
        d[at] = torch.searchsorted(thr, r[at].long(), right=True).float()
    if k0:
        d += k0
    return d.reshape(tuple(shape))
