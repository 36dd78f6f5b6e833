"""Short-video recommendation family: the simulator against KuaiRand's statistics, the Gymnasium
view, the NCIS estimator on tabular cases with known values, TSCAC's stage-2 closed form
against a numerical solution, the exact LP reference against brute force and simulation, the
offline problem's two-part score, the KuaiRand loader, clear errors, and the engine's
PolicyScoring view and estimate pairs."""
import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import linprog, minimize

import mobench
from mobench.check import check_problem
from mobench.errors import InvalidAction, InvalidParameter
from mobench.evaluate import evaluate, summarise
from mobench.problem import Problem
from mobench.problems.recsys import (AUX, TARGETS, WINDOW, Log, MalformedLog, ShortVideoSim, TreePolicy, decode,
                                     dissatisfaction, leave_probability, load_kuairand, make_world, ncis, ranker_probs,
                                     ranker_statistics, respond, simulate_totals, solve_lp)
from mobench.solver import Budget, Clock, Log as RunLog
from mobench.spec import Constraint, Objective, Reference, Spec
from mobench.spec import TestScenarios as Scenarios
from mobench.targets import Target
from mobench.solvers.recsys.tscac import closed_form, stage2_log_weights

TINY = "recsys/short-video-v0:users=50,videos=20,candidates=5,horizon=5"


@pytest.fixture(scope="module")
def default_world():
    return make_world(27285, 150, 0)


# ---- simulator ------------------------------------------------------------------------

def test_production_ranker_matches_kuairand_statistics(default_world):
    """The calibration's targets (TSCAC's KuaiRand subset) hold on fresh sessions of the
    default world, a seed not used to fit them."""
    st = ranker_statistics(ShortVideoSim(default_world, 150, 30), 4096, seed=7)
    assert st["watch_floored_s"] == pytest.approx(TARGETS["watch_floored_s"], rel=0.04)
    assert st["session_length"] == pytest.approx(TARGETS["session_length"], rel=0.04)
    assert st["click"] == pytest.approx(TARGETS["click"], rel=0.02)
    for k in ("like", "comment", "forward"):
        assert st[k] == pytest.approx(TARGETS[k], rel=0.06), k
    for k in ("follow", "hate"):  # rarer: their means vary more with the users drawn
        assert st[k] == pytest.approx(TARGETS[k], rel=0.12), k
    assert 13 <= st["watch_s"] <= 18  # raw play time: the floored mean plus about 5 s


def test_chasing_watch_time_shortens_sessions_and_breaks_the_thresholds(default_world):
    """The constraint thresholds (the ranker's session totals) bind: the policy that knows the
    world and shows the most expected play time every step gets fewer likes, follows and
    forwards and more hate than the ranker, and users leave it sooner than a policy that shows
    the video they like most."""
    problem = mobench.make("recsys/short-video-v0")
    sim = problem.sim()
    w = problem.world

    def greedy(key):
        def policy(obs):
            d = decode(w, problem.layout, obs)
            return respond(w, d["user"], d["cands"], d["hist_v"])[key].argmax(1, keepdim=True).float()
        return policy
    thr = {c.name: c.threshold for c in problem.spec.constraints}
    tot, aux, steps = simulate_totals(sim, greedy("play"), 1024, 3)
    means = dict(zip(AUX, aux.mean(0).tolist()))
    for k in ("like", "follow", "forward"):
        assert means[k] < thr[k], k
    assert means["hate"] > thr["hate"]
    assert float(tot[:, 0].mean()) > 2 * problem.ranker()["play_time"]
    _, _, steps_aff = simulate_totals(sim, greedy("affinity"), 1024, 3)
    assert float(steps.mean()) < float(steps_aff.mean()) - 0.5


def test_problems_conform_to_the_engine_checks():
    for target in (TINY, TINY.replace("short-video-v0", "short-video-2obj-v0"),
                   TINY.replace("short-video-v0", "short-video-offline-v0") + ",sessions=60,test_sessions=20"):
        rep = check_problem(target)
        assert rep.ok, "\n".join(rep.lines)


