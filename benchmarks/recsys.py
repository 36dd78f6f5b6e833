"""Short-video recommendation (TSCAC, issue "recsys"): every figure of
results/leaderboards/recsys.md, through the runner and read back from the store:

    OMP_NUM_THREADS=1 python benchmarks/recsys.py [--seeds 3] [--jobs 2] [--store results/bench-recsys]
        [--solvers tscac,rcpo,...] [--skip-runs]

1. the batched simulator against the Gymnasium loop (session-steps per second, one run);
2. the production ranker's statistics against the KuaiRand targets, and the thresholds' binding
   (the play-time-greedy oracle against each threshold);
3. the exact LP reference on a small world, and its policy simulated;
4. the `paper-tscac` suite (online, offline, two-objective; every solver, ``--seeds`` seeds);
5. the tables: online (play time, each constraint, met or not), offline (truth and NCIS
   estimate, the estimate's error), relative NCIS changes over BC beside the paper's, and the
   two-objective hypervolumes; and the issue's targets, met or not.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import mobench
from mobench.runner import plan_suite, run
from mobench.stats import bootstrap_ci
from mobench.store import current_files, records_frame

ONLINE, OFFLINE, TWO = "recsys/short-video-v0", "recsys/short-video-offline-v0", "recsys/short-video-2obj-v0"
SMALL = "recsys/short-video-v0:users=3,videos=3,candidates=2,horizon=3"
PUBLISHED = Path(__file__).parents[1] / "results" / "published" / "cai2023_tscac.csv"


def throughput():
    p = mobench.make(ONLINE)
    sim = p.sim()
    g = torch.Generator().manual_seed(0)
    B, T = 4096, p.horizon
    t0 = time.perf_counter()
    st = sim.reset(B, g)
    for _ in range(T):
        sim.observe(st)
        st, *_ = sim.step(st, torch.rand(B, 1, generator=g) * p.candidates)
    batched = B * T / (time.perf_counter() - t0)
    env = p.env()
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    n, t0 = 600, time.perf_counter()
    for _ in range(n):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    gym = n / (time.perf_counter() - t0)
    print(f"simulator ({ONLINE}, {p.layout.dim}-dim observations, uniform actions): batched {B} sessions "
          f"{batched:,.0f} session-steps/s; Gymnasium loop {gym:,.0f} steps/s; ratio {batched / gym:.0f}x (target >= 50x)")


def calibration():
    from mobench.problems.recsys import TARGETS, ShortVideoSim, ranker_statistics
    p = mobench.make(ONLINE)
    st = ranker_statistics(ShortVideoSim(p.world, p.candidates, p.horizon), 8192, seed=99)
    print("production ranker on 8,192 fresh sessions of the default world vs the KuaiRand targets:")
    for k, v in TARGETS.items():
        print(f"  {k:16s} target {v:.4g}  simulated {st[k]:.4g}  ({100 * (st[k] / v - 1):+.1f}%)")
    print(f"  raw mean play time per impression {st['watch_s']:.2f} s")


def binding():
    from mobench.problems.recsys import AUX, decode, respond, simulate_totals
    p = mobench.make(ONLINE)
    w = p.world

    def greedy(obs):
        d = decode(w, p.layout, obs)
        return respond(w, d["user"], d["cands"], d["hist_v"])["play"].argmax(1, keepdim=True).float()
    tot, aux, steps = simulate_totals(p.sim(), greedy, 4096, 5)
    r = p.ranker()
    print(f"thresholds = the production ranker's session totals (16,384 sessions; its play time {r['play_time']:.1f} s, "
          f"{r['session_length']:.2f} impressions); the play-time-greedy oracle (knows the world; play "
          f"{float(tot[:, 0].mean()):.1f} s, {float(steps.mean()):.2f} impressions):")
    for k, c in zip(AUX, p.spec.constraints):
        v = float(aux[:, AUX.index(k)].mean())
        ok = v >= c.threshold if c.sense == "ge" else v <= c.threshold
        print(f"  {k:8s} {'>=' if c.sense == 'ge' else '<='} {c.threshold:.4g}: greedy {v:.4g} -> "
              f"{'met' if ok else 'BROKEN'}")


def reference():
    from mobench.problems.recsys import TreePolicy, simulate_totals, solve_lp
    p = mobench.make(SMALL)
    thr = {c.name: c.threshold for c in p.spec.constraints}
    t0 = time.perf_counter()
    r = solve_lp(p.world, p.candidates, p.horizon, thr)
    dt = time.perf_counter() - t0
    free = solve_lp(p.world, p.candidates, p.horizon, None)
    pol = TreePolicy(p.world, p.layout, r["levels"], r["policy"], seed=0)
    tot, _, _ = simulate_totals(p.sim(), pol, 20000, 1)
    se = float(tot[:, 0].std() / np.sqrt(20000))
    print(f"{p.key}: LP optimum {r['value']:.4f} s ({sum(len(l) for l in r['levels'])} decision nodes, {dt:.1f} s); "
          f"unconstrained {free['value']:.4f}; its policy simulated on 20,000 sessions {float(tot[:, 0].mean()):.4f} "
          f"+- {1.96 * se:.4f}")


def frame(store, problem_key):
    df = records_frame(store)
    if df.empty:
        return df
    df = current_files(df)
    return df[(df.problem == problem_key) & (df.status == "ok")]


def ci_text(v):
    v = np.asarray(v, float)
    if len(v) < 2:
        return f"{v.mean():.4g}"
    lo, hi = bootstrap_ci(v)
    return f"{v.mean():.4g} [{lo:.4g}, {hi:.4g}]"


def online_table(store):
    p = mobench.make(ONLINE)
    df = frame(store, p.key)
    cons = p.spec.constraints
    rows = []
    for solver, g in df.groupby("solver"):
        row = {"solver": solver, "seeds": len(g), "play_time": ci_text(g["obj:play_time"])}
        for c in cons:
            v = g[f"cost:{c.name}"].astype(float)
            met = (v >= c.threshold) if c.sense == "ge" else (v <= c.threshold)
            row[f"{c.name} ({'>=' if c.sense == 'ge' else '<='}{c.threshold:.4g})"] = f"{v.mean():.4g} ({int(met.sum())}/{len(g)})"
        row["feasible"] = f"{int(g['feasible'].astype(bool).sum())}/{len(g)}"
        row["wall_s"] = f"{g['wall_seconds'].astype(float).mean():.0f}"
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        out["_key"] = [float(s.split()[0]) for s in out.play_time]
        out = out.sort_values("_key", ascending=False).drop(columns="_key")
    print(f"\nOnline: {p.key} (4,096 test sessions; play time in s per session, mean [95% CI over seeds]; each "
          "constraint: mean session total (seeds that meet it))")
    print(out.to_string(index=False))
    return df


def offline_table(store):

    p = mobench.make(OFFLINE)
    df = frame(store, p.key)
    cons = p.spec.constraints
    rows = []
    for solver, g in df.groupby("solver"):
        row = {"solver": solver, "seeds": len(g), "play_time (truth)": ci_text(g["obj:play_time"]),
               "feasible": f"{int(g['feasible'].astype(bool).sum())}/{len(g)}"}
        row["watch/imp NCIS"] = f"{g['obj:play_time_ncis'].mean():.3f}"
        row["watch/imp truth"] = f"{g['obj:play_time_per_step'].mean():.3f}"
        row["NCIS error %"] = f"{g['estimate_error_pct:play_time_ncis'].mean():+.1f}"
        for k in ("like", "hate"):
            row[f"{k} err %"] = f"{g[f'estimate_error_pct:{k}_ncis'].mean():+.1f}"
        for c in cons:
            v = g[f"cost:{c.name}"].astype(float)
            met = (v >= c.threshold) if c.sense == "ge" else (v <= c.threshold)
            row[f"{c.name} met"] = f"{int(met.sum())}/{len(g)}"
        rows.append(row)
    out = pd.DataFrame(rows)
    print(f"\nOffline: {p.key} (25,000 logged sessions; NCIS on 4,096 held-out logged sessions vs the truth on 4,096 "
          "simulated ones; per impression: watch in s; error = (NCIS - truth) / truth)")
    print(out.to_string(index=False))
    # the paper's table: NCIS per impression, change relative to BC, beside the published one
    if "bc" in set(df.solver):
        bc = df[df.solver == "bc"]
        pub = pd.read_csv(PUBLISHED, comment="#") if PUBLISHED.exists() else pd.DataFrame()
        paper_name = {"rcpo": "RCPO", "pareto-mo": "Pareto", "tscac": "TSCAC", "bc": "BC"}
        metric = {"play_time": "watch_time", "click": "click", "like": "like", "comment": "comment", "hate": "hate"}
        pct = lambda a, b: f"{100 * (a / b - 1):+.1f}" if b > 0 else "n/a"
        rel = []
        for solver, g in df.groupby("solver"):
            r = {"solver": solver}
            for k in metric:
                r[f"{k} NCIS"] = pct(g[f"obj:{k}_ncis"].mean(), bc[f"obj:{k}_ncis"].mean())
                r[f"{k} truth"] = pct(g[f"obj:{k}_per_step"].mean(), bc[f"obj:{k}_per_step"].mean())
                if len(pub):
                    hit = pub[(pub.table == "offline") & (pub.method == paper_name.get(solver, "")) & (pub.metric == metric[k])]
                    r[f"{k} paper"] = f"{float(hit.rel_pct.iloc[0]):+.2f}" if len(hit) and pd.notna(hit.rel_pct.iloc[0]) else ""
            rel.append(r)
        print("\nChange relative to BC, % per impression (the paper's offline table): our NCIS estimate, our truth, "
              "and the paper's NCIS (secondary, results/published/cai2023_tscac.csv):")
        print(pd.DataFrame(rel).to_string(index=False))
    return df


def two_objective_table(store):
    p = mobench.make(TWO)
    df = frame(store, p.key)
    rows = [{"solver": s, "seeds": len(g), "hv": ci_text(g["hv"]), "policies": f"{g['n_answers'].mean():.0f}",
             "play_time (front mean)": f"{g['obj:play_time'].mean():.1f}",
             "interactions (front mean)": f"{g['obj:interactions'].mean():.4f}"} for s, g in df.groupby("solver")]
    print(f"\nTwo objectives: {p.key} (hypervolume from (0, 0), play time x interactions per session)")
    print(pd.DataFrame(rows).to_string(index=False))


def targets(on):
    print("\nTargets:")
    t = on[on.solver == "tscac"]
    if len(t):
        print(f"  tscac meets every constraint: {int(t.feasible.astype(bool).sum())}/{len(t)} seeds")
        for other in ("rcpo", "pareto-mo"):
            o = on[on.solver == other]
            if len(o):
                d = t["obj:play_time"].mean() - o["obj:play_time"].mean()
                print(f"  tscac vs {other} play time: {t['obj:play_time'].mean():.1f} vs {o['obj:play_time'].mean():.1f} "
                      f"({d:+.1f} s, {'met' if d > 0 else 'NOT met'}; {other} feasible in "
                      f"{int(o.feasible.astype(bool).sum())}/{len(o)} seeds)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--store", default="results/bench-recsys")
    ap.add_argument("--solvers", default=None, help="only these solvers' cells of the suite (comma-separated)")
    ap.add_argument("--skip-runs", action="store_true", help="tables from the store only")
    a = ap.parse_args()
    throughput()
    calibration()
    binding()
    reference()
    if not a.skip_runs:
        t0 = time.perf_counter()
        off = mobench.make(OFFLINE)
        print(f"\noffline logs: {len(off.log()):,} training rows, {len(off.held_out()):,} held-out rows "
              f"(made or read from the cache in {time.perf_counter() - t0:.0f} s)")
        specs = plan_suite("paper-tscac", seeds=a.seeds, solvers=a.solvers.split(",") if a.solvers else None,
                           skipped=[])
        t0 = time.perf_counter()
        run(specs, a.store, jobs=a.jobs)
        print(f"\nsuite paper-tscac: {len(specs)} runs, {time.perf_counter() - t0:.0f} s wall")
    on = online_table(a.store)
    offline_table(a.store)
    two_objective_table(a.store)
    targets(on)


if __name__ == "__main__":
    main()
