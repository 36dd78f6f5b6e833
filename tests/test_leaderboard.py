"""Leaderboard and its exports from stores of hand-made run records (no solver runs): time
columns, ranks of failed rows, the across-problems table, filters, `mobench failures`, and
warnings about corrupt files."""
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from mobench.cli import main
from mobench.leaderboard import aggregate, leaderboard
from mobench.store import write_run

P1, P2 = "toy/one-v0:n=1", "toy/two-v0"


def fake_run(store, problem, solver, rep, gap=None, status="ok", solve=1.0, evals=2.0, curve=None, **summary):
    """Store one run record as the runner writes it (scored against an optimal reference)."""
    rid = hashlib.sha256(f"{problem}|{solver}|{rep}".encode()).hexdigest()[:20]
    rec = {"run_id": rid, "problem": problem, "problem_id": problem.split(":")[0], "solver": solver,
           "solver_name": solver.split(":")[0], "solver_version": 1, "budget_steps": None, "budget_seconds": 10.0,
           "rep": rep, "seed": rep, "status": status, "wall_seconds": solve + evals + 1.5,
           "provenance": {"device": "cpu"}, "curve": curve or []}
    if status == "ok":
        rec.update(solve_seconds=solve, eval_seconds=evals, objective_names=["cost"], objective_senses=["min"],
                   summary={"gap_pct": gap, "feasible": True, "feasible_rate": 1.0, "reference_kind": "optimal",
                            "reference_value": 10.0, "obj:cost": 10.0 * (1 + gap / 100), **summary})
    else:
        rec.update(error="RuntimeError: it broke", traceback="Traceback (most recent call last):\n"
                   "  File \"x.py\", line 1, in solve\nRuntimeError: it broke", solve_seconds=None)
    return write_run(store, rec)


def test_solve_and_evaluation_times_are_separate_columns_and_ties_go_to_the_faster(store):
    for rep in range(2):
        fake_run(store, P1, "slow", rep, gap=0.0, solve=3.0 + rep, evals=20.0)
        fake_run(store, P1, "fast", rep, gap=0.0, solve=1.0, evals=30.0)
    board = leaderboard(store).set_index("solver")
    assert "wall_s" not in board
    assert board.loc["slow", "solve_s"] == pytest.approx(3.5) and board.loc["slow", "eval_s"] == pytest.approx(20.0)
    assert board.loc["fast", "solve_s"] == pytest.approx(1.0) and board.loc["fast", "eval_s"] == pytest.approx(30.0)
    assert board.loc["fast", "rank"] == 1 and board.loc["slow", "rank"] == 2  # same gap: solve time decides


