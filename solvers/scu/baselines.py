"""The paper's baseline controllers of the microgrid (``agents/baselines.py`` of the authors'
code), each behind the SCU stack by default (``shield=scu``; the paper runs every agent behind
its controllers) or straight on the plant (``shield=none``). They read the plant state from the
observation (``MicrogridSim.decode``) and never see the test days beforehand.

- ``mg-random``: the sequencer command uniform over stop / none / start, the battery power
  uniform in [-600, 600] kW.
- ``mg-constant``: one command and one battery power throughout (``genset`` stop | none |
  start x ``battery`` charge | idle | discharge: the paper's nine).
- ``mg-greedy``: stop a set, and charge with the wind's surplus when wind covers the demand,
  else discharge at full power (the fuel-greedy reading; the authors' two branches are the same
  line, stop and charge at full power, which ``quirks=true`` reproduces).
- ``mg-rule-based``: the authors' "realistic" controller: start a set after 5 minutes with the
  running sets above 90% of their available power (at once when saturated); stop the last set
  after 5 minutes in which the others could carry the load at 70%; battery hysteresis: charge
  with the surplus over the sets' minimum output until SoC 0.9, then discharge at full power
  until SoC 0.1. Our reading of its intent: counters start afresh each episode, only running
  sets count as loaded (a cooling set does not ask for a restart), a warming set's minimum
  output is its warm-up power. ``quirks=true`` reproduces the authors' code instead (a cooling
  or warming set counts as running; a cooling last set triggers a restart at once, which gives
  a run / cool / warm cycle at low load).
"""
from __future__ import annotations

import torch

from ...registry import Param, register_solver
from ...solver import Budget, Outcome, Solver
from ...problems.microgrid import COOLDOWN, NONE, RUNNING, START, STOP, WARMUP, MicrogridView, command_action
from .wrapper import shield_outcome

SHIELD = Param("scu", choices=("scu", "none"), doc="scu: behind the paper's shield stack; none: straight on the plant")


class Baseline(Solver):
    defaults = {"shield": SHIELD}
    requires = (MicrogridView,)
    default_budget = Budget(steps=1, seconds=120)

    def supports(self, problem):
        if problem.spec.answer not in ("policy", "pareto-policies"):
            return "policy problems only"
        return None

    def controller(self, sim, seed):
        """-> a function (decoded state, obs) -> (command [B], battery kW [B])."""
        raise NotImplementedError

    def solve(self, problem, clock, seed, log):
        sim = problem.sim()
        control = self.controller(sim, seed)
        plant = sim.plant

        @torch.no_grad()
        def policy(obs):
            s = sim.decode(obs)
            cmd, p = control(s, obs)
            a0 = command_action(plant, s["status"], cmd)
            return torch.stack([a0, (p / plant.battery_kw).clamp(-1.0, 1.0)], 1).float()
        log(0, float("nan"))
        out = Outcome(policies=[policy], info={"controller": self.name, "params": dict(self.params)})
        return shield_outcome(problem, out) if self.shield == "scu" else out


class MgRandom(Baseline):
    description = "microgrid: random sequencer command and battery power (the paper's random agent)"

    def controller(self, sim, seed):
        gen = torch.Generator().manual_seed(seed)

        def control(s, obs):
            B = obs.shape[0]
            cmd = torch.randint(-1, 2, (B,), generator=gen)
            p = (torch.rand(B, generator=gen, dtype=torch.float64) * 2.0 - 1.0) * sim.plant.battery_kw
            return cmd.to(obs.device), p.to(obs.device)
        return control


class MgConstant(Baseline):
    defaults = {"shield": SHIELD, "genset": Param("none", choices=("stop", "none", "start")),
                "battery": Param("idle", choices=("charge", "idle", "discharge"))}
    description = "microgrid: one sequencer command and one battery power throughout (the paper's 9 constants)"

    def controller(self, sim, seed):
        c = {"stop": STOP, "none": NONE, "start": START}[self.genset]
        p = {"charge": -1.0, "idle": 0.0, "discharge": 1.0}[self.battery] * sim.plant.battery_kw

        def control(s, obs):
            B = obs.shape[0]
            return (torch.full((B,), c, dtype=torch.long, device=obs.device),
                    torch.full((B,), p, dtype=torch.float64, device=obs.device))
        return control


