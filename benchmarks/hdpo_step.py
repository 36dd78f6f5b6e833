"""HDPO's training step against the paper's, on the same network and batch, in one run.

    python benchmarks/hdpo_step.py --paper-code ../Neural_inventory_control [--repeats 7] [--batch 8192] [--periods 50]

The setting of the HDPO paper's one-store lost-sales experiments (Alvo, Russo, Kanoria 2023;
github.com/MatiasAlvo/Neural_inventory_control, its ``vanilla_one_store`` network and
``one_store_lost`` training batch): lead time 2, p = 9, h = 1, Poisson(5) demand, B = 8,192
paths of 50 periods per step, an MLP of three hidden layers of 32 ELU units, Adam.

A step is what each trainer does per gradient update: the forward simulation of the batch with
the policy in the loop, the backward pass and the optimiser's step. The paper's trainer reads
its demand from a data set drawn once (its ``simulate_batch`` on a ready batch); ours draws a
fresh batch (``sim.reset``) every time its paths restart: the row "ours, with the draw" adds it.
Rows are interleaved (each repeat times every row once) with torch's threads pinned to one;
the median of the repeats is reported with the spread. A first check runs both simulators on
the same start state, demand and order-up-to policy and requires the same per-path costs.

The last row runs the network alone on the batch's observations (T forward passes, one
backward, Adam): the work both steps share, which bounds what any simulator can gain.

The paper's code is not a dependency and is not copied: pass a checkout of it
(``paper_code.py`` says how to get one).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

import mobench
from mobench.solvers.hdpo import MLPPolicy, _chunk_cost, _detach

import paper_code

L, P = 2, 9.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paper-code", default=None, help="checkout of MatiasAlvo/Neural_inventory_control")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--periods", type=int, default=50)
    args = ap.parse_args()
    if not paper_code.found(args.paper_code):
        return
    torch.set_num_threads(1)
    Simulator, VanillaOneStore = paper_code.imported(args.paper_code, "environment.Simulator",
                                                     "neural_networks.VanillaOneStore")
    B, T = args.batch, args.periods
    prob = mobench.make(f"inventory/lost-sales-v0:L={L},p={P:g}")
    sim = prob.sim()
    st = sim.reset(B, torch.Generator().manual_seed(0), horizon=T)

    # their state for one store: [on hand + the order arriving now, the L - 1 later ones]
    start = torch.cat([(st["on_hand"] + st["pipeline"][:, 0]).unsqueeze(1), st["pipeline"][:, 1:]], 1)
    data = {"initial_inventories": start.unsqueeze(1).clone(), "demands": st["demand"].unsqueeze(1).clone(),
            "underage_costs": torch.full((B, 1), P), "holding_costs": torch.ones(B, 1),
            "lead_times": torch.full((B, 1, 1), float(L))}
    problem_params = {"n_stores": 1, "n_warehouses": 0, "n_extra_echelons": 0, "lost_demand": True,
                      "maximize_profit": False}
    obs_params = {"include_warehouse_inventory": False, "demand": {"past_periods": 0, "period_shift": 0},
                  "include_static_features": {"holding_costs": True, "underage_costs": True, "lead_times": True},
                  "time_features": None, "sample_features": None}
    env = Simulator("cpu")

    def theirs_rollout(policy):
        obs, _ = env.reset(T, problem_params, {k: v.clone() for k, v in data.items()}, obs_params)
        total = 0
        for _ in range(T):
            obs, r, *_ = env.step(policy({**obs, "internal_data": env._internal_data}))
            total = total + r
        return total

    def ours_rollout(policy, state=None):
        s = _detach(st) if state is None else state
        total = 0
        for _ in range(T):
            s, r, *_ = sim.step(s, policy(sim.observe(s)))
            total = total - r[:, 0]
        return total

    # 1. the same per-path costs under the same order-up-to policy
    S = 19.0
    with torch.no_grad():
        a = theirs_rollout(lambda o: {"stores": (S - o["store_inventories"].sum(2, keepdim=True)).clamp_min(0)})
        b = ours_rollout(lambda o: (S - o.sum(1, keepdim=True)).clamp_min(0))
    diff = float((a - b).abs().max() / a.abs().max())
    print(f"order-up-to {S:g} on the same paths: mean cost per period theirs {float(a.mean()) / T:.5f}, "
          f"ours {float(b.mean()) / T:.5f}; largest relative difference per path {diff:.1e}")

    # 2. the training step: same architecture (3 x 32 ELU, softplus output), same batch
    hidden = [32, 32, 32]
    net_args = {"inner_layer_activations": {"master": "elu"}, "output_layer_activation": {"master": None},
                "neurons_per_hidden_layer": {"master": hidden}, "output_sizes": {"master": 1},
                "initial_bias": None}
    torch.manual_seed(0)
    their_net = VanillaOneStore(net_args)
    with torch.no_grad():
        their_net({"store_inventories": data["initial_inventories"][:2]})   # materialise its lazy layers
    their_opt = torch.optim.Adam(their_net.parameters(), lr=1e-3)
    ours_net = MLPPolicy(sim.obs_dim, 1, 32, 3, torch.zeros(sim.obs_dim), torch.full((sim.obs_dim,), 5.0),
                         torch.zeros(1), torch.full((1,), 30.0))
    ours_opt = torch.optim.Adam(ours_net.parameters(), lr=1e-3)
    n_theirs = sum(p.numel() for p in their_net.parameters())
    n_ours = sum(p.numel() for p in ours_net.parameters())

    def their_step():
        their_opt.zero_grad()
        loss = theirs_rollout(their_net).sum() / (B * T)
        loss.backward()
        their_opt.step()

    def our_step(draw: bool):
        def step():
            state = sim.training_reset(B, torch.Generator().manual_seed(1), horizon=T) if draw else _detach(st)
            ours_opt.zero_grad()
            loss, _ = _chunk_cost(sim, ours_net, state, T, 0)   # HDPO's own step (solvers/hdpo.py)
            loss.backward()
            ours_opt.step()
        return step

    obs_seq = [sim.observe(st).clone() for _ in range(T)]   # inputs of the network alone

    def network_alone():   # what neither simulator can avoid: T forward passes, one backward
        ours_opt.zero_grad()
        sum(ours_net(o).sum() for o in obs_seq).backward()
        ours_opt.step()

    rows = {"paper: simulate_batch + backward + Adam": their_step,
            "ours: _chunk_cost + backward + Adam": our_step(False),
            "ours, with the draw (training_reset)": our_step(True),
            "the network alone (T forward, one backward)": network_alone}
    for fn in rows.values():
        fn()
    times = {k: [] for k in rows}
    for _ in range(args.repeats):
        for k, fn in rows.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"\ntraining step, B = {B}, {T} periods, 1 torch thread, median of {args.repeats} interleaved repeats "
          f"(parameters: paper {n_theirs}, ours {n_ours})")
    base = med["paper: simulate_batch + backward + Adam"]
    for k, v in times.items():
        print(f"  {k:<44} {med[k] * 1000:8.1f} ms  spread {max(v) / min(v):.2f}  paper / this {base / med[k]:.2f}x")
    print(f"bound on any step's speed-up with this network: paper / network alone "
          f"{base / med['the network alone (T forward, one backward)']:.2f}x")
    print(f"target: ours >= 1.5x the paper's step: "
          f"{'met' if base / med['ours: _chunk_cost + backward + Adam'] >= 1.5 else 'not met'}")


if __name__ == "__main__":
    main()
