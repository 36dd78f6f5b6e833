"""Running anything behind the SCU stack, and any solver on either view of the microgrid.

``ShieldedPolicy``: a policy (obs [B, d] -> action [B, 2]) whose actions pass through the stack
before the plant sees them; the stack reads the plant state from the observation
(``MicrogridSim.decode``). Its ``record`` (the units' interventions) is a dict updated in place
while the engine scores the policy; solvers put it in ``Outcome.info["shield"]``, so the stored
run carries the interventions on the test days.
``Adapted``: the problem as a solver trains on it: behind the stack (its simulator and
Gymnasium view apply the stack before each plant step) and/or, for the two-objective view,
with the paper's scalar objective (fuel / 4 + degradation per day, one policy).
Solver ``mg-wrap``: ``mg-wrap:inner=NAME`` solves the registered solver NAME on the adapted
problem (its own objectives if NAME answers them, e.g. a multi-objective solver; else the
scalar one) and returns its policies behind the stack (``shield=scu``, the default) or as they
are (``shield=none``): e.g. ``mg-wrap:inner=random``, ``mg-wrap:inner=ppo-lagrangian,shield=none``,
``mg-wrap:inner=pgmorl``.
"""
from __future__ import annotations

import copy

import torch

from ...problem import BatchedSim, Problem
from ...registry import Param, make_solver, register_solver
from ...solver import Budget, Outcome, Solver
from ...spec import Objective, Reference, Spec
from ...problems.microgrid import MicrogridSim, MicrogridView
from .shields import ShieldStack


class ShieldedPolicy:
    """``policy`` behind a fresh SCU stack; ``record``: the stack's interventions."""

    def __init__(self, policy, sim: MicrogridSim, stack: ShieldStack | None = None):
        self.policy, self.sim = policy, sim
        self.stack = stack or ShieldStack(sim.plant)
        self.record = self.stack.record

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        action = torch.as_tensor(self.policy(obs), dtype=torch.float32)
        if action.dim() == 1:
            action = action.unsqueeze(1)
        return self.stack.project(self.sim.decode(obs), action.to(obs.device)).float()


class ShieldedSim(BatchedSim):
    """A MicrogridSim whose step applies the SCU stack to the action first (training view)."""
    differentiable = False

    def __init__(self, sim: MicrogridSim):
        self.inner = sim
        self.stack = ShieldStack(sim.plant)
        for k in ("obs_dim", "act_dim", "action_low", "action_high", "obs_low", "obs_high", "n_obj", "n_con",
                  "horizon"):
            setattr(self, k, getattr(sim, k))

    def reset(self, batch, generator, device="cpu", horizon=None):
        return self.inner.reset(batch, generator, device, horizon)

    def training_reset(self, batch, generator, device="cpu", horizon=None):
        return self.inner.training_reset(batch, generator, device, horizon)

    def observe(self, state):
        return self.inner.observe(state)

    def step(self, state, action):
        safe = self.stack.project(self.inner.core(state), action.to(state["soc"].device))
        return self.inner.step(state, safe)

    def __getattr__(self, name):  # plant, decode, data, ... of the wrapped simulator
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def scalar_sim(sim: MicrogridSim) -> MicrogridSim:
    """The simulator with the paper's scalar reward (one objective)."""
    if not sim.split:
        return sim
    out = copy.copy(sim)
    out.split, out.n_obj = False, 1
    return out


class Adapted(Problem):
    """The microgrid problem as a solver trains on it: ``shield``: every action goes through
    the SCU stack first; ``scalar``: one objective, the paper's (fuel / 4 + degradation per
    day; on the two-objective view that is also what a single policy answers). Same test
    scenarios and constraints; no reference (solvers never score)."""

    def __init__(self, problem: Problem, shield: bool, scalar: bool = True):
        super().__init__(problem.target)
        self.problem, self.shield = problem, shield
        self.scalar = scalar and problem.spec.n_obj > 1
        spec = problem.spec
        if self.scalar:
            spec = Spec(id=spec.id, objectives=(Objective("cost", "min"),), constraints=spec.constraints,
                        answer="policy", scenarios=spec.scenarios, description=spec.description + " (scalarised)",
                        tags=spec.tags)
        self.spec = spec

    def sim(self) -> BatchedSim:
        sim = self.problem.sim()
        if self.scalar:
            sim = scalar_sim(sim)
        return ShieldedSim(sim) if self.shield else sim

    def reference(self):
        return Reference.none("a training view")

    def reference_kind(self) -> str:
        return "none"


def shield_outcome(problem, outcome: Outcome) -> Outcome:
    """The outcome's policies behind fresh stacks, their records in ``info["shield"]``."""
    sim = problem.sim()
    policies = [ShieldedPolicy(pol, sim) for pol in outcome.policies]
    records = [p.record for p in policies]
    info = {**outcome.info, "shield": records[0] if len(records) == 1 else records}
    return Outcome(policies=policies, solutions=outcome.solutions, info=info)


class Wrap(Solver):
    """Any registered solver on the microgrid: trained on the problem behind the SCU stack
    (``shield=scu``) or not, on the problem's own objectives when it can answer them, else on
    the paper's scalar objective (how a single-objective solver answers the two-objective
    view); its policies returned behind a fresh stack or as they are. Its default budget is
    the inner solver's."""
    defaults = {"inner": Param("random", doc="the registered solver to run (without parameters)"),
                "shield": Param("scu", choices=("scu", "none"), doc="train and run behind the SCU stack")}
    default_budget = Budget(steps=150_000, seconds=1200)
    description = "any solver on the microgrid, behind the paper's shielded controller units (mg-wrap:inner=NAME)"
    requires = (MicrogridView,)

    def __init__(self, name, device="cpu", **params):
        super().__init__(name, device, **params)
        try:
            self.default_budget = self._inner().default_budget
        except Exception:  # noqa: BLE001 - supports() says why the inner solver cannot be made
            pass

    def _inner(self):
        return make_solver(self.inner, device=self.device)

    def adapted(self, problem, inner) -> Adapted:
        """The problem as ``inner`` trains on it: its own objectives if it can answer them."""
        own = Adapted(problem, self.shield == "scu", scalar=False)
        return own if inner.unfit(own) is None else Adapted(problem, self.shield == "scu")

    def supports(self, problem):
        if self.inner == "mg-wrap":
            return "the inner solver must not be mg-wrap itself"
        if problem.spec.answer not in ("policy", "pareto-policies"):
            return "policy problems only"
        try:
            inner = self._inner()
        except Exception as exc:  # noqa: BLE001 - an unknown name is the reason
            return f"inner solver: {exc}"
        return inner.unfit(self.adapted(problem, inner))

    def solve(self, problem, clock, seed, log):
        inner = self._inner()
        view = self.adapted(problem, inner)
        out = inner.solve(view, clock, seed, log)
        out = Outcome(policies=out.policies, solutions=out.solutions,
                      info={**out.info, "inner": self.inner, "objective": "scalar" if view.scalar else "own"})
        return shield_outcome(problem, out) if self.shield == "scu" else out


register_solver("mg-wrap", Wrap)