def test_simulator_keeps_its_invariants():
    p = mobench.make(TINY)
    sim = p.sim()
    st = sim.reset(256, torch.Generator().manual_seed(0))
    a = sim.reset(256, torch.Generator().manual_seed(0))
    assert all(torch.equal(st[k], a[k]) for k in st if torch.is_tensor(st[k]))  # a seed gives the same sessions
    alive_before = torch.ones(256, dtype=torch.bool)
    for t in range(5):
        obs = sim.observe(st)
        assert obs.shape == (256, sim.obs_dim)
        d = decode(p.world, p.layout, obs)  # the observation determines the state
        assert torch.equal(d["user"], st["user"]) and torch.equal(d["hist_v"], st["hist_v"])
        st, r, c, done = sim.step(st, torch.rand(256, 1) * 5)
        assert (r[~alive_before] == 0).all() and (c[~alive_before] == 0).all()  # ended sessions give nothing
        assert (c >= 0).all() and (c <= 1).all() and (r >= 0).all()
        assert not (st["alive"] & ~alive_before).any()  # nobody comes back
        alive_before = st["alive"].clone()
    assert done.all()


def test_bad_input_gets_one_clear_error():
    with pytest.raises(InvalidParameter, match="candidates=30 exceeds videos=20"):
        mobench.make("recsys/short-video-v0:users=50,videos=20,candidates=30")
    with pytest.raises(InvalidParameter):
        mobench.make("recsys/short-video-v0:horizon=0")
    p = mobench.make(TINY)
    sim = p.sim()
    st = sim.reset(4, torch.Generator().manual_seed(0))
    with pytest.raises(InvalidAction, match="expected"):
        sim.step(st, torch.zeros(4, 2))
    with pytest.raises(InvalidAction):
        evaluate(p, lambda obs: torch.zeros(obs.shape[0], 3))
    with pytest.raises(InvalidAction):
        evaluate(p, lambda obs: torch.full((obs.shape[0], 1), 7.0))  # only 5 candidates


# ---- logs and NCIS ----------------------------------------------------------------------

def small_log(n=5):
    w = make_world(10, 4, 0)
    cols = dict(session=torch.tensor([0, 0, 1, 1, 1]), t=torch.tensor([0, 1, 0, 1, 2]), user=torch.tensor([1, 1, 2, 2, 2]),
                action=torch.tensor([0, 1, 2, 3, 0]), video=torch.tensor([0, 1, 2, 3, 0]), cands=None,
                play=torch.rand(5), aux=torch.zeros(5, 6), flags=torch.zeros(5, 6), propensity=torch.full((5,), 0.25),
                done=torch.tensor([False, True, False, False, True]))
    return w, cols


def test_malformed_logs_are_refused():
    w, cols = small_log()
    Log(world=w, candidates=4, horizon=3, **cols)
    for change, msg in [({"t": torch.tensor([0, 1, 0, 2, 3])}, "sorted"), ({"propensity": torch.zeros(5)}, "propensities"),
                        ({"action": torch.tensor([0, 1, 2, 3, 4])}, "candidate indices"),
                        ({"aux": torch.zeros(5, 3)}, "shape"), ({"done": torch.tensor([True, True, False, False, True])}, "done")]:
        with pytest.raises(MalformedLog, match=msg):
            Log(world=w, candidates=4, horizon=3, **{**cols, **change})


