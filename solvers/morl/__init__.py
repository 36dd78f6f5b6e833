"""Multi-objective RL methods answered by a set of policies: `c-morl` (``c_morl.py``), `pgmorl`
(``pgmorl.py``) and the linear-scalarisation baseline `linear-ppo` (``linear_ppo.py``); the two
PPO-based methods share the archive, agent and vector-critic PPO of ``common.py``."""
from . import c_morl, linear_ppo, pgmorl  # noqa: F401 (each registers its solver)
