"""The engine's scoring: runs every policy on the problem's fixed test scenarios, re-verifies
every per-instance solution, and computes objectives, constraint measures, regret and set
metrics. Solvers never score themselves; users score their own answers with ``evaluate``."""
from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import sampling
from .errors import InvalidSolution
from .problem import Problem
from .solver import Outcome
from .spec import Reference
from .views import PolicyScoring, offers
from .metrics import constraint_measures, eum, gap_pct, hypervolume, igd, igd_plus, cardinality, sparsity
from .metrics.pareto import nondominated_mask


@dataclass
class Evaluation:
    """Raw per-scenario values and their summary.

    ``objectives``: [answers, scenarios, n_obj] in each objective's own units and sense;
    ``costs``: [answers, scenarios, n_con]; ``feasible``: [answers, scenarios] (per-instance
    verification; all True for policies); ``summary``: flat dict of the scored numbers.
    """
    objectives: np.ndarray
    costs: np.ndarray
    feasible: np.ndarray
    summary: dict = field(default_factory=dict)


@torch.no_grad()
def rollout(sim, policy, scenarios, device="cpu", seed=None):
    """Run ``policy`` on ``scenarios.n`` paths: -> (rewards, costs) aggregated per path,
    shapes [n, n_obj] and [n, n_con]. Checks every action against the action space."""
    if scenarios.exact and seed is None:  # every scenario of the finite set, each once
        state = sim.enumerate(device, horizon=scenarios.horizon)
    else:
        gen = torch.Generator().manual_seed(scenarios.seed if seed is None else seed)
        # the fixed test paths: drawn once, then read from the cache (mobench.sampling)
        with sampling.cached_draws() if seed is None else contextlib.nullcontext():
            state = sim.reset(scenarios.n, gen, device, horizon=scenarios.horizon)
    acc_r = torch.zeros(scenarios.n, sim.n_obj, dtype=torch.float64, device=device)
    acc_c = torch.zeros(scenarios.n, sim.n_con, dtype=torch.float64, device=device)
    for t in range(scenarios.horizon):
        obs = sim.observe(state)
        out = policy(obs)
        try:  # anything but numbers (None, a string) gets one message naming what came back
            action = torch.as_tensor(out, device=device)
        except (TypeError, ValueError, RuntimeError):
            from .errors import InvalidAction
            raise InvalidAction(f"the policy returned {repr(out)[:40]} ({type(out).__name__}), not actions: a policy "
                                f"maps observations [B, {sim.obs_dim}] to actions [B, {sim.act_dim}] "
                                "(a tensor or an array)") from None
        if action.dim() == 1:
            action = action.unsqueeze(1)
        action = action.to(torch.float32)
        sim.check_action(action, scenarios.n)
        state, r, c, _ = sim.step(state, action)
        if t >= scenarios.warmup:
            g = scenarios.discount ** (t - scenarios.warmup)
            acc_r += g * r.double()
            acc_c += g * c.double()
    if scenarios.aggregate == "mean":
        acc_r /= scenarios.horizon - scenarios.warmup
        acc_c /= scenarios.horizon - scenarios.warmup
    return acc_r.cpu().numpy(), acc_c.cpu().numpy()


def rollout_env(env, policy, scenarios, n_obj: int, n_con: int):
    """Episodes of a Gymnasium view, for problems without a batched simulator: episode i
    resets with seed ``scenarios.seed + i`` and runs until it ends or ``scenarios.horizon``
    steps; per-step rewards (a vector for several objectives, MO-Gymnasium's convention) and
    ``info["cost"]`` are summed (discounted by ``scenarios.discount`` per step, 1 by default), or
    averaged per step (``aggregate='mean'``).
    The policy sees one observation at a time (a batch of one) and every action is checked
    against the action space. -> (rewards [n, n_obj], costs [n, n_con])."""
    import gymnasium as gym
    from .errors import InvalidAction
    R, C = np.zeros((scenarios.n, n_obj)), np.zeros((scenarios.n, n_con))
    for i in range(scenarios.n):
        obs, _ = env.reset(seed=scenarios.seed + i)
        steps = 0
        for steps in range(1, scenarios.horizon + 1):
            with torch.no_grad():
                out = policy(torch.as_tensor(np.asarray(obs, dtype=np.float32))[None])
            a = np.asarray(out.cpu() if torch.is_tensor(out) else out)
            if a.dtype.kind not in "biuf":  # None, a string: one message naming what came back
                raise InvalidAction(f"the policy returned {repr(out)[:40]} ({type(out).__name__}), not an action "
                                    f"of {env.action_space}: a policy maps observations [1, ...] to actions [1, ...]")
            if isinstance(env.action_space, gym.spaces.Discrete):
                a = int(a.reshape(-1)[0])
            else:
                a = a.reshape(env.action_space.shape).astype(env.action_space.dtype)
            if not env.action_space.contains(a):
                raise InvalidAction(f"action {a!r} is outside the action space {env.action_space}")
            obs, r, term, trunc, info = env.step(a)
            if steps > scenarios.warmup:
                g = scenarios.discount ** (steps - 1 - scenarios.warmup)
                R[i] += g * np.asarray(r, float).reshape(n_obj)
                C[i] += g * np.asarray(info.get("cost", np.zeros(n_con)), float).reshape(n_con)
            if term or trunc:
                break
        if scenarios.aggregate == "mean":
            R[i] /= max(1, steps - scenarios.warmup)
            C[i] /= max(1, steps - scenarios.warmup)
    return R, C