class MgGreedy(Baseline):
    defaults = {"shield": SHIELD, "quirks": False}
    description = "microgrid: stop a set; charge with wind's surplus, else discharge (the paper's greedy agent)"

    def controller(self, sim, seed):
        kw = sim.plant.battery_kw

        def control(s, obs):
            stop = torch.full_like(s["status"][:, 0], STOP)
            if self.quirks:
                return stop, torch.full_like(s["soc"], -kw)
            return stop, torch.where(s["wind"] >= s["demand"], s["demand"] - s["wind"], torch.full_like(s["soc"], kw))
        return control


class MgRuleBased(Baseline):
    defaults = {"shield": SHIELD, "quirks": False}
    description = "microgrid: the authors' rule-based controller (load thresholds, SoC hysteresis)"

    def controller(self, sim, seed):
        plant = sim.plant
        G = plant.n_gensets
        mem = {}

        def control(s, obs):
            B = obs.shape[0]
            fresh = s["frac"] <= 1e-9
            if mem.get("B") != B:
                mem.update(B=B, high=torch.zeros(B, dtype=torch.long), low=torch.zeros(B, dtype=torch.long),
                           charge=torch.ones(B, dtype=torch.bool))
            if not self.quirks:  # a new episode starts with fresh counters
                mem["high"] = torch.where(fresh, 0, mem["high"])
                mem["low"] = torch.where(fresh, 0, mem["low"])
                mem["charge"] = mem["charge"] | fresh
            status = s["status"]
            per = obs[:, 2:sim.base].double().reshape(B, G, -1)
            out = (per[..., 7] + 1.0) * plant.cap_kw / 2.0      # each set's output last minute
            avail = sim.available(status, s["avg"])
            running, warm, cool = status == RUNNING, status == WARMUP, status == COOLDOWN
            flag = running | warm | cool if self.quirks else running
            high = mem["high"]
            for k in range(G):  # the authors' per-set loop, in priority order
                f = flag[:, k]
                high = torch.where(f & (out[:, k] > 0.9 * avail[:, k]), high + 1, torch.where(f, 0, high))
                high = torch.where(f & (out[:, k] >= avail[:, k] - 1e-6), torch.clamp(high, min=5), high)
            on = running | warm
            n_on = on.sum(1)
            avail_on = torch.where(on, avail, torch.zeros_like(avail))
            last_on = on & (on.flip(1).cumsum(1).flip(1) == 1)
            others = (avail_on.sum(1) - torch.where(last_on, avail, torch.zeros_like(avail)).sum(1))
            quiet = ~(warm.any(1) | cool.any(1))
            low = torch.where(quiet & (n_on >= 2) & (0.7 * others > out.sum(1)), mem["low"] + 1, 0)
            high = torch.where(warm.any(1), 0, high)
            low = torch.where(cool.any(1), 0, low)
            mem["high"], mem["low"] = high, low
            cmd = torch.where(low >= 5, STOP, torch.where(high >= 5, START, NONE))
            # battery hysteresis
            lo, hi = plant.soc_normal
            charge = torch.where(mem["charge"], s["soc"] < hi, s["soc"] <= lo)
            mem["charge"] = charge
            if self.quirks:
                least = (running | warm | cool).sum(1) * plant.min_load_kw
            else:
                least = running.sum(1) * plant.min_load_kw + warm.sum(1) * plant.warmup_kw
            surplus = s["wind"] + least - s["demand"]
            p = torch.where(charge, torch.where(surplus >= 0, -surplus, torch.zeros_like(surplus)),
                            torch.full_like(surplus, plant.battery_kw))
            return cmd, p
        return control


register_solver("mg-random", MgRandom)
register_solver("mg-constant", MgConstant)
register_solver("mg-greedy", MgGreedy)
register_solver("mg-rule-based", MgRuleBased)
