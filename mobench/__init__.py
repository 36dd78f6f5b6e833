"""mobench: a benchmark suite for constrained and multi-objective sequential decision-making."""
from .errors import MobenchError
from .evaluate import Evaluation, evaluate
from .problem import BatchedSim, Problem, SimEnv
from .registry import Param, make, make_solver, register, register_solver
from .solver import Budget, Clock, Log, Outcome, Solver
from .spec import Constraint, Objective, Reference, Spec, TestScenarios

__version__ = "0.1.0"

__all__ = ["MobenchError", "Evaluation", "evaluate", "BatchedSim", "Problem", "SimEnv", "Param",
           "make", "make_solver", "register", "register_solver", "Budget", "Clock", "Log",
           "Outcome", "Solver", "Constraint", "Objective", "Reference", "Spec", "TestScenarios"]
