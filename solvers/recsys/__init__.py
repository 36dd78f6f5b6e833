"""Short-video recommendation solvers (the recsys family): ``tscac`` (the paper's method),
``rcpo`` and ``pareto-mo`` (its constrained and multi-objective baselines), ``bc``,
``wide-deep`` and ``deepfm`` (supervised rankers), ``popular`` and ``oracle``. See README.md."""
from . import baselines, pareto_mo, rcpo, supervised, tscac  # noqa: F401 (each registers its solvers)
