"""Solvers: one module per method; each registers itself with ``register_solver``."""
