"""The hypervolume through mobench.metrics against moocore's own call, in one run.

    OMP_NUM_THREADS=1 python benchmarks/indicators_speed.py [--repeats 7]

2-D and 3-D fronts of 100 to 10,000 points; for minimised objectives moocore's own call is
``moocore.hypervolume(F, ref=r)``, for maximised ones ``moocore.hypervolume(F, ref=r,
maximise=True)`` (the wrapper turns senses into minimisation itself). The two calls alternate,
and each row's figure is the median of ``--repeats`` timings of a batch of calls; the values
must be identical. Target: the wrapper costs <= 1.2x moocore's call from 100 points up.
"""
from __future__ import annotations

import argparse
import time

import moocore
import numpy as np

from mobench.metrics import hypervolume


def front(n: int, m: int, rng) -> np.ndarray:
    """n points near the simplex x_1 + ... + x_m = 1 (most of them non-dominated)."""
    x = rng.dirichlet(np.ones(m), n)
    return x + 0.05 * rng.random((n, m))


def timed(fn, calls: int) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'m':>2} {'points':>7} {'sense':>5} {'moocore us':>11} {'mobench us':>11} {'ratio':>6}")
    for m in (2, 3):
        for n in (100, 1_000, 10_000):
            F, ref = front(n, m, rng), np.full(m, 1.2)
            calls = max(3, 200_000 // (n * m * 10))
            for sense in ("min", "max"):
                senses = [sense] * m
                G, r = (F, ref) if sense == "min" else (-F, -ref)
                own = lambda: moocore.hypervolume(G, ref=r, maximise=sense == "max")
                ours = lambda: hypervolume(G, r, senses)
                assert own() == ours()
                t_own, t_ours = [], []
                for _ in range(a.repeats):  # interleaved
                    t_own.append(timed(own, calls))
                    t_ours.append(timed(ours, calls))
                o, w = np.median(t_own) * 1e6, np.median(t_ours) * 1e6
                print(f"{m:>2} {n:>7} {sense:>5} {o:>11.1f} {w:>11.1f} {w / o:>6.2f}")


if __name__ == "__main__":
    main()