def test_ncis_is_unbiased_without_clipping_and_clipping_biases_it_down():
    """A tabular case with known value: the target policy prefers the action the behaviour
    rarely takes, which pays most. Without a cap NCIS converges on the target's value; capped
    at 10 it under-weights that action and falls below it."""
    rng = np.random.default_rng(0)
    pb = np.array([0.02, 0.49, 0.49])
    pe = np.array([0.6, 0.2, 0.2])
    r = np.array([1.0, 0.2, 0.1])
    truth = float(pe @ r)
    a = rng.choice(3, size=400_000, p=pb)
    vals = torch.tensor(r[a])[:, None]
    est_free, _ = ncis(vals, torch.tensor(pe[a]), torch.tensor(pb[a]), cap=float("inf"))
    est_cap, _ = ncis(vals, torch.tensor(pe[a]), torch.tensor(pb[a]), cap=10.0)
    # the capped estimator's limit: weights min(pe/pb, 10) under pb
    w = np.minimum(pe / pb, 10.0)
    limit = float((pb * w * r).sum() / (pb * w).sum())
    assert float(est_free) == pytest.approx(truth, abs=0.01)
    assert float(est_cap) == pytest.approx(limit, abs=0.005)
    assert limit < truth - 0.1
    # many small logs: the unclipped estimator's mean stays on the truth (bias O(1/n))
    ests = []
    for i in range(400):
        b = rng.choice(3, size=2000, p=pb)
        e, _ = ncis(torch.tensor(r[b])[:, None], torch.tensor(pe[b]), torch.tensor(pb[b]), cap=float("inf"))
        ests.append(float(e))
    assert np.mean(ests) == pytest.approx(truth, abs=3 * np.std(ests) / np.sqrt(400) + 0.005)


