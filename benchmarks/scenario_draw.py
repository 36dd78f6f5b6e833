"""Scenario generation: torch.poisson against mobench.sampling.poisson, and a test set's draw
against reading it from the scenario cache, in one run (rows interleaved, torch threads pinned).

    python benchmarks/scenario_draw.py [--repeats 5] [--threads 1]

Rows: Poisson(5) demand for a training batch (B = 8,192 x 200 periods) and for the single-store
test set (8,192 x 2,100); the whole ``reset`` of the lost-sales test set drawn, and read back
from the cache; one ``rollout`` of the test set (base-stock policy) with a cold and a warm
cache. Prints the median time of each row, the spread of the repeats (slowest / fastest) and
the ratios.
"""
from __future__ import annotations

import argparse
import os
import tempfile

import torch

import mobench
from mobench import sampling
from mobench.cache import cache_dir
from mobench.evaluate import rollout
from sim_throughput import interleaved


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (pinned)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["MOBENCH_CACHE"] = tempfile.mkdtemp(prefix="mobench-scenario-draw-")
    prob = mobench.make("inventory/lost-sales-v0:L=2,p=9")
    sim, sc = prob.sim(), prob.spec.scenarios

    def draw(fn, B, T):
        def row():
            fn((B, T))
            return B * T
        return row

    def old(shape):
        return torch.poisson(torch.full(shape, 5.0), generator=torch.Generator().manual_seed(0))

    def new(shape):
        return sampling.poisson(5.0, shape, torch.Generator().manual_seed(0))

    def reset(cached):
        def row():
            gen = torch.Generator().manual_seed(sc.seed)
            if cached:
                with sampling.cached_draws():
                    sim.reset(sc.n, gen, horizon=sc.horizon)
            else:
                sim.reset(sc.n, gen, horizon=sc.horizon)
            return sc.n * sc.horizon
        return row

    def policy(obs):
        return (19.0 - obs.sum(1, keepdim=True)).clamp(0, 30)

    def score(cold):
        def row():
            if cold:
                for f in cache_dir("scenarios").glob("*.pt"):
                    f.unlink()
            rollout(sim, policy, sc)
            return sc.n * sc.horizon
        return row

    rows = {"torch.poisson, B=8192 x 200": draw(old, 8192, 200),
            "sampling.poisson, B=8192 x 200": draw(new, 8192, 200),
            "torch.poisson, B=8192 x 2100": draw(old, 8192, 2100),
            "sampling.poisson, B=8192 x 2100": draw(new, 8192, 2100),
            "test-set reset, drawn": reset(False),
            "test-set reset, read from the cache": reset(True),
            "rollout of the test set, cold cache": score(True),
            "rollout of the test set, warm cache": score(False)}
    rates = interleaved(rows, args.repeats)
    n = {k: (8192 * 200 if "x 200" in k else 8192 * 2100) for k in rows}  # what each row returns
    secs = {k: n[k] / r for k, (r, _) in rates.items()}
    print(f"{args.repeats} interleaved repeats, {torch.get_num_threads()} torch thread(s); median seconds")
    print(f"{'what':<42} {'s':>8} {'spread':>7}")
    for name, (rate, spread) in rates.items():
        print(f"{name:<42} {secs[name]:>8.3f} {spread:>7.2f}")
    pairs = [("torch.poisson, B=8192 x 200", "sampling.poisson, B=8192 x 200"),
             ("torch.poisson, B=8192 x 2100", "sampling.poisson, B=8192 x 2100"),
             ("test-set reset, drawn", "test-set reset, read from the cache"),
             ("rollout of the test set, cold cache", "rollout of the test set, warm cache")]
    for a, b in pairs:
        print(f"{a} / {b}: {secs[a] / secs[b]:.2f}x")


if __name__ == "__main__":
    main()
