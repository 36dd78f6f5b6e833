"""The wheel carries every family, solver and metric under the mobench namespace, and the
commit it was built from."""
import json
import subprocess
import sys
import zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def test_editable_mapping_points_at_the_top_level_folders():
    import mobench.metrics
    import mobench.problems
    import mobench.solvers
    assert Path(mobench.problems.__file__).parent == ROOT / "problems"
    assert Path(mobench.solvers.__file__).parent == ROOT / "solvers"
    assert Path(mobench.metrics.__file__).parent == ROOT / "metrics"


def test_wheel_contains_every_family(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                          "--no-build-isolation", "-q", "-w", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("mobench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    families = [p.name for p in (ROOT / "problems").iterdir() if (p / "__init__.py").exists()]
    assert families, "no family folders found"
    for fam in families:
        assert f"mobench/problems/{fam}/__init__.py" in names
    for mod in (ROOT / "solvers").glob("*.py"):
        assert f"mobench/solvers/{mod.name}" in names
    for mod in (ROOT / "metrics").glob("*.py"):
        assert f"mobench/metrics/{mod.name}" in names
    templates = sorted((ROOT / "mobench" / "templates").glob("*.tmpl"))
    assert templates, "no templates found"
    for tmpl in templates:
        assert f"mobench/templates/{tmpl.name}" in names
    assert not any(n.startswith(("problems/", "solvers/", "metrics/", "tests/")) for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
    # provenance of runs made with the built copy (mobench/source.py reads it)
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        info = json.loads(zipfile.ZipFile(wheel).read("mobench/_build_info.json"))
        assert info["git_commit"] == head and isinstance(info["git_dirty"], bool)
