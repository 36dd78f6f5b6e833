"""Multi-objective RL methods answered by a set of policies: `c-morl` (``c_morl.py``), `pgmorl`
(``pgmorl.py``) and the linear-scalarisation baseline `linear-ppo` (``linear_ppo.py``); the two
PPO-based methods share the archive, agent and vector-critic PPO of ``common.py``.

The suite `paper-c-morl` (`mobench run paper-c-morl`; ``benchmarks/morl_fronts.py`` runs it and
prints the tables) holds the settings of results/leaderboards/morl.md's current sections:
c-morl with the authors' per-task settings where the paper has the task, against pgmorl and
linear-ppo, at equal environment steps."""
from ...registry import register_suite
from . import c_morl, linear_ppo, pgmorl  # noqa: F401 (each registers its solver)
from ...targets import format_target

PAPER_C_MORL = [  # (tasks, steps, seconds, solvers besides c-morl)
    (("deep-sea-treasure", "fruit-tree", "resource-gathering", "minecart"), 100_000, 1800.0,
     ("pgmorl", "linear-ppo", "linear-ppo:normalize=true")),
    (("mo-hopper-2obj",), 100_000, 1800.0, ("pgmorl", "linear-ppo:normalize=true")),
    (("minecart",), 500_000, 3600.0, ("pgmorl", "linear-ppo:normalize=true")),
    (("mo-hopper-2obj",), 1_500_000, 3600.0, ("pgmorl", "linear-ppo:normalize=true")),
]
for _tasks, _steps, _seconds, _others in PAPER_C_MORL:
    for _task in _tasks:
        _target = f"mogym/{_task}-v0"
        _options = c_morl.paper_options(_target)
        _c_morl = format_target("c-morl", _options) if _options else "c-morl"
        register_suite("paper-c-morl", _target, {s: (_steps, _seconds) for s in (_c_morl, *_others)})