def _policy_values(problem: Problem, policies, device):
    spec = problem.spec
    if offers(problem, PolicyScoring):  # the problem's own evaluation procedure
        objs, costs = (np.asarray(x, dtype=float) for x in problem.score_policies(list(policies), device))
        n = objs.shape[1] if objs.ndim == 3 else -1
        if objs.shape != (len(policies), n, spec.n_obj) or costs.shape != (len(policies), n, spec.n_con):
            raise ValueError(f"{problem.id}: score_policies returned shapes {objs.shape} and {costs.shape}, expected "
                             f"({len(policies)}, n, {spec.n_obj}) and ({len(policies)}, n, {spec.n_con})")
        return objs, costs, np.ones(objs.shape[:2], bool)
    sim = problem.sim()
    sign = np.array([-1.0 if o.sense == "min" else 1.0 for o in spec.objectives])
    objs, costs = [], []
    for policy in policies:
        if sim is None:  # the Gymnasium view, one episode at a time
            r, c = rollout_env(problem.env(), policy, spec.scenarios, spec.n_obj, spec.n_con)
        else:
            r, c = rollout(sim, policy, spec.scenarios, device)
        objs.append(r * sign)  # reward = -cost for minimised objectives
        costs.append(c)
    objs, costs = np.stack(objs), np.stack(costs)
    return objs, costs, np.ones(objs.shape[:2], bool)


def _solution_values(problem: Problem, solutions):
    spec = problem.spec
    n = len(problem.instances())
    if len(solutions) != n:
        raise InvalidSolution(f"{problem.id}: {len(solutions)} solutions for {n} instances")
    objs = np.full((1, n, spec.n_obj), np.nan)
    costs = np.full((1, n, spec.n_con), np.nan)
    feas = np.zeros((1, n), bool)
    for i, sol in enumerate(solutions):
        try:
            o, c, ok = problem.verify(i, sol)
        except InvalidSolution:
            o, c, ok = np.full(spec.n_obj, np.nan), np.full(spec.n_con, np.nan), False
        objs[0, i], costs[0, i], feas[0, i] = o, c, ok
    return objs, costs, feas


def _pareto_solution_values(problem: Problem, solutions):
    """A set of solutions of a one-instance problem: each verified; -> arrays shaped like
    Pareto policies' ([answers, 1, ...]), so the same set metrics apply."""
    if len(problem.instances()) != 1:
        raise InvalidSolution(f"{problem.id}: Pareto sets of solutions are scored on one-instance problems only")
    if not len(solutions):
        raise InvalidSolution(f"{problem.id}: an empty set of solutions")
    objs, costs, feas = [], [], []
    for sol in solutions:
        o, c, f = _solution_values(problem, [sol])
        objs.append(o[0]), costs.append(c[0]), feas.append(f[0])
    return np.stack(objs), np.stack(costs), np.stack(feas)


def reference_digest(ref: Reference) -> str:
    """A short fingerprint of what a reference says (kind, values, front, bounds): two runs
    with the same digest were scored against the same numbers."""
    h = hashlib.sha256(ref.kind.encode())
    for x in (ref.value, ref.front, ref.lower, ref.upper):
        h.update(b"|" + np.asarray(np.nan if x is None else x, float).tobytes())
    return h.hexdigest()[:16]


