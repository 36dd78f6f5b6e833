"""What a problem version declares: objectives, constraints, answer kind, test scenarios, reference.

These are plain frozen dataclasses so that a spec can be printed, compared and stored.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Sequence

import numpy as np

Sense = Literal["min", "max"]
AnswerKind = Literal["policy", "pareto-policies", "solutions", "pareto-solutions"]
ReferenceKind = Literal["optimal", "best-known", "bound", "none"]

ANSWER_KINDS = ("policy", "pareto-policies", "solutions", "pareto-solutions")
REFERENCE_KINDS = ("optimal", "best-known", "bound", "none")


@dataclass(frozen=True)
class Objective:
    name: str
    sense: Sense = "min"

    def __post_init__(self):
        if self.sense not in ("min", "max"):
            raise ValueError(f"objective {self.name!r}: sense must be 'min' or 'max', got {self.sense!r}")


@dataclass(frozen=True)
class Constraint:
    """A constraint on the (per-scenario aggregated) cost: ``cost <= threshold`` for sense 'le'."""
    name: str
    threshold: float
    sense: Literal["le", "ge"] = "le"

    def violation(self, value):
        """Positive part of how far ``value`` is on the wrong side of the threshold."""
        v = np.asarray(value, dtype=float)
        return np.maximum(v - self.threshold, 0.0) if self.sense == "le" else np.maximum(self.threshold - v, 0.0)


@dataclass(frozen=True)
class TestScenarios:
    """The fixed scenarios every answer is scored on (never used for training).

    For simulated problems: ``n`` paths from ``torch.Generator().manual_seed(seed)``, ``horizon``
    periods each, the first ``warmup`` periods discarded, per-period rewards averaged
    (``aggregate='mean'``) or summed (``aggregate='sum'``), the sum discounted by ``discount``
    per period when it is below 1 (the first counted period undiscounted; rewards and costs
    alike). Development scenarios for early stopping use ``dev_seed`` and are distinct from
    the test ones.

    ``exact``: the scenarios are every scenario of a finite set of equally likely ones (``n`` of
    them), which the simulator lists (``BatchedSim.enumerate``) instead of drawing: the mean
    over them is the policy's exact expected value, with no sampling error (``seed`` is unused).
    """
    seed: int
    n: int
    horizon: int
    warmup: int = 0
    aggregate: Literal["mean", "sum"] = "mean"
    dev_seed: int = 0
    discount: float = 1.0
    exact: bool = False

    def __post_init__(self):
        if not 0 <= self.warmup < self.horizon:
            raise ValueError("TestScenarios: need 0 <= warmup < horizon")
        if not 0.0 < self.discount <= 1.0:
            raise ValueError(f"TestScenarios: discount must be in (0, 1], got {self.discount}")
        if self.discount < 1.0 and self.aggregate != "sum":
            raise ValueError("TestScenarios: a discount applies to summed returns (aggregate='sum')")
        if self.seed == self.dev_seed:
            raise ValueError("TestScenarios: dev_seed must differ from the test seed")


@dataclass(frozen=True)
class Spec:
    """The declaration of one problem version (``family/name-vN``) with its parameters bound."""
    id: str
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    answer: AnswerKind = "policy"
    scenarios: TestScenarios | None = None
    hv_ref_point: tuple[float, ...] | None = None
    description: str = ""
    tags: tuple[str, ...] = ()  # structure a specialised solver may rely on, e.g. "inventory"
    # (estimate, truth) objective pairs: two objectives measuring one quantity, one by an
    # estimator (e.g. importance sampling on held-out logs), one by the truth (simulation);
    # the summary adds the estimator's error for each pair.
    estimates: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if self.answer not in ANSWER_KINDS:
            raise ValueError(f"{self.id}: answer kind must be one of {ANSWER_KINDS}, got {self.answer!r}")
        if not self.objectives:
            raise ValueError(f"{self.id}: a problem needs at least one objective")
        names = {o.name for o in self.objectives}
        for pair in self.estimates:
            if len(pair) != 2 or not set(pair) <= names:
                raise ValueError(f"{self.id}: estimates must be (estimate, truth) pairs of objective names, got {pair!r}")
        if self.hv_ref_point is not None and len(self.hv_ref_point) != len(self.objectives):
            raise ValueError(f"{self.id}: hv_ref_point has {len(self.hv_ref_point)} entries, "
                             f"expected one per objective ({len(self.objectives)})")

    @property
    def n_obj(self) -> int:
        return len(self.objectives)

    @property
    def n_con(self) -> int:
        return len(self.constraints)

    @property
    def senses(self) -> tuple[str, ...]:
        return tuple(o.sense for o in self.objectives)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Reference:
    """What regret is measured against, and how much it is worth.

    ``value``: one number per objective (single-policy problems) or per instance (solutions);
    ``front``: a reference Pareto front (rows = points) for Pareto answers;
    ``lower``/``upper``: a proved interval when one exists beside the value (e.g. the two
    sides of a relative-value-iteration span, or a bound beside a best-known value).
    """
    kind: ReferenceKind
    value: float | Sequence[float] | None = None
    front: np.ndarray | None = None
    lower: float | None = None
    upper: float | None = None
    source: str = ""
    details: dict = field(default_factory=dict)
    # a bound valid on the test scenarios themselves, path by path (e.g. the wait-and-see value
    # of the test paths): no answer scores below it there, whatever the sampling error
    scenario_bound: float | None = None

    def __post_init__(self):
        if self.kind not in REFERENCE_KINDS:
            raise ValueError(f"reference kind must be one of {REFERENCE_KINDS}, got {self.kind!r}")
        if self.kind != "none" and self.value is None and self.front is None:
            raise ValueError(f"a reference of kind {self.kind!r} needs a value or a front")

    @classmethod
    def none(cls, why: str = "") -> "Reference":
        return cls(kind="none", source=why)
