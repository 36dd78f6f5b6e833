"""Indicators: Pareto tools, hypervolume, IGD/IGD+, EUM/MUL, sparsity, cardinality, regret/gap,
constraint-violation measures."""
from .pareto import (cardinality, eum, eum_weights, hypervolume, igd, igd_plus, mul, nondominated,
                     nondominated_mask, sparsity)
from .scores import constraint_measures, gap_pct

__all__ = ["cardinality", "eum", "eum_weights", "hypervolume", "igd", "igd_plus", "mul",
           "nondominated", "nondominated_mask", "sparsity", "constraint_measures", "gap_pct"]
