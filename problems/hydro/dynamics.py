"""The hydro problem's batched simulator: a policy sets end-of-stage target volumes, the stage
problem of the system's power-flow model (``stages.stage_problem``: an LP for the copper plate
and DC, a cone program for SOC, a non-linear program for AC) implements them (penalised slack)
with the realised inflow, and the stage's operating cost
is the reward's negative; the constraint cost is the load shed in the stage, as a percentage of
the horizon's demand energy (so its sum over the horizon is the % of demand not served).
Not differentiable in torch (the stage problem's dual gives the gradient;
see ``StageLP.solve(...)["dual_target"]``). Under AC each scenario's solve is warm-started from
that scenario's previous stage."""
from __future__ import annotations

import numpy as np
import torch

from ...problem import BatchedSim
from .stages import stage_problem
from .system import System


class HydroSim(BatchedSim):
    n_obj, n_con = 1, 1
    differentiable = False

    def __init__(self, system: System):
        self.sys = system
        R = system.n_res
        self.obs_dim, self.act_dim = 2 * R + 1, R
        self.action_low, self.action_high = system.vmin.copy(), system.vmax.copy()
        self.obs_low, self.obs_high = 0.0, np.inf
        self.horizon = system.stages
        self.lp = stage_problem(system)
        self.warm = system.model == "ac"

    def reset(self, batch, generator, device="cpu", horizon=None):
        T = self.horizon if horizon is None else int(horizon)
        S = self.sys.inflows.shape[1]
        return self._start(torch.randint(S, (batch, T), generator=generator), device)

    def enumerate(self, device="cpu", horizon=None):
        """Every inflow path of the tree (S^T, equally likely), in lexicographic order."""
        T = self.horizon if horizon is None else int(horizon)
        S = self.sys.inflows.shape[1]
        paths = np.indices((S,) * T).reshape(T, -1).T
        return self._start(torch.as_tensor(np.ascontiguousarray(paths), dtype=torch.int64), device)

    def _start(self, paths, device):
        batch, T = paths.shape
        v = torch.as_tensor(np.tile(self.sys.v0, (batch, 1)), dtype=torch.float64)
        state = {"t": 0, "T": T, "paths": paths, "v": v.to(device)}
        if self.warm:
            state["warm"] = [None] * batch
        return state

    def inflow(self, state) -> np.ndarray:
        t = min(state["t"], state["T"] - 1)  # after the last stage: the last stage's inflows
        return self.sys.inflows[min(t, self.sys.stages - 1)][state["paths"][:, t].numpy()]

    def observe(self, state):
        B = state["v"].shape[0]
        inflow = torch.as_tensor(self.inflow(state), dtype=torch.float64, device=state["v"].device)
        frac = torch.full((B, 1), state["t"] / state["T"], dtype=torch.float64, device=state["v"].device)
        return torch.cat([state["v"], inflow, frac], dim=1).float()

    def step(self, state, action):
        v = state["v"].cpu().numpy()
        inflow = self.inflow(state)
        target = action.detach().cpu().double().numpy()
        cost, shed, v_out = np.zeros(len(v)), np.zeros(len(v)), np.zeros_like(v)
        warm = list(state["warm"]) if self.warm else None
        for b in range(len(v)):  # one solve per scenario: the model is reused, only bounds change
            if self.warm:
                r = self.lp.solve(v[b], inflow[b], target[b], warm=warm[b])
                warm[b] = r["warm"]
            else:
                r = self.lp.solve(v[b], inflow[b], target[b])
            cost[b], shed[b], v_out[b] = r["operating_cost"], r["deficit"], r["v_out"]
        device = state["v"].device
        new = {**state, "t": state["t"] + 1, "v": torch.as_tensor(v_out, device=device)}
        if self.warm:
            new["warm"] = warm
        reward = -torch.as_tensor(cost, device=device).unsqueeze(1).float()
        done = torch.full((len(v),), new["t"] >= state["T"], dtype=torch.bool, device=device)
        shed_pct = 100.0 * shed / (self.sys.demand * state["T"])
        return new, reward, torch.as_tensor(shed_pct, device=device).unsqueeze(1).float(), done
