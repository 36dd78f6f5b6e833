"""Inventory networks: every setting of the suite `paper-hdpo-networks` with every solver,
through the runner and read back from the store; the issue's targets; and the batched
simulator against the source's own simulator on the same work.

    python benchmarks/inventory_networks.py [--store results/stores/inventory-networks]
        [--seeds 3] [--jobs 2] [--suite paper-hdpo-networks] [--solvers hdpo,ppo,...]
        [--no-run] [--speed-only] [--paper-code ../Neural_inventory_control]

Prints, per problem, the reference (value and kind) and each solver's mean cost and gap over
seeds; then the targets: hdpo within 1% of the Clark-Scarf optimum on the serial system; on
one warehouse, hdpo with the symmetry-aware network below every heuristic at every n, and
its gap to the bound at the largest n against the smallest. Runs already stored are reused.

Speed (``--paper-code``, a checkout of github.com/MatiasAlvo/Neural_inventory_control; not a
dependency, never copied here): both simulators run the same policy (a base-stock level per
store and an echelon level at the warehouse, proportionally rationed: inside our simulator,
in the policy for theirs) from the same start state on the same demand, one warehouse and
n = 50 stores, B = 8,192 paths, in one process, alternating; the per-path costs must agree,
and the best of several repetitions of each is compared. Without the checkout the speed
section says how to get one: ``git clone https://github.com/MatiasAlvo/Neural_inventory_control``
(its code needs torch, numpy, pandas, matplotlib, gymnasium and pyyaml: this suite's venv has them).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

import mobench
from mobench.leaderboard import leaderboard
from mobench.registry import parse_target
from mobench.runner import plan_suite, run

import paper_code as paper_code_checkout

HEURISTICS = ("echelon-base-stock", "capped-base-stock-per-store")


def speed(paper_code: str | None, n: int = 50, B: int = 8192, T: int = 50, reps: int = 5) -> None:
    print(f"\n## Simulator speed: one warehouse, n = {n} stores, B = {B} paths, {T} periods, same policy")
    if not paper_code_checkout.found(paper_code):
        return
    Simulator, = paper_code_checkout.imported(paper_code, "environment.Simulator")  # their code, run as is
    torch.set_num_threads(1)
    prob = mobench.make(f"inventory/one-warehouse-v0:n={n}")
    sim = prob.sim()
    st = sim.reset(B, torch.Generator().manual_seed(0), horizon=T)
    levels = torch.tensor(prob.stores["mean"] * (np.asarray(prob.stores["L"]) + 1) * 1.3, dtype=torch.float32)
    wh_level = float(levels.sum() + 3 * prob.stores["mean"].sum())

    def desired(position):       # [B, N] installation positions -> orders (warehouse first)
        q_st = (levels - position[:, 1:]).clamp_min(0)
        q_w = (wh_level - position.sum(1, keepdim=True)).clamp_min(0)
        return torch.cat([q_w, q_st], 1)

    post = torch.cat([(st["stock"][..., 0] + st["stock"][..., 1]).unsqueeze(-1), st["stock"][..., 2:]], -1)
    data = {"initial_inventories": post[:, 1:].clone(), "initial_warehouse_inventories": post[:, :1].clone(),
            "demands": st["demand"].transpose(1, 2).contiguous(), "underage_costs": st["p"].clone(),
            "holding_costs": st["h"][:, 1:].clone(), "lead_times": st["L"][:, 1:].unsqueeze(-1).float(),
            "warehouse_lead_times": st["L"][:, :1].float(), "warehouse_holding_costs": st["h"][:, :1].clone()}
    problem_params = {"n_stores": n, "n_warehouses": 1, "n_extra_echelons": 0, "lost_demand": True,
                      "maximize_profit": False}
    obs_params = {"include_warehouse_inventory": True, "demand": {"past_periods": 0, "period_shift": 0},
                  "include_static_features": {"holding_costs": True, "underage_costs": True, "lead_times": True},
                  "time_features": None, "sample_features": None}
    env = Simulator("cpu")

    def theirs():
        obs, _ = env.reset(T, problem_params, {k: v.clone() for k, v in data.items()}, obs_params)
        total = torch.zeros(B)
        for _ in range(T):
            s_inv, w_inv = obs["store_inventories"], obs["warehouse_inventories"]
            q = desired(torch.cat([w_inv.sum(-1), s_inv.sum(-1)], 1))
            onhand = w_inv[:, :, 0]
            asked = q[:, 1:].sum(1, keepdim=True)
            f = torch.where(asked > onhand, onhand / asked.clamp_min(1e-12), torch.ones_like(asked))
            obs, r, *_ = env.step({"stores": (q[:, 1:] * f).unsqueeze(-1), "warehouses": q[:, :1].unsqueeze(-1)})
            total += r
        return total / T

    def ours():   # from the same drawn start state and demand, copied as theirs copies its data
        s = {k: v.clone() if torch.is_tensor(v) else v for k, v in st.items()}
        total = torch.zeros(B)
        for _ in range(T):
            s, r, *_ = sim.step(s, desired(sim.split(sim.observe(s))[0].sum(-1)))
            total -= r[:, 0] * n          # ours reports cost per store
        return total / T

    ta, tb = [], []
    with torch.no_grad():
        for _ in range(reps):
            t0 = time.perf_counter()
            a = theirs()
            t1 = time.perf_counter()
            b = ours()
            t2 = time.perf_counter()
            ta.append(t1 - t0)
            tb.append(t2 - t1)
    diff = float((a - b).abs().max() / a.abs().max())
    print(f"per-path cost, theirs vs ours: mean {float(a.mean()):.4f} vs {float(b.mean()):.4f}, "
          f"largest relative difference {diff:.1e}")
    print(f"wall time (best of {reps}): theirs {min(ta):.3f} s, ours {min(tb):.3f} s; speed-up {min(ta) / min(tb):.2f}x "
          f"(median of paired ratios {np.median(np.array(ta) / np.array(tb)):.2f}x); target >= 1x: "
          f"{'met' if min(ta) >= min(tb) else 'not met'}")


def solver_label(key: str) -> str:
    name, params = parse_target(key)
    return name + (f"[{params['arch']}]" if "arch" in params else "")


def report(store: str, problems: set[str]) -> None:
    board = leaderboard(store)
    if board.empty:
        print("the store holds no runs")
        return
    board = board[board.problem.isin(problems)].copy()
    board["who"] = board.solver.map(solver_label)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    cols = ["problem", "who", "budget", "n_seeds", "n_failed", "obj:cost", "obj:cost ci95", "gap_pct",
            "gap_pct ci95", "gap_se_pct", "reference_kind", "solve_s", "eval_s"]
    print("\n## Leaderboard (mean over seeds; gap_pct against the reference of the kind shown)")
    print(board[[c for c in cols if c in board]].sort_values(["problem", "obj:cost"]).to_string(index=False))
    gap = board.pivot_table(index="problem", columns="who", values="gap_pct", aggfunc="first")
    print("\n## Gap to the reference (%), by problem and solver")
    print(gap.round(2).to_string())

    print("\n## Targets")
    def plain(p, prefix):   # the setting itself, not its oracle (peek) variant
        return p.startswith(prefix) and not parse_target(p)[1].get("peek", 0)
    serial = [p for p in gap.index if plain(p, "inventory/serial-v0") and parse_target(p)[1]["stages"] == 4]
    for p in serial:
        hd = gap.loc[p].filter(like="hdpo").dropna()
        if len(hd):
            best = hd.min()
            print(f"{p}: hdpo best gap to Clark-Scarf {best:.3f}% ({hd.idxmin()}); target <= 1%: "
                  f"{'met' if best <= 1 else 'not met'}; all: {hd.round(3).to_dict()}")
    ow = sorted((p for p in gap.index if plain(p, "inventory/one-warehouse-v0")),
                key=lambda p: parse_target(p)[1]["n"])
    cost = board.pivot_table(index="problem", columns="who", values="obj:cost", aggfunc="first")
    sym = "hdpo[symmetry]"
    for p in ow:
        if sym not in cost or pd.isna(cost.loc[p, sym]):
            continue
        heur = cost.loc[p, [c for c in cost.columns if c in HEURISTICS]].dropna()
        beats = bool((cost.loc[p, sym] < heur).all()) if len(heur) else None
        print(f"{p}: hdpo[symmetry] {cost.loc[p, sym]:.4f} vs heuristics {heur.round(4).to_dict()}: "
              f"beats every heuristic: {beats}")
    have = [p for p in ow if sym in gap and not pd.isna(gap.loc[p, sym])]
    if len(have) >= 2:
        lo, hi = have[0], have[-1]
        print(f"hdpo[symmetry] gap to the newsvendor bound: n = {parse_target(lo)[1]['n']}: {gap.loc[lo, sym]:.2f}%, "
              f"n = {parse_target(hi)[1]['n']}: {gap.loc[hi, sym]:.2f}%")
        for h in HEURISTICS:
            if h in gap:
                print(f"  {h}: {gap.loc[lo, h]:.2f}% -> {gap.loc[hi, h]:.2f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default="results/stores/inventory-networks")
    ap.add_argument("--suite", default="paper-hdpo-networks")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--solvers", default=None, help="only these solver names (comma-separated)")
    ap.add_argument("--no-run", action="store_true", help="only print what the store holds")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--paper-code", default=None, help="checkout of MatiasAlvo/Neural_inventory_control")
    a = ap.parse_args()
    if not a.speed_only:
        solvers = set(a.solvers.split(",")) if a.solvers else None
        specs = plan_suite(a.suite, a.seeds, solvers=solvers)
        if not a.no_run:
            run(specs, a.store, jobs=a.jobs)
        print(f"store: {a.store}; suite {a.suite}, {a.seeds} seeds")
        for key in sorted({s.problem for s in specs}):
            ref = mobench.make(key).reference()
            print(f"{key}: reference {ref.kind} = {ref.value if ref.value is None else round(float(ref.value), 4)} "
                  f"({ref.source})")
        report(a.store, {s.problem for s in specs})
    speed(a.paper_code)


if __name__ == "__main__":
    main()
