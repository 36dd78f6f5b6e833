import pytest

import mobench
from mobench.errors import InvalidParameter, UnknownId
from mobench.registry import format_target, parse_target, problem_entries, solver_entries


def test_make_with_inline_and_keyword_params():
    p = mobench.make("inventory/lost-sales-v0:L=2,p=9")
    q = mobench.make("inventory/lost-sales-v0", L=2, p=9)
    assert p.key == q.key == "inventory/lost-sales-v0:L=2,h=1,p=9"
    assert p.spec.id == "inventory/lost-sales-v0"
    assert parse_target(p.key) == ("inventory/lost-sales-v0", {"L": 2, "h": 1, "p": 9})
    assert format_target(*parse_target(p.key)) == p.key


def test_unknown_id_suggests_closest():
    with pytest.raises(UnknownId, match="did you mean 'inventory/lost-sales-v0'"):
        mobench.make("inventory/lost-sale-v0")
    with pytest.raises(UnknownId, match="unknown solver 'hdp'.*'hdpo'"):
        mobench.make_solver("hdp")


def test_invalid_parameters():
    with pytest.raises(InvalidParameter, match="unknown parameter.*'q'"):
        mobench.make("inventory/lost-sales-v0", q=3)
    with pytest.raises(InvalidParameter, match=r"L=9.*outside \[1, 4\]"):
        mobench.make("inventory/lost-sales-v0:L=9")
    with pytest.raises(InvalidParameter, match="must be of type int"):
        mobench.make("inventory/lost-sales-v0:L=abc")
    with pytest.raises(InvalidParameter, match="key=value"):
        mobench.make("inventory/lost-sales-v0:L")
    with pytest.raises(InvalidParameter, match="given twice"):
        mobench.make("inventory/lost-sales-v0:L=2", L=3)
    with pytest.raises(InvalidParameter, match="unknown parameter"):
        mobench.make_solver("hdpo:learning_rate=3")


def test_register_rejects_bad_ids_and_duplicates():
    with pytest.raises(ValueError, match="family/name-v0"):
        mobench.register("NoVersion", object)
    with pytest.raises(ValueError, match="already registered"):
        mobench.register("inventory/lost-sales-v0", object)


EXTERNAL = """
import numpy as np
import mobench


class Coin(mobench.Problem):
    def __init__(self, target, bias):
        super().__init__(target)
        self.bias = bias
        self.spec = mobench.Spec(id=self.id, objectives=(mobench.Objective("value", "max"),), answer="solutions")

    def instances(self):
        return [self.bias]

    def verify(self, index, solution):
        return np.array([float(solution == 1) * self.bias]), np.zeros(0), solution in (0, 1)


class Heads(mobench.Solver):
    def solve(self, problem, clock, seed, log):
        return mobench.Outcome(solutions=[1])


def plug():
    mobench.register("extfam/coin-v0", Coin, params={"bias": mobench.Param(0.5, low=0.0, high=1.0)})
    mobench.register_solver("ext-heads", Heads)


def broken():
    raise RuntimeError("this plug-in is broken")
"""


def _fake_distribution(root, name, entry_points: str):
    """A package ``name`` with an installed distribution's metadata (``*.dist-info`` with
    ``entry_points.txt``), as pip would leave it, in the folder ``root``."""
    (root / f"{name}.py").write_text(EXTERNAL)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_external_package_registers_through_the_entry_points_as_the_builtins_do(tmp_path, monkeypatch):
    """A tiny external distribution on sys.path: its problem and solver are found through the
    entry-point groups, the suite's own families through the same groups (the entry points
    ``builtin`` of the distribution mobench), and a broken external plug-in only warns."""
    import sys
    from importlib.metadata import entry_points

    import mobench.registry as reg
    _fake_distribution(tmp_path, "mobench_ext", "[mobench.problems]\ncoin = mobench_ext:plug\n"
                                                "[mobench.solvers]\nbroken = mobench_ext:broken\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    builtin = {(ep.group, ep.name, ep.value, ep.dist.name) for g in ("mobench.problems", "mobench.solvers")
               for ep in entry_points(group=g) if ep.dist.name == "mobench"}
    assert builtin == {("mobench.problems", "builtin", "mobench.problems:register_builtin", "mobench"),
                       ("mobench.solvers", "builtin", "mobench.solvers:register_builtin", "mobench")}
    monkeypatch.setattr(reg, "_loaded", False)
    try:
        with pytest.warns(UserWarning, match="entry point 'broken' in group 'mobench.solvers' failed to load"):
            reg.load_all()
        assert "extfam/coin-v0" in problem_entries() and "ext-heads" in solver_entries()
        assert "inventory/lost-sales-v0" in problem_entries()
        p = mobench.make("extfam/coin-v0:bias=0.8")
        assert p.key == "extfam/coin-v0:bias=0.8" and p.spec.id == "extfam/coin-v0"
        out = mobench.make_solver("ext-heads").solve(p, None, 0, None)
        assert mobench.evaluate(p, out).summary["obj:value"] == pytest.approx(0.8)
    finally:
        reg._problems.pop("extfam/coin-v0", None)
        reg._solvers.pop("ext-heads", None)
        sys.modules.pop("mobench_ext", None)


def test_a_missing_builtin_entry_point_is_an_error(monkeypatch):
    """Without the suite's own entry points (a copy used without being installed) nothing would
    be registered: one message says to install it."""
    import mobench.registry as reg
    monkeypatch.setattr(reg, "entry_points", lambda group: [])
    monkeypatch.setattr(reg, "_loaded", False)
    with pytest.raises(RuntimeError, match="pip install -e"):
        reg.load_all()


def test_the_registry_hands_the_problem_its_identity():
    """The id, the parameters and the key come from the registry at construction: nothing is
    patched afterwards, and a problem whose spec carries another id is refused."""
    import mobench.registry as reg
    p = mobench.make("jobshop/makespan-v0:instance=ft06,reward=dense")
    assert p.target.id == p.spec.id == p.id == "jobshop/makespan-v0"
    assert p.params["reward"] == "dense" and p.key == "jobshop/makespan-v0:instance=ft06"

    class Stray(mobench.Problem):
        def __init__(self, target):
            super().__init__(target)
            self.spec = mobench.Spec(id="other/id-v0", objectives=(mobench.Objective("x"),))
    reg.register("testfam/stray-v0", Stray)
    try:
        with pytest.raises(TypeError, match="must carry the id handed to it"):
            mobench.make("testfam/stray-v0")
    finally:
        reg._problems.pop("testfam/stray-v0")


def test_builtin_catalogue():
    assert {"inventory/backlogged-v0", "inventory/lost-sales-v0"} <= set(problem_entries())
    assert {"base-stock", "capped-base-stock", "hdpo", "ppo", "random"} <= set(solver_entries())
