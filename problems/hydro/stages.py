"""The stage problem of a system's power-flow model: the LP on HiGHS for the copper plate and
DC power flow (``stage_lp.StageLP``), the SOC relaxation on Clarabel (``stage_soc.StageSOC``),
the AC power flow on Ipopt (``stage_ac.StageAC``). All three answer ``solve(v_in, inflow,
target=None)`` with the same entries (objective, v_out, operating_cost, deficit,
dual_balance, dual_target, ...) and hold Benders cuts (``add_cut``)."""
from __future__ import annotations

from .system import System


def stage_problem(system: System, penalty: float | None = None):
    """A new stage problem for ``system`` (its model: ``system.model``)."""
    model = system.model
    if model in ("copper", "dc"):
        from .stage_lp import StageLP
        return StageLP(system, penalty)
    if model == "soc":
        from .stage_soc import StageSOC
        return StageSOC(system, penalty)
    if model == "ac":
        from .stage_ac import StageAC
        return StageAC(system, penalty)
    raise ValueError(f"unknown power-flow model {model!r}")


def convex(system: System) -> System:
    """The system SDDP builds its cuts on: itself when its stage problems are convex, its SOC
    relaxation when they are AC (as the source's SDDP does)."""
    return system.with_model("soc") if system.model == "ac" else system