# ---- TSCAC's stage 2 --------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stage2_closed_form_solves_the_kl_constrained_problem(seed):
    """pi* = prod pi_i^(lambda_i/Lambda) exp(A_0/Lambda) / Z maximises E_pi[A_0] - sum_i lambda_i
    KL(pi || pi_i) (SLSQP on the simplex), hence the KL-constrained problem with eps_i = KL(pi* ||
    pi_i) (solved numerically too); and the weighted likelihood with the stage-2 weights, under
    a behaviour policy, is minimised by pi* (gradient descent on free logits)."""
    g = torch.Generator().manual_seed(seed)
    K, m = 5, 3
    pis = torch.softmax(torch.randn(m, K, generator=g) * 1.5, -1).double()
    a0 = torch.randn(K, generator=g).double()
    lam = torch.rand(m, generator=g).double() + 0.2
    star = closed_form(pis.log(), lam, a0).numpy()
    P, A, L = pis.numpy(), a0.numpy(), lam.numpy()
    kl = lambda p, q: float(np.sum(p * (np.log(np.maximum(p, 1e-300)) - np.log(q))))
    simplex = [{"type": "eq", "fun": lambda p: p.sum() - 1}]
    x0 = np.full(K, 1.0 / K)
    lag = minimize(lambda p: -(p @ A) + sum(L[i] * kl(p, P[i]) for i in range(m)), x0, method="SLSQP",
                   bounds=[(1e-9, 1)] * K, constraints=simplex, options={"ftol": 1e-14, "maxiter": 1000})
    np.testing.assert_allclose(lag.x, star, atol=2e-5)
    eps = [kl(star, P[i]) for i in range(m)]
    con = minimize(lambda p: -(p @ A), x0, method="SLSQP", bounds=[(1e-9, 1)] * K,
                   constraints=simplex + [{"type": "ineq", "fun": (lambda p, i=i: eps[i] - kl(p, P[i]))} for i in range(m)],
                   options={"ftol": 1e-14, "maxiter": 1000})
    assert -con.fun == pytest.approx(star @ A, abs=1e-5)
    np.testing.assert_allclose(con.x, star, atol=5e-3)
    # weighted likelihood under a behaviour policy pb
    pb = torch.softmax(torch.randn(K, generator=g), -1).double()
    logw = stage2_log_weights(pis.log(), lam, pb.log(), a0)[0]
    theta = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    for _ in range(3000):
        loss = -(pb * logw.exp() * torch.log_softmax(theta, 0)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(torch.softmax(theta, 0).detach().numpy(), star, atol=1e-4)


# ---- exact reference ----------------------------------------------------------------------

def policy_values(world, decisions):
    """Exact (play, six auxiliaries) of a deterministic policy on the world users=1, videos=2,
    both candidates every step, horizon 2, by recursion (independent of the LP's tree)."""
    none = torch.full((1, WINDOW), -1, dtype=torch.long)
    u = torch.tensor([0])
    r0 = respond(world, u, torch.tensor([decisions[0]]), none)
    total = np.concatenate([[float(r0["play"][0])], r0["probs"][0].double().numpy()])
    p_hate = float(r0["probs"][0, AUX.index("hate")])
    for hated, ph in ((0, 1 - p_hate), (1, p_hate)):
        hist = torch.tensor([[decisions[0]] + [-1] * (WINDOW - 1)])
        pad = [0.0] * (WINDOW - 1)
        dis = dissatisfaction(world.model, torch.tensor([[float(r0["ratio"][0])] + pad]),
                              torch.tensor([[float(hated)] + pad]), torch.tensor([[1.0] + pad]))
        stay = 1 - float(leave_probability(world, u, dis)[0])
        v1 = decisions[1 + hated]
        r1 = respond(world, u, torch.tensor([v1]), hist)
        total = total + ph * stay * np.concatenate([[float(r1["play"][0])], r1["probs"][0].double().numpy()])
    return total


def test_lp_reference_equals_brute_force_on_a_tiny_world():
    """users=1, videos=2, horizon 2: a deterministic policy is a choice at the root and one
    after each (first video, hate flag) pair that the first video can lead to (8 policies
    over the reachable nodes). Unconstrained, the LP is the best of them; with constraints,
    the best mixture of them (mixed and behavioural policies reach the same values)."""
    w = make_world(1, 2, 3)
    vals = []
    for root in (0, 1):
        for after in itertools.product((0, 1), repeat=2):  # after (root, no hate), (root, hate)
            vals.append(policy_values(w, (root, *after)))
    vals = np.array(vals)  # [8, 7]
    free = solve_lp(w, 2, 2, None)
    assert free["value"] == pytest.approx(vals[:, 0].max(), rel=1e-9)
    like, hate = 1 + AUX.index("like"), 1 + AUX.index("hate")
    thr = {k: 0.0 for k in AUX}
    thr["like"] = float(np.quantile(vals[:, like], 0.7))
    thr["hate"] = float(vals[:, hate].max() * 2)
    exact = solve_lp(w, 2, 2, thr)
    mix = linprog(-vals[:, 0], A_ub=-vals[:, like][None], b_ub=[-thr["like"]], A_eq=np.ones((1, 8)), b_eq=[1],
                  bounds=(0, None), method="highs")
    assert exact["value"] == pytest.approx(-mix.fun, rel=1e-9)
    assert exact["totals"]["like"] == pytest.approx(thr["like"], rel=1e-6)  # the constraint binds
    assert exact["value"] < free["value"]


def test_lp_policy_achieves_its_value_in_the_simulator():
    """The LP's randomised policy, run in the batched simulator through observations, scores
    the LP's value and totals (within 4 standard errors): the LP and the simulator agree."""
    p = mobench.make("recsys/short-video-v0:users=3,videos=3,candidates=2,horizon=3")
    assert p.reference_kind() == "optimal"
    thr = {c.name: c.threshold for c in p.spec.constraints}
    r = solve_lp(p.world, 2, 3, thr)
    assert r["value"] == pytest.approx(p.reference().value, rel=1e-9)
    pol = TreePolicy(p.world, p.layout, r["levels"], r["policy"], seed=1)
    tot, _, _ = simulate_totals(p.sim(), pol, 8000, 11)
    mean, se = tot.mean(0).numpy(), tot.std(0).numpy() / np.sqrt(8000)
    assert abs(mean[0] - r["value"]) < 4 * se[0]
    for k, name in enumerate(AUX):
        assert abs(mean[1 + k] - r["totals"][name]) < 4 * se[1 + k] + 1e-9, name


def test_reference_kinds_are_known_without_computing():
    assert mobench.make("recsys/short-video-v0").reference_kind() == "none"
    assert mobench.make("recsys/short-video-v0:users=3,videos=3,candidates=2,horizon=3").reference_kind() == "optimal"


# ---- offline problem ----------------------------------------------------------------------

class LoggingPolicy:
    """The production ranker as an observation policy (it offers its probabilities)."""

    def __init__(self, problem):
        self.p = problem

    def probs(self, obs):
        d = decode(self.p.world, self.p.layout, obs)
        return ranker_probs(self.p.world, d["user"], d["cands"], d["hist_v"])

    def __call__(self, obs):
        return torch.multinomial(self.probs(obs), 1).float()


def test_offline_score_has_estimates_truths_and_their_errors():
    p = mobench.make("recsys/short-video-offline-v0:users=200,videos=20,candidates=20,horizon=6,sessions=200,test_sessions=300")
    assert p.sim() is None  # solvers see the log, not the simulator
    log, held = p.log(), p.held_out()
    assert log.sessions == 200 and held.sessions == 300
    # the logged observations are the simulator's: replay the log's actions with its seed
    torch.manual_seed(0)
    ev = evaluate(p, LoggingPolicy(p))
    s = ev.summary
    assert ev.objectives.shape == (1, 300, p.spec.n_obj) and ev.costs.shape == (1, 300, 6)
    # the logging policy's own NCIS weights are all 1: its estimate is the held-out log's mean
    assert s["obj:play_time_ncis"] == pytest.approx(float(held.play.mean()), rel=1e-6)
    assert s["obj:like_ncis"] == pytest.approx(float(held.aux[:, 1].mean()), rel=1e-6, abs=1e-12)
    for r in ("play_time", *AUX):
        assert s[f"estimate_error:{r}_ncis"] == pytest.approx(s[f"obj:{r}_ncis"] - s[f"obj:{r}_per_step"])
    # ... and for the logging policy the truth per impression agrees with it (same policy)
    assert s["obj:play_time_per_step"] == pytest.approx(s["obj:play_time_ncis"], rel=0.15)
    # a deterministic policy's NCIS weights are 0 or 1/propensity, capped at 10
    pop = evaluate(p, mobench.make_solver("popular").solve(p, None, 0, None))
    assert np.isfinite(pop.summary["estimate_error:play_time_ncis"])


def test_kuairand_loader_on_a_small_file(tmp_path):
    rows = []
    rng = np.random.default_rng(0)
    for i in range(60):
        u = int(rng.integers(0, 4))
        v = int(rng.choice([10, 11, 12, 13, 99], p=[0.4, 0.3, 0.15, 0.1, 0.05]))
        rows.append({"user_id": u, "video_id": v, "date": 20220408, "hourmin": 1200, "time_ms": int(1e12) - i * 1000,
                     "is_click": int(rng.random() < 0.5), "is_like": int(rng.random() < 0.1), "is_follow": 0,
                     "is_comment": 0, "is_forward": 0, "is_hate": int(rng.random() < 0.02), "long_view": 0,
                     "play_time_ms": int(rng.integers(0, 60000)), "duration_ms": 30000, "profile_stay_time": 0,
                     "comment_stay_time": 0, "is_profile_enter": 0, "is_rand": 0, "tab": 1})
    df = pd.DataFrame(rows)
    path = tmp_path / "log_standard_4_08_to_4_21_27k_part1.csv"
    df.to_csv(path, index=False)
    kr = load_kuairand(path, top=3)
    counts = df.video_id.value_counts()
    assert kr.candidates == list(counts.index[:3])
    f = kr.frame
    assert set(f.video_id) <= set(kr.candidates) and len(f) == counts.iloc[:3].sum()
    for _, g in f.groupby("session"):  # one episode per user, in time order
        assert g.user_id.nunique() == 1 and list(g.t) == list(range(len(g)))
        assert g.done.tolist() == [False] * (len(g) - 1) + [True]
        times = df[(df.user_id == g.user_id.iloc[0]) & df.video_id.isin(kr.candidates)].time_ms.sort_values()
        assert len(times) == len(g)
    assert (f.action == f.video_id.map({v: i for i, v in enumerate(kr.candidates)})).all()
    stats = kr.per_impression()
    assert stats["click"] == pytest.approx(f.is_click.mean()) and stats["session_length"] == len(f) / f.session.nunique()
    df.drop(columns=["play_time_ms"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MalformedLog, match="play_time_ms"):
        load_kuairand(tmp_path / "bad.csv")
    df.assign(is_like=2).to_csv(tmp_path / "bad2.csv", index=False)
    with pytest.raises(MalformedLog, match="0/1"):
        load_kuairand(tmp_path / "bad2.csv")


# ---- solvers ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, params", [("tscac", {"stage1_steps": 20, "stage2_steps": 20, "sessions": 200}),
                                          ("rcpo", {"steps": 30, "dual_every": 15, "sessions": 200}),
                                          ("pareto-mo", {"steps": 20, "sessions": 200}),
                                          ("bc", {"steps": 20, "sessions": 200}), ("popular", {}),
                                          ("oracle", {"dual_steps": 2, "dev_sessions": 64})])
