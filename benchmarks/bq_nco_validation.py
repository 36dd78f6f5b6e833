"""TSP models of bq-nco on the validation sets the shipped model was chosen on: greedy gap to one
LKH run, printed (not stored: choosing a model never looks at a test set).

    python benchmarks/bq_nco_validation.py MODEL.pt [MODEL.pt ...] [--sizes 50,20,100,200]
        [--knn 0] [--workers 1]

Validation sets: uniform instances of seeds 777000 + N (never a test set's, 1000 + N, nor a
training set's, 10000 + seed): 256 at N = 20 and 50, 128 at N = 100, 32 at N = 200. LKH's tour
lengths are computed once and kept in the suite's reference cache (``mobench.cache``,
$MOBENCH_CACHE/routing). ``--knn`` decodes with the sub-problem restricted to the k nearest
nodes (comma-separated values: one line each).
"""
from __future__ import annotations

import argparse
import hashlib

import numpy as np

from mobench.cache import cached_json
from mobench.problems.routing.instances import tsp_test_set
from mobench.solvers.bq_nco.tsp import decoded_gap, lkh_lengths, load_model

COUNTS = {20: 256, 50: 256, 100: 128, 200: 32}


def validation_set(n: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """(coords [count, n, 2], lengths [count] of one LKH run each) of the N = ``n`` validation set."""
    coords = tsp_test_set(n, COUNTS[n], 777_000 + n)
    key = hashlib.sha256(coords.tobytes()).hexdigest()[:16]
    ref = cached_json("routing", f"tsp_validation_lkh1_{key}_v1",
                      lambda: {"lengths": lkh_lengths(coords, workers).tolist()})
    return coords, np.array(ref["lengths"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--sizes", default="50,20,100,200")
    ap.add_argument("--knn", default="0")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    if unknown := set(sizes) - set(COUNTS):
        ap.error(f"--sizes: validation sets exist for N = {sorted(COUNTS)}, not {sorted(unknown)}")
    models = {path: load_model(path)[0] for path in a.models}
    for n in sizes:
        coords, ref = validation_set(n, a.workers)
        for path, model in models.items():
            for knn in (int(k) for k in a.knn.split(",")):
                gap, seconds = decoded_gap(model, coords, ref, knn=knn)
                print(f"N={n} ({len(ref)} instances) {path}{f' knn={knn}' if knn else ''}: greedy gap "
                      f"{gap:.3f}% ({seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
