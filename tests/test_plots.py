"""Figures: what each one draws (read off its axes), and `mobench plot` on a store with nothing
to plot."""
import numpy as np
import pytest

from mobench import plots
from mobench.cli import main
from mobench.runner import plan, run

from test_leaderboard import fake_run


@pytest.fixture
def drawn(monkeypatch):
    """Capture each figure's axes as it is saved: {file name: axes}."""
    axes = {}
    finish = plots._finish

    def keep(fig, ax, title, path, **kw):
        axes[path.name] = ax
        return finish(fig, ax, title, path, **kw)
    monkeypatch.setattr(plots, "_finish", keep)
    return axes


def _stars(ax):
    return [c for c in ax.collections if len(c.get_offsets())]


def test_anytime_plots_show_every_run_and_gaps_on_a_log_axis(store, tmp_path, drawn):
    # a rule that logs no estimate and counts no steps (a dispatching rule): its runs are its score
    for rep in range(2):
        fake_run(store, "toy/rule-v0", "spt", rep, gap=20.0, solve=0.002,
                 curve=[{"steps": 0, "seconds": 0.001, "estimate": float("nan")}])
    # a learner with anytime estimates of the cost (reference 10): gaps from 90 % down to 0.5 %
    curve = [{"steps": s, "seconds": s / 1e4, "estimate": e} for s, e in ((1e3, 19.0), (1e4, 11.0), (1e5, 10.05))]
    fake_run(store, "toy/learn-v0", "hdpo", 0, gap=0.4, curve=curve, steps_used=100_000)
    paths = {p.name for p in plots.plot_store(store, tmp_path / "figs")}
    assert {"anytime_toy_rule_v0.png", "anytime_toy_learn_v0.png"} <= paths
    rule = drawn["anytime_toy_rule_v0.png"]
    assert rule.get_xlabel() == "solve seconds"
    (stars,) = _stars(rule)
    np.testing.assert_allclose(stars.get_offsets(), [[0.002, 20.0], [0.002, 20.0]])
    learn = drawn["anytime_toy_learn_v0.png"]
    assert learn.get_yscale() == "symlog" and "gap to the reference (%)" in learn.get_ylabel()
    (line,) = [l for l in learn.get_lines() if l.get_label() == "hdpo"]
    np.testing.assert_allclose(line.get_ydata(), [90.0, 10.0, 0.5])
    assert learn.get_ylim()[1] > 90.0  # nothing clipped at the top


def test_front_plots_show_the_reference_front_and_coinciding_answers(store, tmp_path, drawn):
    """test-constant answers the same five points in every run: one marker per point, its area
    for two runs; the reference front is drawn; the anytime axis says what it counts."""
    run(plan(["testfam/bi-v0"], ["test-constant"], 2), store, progress=False)
    plots.plot_store(store, tmp_path / "figs")
    ax = drawn["front_testfam_bi_v0.png"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["reference front (optimal)", "test-constant (2 runs)"]
    (ref,) = [l for l in ax.get_lines() if l.get_label().startswith("reference front")]
    assert len(ref.get_xdata()) == 50
    (points,) = _stars(ax)
    assert len(points.get_offsets()) == 5  # 10 answers on 5 distinct points
    np.testing.assert_allclose(points.get_sizes(), 90 * np.sqrt(2))
    mo = drawn["anytime_testfam_bi_v0.png"]
    assert "policies in the solver's current set" in mo.get_ylabel()
    np.testing.assert_allclose(_stars(mo)[0].get_offsets()[:, 1], [5, 5])  # the policies each run returned


def test_plot_on_an_empty_store_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["plot", "--store", str(tmp_path / "empty"), "--out", str(tmp_path / "figs")]) == 2
    assert "nothing to plot" in capsys.readouterr().err
    assert main(["plot", "--store", str(tmp_path / "missing"), "--out", str(tmp_path / "figs")]) == 2
    assert "no store at" in capsys.readouterr().err