def test_solvers_return_valid_policies(name, params):
    p = mobench.make(TINY)
    solver = mobench.make_solver(name, **params)
    assert solver.unfit(p) is None
    clock = Clock(Budget(steps=10**7, seconds=60))
    out = solver.solve(p, clock, 0, RunLog(clock))
    ev = evaluate(p, out)
    assert np.isfinite(ev.summary["obj:play_time"]) and ev.summary["obj:play_time"] > 0


def test_pareto_mo_answers_a_set_on_the_two_objective_problem():
    p = mobench.make(TINY.replace("short-video-v0", "short-video-2obj-v0"))
    out = mobench.make_solver("pareto-mo", steps=20, sessions=200, play_bounds="0.9,0.1").solve(
        p, Clock(Budget(seconds=60)), 0, RunLog())
    assert len(out.policies) == 2
    assert evaluate(p, out).summary["hv"] > 0


# ---- engine: PolicyScoring view and (estimate, truth) pairs --------------------------------

class Scored(Problem):
    """A problem scored by its own procedure: two objectives, an estimate and its truth."""

    def __init__(self):
        super().__init__(Target("test/scored-v0", {}, {}))
        self.spec = Spec(id=self.id, objectives=(Objective("value_est", "max"), Objective("value", "max")),
                         constraints=(Constraint("c", 1.0),), scenarios=Scenarios(seed=1, n=4, horizon=1),
                         estimates=(("value_est", "value"),))

    def score_policies(self, policies, device):
        objs = np.array([[[1.5, 1.0], [2.5, 2.0], [3.5, 3.0], [4.5, 4.0]] for _ in policies])
        return objs, np.full((len(policies), 4, 1), 0.5)


