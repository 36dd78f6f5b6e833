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


def test_entry_point_plugin_registers(monkeypatch):
    """An external package's entry point (a function calling register) is loaded."""
    import mobench.registry as reg

    class FakeEP:
        name = "ext"

        def load(self):
            def plug():
                reg.register_solver("ext-solver", "mobench.solvers.random_policy:RandomPolicy")
            return plug

    monkeypatch.setattr(reg, "entry_points", lambda group: [FakeEP()] if group == "mobench.solvers" else [])
    monkeypatch.setattr(reg, "_loaded", False)
    reg.load_all()
    assert "ext-solver" in solver_entries()
    reg._solvers.pop("ext-solver")


def test_builtin_catalogue():
    assert {"inventory/backlogged-v0", "inventory/lost-sales-v0"} <= set(problem_entries())
    assert {"base-stock", "capped-base-stock", "hdpo", "ppo", "random"} <= set(solver_entries())
