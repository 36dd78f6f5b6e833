"""``mobench check ID``: does a problem or a solver conform to the engine's contracts?"""
from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import UnknownId
from .registry import make, make_solver, parse_target, problem_entries, solver_entries
from .solver import Budget, Clock, Log, Outcome
from .spec import REFERENCE_KINDS

STEPS = 60  # steps compared for determinism and sim/env agreement


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def item(self, name, fn):
        try:
            detail = fn()
            self.lines.append(f"PASS {name}" + (f": {detail}" if detail else ""))
        except Exception as exc:
            self.ok = False
            self.lines.append(f"FAIL {name}: {type(exc).__name__}: {exc}")
            self.lines.append("     " + traceback.format_exc().strip().splitlines()[-3].strip())


def _rollout_env(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [np.asarray(obs)]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out.append((np.asarray(obs), np.asarray(r, float), np.asarray(info["cost"], float)))
        if term or trunc:
            break
    return out


def check_problem(target: str, full: bool = False) -> Report:
    """Conformance of a problem. Its reference is checked on the problem's quick configuration
    (its registered ``check_params``, e.g. a few instances) unless ``full`` or it has none: a
    check must answer in seconds, and the full reference is computed by the first run that needs
    it (the runner shows its progress)."""
    from .registry import problem_entry
    rep = Report()
    problem = make(target)
    spec = problem.spec
    rep.lines.append(f"problem {problem.key}")

    def spec_ok():
        assert spec.objectives, "no objectives"
        if spec.answer in ("policy", "pareto-policies"):
            assert spec.scenarios is not None, "policy problems need fixed test scenarios"
        if spec.answer in ("pareto-policies", "pareto-solutions"):
            assert spec.hv_ref_point is not None, "Pareto problems need a numeric HV reference point"
        return f"{spec.n_obj} objective(s), {spec.n_con} constraint(s), answer={spec.answer}"
    rep.item("spec", spec_ok)

    quick = problem_entry(problem.id).check_params
    ref_problem = problem if full or not quick else make(problem.id, **{**problem.params, **quick})

    def reference_ok():
        ref = ref_problem.reference()
        assert ref.kind in REFERENCE_KINDS
        assert ref_problem.reference_kind() == ref.kind, \
            f"reference_kind() says {ref_problem.reference_kind()!r}, reference() gives {ref.kind!r}"
        if ref.kind != "none":
            assert ref.value is not None or ref.front is not None, "reference without value or front"
        return f"{ref.kind}" + (f" = {np.asarray(ref.value).reshape(-1)[:3].tolist()}" if ref.value is not None else "")
    if ref_problem is problem:
        rep.item("reference present or declared none", reference_ok)
    else:
        rep.item(f"reference present or declared none, checked on the quick configuration {ref_problem.key} "
                 f"(`mobench check --full` computes the full one; the first run that needs it does too)",
                 reference_ok)
    rep.lines += fitting_solvers(problem)

    if spec.answer in ("solutions", "pareto-solutions"):
        rep.item("instances", lambda: f"{len(problem.instances())} instances")
        try:
            problem.env()
        except NotImplementedError:
            return rep
        return _check_instance_env(problem, rep)

    env = problem.env()

    def checker():
        from gymnasium.utils.env_checker import check_env
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(env, skip_render_check=True)
    rep.item("gymnasium env checker (render skipped)", checker)

    # stretches of 10 steps at the low edge of the action box, random, at the high edge, random
    # (random actions alone can miss whole regimes, e.g. stock-outs)
    env.action_space.seed(0)
    actions = []
    for t in range(STEPS):
        phase = (t // 10) % 4
        space = env.action_space
        edge = getattr(space, "low", None) if phase == 0 else getattr(space, "high", None) if phase == 2 else None
        actions.append(np.asarray(edge, dtype=space.dtype) if edge is not None else space.sample())

    def spaces():
        traj = _rollout_env(env, 7, actions)
        assert env.observation_space.contains(traj[0].astype(env.observation_space.dtype)), "reset obs outside observation space"
        for obs, r, c in traj[1:]:
            assert env.observation_space.contains(obs.astype(env.observation_space.dtype)), f"obs {obs} outside observation space"
            assert r.shape == (() if spec.n_obj == 1 else (spec.n_obj,)), f"reward shape {r.shape}"
            assert c.shape == (spec.n_con,), f"info['cost'] has shape {c.shape}, expected ({spec.n_con},)"
            assert np.all(c >= 0), f"constraint costs must be >= 0, got {c}"
        return f"{len(traj) - 1} steps"
    rep.item("spaces, reward shape, cost vector shape and sign", spaces)

    def determinism():
        a, b = _rollout_env(problem.env(), 123, actions), _rollout_env(problem.env(), 123, actions)
        for x, y in zip(a[1:], b[1:]):
            for u, v in zip(x, y):
                np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(a[0], b[0])
    rep.item("determinism under a seed", determinism)

    sim = problem.sim()
    if sim is not None:
        def agree():
            traj = _rollout_env(problem.env(), 11, actions)
            state = sim.reset(1, torch.Generator().manual_seed(11), "cpu")
            np.testing.assert_allclose(sim.observe(state)[0].numpy(), traj[0], rtol=1e-6, atol=1e-6)
            for a, (obs, r, c) in zip(actions, traj[1:]):
                state, rr, cc, _ = sim.step(state, torch.as_tensor(np.asarray(a, np.float32)).reshape(1, -1))
                np.testing.assert_allclose(sim.observe(state)[0].numpy(), obs, rtol=1e-6, atol=1e-6)
                np.testing.assert_allclose(rr[0].numpy().reshape(r.shape), r, rtol=1e-6, atol=1e-6)
                np.testing.assert_allclose(cc[0].numpy(), c, rtol=1e-6, atol=1e-6)
            return f"{len(traj) - 1} steps"
        rep.item("batched sim and Gymnasium env agree step by step", agree)

        def batched():
            st = sim.reset(8, torch.Generator().manual_seed(3), "cpu")
            obs = sim.observe(st)
            assert obs.shape == (8, sim.obs_dim), f"observe() shape {tuple(obs.shape)}"
            a = torch.as_tensor(np.stack(actions[:8]), dtype=torch.float32)
            st, r, c, d = sim.step(st, a)
            assert r.shape == (8, sim.n_obj) and c.shape == (8, sim.n_con) and d.shape == (8,)
            return "reset/observe/step shapes"
        rep.item("batched simulator shapes", batched)
    return rep


def solver_fits(problem, solvers: dict | None = None) -> dict[str, str | None]:
    """For each registered solver (default parameters; or the instances in ``solvers``, name ->
    solver, to reuse them across problems): why it does not fit ``problem`` (the first view its
    ``requires`` names that the problem does not offer, or what its ``supports`` says), None when
    it fits. Cheap: no reference is computed, nothing solved."""
    out = {}
    for name in solver_entries() if solvers is None else solvers:
        try:
            solver = make_solver(name) if solvers is None else solvers[name]
            out[name] = solver.unfit(problem)
        except Exception as exc:  # a solver whose check itself fails is reported, not fatal
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def fitting_solvers(problem) -> list[str]:
    """Which registered solvers fit ``problem``, and for the others why not (``solver_fits``)."""
    fit, unfit = [], []
    for name, why in solver_fits(problem).items():
        (fit.append(name) if why is None else unfit.append(f"     - {name}: {why}"))
    return [f"INFO solvers that fit: {', '.join(fit) or 'none'}",
            f"INFO solvers that do not fit ({len(unfit)}):", *unfit]


def _masked_episode(env, seed):
    """One episode of random legal actions (obs["action_mask"]); -> (flat observations,
    rewards, costs, final info)."""
    import gymnasium as gym
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    flat = [gym.spaces.flatten(env.observation_space, obs)]
    rewards, costs, info = [], [], {}
    for _ in range(1_000_000):
        assert env.observation_space.contains(obs), "observation outside the observation space"
        mask = np.asarray(obs["action_mask"])
        assert mask.any(), "no legal action in a non-terminal state"
        obs, r, term, trunc, info = env.step(int(rng.choice(np.flatnonzero(mask))))
        flat.append(gym.spaces.flatten(env.observation_space, obs))
        rewards.append(np.asarray(r, float))
        costs.append(np.asarray(info["cost"], float))
        if term or trunc:
            break
    return flat, rewards, costs, info


def _check_instance_env(problem, rep: Report) -> Report:
    """Per-instance problems with a Gymnasium view (masked discrete actions): episodes end
    with a solution the problem's own checker accepts, deterministically under a seed."""
    spec = problem.spec
    env = problem.env()

    def checker():
        from gymnasium.utils.env_checker import check_env
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(env, skip_render_check=True)
    if "action_mask" in getattr(env.observation_space, "spaces", {}):
        def episodes():
            for seed in range(3):
                flat, rewards, costs, info = _masked_episode(problem.env(), seed)
                assert all(c.shape == (spec.n_con,) for c in costs), "info['cost'] shape"
                assert "solution" in info, "the final step's info has no 'solution'"
                if len(problem.instances()) == 1:
                    objs, _, ok = problem.verify(0, info["solution"])
                    assert ok, "the episode's solution is infeasible"
            return f"3 random legal episodes, last {len(flat) - 1} steps, solution feasible"
        rep.item("masked episodes end with a feasible solution", episodes)

        def determinism():
            a, b = _masked_episode(problem.env(), 5), _masked_episode(problem.env(), 5)
            for x, y in zip(a[0], b[0]):
                np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
        rep.item("determinism under a seed", determinism)
    else:
        rep.item("gymnasium env checker (render skipped)", checker)
    return rep


def check_budget(default: Budget) -> Budget:
    """The tiny budget ``check`` gives a solver: 1% of its default steps, at most 60 s."""
    steps = max(1, default.steps // 100) if default.steps else None
    seconds = min(default.seconds, 60.0) if default.seconds else 60.0
    return Budget(steps, seconds)


def check_solver(name: str, target: str | None = None, seconds: float | None = None) -> Report:
    """A tiny run of solver ``name`` on ``target``, or on the first registered problem it
    supports; ``seconds`` overrides the tiny budget's seconds."""
    rep = Report()
    solver = make_solver(name)
    rep.lines.append(f"solver {solver.name}")
    problem = None
    if target is not None:
        problem = make(target)
        why = solver.unfit(problem)
        if why is not None:
            rep.ok = False
            rep.lines.append(f"FAIL {name} does not support {problem.key}: {why}")
            return rep
    for pid, entry in ({} if problem is not None else problem_entries()).items():
        try:
            cand = entry.make()
        except Exception:
            continue
        if solver.unfit(cand) is None:
            problem = cand
            break
    if problem is None:
        rep.ok = False
        rep.lines.append("FAIL no registered problem is supported by this solver")
        return rep
    rep.lines.append(f"tiny run on {problem.key}")
    budget = check_budget(solver.default_budget)
    if seconds is not None:
        budget = budget.merged(seconds=seconds)
    box = {}

    def run():
        clock = Clock(budget)
        out = solver.solve(problem, clock, 0, Log(clock))
        box["out"], box["clock"] = out, clock
        assert isinstance(out, Outcome), f"solve() returned {type(out).__name__}, not an Outcome"
        return f"{clock.elapsed:.1f} s, {clock.steps} steps (budget {budget.describe()})"
    rep.item("solve() returns an Outcome", run)
    if "out" not in box:
        return rep
    out, clock = box["out"], box["clock"]

    def within():
        from .runner import TIME_MARGIN, TIME_SLACK
        assert clock.elapsed <= budget.seconds * (1 + TIME_SLACK) + TIME_MARGIN, f"took {clock.elapsed:.1f} s"
        if budget.steps is not None:
            assert clock.steps <= budget.steps, f"used {clock.steps} steps of {budget.steps}"
    rep.item("within its budget", within)

    def well_formed():
        spec = problem.spec
        if spec.answer == "solutions":
            assert out.solutions is not None and len(out.solutions) == len(problem.instances())
            return f"{len(out.solutions)} solutions"
        if spec.answer == "pareto-solutions":
            assert out.solutions, "no solutions in a Pareto answer"
            return f"a set of {len(out.solutions)} solutions"
        n = len(out.policies)
        assert n >= 1 and (spec.answer != "policy" or n == 1), f"{n} policies for answer kind {spec.answer}"
        sim = problem.sim()
        if sim is not None:
            st = sim.reset(16, torch.Generator().manual_seed(0), "cpu")
            for pol in out.policies:
                with torch.no_grad():
                    a = torch.as_tensor(pol(sim.observe(st)))
                sim.check_action(a.reshape(16, -1).float(), 16)
        return f"{n} polic{'y' if n == 1 else 'ies'}, actions valid"
    rep.item("well-formed Outcome", well_formed)
    return rep


def check(id: str, full: bool = False) -> Report:
    name = parse_target(id)[0]
    if "/" in name:
        return check_problem(id, full)
    if name in solver_entries():
        return check_solver(id)
    raise UnknownId(f"{id!r} is neither a problem id (family/name-vN) nor a registered solver")
