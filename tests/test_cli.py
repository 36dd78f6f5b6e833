"""CLI: list/catalogue, run + leaderboard formats, plot, check, new-problem, bad input."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import mobench
from mobench.check import check_problem, check_solver
from mobench.cli import main, split_solvers

ROOT = Path(__file__).resolve().parents[1]
TARGET = "inventory/lost-sales-v0:L=1,p=4"


def test_split_solvers():
    assert split_solvers("a,b:x=1,y=2,c") == ["a", "b:x=1,y=2", "c"]
    with pytest.raises(mobench.MobenchError):
        split_solvers("x=1,a")


def test_list_formats(capsys):
    assert main(["list", "--format", "json"]) == 0
    cat = json.loads(capsys.readouterr().out)
    ids = {p["id"]: p for p in cat["problems"]}
    assert ids["inventory/lost-sales-v0"]["reference_kind"] == "optimal"
    assert ids["inventory/lost-sales-v0"]["params"]["L"]["range"] == [1, 4]
    assert {"hdpo", "ppo", "base-stock", "capped-base-stock", "random"} <= {s["name"] for s in cat["solvers"]}
    assert main(["list"]) == 0
    assert "inventory/backlogged-v0" in capsys.readouterr().out


def test_docs_catalogue_is_up_to_date(capsys):
    """docs/catalogue.md is what `mobench list --format md` prints (regenerate it if this fails)."""
    assert main(["list", "--format", "md"]) == 0
    out = capsys.readouterr().out
    # test-only plug-ins are loaded in the test session: compare the built-in part only
    lines = [l for l in out.splitlines() if "testfam/" not in l and "`test-" not in l]
    doc = [l for l in (ROOT / "docs" / "catalogue.md").read_text().splitlines()]
    assert lines == doc


def test_run_leaderboard_plot(tmp_path, capsys):
    store = str(tmp_path / "s")
    assert main(["run", TARGET, "--solvers", "random,base-stock:grid=6,refinements=0,paths=8,horizon=200",
                 "--seeds", "2", "--store", store, "--quiet"]) == 0
    assert "4 runs made (4 ok" in capsys.readouterr().out
    for fmt in ("csv", "json", "md", "table"):
        assert main(["leaderboard", "--store", store, "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert "base-stock" in out
    assert main(["leaderboard", "--store", store, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["reference_kind"] for r in rows} == {"optimal"} and all(r["n_seeds"] == 2 for r in rows)
    assert all("gap_pct" in r and "feasible_rate" in r and "wall_s" in r for r in rows)
    out_dir = tmp_path / "figs"
    assert main(["plot", "--store", store, "--out", str(out_dir)]) == 0
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert "gaps.png" in pngs and any(p.startswith("anytime_") for p in pngs)
    assert all((out_dir / p).stat().st_size > 5000 for p in pngs)


def test_bad_input_gives_one_clear_message(capsys, tmp_path):
    assert main(["run", "inventory/lost-sale-v0", "--solvers", "random", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mobench: error: unknown problem id") and "did you mean" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["run", "inventory/lost-sales-v0:L=7", "--solvers", "random"]) == 2
    assert "outside [1, 4]" in capsys.readouterr().err
    assert main(["run", "testfam/knapsack-v0", "--solvers", "hdpo"]) == 2
    assert "does not support" in capsys.readouterr().err
    assert main(["run", TARGET]) == 2
    assert "--solvers" in capsys.readouterr().err
    assert main(["check", "nothing-here"]) == 2
    assert not list(tmp_path.iterdir())  # nothing was written


@pytest.mark.parametrize("pid", ["inventory/backlogged-v0:L=4", "inventory/lost-sales-v0:L=3,p=19"])
def test_check_problems(pid):
    report = check_problem(pid)
    assert report.ok, "\n".join(report.lines)
    assert sum(l.startswith("PASS") for l in report.lines) == 7  # every check ran


@pytest.mark.parametrize("name", ["random", "base-stock", "capped-base-stock", "hdpo", "ppo"])
def test_check_solvers(name):
    report = check_solver(name)
    assert report.ok, "\n".join(report.lines)


def test_check_catches_a_broken_problem():
    """testfam/drifting-v0's Gymnasium view is built on other parameters than its simulator."""
    report = check_problem("testfam/drifting-v0")
    assert not report.ok
    fails = [l for l in report.lines if l.startswith("FAIL")]
    assert len(fails) == 1 and "agree step by step" in fails[0]


@pytest.mark.parametrize("kind, files", [
    ("policy", ["__init__.py", "dynamics.py"]), ("solutions", ["__init__.py"]), ("env", ["__init__.py", "env.py"])])
def test_new_problem_scaffold_passes_check(tmp_path, monkeypatch, kind, files):
    """Each kind's scaffold registers, passes `mobench check` and its own generated test, and
    scores an answer through the engine; a second scaffold of the name changes nothing."""
    import importlib
    import subprocess
    import sys

    from mobench import registry
    name = f"toy{kind}"
    (tmp_path / "problems").mkdir()
    assert main(["new-problem", name, "--kind", kind, "--root", str(tmp_path)]) == 0
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*"))
    assert created == sorted([f"problems/{name}/{f}" for f in files + ["README.md"]] + [f"tests/test_{name}.py"])
    import mobench.problems as fam
    monkeypatch.setattr(fam, "__path__", list(fam.__path__) + [str(tmp_path / "problems")])
    try:
        importlib.import_module(f"mobench.problems.{name}")
        report = check_problem(f"{name}/{name}-v0")
        assert report.ok, "\n".join(report.lines)
        problem = mobench.make(f"{name}/{name}-v0")
        if kind == "solutions":
            answer = [int(v.argmax()) for v in problem.instances()]
            assert mobench.evaluate(problem, answer).summary["gap_pct"] == pytest.approx(0.0)
        else:
            policy = lambda obs: torch.full((obs.shape[0], 1), 0.5)
            assert np.isfinite(mobench.evaluate(problem, policy).summary["obj:cost"])
        assert main(["new-problem", name, "--root", str(tmp_path)]) == 2
    finally:
        registry._problems.pop(f"{name}/{name}-v0", None)
        sys.modules.pop(f"mobench.problems.{name}", None)
    # the generated test passes as generated (in a fresh process that finds the new folder)
    env = {**__import__("os").environ, "MOBENCH_PLUGINS": f"mobench.problems.{name}"}
    code = (f"import mobench.problems as f; f.__path__.append({str(tmp_path / 'problems')!r}); "
            f"import pytest, sys; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(tmp_path / 'tests')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
