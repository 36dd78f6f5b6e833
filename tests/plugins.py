"""Test-only solvers, loaded through $MOBENCH_PLUGINS (so the runner's workers see them too)."""
import time

from mobench import Budget, Outcome, Solver, register_solver
from mobench.solvers.random_policy import RandomPolicy


class Sleepy(Solver):
    """Ignores its deadline: sleeps `seconds`, then returns a random policy."""
    defaults = {"seconds": 30.0}
    default_budget = Budget(seconds=1)

    def supports(self, problem):
        return None

    def solve(self, problem, budget, seed, log):
        time.sleep(self.seconds)
        return RandomPolicy("random").solve(problem, budget, seed, log)


class Crashy(Solver):
    defaults = {}
    default_budget = Budget(seconds=5)

    def supports(self, problem):
        return None

    def solve(self, problem, budget, seed, log):
        raise RuntimeError("deliberate failure for the test")


register_solver("test-sleepy", Sleepy)
register_solver("test-crashy", Crashy)


# A tiny per-instance ("solutions") problem: 0/1 knapsack instances with brute-force optima.
import itertools  # noqa: E402

import numpy as np  # noqa: E402

from mobench import Objective, Problem, Reference, Spec, register  # noqa: E402
from mobench.errors import InvalidSolution  # noqa: E402

ITEMS = [  # (weights, values, capacity)
    ([3, 4, 5, 2], [4, 5, 6, 3], 7),
    ([1, 2, 3], [1, 2, 3], 4),
    ([5, 5, 5], [1, 2, 3], 9),
]


class ToyKnapsack(Problem):
    def __init__(self):
        self.spec = Spec(id="", objectives=(Objective("value", "max"),), answer="solutions")

    def instances(self):
        return ITEMS

    def verify(self, index, solution):
        w, v, cap = ITEMS[index]
        chosen = sorted(set(int(i) for i in solution))
        if any(i < 0 or i >= len(w) for i in chosen):
            raise InvalidSolution(f"item index out of range in {solution}")
        weight = sum(w[i] for i in chosen)
        return np.array([float(sum(v[i] for i in chosen))]), np.zeros(0), weight <= cap

    def reference(self):
        best = []
        for w, v, cap in ITEMS:
            best.append(max(sum(v[i] for i in S) for r in range(len(w) + 1)
                            for S in itertools.combinations(range(len(w)), r) if sum(w[i] for i in S) <= cap))
        return Reference("optimal", value=[float(b) for b in best], source="brute force")


class Greedy(Solver):
    defaults = {"overfill": False}
    default_budget = Budget(seconds=5)

    def supports(self, problem):
        return None if problem.spec.answer == "solutions" else "per-instance problems only"

    def solve(self, problem, budget, seed, log):
        sols = []
        for w, v, cap in problem.instances():
            order = sorted(range(len(w)), key=lambda i: -v[i] / w[i])
            chosen, load = [], 0
            for i in order:
                if self.overfill or load + w[i] <= cap:
                    chosen.append(i)
                    load += w[i]
            sols.append(chosen)
        return Outcome(solutions=sols)


register("testfam/knapsack-v0", ToyKnapsack)
register_solver("test-greedy", Greedy)


from mobench.problem import SimEnv  # noqa: E402
from mobench.problems.inventory import LostSales  # noqa: E402


class Drifting(LostSales):
    """Broken on purpose: the env is a view of a simulator with another shortage cost."""

    def __init__(self):
        super().__init__(L=1, p=9.0, h=1.0)

    def env(self):
        other = LostSales(L=1, p=10.0, h=1.0)
        return SimEnv(other.sim())


register("testfam/drifting-v0", Drifting)
