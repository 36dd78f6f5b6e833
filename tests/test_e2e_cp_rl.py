"""e2e-cp-rl / ppo-dispatch: the CP-guidance pieces (left shift, replay through the MDP, CP
re-optimisation), resumable training, and the solver contract."""
import numpy as np
import pytest
import torch

from mobench.check import check_solver
from mobench.problems.jobshop import Dispatch, JobShopEnv, load_benchmark
from mobench.problems.jobshop.cp_model import JobShopModel
from mobench.problems.jobshop.schedule import makespan, violations
from mobench.solvers.e2e_cp_rl import (DEFAULTS, DispatchPolicy, Trainer, cp_improve, left_shift,
                                       load_policy, replay, save)
from mobench.solvers.random_policy import random_episode

TINY = dict(DEFAULTS, envs=4, rollout=16, train_jobs=4, train_machines=3, d_model=16, heads=2,
            epochs=1, cp_episodes=2, cp_seconds=0.5)


def test_cp_schedule_replays_exactly_through_the_mdp():
    inst = load_benchmark("la01")
    r = JobShopModel(inst).solve(10, workers=2)
    shifted = left_shift(inst, r.starts)
    assert violations(inst, shifted) == [] and makespan(inst, shifted) <= r.objective
    assert (shifted <= r.starts).all()
    pairs, rebuilt = replay(inst, shifted)
    np.testing.assert_array_equal(rebuilt, shifted)
    assert all(obs["action_mask"][a] for obs, a in pairs)  # every replayed action is legal


def test_cp_improves_a_random_schedule_keeping_the_prefix():
    inst = load_benchmark("ft06")
    starts = random_episode(JobShopEnv(inst), seed=3)
    mk = makespan(inst, starts)
    better = cp_improve(inst, starts, 5.0, np.random.default_rng(0), cut=0)  # everything free
    assert better is not None and violations(inst, better) == [] and makespan(inst, better) < mk
    cut = mk // 2
    part = cp_improve(inst, starts, 5.0, np.random.default_rng(0), cut=cut)
    if part is not None:  # the operations before the cut stay where they were (or move left)
        before = starts < cut
        assert (part[before] <= starts[before]).all() and makespan(inst, part) < mk


def test_policy_masks_illegal_actions():
    d = Dispatch(load_benchmark("ft06"))
    d.step(0)
    obs = d.observation()
    pol = DispatchPolicy(16, 2)
    logits, value = pol(torch.as_tensor(obs["ops"])[None], torch.as_tensor(obs["shared"].astype(bool))[None],
                        torch.as_tensor(obs["action_mask"].astype(bool))[None])
    probs = torch.softmax(logits, 1)[0].detach().numpy()
    assert probs[obs["action_mask"] == 0].max() < 1e-12 and value.shape == (1,)


@pytest.mark.parametrize("cp", [True, False])
def test_training_is_resumable_and_deterministic(tmp_path, cp):
    torch.set_num_threads(1)
    a = Trainer(TINY, cp, seed=1)
    for _ in range(2):
        a.update(a.rollout(), a.imitation_data())
        a.iteration += 1
    save(a, tmp_path / "ck.pt")
    b = Trainer(TINY, cp, seed=99)
    b.load_state_dict(torch.load(tmp_path / "ck.pt", weights_only=True))
    assert b.iteration == 2
    for p, q in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.equal(p, q)
    pol, sd = load_policy(tmp_path / "ck.pt")
    assert sd["cp"] is cp and sd["iteration"] == 2


def test_fine_tuning_starts_from_an_exported_policy_and_keeps_its_record(tmp_path):
    """``init_from`` (the training CLI's --init): the weights are the exported policy's, the
    optimiser is fresh, the export of the fine-tuned policy lists what it started from, and a
    policy of another architecture is refused with a message naming the mismatch."""
    from mobench.solvers.e2e_cp_rl import export_policy
    torch.set_num_threads(1)
    a = Trainer(TINY, True, seed=1)
    a.update(a.rollout(), a.imitation_data())
    a.iteration, a.seconds = 1, 12.5
    save(a, tmp_path / "a-ck.pt")
    export_policy(tmp_path / "a-ck.pt", tmp_path / "a.pt")
    b = Trainer(dict(TINY, train_jobs=5, train_machines=4), False, seed=2)
    b.init_from(tmp_path / "a.pt")
    for p, q in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.equal(p, q)
    assert not b.opt.state and b.iteration == 0
    b.update(b.rollout(), None)
    b.iteration = 1
    save(b, tmp_path / "b-ck.pt")
    small = export_policy(tmp_path / "b-ck.pt", tmp_path / "b.pt")
    assert small["lineage"] == [{"file": "a.pt", "cp": True, "iteration": 1, "episodes": a.episodes,
                                 "seconds": 12.5, "train_jobs": 4, "train_machines": 3}]
    assert small["cfg"]["train_jobs"] == 5 and small["cp"] is False
    with pytest.raises(ValueError, match="d_model=16, this training has d_model=32"):
        Trainer(dict(TINY, d_model=32), True, seed=3).init_from(tmp_path / "a.pt")


