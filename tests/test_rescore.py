"""`mobench rescore`: stored runs scored again against a changed reference, from the raw outcome
alone, without losing the files they were first scored in."""
import json

import pyarrow.parquet as pq
import pytest

from mobench.cli import main
from mobench.errors import MobenchError
from mobench.leaderboard import leaderboard
from mobench.rescore import rescore
from mobench.runner import plan, run
from mobench.store import iter_files, read_record, write_run

# test-greedy on the toy knapsack takes values 7, 3, 3 where the optima are 9, 4, 3 (see
# tests/plugins.py): gaps 2/9, 1/4 and 0, mean 15.74%
BRUTE_FORCE = [9.0, 4.0, 3.0]
GREEDY = [7.0, 3.0, 3.0]


@pytest.fixture
def scored(store, tmp_path):
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps(BRUTE_FORCE))
    target = f"testfam/slow-reference-v0:path={ref},seconds=0"
    (rec,) = run(plan([target], ["test-greedy"], 1), store, progress=False)
    assert rec["status"] == "ok"
    return target, ref, rec


def test_a_changed_reference_is_scored_again_and_the_old_file_kept(store, scored):
    target, ref, rec = scored
    assert rec["summary"]["gap_pct"] == pytest.approx(100 * (2 / 9 + 1 / 4) / 3)
    assert rec["summary"]["reference_source"] == "brute force, slowly"
    assert rescore(store, progress=False).what.tolist() == ["unchanged"]

    ref.write_text(json.dumps([8.0, 3.0, 3.0]))  # a "new version" of the reference
    (again,) = run(plan([target], ["test-greedy"], 2)[1:], store, progress=False)  # scored against it
    with pytest.warns(UserWarning, match="scored against different references"):
        leaderboard(store)
    dry = rescore(store, dry_run=True, progress=False)
    assert sorted(dry.what) == ["unchanged", "would be rescored"] and len(iter_files(store)) == 2
    res = rescore(store, [target], progress=False).set_index("run_id").loc[[rec["run_id"]]]
    assert res.what.tolist() == ["rescored"]
    assert res["gap_pct before"].iloc[0] == pytest.approx(15.7407, abs=1e-4)
    assert res["gap_pct after"].iloc[0] == pytest.approx(100 * (1 / 8) / 3)
    files = [f for f in iter_files(store) if f.name.startswith(rec["run_id"])]
    assert len(files) == 2 and str(files[0]) == rec["path"]  # the first file stays as it was
    assert read_record(files[0])["summary"]["gap_pct"] == pytest.approx(15.7407, abs=1e-4)
    new = read_record(files[1])
    assert new["run_id"] == rec["run_id"] and new["rescored"]["from"] == files[0].name
    assert new["rescored"]["changed"]["gap_pct"][0] == pytest.approx(15.7407, abs=1e-4)
    board = leaderboard(store)  # each run counts once, by its newest file; no warning now
    assert len(board) == 1 and board.n_seeds.iloc[0] == 2
    assert board.gap_pct.iloc[0] == pytest.approx(100 / 24)

    ref.write_text(json.dumps(GREEDY))  # by problem id: every parameter set of it
    res = rescore(store, ["testfam/slow-reference-v0"], progress=False)
    assert res.what.tolist() == ["rescored"] * 2 and (res["gap_pct after"] == 0.0).all()
    assert rescore(store, progress=False).what.tolist() == ["unchanged"] * 2
    assert len(iter_files(store)) == 5


def test_bad_targets_and_stores_give_one_clear_error(store, scored, tmp_path, capsys):
    with pytest.raises(MobenchError, match="no successful run of testfam/knapsack-v0"):
        rescore(store, ["testfam/knapsack-v0"], progress=False)
    with pytest.raises(MobenchError, match="no result store"):
        rescore(tmp_path / "elsewhere", progress=False)
    assert main(["rescore", "--store", str(store), "--quiet", "routing/tsp-v0"]) == 2
    assert "no successful run of routing/tsp-v0" in capsys.readouterr().err
    assert len(iter_files(store)) == 1


def test_a_reference_that_cannot_be_computed_costs_nothing_stored(store, scored, capsys):
    target, ref, rec = scored
    ref.write_text("not json")
    with pytest.raises(SystemExit) as exc:
        main(["rescore", "--store", str(store), "--quiet"])
    assert exc.value.code == 1
    assert "error: JSONDecodeError" in capsys.readouterr().out
    assert [str(p) for p in iter_files(store)] == [rec["path"]]


def test_runs_stored_before_summaries_named_their_reference_are_labelled_once(store, scored):
    target, ref, rec = scored
    old = {k: v for k, v in read_record(rec["path"]).items() if k != "path"}
    for k in ("reference_source", "reference_digest"):
        del old["summary"][k]
    old["run_id"] = "0" * len(rec["run_id"])  # a second run, as written by an older mobench
    write_run(store, old, pq.read_table(rec["path"]))
    with pytest.warns(UserWarning, match="scored against different references"):
        leaderboard(store)
    res = rescore(store, progress=False).set_index("run_id")
    assert res.loc[old["run_id"], "what"] == "rescored" and res.loc[rec["run_id"], "what"] == "unchanged"
    assert res.loc[old["run_id"], "gap_pct after"] == res.loc[old["run_id"], "gap_pct before"]
    assert rescore(store, progress=False).what.tolist() == ["unchanged"] * 2
