"""Indicators against hand-computed values and against pymoo's independent implementations."""
import numpy as np
import pytest
from pymoo.indicators.hv import HV
from pymoo.indicators.igd import IGD
from pymoo.indicators.igd_plus import IGDPlus

from mobench.metrics import (cardinality, constraint_measures, eum, eum_weights, gap_pct, hypervolume,
                             igd, igd_plus, mul, nondominated, sparsity)

F = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0]])


def test_hand_computed_2d():
    assert hypervolume(F, [4, 4]) == pytest.approx(6.0)          # 3*1 + 2*1 + 1*1
    assert hypervolume(F, [2.5, 4]) == pytest.approx(1.5 + 0.5)  # clipped by the reference
    np.testing.assert_array_equal(nondominated(F), F[:3])
    assert cardinality(F) == 3
    assert sparsity(F) == pytest.approx((1 + 1 + 1 + 1) / 2)
    assert igd(F[:1], F[:3]) == pytest.approx((0 + np.sqrt(2) + np.sqrt(8)) / 3)
    # IGD+: only the dominated part of each distance: from (2,2) to (1,3): max(0,1-2)=0, 3-2=1
    assert igd_plus(F[:1], F[:3]) == pytest.approx((0 + 1 + 2) / 3)


def test_senses_mixed_and_max():
    # maximising objective 2 == minimising its negation
    G = F.copy()
    G[:, 1] *= -1
    assert hypervolume(G, [4, -4], ["min", "max"]) == pytest.approx(6.0)
    assert hypervolume(-F, [-4, -4], ["max", "max"]) == pytest.approx(6.0)
    assert cardinality(G, ["min", "max"]) == 3
    with pytest.raises(ValueError):
        hypervolume(F, [4, 4], ["min"])


def test_points_beyond_reference_add_nothing():
    assert hypervolume([[5.0, 5.0]], [4, 4]) == 0.0


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_agrees_with_pymoo_on_random_fronts(m):
    rng = np.random.default_rng(m)
    X = rng.random((40, m))
    X = X / np.linalg.norm(X, axis=1, keepdims=True)  # points on a sphere: many non-dominated
    ref = np.full(m, 1.1)
    front = rng.random((25, m))
    assert hypervolume(X, ref) == pytest.approx(HV(ref_point=ref)(X), rel=1e-9)
    assert igd(X, front) == pytest.approx(IGD(front)(X), rel=1e-9)
    assert igd_plus(X, front) == pytest.approx(IGDPlus(front)(X), rel=1e-9)
    # the same with every objective maximised
    assert hypervolume(-X, -ref, ["max"] * m) == pytest.approx(HV(ref_point=ref)(X), rel=1e-9)


def test_eum_and_mul():
    W = eum_weights(2)
    assert W.shape == (100, 2) and np.allclose(W.sum(1), 1)
    # single point (1, 1) maximised: utility w.(1,1) = 1 for every weight
    assert eum([[1.0, 1.0]], ["max", "max"]) == pytest.approx(1.0)
    # two extreme points: utility max(w1, w2), mean over the lattice w1 = k/99
    w1 = np.arange(100) / 99
    assert eum([[1.0, 0.0], [0.0, 1.0]], ["max", "max"]) == pytest.approx(np.mean(np.maximum(w1, 1 - w1)))
    assert mul([[1.0, 1.0]], [[1.0, 1.0], [0.0, 0.0]], ["max", "max"]) == pytest.approx(0.0)
    assert mul([[0.5, 0.5]], [[1.0, 1.0]], ["max", "max"]) == pytest.approx(0.5)
    assert eum_weights(3).shape == (91, 3)


def test_gap_and_constraints():
    assert gap_pct(105.0, 100.0) == pytest.approx(5.0)
    assert gap_pct(95.0, 100.0, "max") == pytest.approx(5.0)
    assert gap_pct(-95.0, -100.0) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        gap_pct(1.0, 0.0)
    C = np.array([[1.0, 0.0], [3.0, 0.5], [2.0, 2.0]])
    m = constraint_measures(C, [2.0, 1.0])
    np.testing.assert_allclose(m["mean_excess"], [0.0, -1 / 6])
    assert m["violation_rate"] == pytest.approx(2 / 3)
    assert m["worst_violation"] == pytest.approx(1.0)
    assert m["feasible"] is True
    assert constraint_measures([[3.0]], [2.0])["feasible"] is False
    assert constraint_measures([[1.0]], [2.0], ["ge"])["worst_violation"] == pytest.approx(1.0)


def test_hypervolume_leaves_out_points_beyond_the_reference_point_in_any_sense():
    """Hand-computed: (1, 3) and (2, 1) under reference (4, 4) cover 3 + 6 - 2 = 7; points that
    do not dominate the reference add nothing (the wrapper relies on moocore for that)."""
    from mobench.metrics import hypervolume
    F = np.array([[1.0, 3.0], [2.0, 1.0], [5.0, 0.5], [0.5, 4.0], [4.0, 4.0]])
    assert hypervolume(F, [4.0, 4.0]) == 7.0
    assert hypervolume(-F, [-4.0, -4.0], ["max", "max"]) == 7.0
    assert hypervolume(F * [1, -1], [4.0, -4.0], ("min", "max")) == 7.0
    assert hypervolume(F[2:], [4.0, 4.0]) == 0.0 and hypervolume(np.zeros((0, 2)), [1.0, 1.0]) == 0.0
