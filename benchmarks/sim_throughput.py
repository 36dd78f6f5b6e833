"""Inventory simulator throughput: the batched torch simulator (forward, and forward+backward
through an HDPO policy) against stepping the Gymnasium env, in one run on one machine.

    python benchmarks/sim_throughput.py [--device cpu|cuda] [--repeats 5] [--threads 1]

Prints scenario-periods per second (the median of --repeats) with the spread of the repeats
(slowest / fastest) and the ratios. The rows are interleaved (one timing of each row per
repeat, so a change in the machine's load touches every row alike) and torch's intra-op threads
are pinned (``--threads``), so that the ratios repeat from run to run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import mobench
from mobench.solvers.hdpo import MLPPolicy


def timed(fn) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return n, time.perf_counter() - t0


def interleaved(rows: dict, repeats: int) -> dict:
    """{name: (median rate, slowest / fastest)}: each repeat times every row once, in turn."""
    for fn in rows.values():  # warm-up (allocations, first calls)
        fn()
    times = {name: [] for name in rows}
    for _ in range(repeats):
        for name, fn in rows.items():
            n, t = timed(fn)
            times[name].append((n, t))
    return {name: (v[0][0] / float(np.median([t for _, t in v])), max(t for _, t in v) / min(t for _, t in v))
            for name, v in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (pinned)")
    ap.add_argument("--target", default="inventory/lost-sales-v0:L=2,p=9")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    prob = mobench.make(args.target)
    sim = prob.sim()
    S = 19.0

    def base_stock(obs):
        return (S - obs.sum(1, keepdim=True)).clamp(0, 30)

    @torch.no_grad()
    def forward(B=8192, T=200):
        st = sim.reset(B, torch.Generator().manual_seed(0), dev, horizon=T)
        for _ in range(T):
            st, r, c, d = sim.step(st, base_stock(sim.observe(st)))
        return B * T

    policy = MLPPolicy(sim.obs_dim, 1, 64, 2, torch.zeros(sim.obs_dim), torch.ones(sim.obs_dim),
                       torch.zeros(1), torch.full((1,), 30.0)).to(dev)

    def forward_backward(B=1024, T=100):
        st = sim.reset(B, torch.Generator().manual_seed(0), dev, horizon=T)
        loss = 0
        for _ in range(T):
            st, r, c, d = sim.step(st, policy(sim.observe(st)))
            loss = loss - r.mean()
        loss.backward()
        return B * T

    @torch.no_grad()
    def forward_mlp(B=8192, T=200):
        st = sim.reset(B, torch.Generator().manual_seed(0), dev, horizon=T)
        for _ in range(T):
            st, r, c, d = sim.step(st, policy(sim.observe(st)))
        return B * T

    env = prob.env()

    def gym_env(steps=5000):
        obs, _ = env.reset(seed=0)
        for _ in range(steps):
            a = np.clip(S - obs.sum(), 0, 30).astype(np.float32).reshape(1)
            obs, r, term, trunc, info = env.step(a)
            if term or trunc:
                obs, _ = env.reset()
        return steps

    rates = interleaved({"batched sim, base-stock policy, forward (B=8192)": forward,
                         "batched sim, MLP policy, forward (B=8192)": forward_mlp,
                         "batched sim, MLP policy, forward+backward (B=1024)": forward_backward,
                         "Gymnasium env, base-stock policy, one step at a time": gym_env}, args.repeats)
    env_rate = rates["Gymnasium env, base-stock policy, one step at a time"][0]
    print(f"{args.target} on {dev} ({torch.get_num_threads()} torch threads), median of {args.repeats} "
          f"interleaved repeats")
    print(f"{'what':<55} {'scenario-periods/s':>20} {'x env':>8} {'spread':>7}")
    for name, (rate, spread) in rates.items():
        print(f"{name:<55} {rate:>20,.0f} {rate / env_rate:>8.1f} {spread:>7.2f}")


if __name__ == "__main__":
    main()