def test_reusing_unchanged_job_embeddings_samples_the_same_episodes():
    """Sampling re-encodes only the job windows that changed since the last step; the
    episodes are those of re-encoding every window at every step (same generator draws)."""
    from mobench.solvers.e2e_cp_rl import SHIPPED, sample_schedules
    torch.set_num_threads(1)
    policy, _ = load_policy(SHIPPED / "e2e-cp-rl.pt")
    policy.eval()
    for name in ("ft10", "la21"):
        inst = load_benchmark(name)
        temps = [0.0, 0.25, 0.5, 1.0] * 2
        a = sample_schedules(policy, inst, 8, temps, generator=torch.Generator().manual_seed(3), reuse=False)
        b = sample_schedules(policy, inst, 8, temps, generator=torch.Generator().manual_seed(3))
        assert a[1] == b[1] and np.array_equal(a[0], b[0]) and violations(inst, b[0]) == []


def test_ppo_learns_on_small_instances():
    """60 PPO iterations on generated 6x6 instances (about 400 episodes): the makespan over
    the initial lower bound falls by more than 10% from the first 50 episodes to the last 50
    (measured: 1.74 -> 1.46), and the trained policy's best of 16 samples on ft06 beats the
    mean of uniformly random dispatching."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    t = Trainer(dict(DEFAULTS, envs=8, rollout=32, train_jobs=6, train_machines=6), False, seed=0)
    for _ in range(60):
        t.update(t.rollout(), None)
        t.iteration += 1
    r = np.array(t.recent)
    assert len(r) > 300 and r[-50:].mean() < 0.9 * r[:50].mean()
    inst = load_benchmark("ft06")
    rand = np.mean([makespan(inst, random_episode(JobShopEnv(inst), s)) for s in range(20)])
    from mobench.solvers.e2e_cp_rl import sample_schedules
    _, best = sample_schedules(t.policy.eval(), inst, 16, 1.0)
    assert 55 <= best < rand


@pytest.mark.parametrize("name", ["e2e-cp-rl", "ppo-dispatch"])
def test_mobench_check(name):
    rep = check_solver(name, "jobshop/makespan-v0:instance=ft06", seconds=8)
    assert rep.ok, "\n".join(rep.lines)


SHIPPED_GAP_BOUND = {"e2e-cp-rl": 7.0, "ppo-dispatch": 7.0}  # % mean over five instances (shipped: 4.39, 4.71)


@pytest.mark.parametrize("name", sorted(SHIPPED_GAP_BOUND))
def test_shipped_policy_gap(name):
    """Each shipped policy (solvers/data/<name>.pt), 64 schedules sampled at temperature 1 with a
    fixed generator on ft06, la01, la06, ft10, la16; the best one per instance is scored by the
    engine against the proved optimum. Fails above the stated mean gap."""
    import mobench
    from mobench.evaluate import evaluate
    from mobench.solvers.e2e_cp_rl import SHIPPED, sample_schedules
    path = SHIPPED / f"{name}.pt"
    assert path.exists(), f"{path} must ship"
    policy, meta = load_policy(path)
    assert meta["cp"] == (name == "e2e-cp-rl")
    gaps = []
    for inst in ("ft06", "la01", "la06", "ft10", "la16"):
        problem = mobench.make(f"jobshop/makespan-v0:instance={inst}")
        starts, _ = sample_schedules(policy.eval(), problem.instances()[0], 64, 1.0,
                                     generator=torch.Generator().manual_seed(0))
        ev = evaluate(problem, [starts])
        assert ev.summary["reference_kind"] == "optimal"
        gaps.append(ev.summary["gap_pct"])
    assert np.mean(gaps) <= SHIPPED_GAP_BOUND[name], gaps


@pytest.mark.parametrize("name", ["e2e-cp-rl", "ppo-dispatch"])
def test_answers_within_a_short_limit_on_a_large_instance(name):
    """ta41 (30 x 20): one batch of 32 sampled episodes takes longer than this limit, so the
    solver must answer from its greedy episode and abandon the batch (version 2 overran its
    limit and was killed on 6 of 60 Taillard runs)."""
    rep = check_solver(name, "jobshop/makespan-v0:instance=ta41", seconds=6)
    assert rep.ok, "\n".join(rep.lines)


def test_rows_sample_at_their_own_temperature():
    """Per-row temperatures: greedy rows (temperature 0) all give the greedy episode whatever
    the other rows sample; a batch at one temperature equals the batch given that temperature
    for every row (same generator)."""
    from mobench.solvers.e2e_cp_rl import SHIPPED, sample_schedules
    policy, _ = load_policy(SHIPPED / "e2e-cp-rl.pt")
    inst = load_benchmark("la16")
    greedy, mk_greedy = sample_schedules(policy.eval(), inst, 1, 0.0)
    mixed, mk_mixed = sample_schedules(policy, inst, 3, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(mixed, greedy)
    _, mk_hot = sample_schedules(policy, inst, 8, [0.0] + [1.0] * 7)
    assert mk_hot <= mk_greedy  # the greedy row is in the batch
    one = sample_schedules(policy, inst, 6, 0.7, generator=torch.Generator().manual_seed(5))
    rows = sample_schedules(policy, inst, 6, [0.7] * 6, generator=torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(one[0], rows[0])
    assert one[1] == rows[1]


@pytest.mark.parametrize("bad", ["", "hot", "0.5,-1"])
def test_bad_temperatures_are_refused(bad):
    from mobench.registry import make_solver
    with pytest.raises(ValueError, match="temperatures must be"):
        make_solver("e2e-cp-rl", temperatures=bad)
