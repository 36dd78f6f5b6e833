"""Routing: steps per second of the batched BQ-MDP (``TSPBatch``, ``KnapsackBatch``, ``OPBatch``)
against a per-instance Python loop over the Gymnasium view (``TSPEnv``, ``KnapsackEnv``,
``OPEnv``) on the same instances and the same actions (nearest-neighbour / greedy-ratio /
greedy prize-per-length choices), in one run.

    python benchmarks/routing_env_speed.py [--n 50] [--count 1000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mobench.problems.routing import KnapsackBatch, KnapsackEnv, OPBatch, OPEnv, TSPBatch, TSPEnv
from mobench.problems.routing.instances import TSPInstance, knapsack_test_set, op_test_set, tsp_test_set


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--count", type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    coords = tsp_test_set(a.n, a.count, 0)

    t0 = time.perf_counter()
    b = TSPBatch(coords)
    steps = 0
    while not b.done:
        d = b.dist_from_current().masked_fill(~b.mask(), float("inf"))
        b.step(d.argmin(1))
        steps += b.B
    batched = steps / (time.perf_counter() - t0)
    batched_len = b.length.numpy()

    t0 = time.perf_counter()
    steps, loop_len = 0, []
    for c in coords:
        env = TSPEnv(TSPInstance("x", c))
        obs, _ = env.reset()
        total, done = 0.0, False
        while not done:
            cur = int(np.argmax(obs["current"]))
            d = np.sqrt(((c - c[cur]) ** 2).sum(1))
            d[obs["action_mask"] == 0] = np.inf
            obs, r, done, _, _ = env.step(int(np.argmin(d)))
            total -= r
            steps += 1
        loop_len.append(total)
    loop = steps / (time.perf_counter() - t0)
    assert np.allclose(batched_len, loop_len)  # the same tours
    print(f"TSP-{a.n}, {a.count} instances, nearest-neighbour actions: batched {batched:,.0f} steps/s, "
          f"per-instance Gymnasium loop {loop:,.0f} steps/s, ratio {batched / loop:.1f}x")

    insts = knapsack_test_set(4 * a.n, a.count, 0)
    W, V = np.stack([i.weights for i in insts]), np.stack([i.values for i in insts])
    order = np.argsort(-V / W, axis=1)
    t0 = time.perf_counter()
    kb = KnapsackBatch(W, V, 25.0)
    steps = 0
    rank = torch.as_tensor(np.argsort(order, axis=1))  # position of each item in the greedy order
    while not kb.done.all():
        m = kb.mask()
        pick = torch.where(m, rank, torch.full_like(rank, 1 << 30)).argmin(1)  # first fitting item in order
        steps += int((~kb.done).sum())
        kb.step(pick)
    batched = steps / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    steps = 0
    for inst, o in zip(insts, order):
        env = KnapsackEnv(inst)
        obs, _ = env.reset()
        done = False
        while not done:
            pick = next(i for i in o if obs["action_mask"][i])
            obs, _, done, _, _ = env.step(int(pick))
            steps += 1
    loop = steps / (time.perf_counter() - t0)
    print(f"knapsack-{4 * a.n}, {a.count} instances, greedy actions: batched {batched:,.0f} steps/s, "
          f"per-instance Gymnasium loop {loop:,.0f} steps/s, ratio {batched / loop:.1f}x")

    ops = op_test_set(a.n, a.count, 0)
    t0 = time.perf_counter()
    ob = OPBatch(np.stack([i.coords for i in ops]), np.stack([i.prize for i in ops]), ops[0].max_length)
    steps = 0
    while not ob.done.all():
        ratio = (ob.prize[:, 1:] / ob.dist_from_current()[:, 1:].clamp_min(1e-12)).masked_fill(~ob.mask()[:, :-1], -1.0)
        steps += int((~ob.done).sum())
        ob.step(torch.where(ratio.max(1).values >= 0, ratio.argmax(1), ob.N))
    batched, batched_prize = steps / (time.perf_counter() - t0), ob.collected.numpy()
    t0 = time.perf_counter()
    steps, loop_prize = 0, []
    for inst in ops:
        env = OPEnv(inst)
        obs, _ = env.reset()
        total, done = 0.0, False
        while not done:
            cur = int(np.argmax(obs["current"]))
            ratio = inst.prize[1:] / np.maximum(np.sqrt(((inst.coords[1:] - inst.coords[cur]) ** 2).sum(1)), 1e-12)
            ratio[obs["action_mask"][:-1] == 0] = -1.0
            obs, r, done, _, _ = env.step(int(np.argmax(ratio)) if ratio.max() >= 0 else inst.n)
            total += r
            steps += 1
        loop_prize.append(total)
    loop = steps / (time.perf_counter() - t0)
    assert np.allclose(batched_prize, loop_prize)  # the same tours
    print(f"OP-{a.n}, {a.count} instances, greedy prize / length actions: batched {batched:,.0f} steps/s, "
          f"per-instance Gymnasium loop {loop:,.0f} steps/s, ratio {batched / loop:.1f}x")


if __name__ == "__main__":
    main()
