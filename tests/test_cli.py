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
    rows = json.loads(capsys.readouterr().out)["per_problem"]
    assert {r["reference_kind"] for r in rows} == {"optimal"} and all(r["n_seeds"] == 2 for r in rows)
    assert all("gap_pct" in r and "feasible_rate" in r and "solve_s" in r and "eval_s" in r for r in rows)
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


def test_a_sweep_with_a_failed_run_exits_non_zero(tmp_path, capsys):
    store = str(tmp_path / "s")
    assert main(["run", TARGET, "--solvers", "test-crashy,random", "--seeds", "1", "--store", store, "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "2 runs made (1 ok, 1 failed or timed out)" in out and "failed: test-crashy" in out
    assert main(["failures", "--store", store]) == 0
    assert "deliberate failure for the test" in capsys.readouterr().out
    assert main(["run", TARGET, "--solvers", "random", "--seeds", "1", "--store", store, "--quiet"]) == 0
    assert main(["run", "--help"]) == 0
    assert "1 when any run of the sweep failed or timed out" in " ".join(capsys.readouterr().out.split())


BAD_RUNS = [
    (["--jobs", "0"], "argument --jobs: must be > 0"),
    (["--budget-seconds", "0"], "argument --budget-seconds: must be > 0"),
    (["--budget-seconds", "-5"], "argument --budget-seconds: must be > 0"),
    (["--budget-steps", "0"], "argument --budget-steps: must be > 0"),
    (["--seeds", "0"], "argument --seeds: must be > 0"),
    (["--device", "foo"], "--device 'foo' is not a device"),
    (["--address", "tcp://127.0.0.1:1"], "--address names a Ray or Dask cluster"),
    (["--backend", "dask", "--address", "tcp://127.0.0.1:1"], "no dask cluster answers there"),
    (["--backend", "ray", "--address", "127.0.0.1:1"], "no ray cluster answers there"),
    (["--solvers", "cpsat:workers=-1"], "workers=-1 is out of range: it must be >= 0"),
]


@pytest.mark.parametrize("extra, says", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_run_input_is_refused_before_any_work(tmp_path, capsys, extra, says):
    store = tmp_path / "s"
    solvers = [] if "--solvers" in extra else ["--solvers", "spt"]
    code = main(["run", "jobshop/makespan-v0:instance=ft06", *solvers, *extra, "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2 and says in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("mobench: error:")
    assert not store.exists()


def test_a_malformed_evaluation_limit_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOBENCH_EVAL_LIMIT", "an hour")
    assert main(["run", TARGET, "--solvers", "random", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "MOBENCH_EVAL_LIMIT must be a positive number" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists()


def test_bad_stores_suites_and_devices_are_refused(tmp_path, capsys):
    afile = tmp_path / "f"
    afile.write_text("x")
    for argv, says in ((["run", "smok"], "unknown suite 'smok'; did you mean 'smoke'?"),
                       (["run", TARGET, "--solvers", "random", "--store", str(afile)], "is a file, not a store"),
                       (["run", TARGET, "--solvers", "random", "--store", str(tmp_path / "no" / "such")],
                        "its parent folder"),
                       (["leaderboard", "--store", str(afile)], "is a file, not a store"),
                       (["leaderboard", "--store", str(tmp_path / "none")], "no store at")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "no").exists() and afile.read_text() == "x"
    if not torch.cuda.is_available():
        assert main(["run", TARGET, "--solvers", "random", "--device", "cuda", "--store", str(tmp_path / "s")]) == 2
        assert "CPU-only build" in capsys.readouterr().err
        assert not (tmp_path / "s").exists()


def test_every_suite_the_docs_and_papers_name_exists():
    """The suites named by the papers' table (mobench.published) and in `mobench run SUITE`
    commands of the documentation are registered (a command a reader copies must run)."""
    import re

    from mobench.published import PAPERS
    from mobench.registry import suites

    root = Path(__file__).resolve().parents[1]
    named = {p.suite for p in PAPERS if p.suite}
    for doc in [root / "README.md", *root.glob("docs/*.md"), *root.glob("problems/*/README.md"),
                *root.glob("results/leaderboards/*.md")]:
        named |= {m for m in re.findall(r"mobench run ([a-z][a-z0-9-]+)(?=[\s`])", doc.read_text())
                  if not m.endswith("-")}
    have = set(suites())
    assert {"paper-hdpo", "paper-scu", "smoke"} <= named
    assert named <= have, sorted(named - have)


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mobench {mobench.__version__}"
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--seeds SEEDS repetitions per (problem, solver)", "--budget-steps N environment steps per run",
                  "--budget-seconds S solver wall seconds per run", "--device DEVICE torch device",
                  "--dry-run", "--skip-unfit"):
        assert words in text, words


def test_list_says_which_solvers_fit_each_problem(capsys):
    assert main(["list", "--format", "json"]) == 0
    ids = {p["id"]: p for p in json.loads(capsys.readouterr().out)["problems"]}
    fits = set(ids["inventory/lost-sales-v0"]["solvers"])
    assert {"base-stock", "hdpo", "ppo", "random"} <= fits and not {"cpsat", "spt", "test-greedy"} & fits
    assert {"cpsat", "spt", "mwkr"} <= set(ids["jobshop/makespan-v0"]["solvers"])
    assert main(["list"]) == 0
    assert "solvers that fit (default parameters): " in capsys.readouterr().out


def test_dry_run_shows_the_plan_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "s"
    assert main(["run", TARGET, "testfam/knapsack-v0", "--solvers", "random,test-greedy", "--skip-unfit",
                 "--budget-seconds", "30", "--seeds", "2", "--jobs", "2", "--store", str(store), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "skipped (--skip-unfit): random on testfam/knapsack-v0" in out
    assert "skipped (--skip-unfit): test-greedy on inventory/lost-sales-v0" in out
    assert "2 cells, 4 runs: 4 to make" in out
    assert "at most 2 min by the budgets' seconds" in out and "about 60 s of wall time with --jobs 2" in out
    assert not store.exists()
    assert main(["run", TARGET, "testfam/knapsack-v0", "--solvers", "random,test-greedy", "--dry-run"]) == 2
    assert "--skip-unfit" in capsys.readouterr().err


def test_check_answers_quickly_on_a_cold_cache_and_full_checks_the_whole_reference(tmp_path, monkeypatch, capsys):
    """`mobench check routing/cvrp-v0` used to compute PyVRP's reference for all 1,000 instances
    (about 22 minutes); it now checks the reference on the problem's quick configuration (4
    instances) and says so; --full checks the whole one."""
    import time
    monkeypatch.setenv("MOBENCH_CACHE", str(tmp_path / "cache"))
    t0 = time.monotonic()
    rep = check_problem("routing/cvrp-v0:N=50")
    assert rep.ok, "\n".join(rep.lines)
    line = next(l for l in rep.lines if "reference present" in l)
    assert "quick configuration routing/cvrp-v0:N=50,count=4" in line and "--full" in line
    assert len(list((tmp_path / "cache" / "routing").iterdir())) == 1  # only the 4-instance set's
    assert time.monotonic() - t0 < 300  # minutes, not the full set's 22 (a guard, not a timing test)
    # --full goes to the problem as given (a small set here, so the test stays short)
    assert main(["check", "routing/cvrp-v0:N=10,count=6", "--full"]) == 0
    out = capsys.readouterr().out
    assert "PASS reference present or declared none: best-known" in out and "quick configuration" not in out


def test_check_params_must_name_declared_parameters():
    with pytest.raises(ValueError, match="check_params names undeclared parameters"):
        mobench.register("testfam/bad-check-v0", object, params={"n": mobench.Param(1)}, check_params={"m": 2})


def _imported_after(code: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running ``code``."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout.split()
    return set(out)


def test_the_command_line_imports_what_a_command_needs_and_no_more():
    """`import mobench.cli` imports neither torch nor pandas (a command imports what it needs);
    registering every family and solver (what `mobench list` and each run do first) imports
    neither scipy.stats, scipy.signal nor pandas (references, data loaders and the store
    import them when they are used)."""
    cli = _imported_after("import mobench.cli")
    assert not {"torch", "pandas", "scipy"} & cli
    registered = _imported_after("from mobench.registry import load_all\nload_all()")
    assert "torch" in registered
    assert not {"scipy.stats", "scipy.signal", "pandas", "pyarrow"} & registered


def test_mobench_evaluate_is_the_function_after_its_submodule_is_imported():
    import sys
    import mobench
    import mobench.evaluate  # noqa: F401 - the submodule, which the import system binds on the package
    assert callable(mobench.evaluate) and mobench.evaluate is sys.modules["mobench.evaluate"].evaluate
    assert mobench.make is not None and "make" in dir(mobench)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mobench.nope