def summarise(problem: Problem, objs, costs, feas, ref: Reference) -> dict:
    """The scored numbers of raw per-scenario values against ``ref`` (also what ``mobench rescore``
    recomputes from a stored run's raw outcome)."""
    spec = problem.spec
    s: dict = {"reference_kind": ref.kind, "reference_source": ref.source, "reference_digest": reference_digest(ref),
               "n_answers": int(objs.shape[0])}
    thresholds = [c.threshold for c in spec.constraints]
    con_senses = [c.sense for c in spec.constraints]
    if spec.answer in ("pareto-policies", "pareto-solutions"):
        means = objs.mean(axis=1)  # [answers, n_obj]
        ok = np.array([constraint_measures(costs[i], thresholds, con_senses)["feasible"]
                       for i in range(len(means))]) if spec.n_con else np.ones(len(means), bool)
        ok &= feas.all(axis=1)  # a solution the problem's checker rejects is not on the front
        front = means[ok]
        s["feasible_rate"] = float(ok.mean())
        s["cardinality"] = cardinality(front, spec.senses) if len(front) else 0
        s["sparsity"] = sparsity(front, spec.senses) if len(front) else float("nan")
        if spec.hv_ref_point is not None:
            s["hv"] = hypervolume(front, spec.hv_ref_point, spec.senses) if len(front) else 0.0
        s["eum"] = eum(front, spec.senses) if len(front) else float("nan")
        if ref.front is not None and len(front):
            s["igd"] = igd(front, ref.front, spec.senses)
            s["igd_plus"] = igd_plus(front, ref.front, spec.senses)
            if spec.hv_ref_point is not None:
                s["reference_hv"] = hypervolume(ref.front, spec.hv_ref_point, spec.senses)
        for j, o in enumerate(spec.objectives):
            s[f"obj:{o.name}"] = float(np.mean(front[:, j])) if len(front) else float("nan")
        mask = np.zeros(len(means), bool)
        if ok.any():
            mask[ok] = nondominated_mask(means[ok], spec.senses)
        s["pareto_mask"] = mask.tolist()
        return s

    # single policy, or per-instance solutions (answer index 0)
    vals, c, f = objs[0], costs[0], feas[0]
    exact = spec.scenarios is not None and spec.scenarios.exact and spec.answer == "policy"
    s["feasible_rate"] = float(f.mean())
    for j, o in enumerate(spec.objectives):
        col = vals[f, j]
        s[f"obj:{o.name}"] = float(col.mean()) if len(col) else float("nan")
        # the sampling error of the mean: none when the scenarios are the whole (equally likely) set
        s[f"obj_se:{o.name}"] = (0.0 if exact else float(col.std(ddof=1) / math.sqrt(len(col)))
                                 if len(col) > 1 else float("nan"))
    if spec.n_con:
        cm = constraint_measures(c[f], thresholds, con_senses)
        for k, con in enumerate(spec.constraints):
            s[f"cost:{con.name}"] = float(c[f, k].mean())
            s[f"excess:{con.name}"] = float(cm["mean_excess"][k])
        s["violation_rate"] = cm["violation_rate"]
        s["worst_violation"] = cm["worst_violation"]
        s["feasible"] = cm["feasible"] and bool(f.all())
    else:
        s["feasible"] = bool(f.all())
    for est, truth in spec.estimates:  # an estimator's error against the truth it estimates
        e, t = s[f"obj:{est}"], s[f"obj:{truth}"]
        s[f"estimate_error:{est}"] = e - t
        s[f"estimate_error_pct:{est}"] = 100.0 * (e - t) / abs(t) if t else float("nan")
    if ref.kind != "none" and spec.n_obj == 1 and ref.value is not None:
        sense = spec.objectives[0].sense
        refv = np.asarray(ref.value, float)
        if spec.answer == "solutions" and refv.ndim == 1 and len(refv) == vals.shape[0]:
            g = gap_pct(vals[:, 0], refv, sense)
            s["gap_pct"] = float(np.mean(g[f])) if f.any() else float("nan")
            s["reference_value"] = float(np.mean(refv))
        else:
            s["reference_value"] = float(refv.reshape(-1)[0])
            name = spec.objectives[0].name
            s["gap_pct"] = float(gap_pct(s[f"obj:{name}"], s["reference_value"], sense))
            s["gap_se_pct"] = 100.0 * s[f"obj_se:{name}"] / abs(s["reference_value"]) if s["reference_value"] else float("nan")
        if ref.scenario_bound is not None:
            s["scenario_bound"] = float(ref.scenario_bound)
            if ref.scenario_bound:
                s["gap_to_scenario_bound_pct"] = float(gap_pct(s[f"obj:{spec.objectives[0].name}"],
                                                               ref.scenario_bound, sense))
    return s


def evaluate(problem: Problem, answer, device: str = "cpu") -> Evaluation:
    """Score ``answer`` on ``problem``'s fixed test scenarios.

    ``answer`` is an ``Outcome``, a policy (callable obs[B, d] -> action[B, k]), a list of
    policies (Pareto answers) or a list of per-instance solutions.
    """
    spec = problem.spec
    if isinstance(answer, Outcome):
        outcome = answer
    elif callable(answer):
        outcome = Outcome(policies=[answer])
    elif spec.answer in ("solutions", "pareto-solutions"):
        outcome = Outcome(solutions=list(answer))
    else:
        outcome = Outcome(policies=list(answer))

    if spec.answer in ("solutions", "pareto-solutions"):
        if outcome.solutions is None:
            raise InvalidSolution(f"{problem.id} expects per-instance solutions, got policies")
        values = _solution_values if spec.answer == "solutions" else _pareto_solution_values
        objs, costs, feas = values(problem, outcome.solutions)
    else:
        if not outcome.policies:
            raise ValueError(f"{problem.id} expects {'a policy' if spec.answer == 'policy' else 'policies'}, got none")
        if spec.answer == "policy" and len(outcome.policies) != 1:
            raise ValueError(f"{problem.id} expects one policy, got {len(outcome.policies)}")
        objs, costs, feas = _policy_values(problem, outcome.policies, device)
    ref = problem.reference()
    return Evaluation(objs, costs, feas, summarise(problem, objs, costs, feas, ref))
