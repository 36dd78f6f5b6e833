"""The morl-baselines peer solvers: what they accept and why not, the deterministic policy they
answer for PGMORL (hand-computed), and, where the optional extra is installed, a short GPI-LS
run scored by the engine."""
import numpy as np
import pytest
import torch

import mobench
from mobench.solvers.morl_baselines_peer import PEER_HINT, MeanActionPolicy


def _has_peer():
    try:
        import morl_baselines  # noqa: F401
        return True
    except ImportError:
        return False


def test_supports_says_what_is_missing():
    dst, hopper = mobench.make("mogym/deep-sea-treasure-v0"), mobench.make("mogym/mo-hopper-2obj-v0")
    gpi, pg = mobench.make_solver("mb-gpi-ls"), mobench.make_solver("mb-pgmorl")
    assert "discrete actions only" in gpi.supports(hopper)
    assert "continuous actions only" in pg.supports(dst)
    assert "MO-Gymnasium" in gpi.supports(mobench.make("inventory/backlogged-2obj-v0"))
    assert gpi.supports(dst) == (None if _has_peer() else PEER_HINT)
    assert pg.supports(hopper) == (None if _has_peer() else PEER_HINT)


def test_mean_action_policy_normalises_with_the_training_statistics_and_clips():
    class Net:
        actor_mean = torch.nn.Linear(2, 1)
    with torch.no_grad():
        Net.actor_mean.weight[:] = torch.tensor([[1.0, -2.0]])
        Net.actor_mean.bias[:] = 0.5
    pol = MeanActionPolicy(Net, mean=np.array([1.0, 2.0]), var=np.array([4.0, 0.25]), low=np.array([-1.0]),
                           high=np.array([1.0]), epsilon=0.0)
    obs = torch.tensor([[3.0, 2.0], [1.0, 2.25], [101.0, 2.0]])
    # normalised: (1, 0), (0, 0.5), (50 -> clipped to 10, 0); mean action 1.5, -0.5, 10.5; clipped to [-1, 1]
    np.testing.assert_allclose(pol(obs).numpy()[:, 0], [1.0, -0.5, 1.0])


@pytest.mark.skipif(not _has_peer(), reason=PEER_HINT)
def test_gpi_ls_short_run_is_scored_by_the_engine():
    from mobench.evaluate import evaluate
    from mobench.solver import Budget, Clock, Log
    problem = mobench.make("mogym/deep-sea-treasure-v0")
    solver = mobench.make_solver("mb-gpi-ls:timesteps_per_iter=500,hidden=32,layers=2,gradient_updates=1,eval_episodes=1")
    clock = Clock(Budget(steps=1500, seconds=300))
    out = solver.solve(problem, clock, 0, Log(clock))
    assert out.info["train_steps"] == 1500 and clock.steps == 1500 + out.info["eval_steps"]
    ev = evaluate(problem, out.policies)
    assert len(out.policies) == len(out.info["weights"]) >= 2 and ev.summary["hv"] >= 0