def test_rows_whose_runs_all_failed_get_no_rank(store, capsys):
    fake_run(store, P1, "good", 0, gap=5.0)
    fake_run(store, P1, "broken", 0, status="failed")
    fake_run(store, P1, "broken", 1, status="timeout")
    board = leaderboard(store).set_index("solver")
    assert board.loc["good", "rank"] == 1
    assert pd.isna(board.loc["broken", "rank"]) and board.loc["broken", "n_failed"] == 2
    assert main(["leaderboard", "--store", str(store), "--format", "json", "--table", "problems"]) == 0
    rows = {r["solver"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["broken"]["rank"] is None and rows["good"]["rank"] == 1


@pytest.fixture
def ragged(store):
    """'a' on both problems, 'b' on P1 only, 'c' on P2 only; 3 seeds each."""
    for rep in range(3):
        fake_run(store, P1, "a", rep, gap=10.0 + rep)
        fake_run(store, P2, "a", rep, gap=80.0 + rep)
        fake_run(store, P1, "b", rep, gap=40.0 + rep)
        fake_run(store, P2, "c", rep, gap=1.0 + rep)
    return store


def test_across_problems_compares_solvers_only_on_the_problems_they_share(ragged):
    agg = aggregate(ragged)
    assert "n_seeds" not in agg and {"set", "n_problems", "n_runs", "iqm", "iqm ci95", "rank", "problems"} <= set(agg)
    blocks = {s: g.set_index("solver") for s, g in agg.groupby("set")}
    members = {s: g.problems.iloc[0] for s, g in blocks.items()}
    assert sorted(members.values()) == sorted([f"{P1}; {P2}", P1, P2])
    for s, g in blocks.items():
        assert (g.problems == members[s]).all()  # everyone in a block ran on exactly its problems
        assert (g.n_problems == len(members[s].split("; "))).all() and (g.n_runs == 3 * g.n_problems).all()
        assert list(g["rank"]) == list(range(1, len(g) + 1))
    both = next(g for s, g in blocks.items() if members[s] == f"{P1}; {P2}")
    assert list(both.index) == ["a [10 s]"]  # b and c are not ranked against a's two problems
    on_p1 = next(g for s, g in blocks.items() if members[s] == P1)
    assert list(on_p1.index) == ["a [10 s]", "b [10 s]"]  # compared on P1 alone: a's P1 scores only
    assert on_p1.loc["a [10 s]", "iqm"] == pytest.approx(1 - 0.11)  # IQM of 0.90, 0.89, 0.88
    on_p2 = next(g for s, g in blocks.items() if members[s] == P2)
    assert list(on_p2.index) == ["c [10 s]", "a [10 s]"]
    assert all(np.isfinite(lo) and lo <= m <= hi for m, (lo, hi) in zip(agg.iqm, agg["iqm ci95"]))


def test_across_problems_has_an_interval_with_one_run_per_problem(store):
    fake_run(store, P1, "a", 0, gap=10.0)
    fake_run(store, P2, "a", 0, gap=50.0)
    (row,) = aggregate(store).to_dict("records")
    lo, hi = row["iqm ci95"]
    assert row["ci_over"] == "problems" and lo == pytest.approx(0.5) and hi == pytest.approx(0.9)


def test_the_across_problems_table_is_in_every_export(ragged, capsys):
    assert main(["leaderboard", "--store", str(ragged), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["per_problem"]) == 4 and {r["set"] for r in out["across_problems"]} == {"A", "B", "C"}
    assert main(["leaderboard", "--store", str(ragged), "--format", "csv"]) == 0
    import io
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(csv.table) == {"per-problem", "across-problems"}
    assert {"iqm lo", "iqm hi", "n_problems"} <= set(csv.columns)
    assert main(["leaderboard", "--store", str(ragged), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "## Across problems" in md and "| set " in md and f"set A (2 problems): {P1}; {P2}" in md
    assert main(["leaderboard", "--store", str(ragged)]) == 0
    table = capsys.readouterr().out
    assert "n_problems" in table and f"set B (1 problem): {P1}" in table


def test_leaderboard_filters(ragged, capsys):
    assert main(["leaderboard", "--store", str(ragged), "--format", "json", "--problem", "toy/one-v0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["problem"] for r in out["per_problem"]} == {P1}
    assert {r["problems"] for r in out["across_problems"]} == {P1}
    assert main(["leaderboard", "--store", str(ragged), "--format", "json", "--table", "problems",
                 "--solver", "b", "--solver", "c"]) == 0
    assert {r["solver"] for r in json.loads(capsys.readouterr().out)} == {"b", "c"}
    assert main(["leaderboard", "--store", str(ragged), "--format", "json", "--table", "problems",
                 "--problem", "toy/*", "--solver", "a"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["leaderboard", "--store", str(ragged), "--solver", "zz"]) == 2
    err = capsys.readouterr().err
    assert "--solver 'zz' matches no run" in err and "a, b, c" in err


def test_failures_lists_failed_runs_with_their_errors(store, capsys):
    fake_run(store, P1, "good", 0, gap=5.0)
    assert main(["failures", "--store", str(store)]) == 0
    assert "no failed" in capsys.readouterr().out
    fake_run(store, P1, "broken", 0, status="failed")
    assert main(["failures", "--store", str(store), "--lines", "1"]) == 0
    out = capsys.readouterr().out
    assert "failed: broken on toy/one-v0:n=1 (rep 0" in out and "    RuntimeError: it broke" in out
    assert "in solve" not in out  # --lines 1: the last line only
    assert "good" not in out


def test_a_corrupt_file_is_one_warning_line_once(store, capsys):
    fake_run(store, P1, "a", 0, gap=5.0)
    bad = store / "0123456789abcdef0123.ok.ffff-1.parquet"
    bad.write_bytes(b"not a parquet file")
    assert main(["leaderboard", "--store", str(store)]) == 0  # reads the store for both tables
    lines = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("mobench: warning: skipping corrupt store file")
    assert bad.name in lines[0]
