"""Steps per second of the job-shop dispatching env against job-shop-lib's env, same instance,
random legal actions, one run:

    python benchmarks/jobshop_env_speed.py [--instance ta01] [--episodes 5]

Rows: this suite's Gymnasium view (`JobShopEnv`, observation built at every step), its core
(`Dispatch`, no observation), and job-shop-lib 1.7.2's `SingleJobShopGraphEnv` on the
resource-task graph with the IS_READY feature observer (its lightest configuration) and its
default ready-operations filter. Episode lengths differ (ours counts No-Op steps, which a
random policy takes), so steps/s and episodes/s are both printed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mobench.problems.jobshop import Dispatch, JobShopEnv, load_benchmark


def ours_env(name, episodes):
    env, rng, steps = JobShopEnv(load_benchmark(name)), np.random.default_rng(0), 0
    t = time.perf_counter()
    for e in range(episodes):
        obs, _ = env.reset(seed=e)
        done = False
        while not done:
            obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
            steps += 1
    return steps, time.perf_counter() - t


def ours_core(name, episodes):
    inst, rng, steps = load_benchmark(name), np.random.default_rng(0), 0
    t = time.perf_counter()
    for _ in range(episodes):
        d = Dispatch(inst)
        while not d.done:
            d.step(int(rng.choice(np.flatnonzero(d.action_mask()))))
            steps += 1
    return steps, time.perf_counter() - t


def jsl_env(name, episodes):
    from job_shop_lib.benchmarking import load_benchmark_instance
    from job_shop_lib.dispatching.feature_observers import FeatureObserverType
    from job_shop_lib.graphs import build_resource_task_graph
    from job_shop_lib.reinforcement_learning import SingleJobShopGraphEnv
    env = SingleJobShopGraphEnv(build_resource_task_graph(load_benchmark_instance(name)),
                                feature_observer_configs=[FeatureObserverType.IS_READY])
    rng, steps = np.random.default_rng(0), 0
    t = time.perf_counter()
    for e in range(episodes):
        _, info = env.reset(seed=e)
        done = False
        while not done:
            ops = info["available_operations_with_ids"]
            _, machine, job = ops[rng.integers(len(ops))]
            _, _, done, _, info = env.step((job, machine))
            steps += 1
    return steps, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instance", default="ta01")
    ap.add_argument("--episodes", type=int, default=5)
    a = ap.parse_args()
    inst = load_benchmark(a.instance)
    print(f"instance {a.instance}: {inst.n_jobs} jobs x {inst.n_machines} machines, {a.episodes} random episodes each")
    rows = [("mobench JobShopEnv (with observation)", ours_env), ("mobench Dispatch (core, no observation)", ours_core),
            ("job-shop-lib 1.7.2 SingleJobShopGraphEnv", jsl_env)]
    for label, fn in rows:
        steps, secs = fn(a.instance, a.episodes)
        print(f"{label:44s} {steps / secs:10.0f} steps/s  {a.episodes / secs:8.2f} episodes/s  "
              f"({steps / a.episodes:.0f} steps/episode)")


if __name__ == "__main__":
    main()
