import numpy as np
import pytest
from scipy import stats as sps

from mobench.stats import (bootstrap_ci, iqm, normalised_score, performance_profile,
                           probability_of_improvement, stratified_bootstrap, task_bootstrap)


def test_iqm_matches_scipy_and_hand_value():
    x = np.array([0.0, 1, 2, 3, 4, 5, 6, 100])
    assert iqm(x) == pytest.approx(3.5)  # middle four: 2, 3, 4, 5
    rng = np.random.default_rng(0)
    y = rng.normal(size=101)
    assert iqm(y) == pytest.approx(sps.trim_mean(y, 0.25))
    for n in range(1, 21):  # every cut size, ties included
        z = np.round(rng.normal(size=n), 1)
        assert iqm(z) == pytest.approx(sps.trim_mean(z, 0.25), abs=1e-12)


def test_bootstrap_ci_brackets_mean_and_is_deterministic():
    x = np.random.default_rng(1).normal(10, 2, 50)
    lo, hi = bootstrap_ci(x)
    assert lo < x.mean() < hi
    assert (lo, hi) == bootstrap_ci(x)
    # normal-theory interval of similar width
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert (hi - lo) / (2 * half) == pytest.approx(1.0, abs=0.15)
    assert all(np.isnan(bootstrap_ci([1.0])))


def test_stratified_bootstrap_resamples_within_tasks():
    scores = {"a": np.zeros(5), "b": np.ones(5)}
    point, lo, hi = stratified_bootstrap(scores, np.mean)
    # each task keeps its 5 runs, so the pooled mean is always exactly 0.5
    assert point == lo == hi == 0.5


def test_probability_of_improvement_and_profiles():
    x = {"t": np.array([3.0, 4.0])}
    y = {"t": np.array([1.0, 3.0])}
    # pairs: (3>1) (3=3 -> 1/2) (4>1) (4>3): (1 + 0.5 + 1 + 1) / 4
    assert probability_of_improvement(x, y) == pytest.approx(0.875)
    assert probability_of_improvement(y, x) == pytest.approx(0.125)
    prof = performance_profile({"a": np.array([0.1, 0.5, 0.9]), "b": np.array([1.0])}, [0.0, 0.5])
    np.testing.assert_allclose(prof, [(1 + 1) / 2, (1 / 3 + 1) / 2])


def test_normalised_score():
    np.testing.assert_allclose(normalised_score([0.0, 50.0, 300.0, 10.0], [True, True, True, False]),
                               [1.0, 0.5, 0.0, 0.0])


def test_task_bootstrap_gives_an_interval_when_each_task_has_one_run():
    """Resampling runs within tasks has nothing to resample with one run per task (rliable's
    interval would be the point); resampling the tasks does: with two tasks at 0 and 1 the
    pooled mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4."""
    scores = {"a": np.array([0.0]), "b": np.array([1.0])}
    assert all(np.isnan(stratified_bootstrap(scores, np.mean)[1:]))
    point, lo, hi = task_bootstrap(scores, np.mean)
    assert (point, lo, hi) == (0.5, 0.0, 1.0)
    many = {str(i): np.array([v]) for i, v in enumerate(np.random.default_rng(2).normal(size=40))}
    point, lo, hi = task_bootstrap(many, np.mean)
    x = np.concatenate(list(many.values()))
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # one run per task: the ordinary bootstrap of the mean
    assert lo < point < hi and (hi - lo) / (2 * half) == pytest.approx(1.0, abs=0.15)
    assert all(np.isnan(task_bootstrap({"a": np.array([0.3])}, np.mean)[1:]))
