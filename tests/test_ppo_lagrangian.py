"""ppo-lagrangian: the PID multiplier drives a budget-breaking policy back under its budget."""
import mobench
from mobench.check import check_solver
from mobench.solver import Budget, Clock, Log

torch = __import__("torch")
torch.set_num_threads(1)  # tiny networks: one thread is fastest, and the test does not fight other jobs


def test_multiplier_enforces_a_binding_budget():
    p = mobench.make("testfam/budgeted-v0")  # tests/plugins.py: optimum loss 3.2 at spend 1
    out = mobench.make_solver("ppo-lagrangian").solve(p, Clock(Budget(steps=60_000, seconds=300)), 0, Log())
    s = mobench.evaluate(p, out).summary
    assert out.info["lambda"][0] > 0.1          # the budget was binding, so the multiplier rose
    assert s["cost:spend"] <= 1.2               # unconstrained, the policy spends 5
    assert s["obj:loss"] < 4.6                  # and it still beats spending nothing (loss 5)
    assert s["obj:loss"] >= 3.2 - 1e-6 or s["cost:spend"] > 1.0  # nothing beats the optimum within budget


def test_supports_and_check():
    solver = mobench.make_solver("ppo-lagrangian")
    assert "constraint" in solver.supports(mobench.make("inventory/lost-sales-v0:L=1,p=4"))
    rep = check_solver("ppo-lagrangian", "hydro/synthetic-v0", seconds=30)
    assert rep.ok, "\n".join(rep.lines)