def test_engine_scores_through_policy_scoring_and_reports_estimate_errors():
    p = Scored()
    ev = evaluate(p, lambda obs: obs)
    assert ev.objectives.shape == (1, 4, 2)
    s = ev.summary
    assert s["obj:value_est"] == 3.0 and s["obj:value"] == 2.5
    assert s["estimate_error:value_est"] == pytest.approx(0.5)
    assert s["estimate_error_pct:value_est"] == pytest.approx(20.0)
    assert s["feasible"] and s["cost:c"] == 0.5
    # rescoring from the raw outcome gives the same columns
    again = summarise(p, ev.objectives, ev.costs, ev.feasible, Reference.none())
    assert again["estimate_error:value_est"] == s["estimate_error:value_est"]


def test_engine_refuses_bad_estimate_pairs_and_shapes():
    with pytest.raises(ValueError, match="estimate, truth"):
        Spec(id="test/x-v0", objectives=(Objective("a"),), estimates=(("a", "b"),))
    p = Scored()
    p.score_policies = lambda policies, device: (np.zeros((1, 4, 3)), np.zeros((1, 4, 1)))
    with pytest.raises(ValueError, match="score_policies returned shapes"):
        evaluate(p, lambda obs: obs)
    # problems without the view are scored by rollouts, as before
    assert not hasattr(mobench.make(TINY), "score_policies")
