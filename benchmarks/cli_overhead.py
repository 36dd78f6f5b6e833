"""What the command line costs beyond the work: ``mobench run`` of one cheap cell end to end
against the same work in-process (the solver's solve plus ``mobench.evaluate`` of its answer,
through the Python API, imports excluded), and ``mobench list``; in one run, interleaved.

    python benchmarks/cli_overhead.py [--repeats 5] [--target PROBLEM] [--solver NAME]
                                      [--baseline CHECKOUT]

Each repeat runs every row once, in turn; the store is fresh for every ``mobench run`` (so the
run is made, not skipped), the reference and scenario caches warm (after one warm-up of each
row), as a user's second command finds them. The in-process row runs in a fresh interpreter
too and reports the time of the work alone. ``--baseline``: another checkout with its own
``.venv`` (e.g. ``git worktree add ../base <commit>``), measured the same way in the same run.
Targets: run <= 1.5x in-process, list < 2 s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


def wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--target", default="inventory/lost-sales-v0:L=2,p=9")
    ap.add_argument("--solver", default="base-stock")
    ap.add_argument("--baseline", help="another checkout (with its .venv) to measure beside this one")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    os.environ["OMP_NUM_THREADS"] = "1"
    scratch = Path(tempfile.mkdtemp(prefix="mobench-cli-overhead-"))

    work = (f"import time, torch, mobench\nfrom mobench.solver import Clock\ntorch.set_num_threads(1)\n"
            f"t0 = time.perf_counter()\nproblem = mobench.make({args.target!r})\n"
            f"solver = mobench.make_solver({args.solver!r})\n"
            f"outcome = solver.solve(problem, Clock(solver.default_budget), seed=0, log=lambda *a, **k: None)\n"
            f"mobench.evaluate(problem, outcome)\nprint(time.perf_counter() - t0)")

    def installs():
        yield "", BIN
        if args.baseline:
            yield "baseline: ", Path(args.baseline).resolve() / ".venv" / "bin"

    rows = {}
    for tag, bin_ in installs():
        def in_process(bin_=bin_) -> float:
            out = subprocess.run([str(bin_ / "python"), "-c", work], check=True, capture_output=True, text=True,
                                 env=env)
            return float(out.stdout.split()[-1])

        def cli_run(bin_=bin_) -> float:
            store = scratch / "store"
            shutil.rmtree(store, ignore_errors=True)
            return wall([str(bin_ / "mobench"), "run", args.target, "--solvers", args.solver, "--seeds", "1",
                         "--jobs", "1", "--store", str(store)], env)

        def cli_list(bin_=bin_) -> float:
            return wall([str(bin_ / "mobench"), "list"], env)

        rows.update({f"{tag}in-process solve + evaluate": in_process, f"{tag}mobench run (end to end)": cli_run,
                     f"{tag}mobench list": cli_list})
    for fn in rows.values():  # warm-up: references and scenario paths cached, files in the page cache
        fn()
    times = {k: [] for k in rows}
    for _ in range(args.repeats):
        for k, fn in rows.items():
            times[k].append(fn())
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"{args.target} with {args.solver}; median of {args.repeats} interleaved repeats (s), 1 thread")
    for k, v in times.items():
        print(f"  {k:<40} {med[k]:7.2f}   (spread {max(v) / min(v):.2f})")
    for tag, _ in installs():
        ratio = med[f"{tag}mobench run (end to end)"] / med[f"{tag}in-process solve + evaluate"]
        print(f"  {tag or 'this checkout: '}run / in-process {ratio:.2f}x (target <= 1.5x); "
              f"list {med[f'{tag}mobench list']:.2f} s (target < 2 s)")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
