"""Supervised baselines of the TSCAC paper, trained on the same logged impressions:

`bc`: behaviour cloning, a softmax classifier over the candidates of the logged choices (the
paper's BC), acting by its most probable candidate.
`wide-deep`, `deepfm`: point-wise rankers as production systems use them: torch-rechub's
``WideDeep`` (Cheng et al. 2016) and ``DeepFM`` (Guo et al. 2017) predict, for a (state,
candidate) pair, the logged play time as the soft label play / (play + 30 s) (binary
cross-entropy on the model's sigmoid output), and the policy shows the candidate with the
highest prediction. Inputs: dense blocks (the user block, the mean of the history window, the
candidate's features and window crosses) and sparse fields (category, activity level, seen
in the window, duration and popularity buckets) for the wide/FM parts. torch-rechub is used
as published (its models are plain ``nn.Module``s; its trainer is not needed).
"""
from __future__ import annotations

import importlib.util

import torch

from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...problems.recsys import CATEGORIES, VIDEO_FEATURES, ShortVideoView
from .common import Actors, Batches, GreedyPolicy, fits, training_log

SOFT_LABEL_S = 30.0


class BC(Solver):
    defaults = {"sessions": 25_000, "batch": 256, "steps": 2000, "lr": 1e-3, "hidden": 64}
    default_budget = Budget(steps=2_000_000, seconds=120)
    description = "behaviour cloning of the logged choices (softmax over the candidates)"
    requires = (ShortVideoView,)

    def supports(self, problem):
        return fits(problem, answers=("policy", "pareto-policies"))

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        data = training_log(problem, clock, seed, self.sessions)
        batches = Batches(data, self.batch, seed)
        actor = Actors(problem.layout, 1, self.hidden)
        opt = torch.optim.Adam(actor.parameters(), self.lr)
        for step in range(self.steps):
            if clock.seconds_left < 3:
                break
            b = batches.sample()
            loss = torch.nn.functional.cross_entropy(actor(b["obs"])[0], b["action"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 200 == 0:
                log(clock.steps, float(loss.detach()))
        return Outcome(policies=[GreedyPolicy(actor)], info={"data_rows": len(data)})


def rechub():
    try:
        from torch_rechub.basic.features import DenseFeature, SparseFeature
        from torch_rechub.models.ranking import DeepFM, WideDeep
    except ImportError:
        return None
    return DenseFeature, SparseFeature, WideDeep, DeepFM


def pair_features(layout, obs: torch.Tensor) -> dict:
    """The ranker's inputs for every (observation, candidate) pair, flattened to B x C rows."""
    user, cands, hist = layout.split(obs)
    B, C = cands.shape[:2]
    used = hist[..., -1:]
    hmean = (hist * used).sum(1) / used.sum(1).clamp_min(1.0)
    cross = layout.crosses(obs)
    rep = lambda x: x[:, None, :].expand(B, C, x.shape[-1]).reshape(B * C, -1)
    bucket = lambda x, lo, hi, n: ((x - lo) / (hi - lo) * n).floor().clamp(0, n - 1).long()
    return {"user": rep(user), "history": rep(hmean),
            "video": torch.cat([cands, cross], -1).reshape(B * C, -1),
            "category": cands[..., :CATEGORIES].argmax(-1).reshape(-1),
            "activity": user[:, None, :4].argmax(-1).expand(B, C).reshape(-1),
            "seen": cross[..., 1].long().reshape(-1),
            "duration": bucket(cands[..., CATEGORIES], -2.5, 3.0, 8).reshape(-1),
            "popularity": bucket(cands[..., VIDEO_FEATURES - 1], -4.0, 4.0, 8).reshape(-1)}


class RankerPolicy:
    def __init__(self, model, layout):
        self.model, self.layout = model.eval(), layout

    @torch.no_grad()
    def scores(self, obs):
        out = []
        for s in range(0, obs.shape[0], 1024):
            o = obs[s:s + 1024].float().cpu()
            out.append(self.model(pair_features(self.layout, o)).reshape(o.shape[0], -1))
        return torch.cat(out)

    def __call__(self, obs):
        return self.scores(obs).argmax(1, keepdim=True).float().to(obs.device)

    def probs(self, obs):
        s = self.scores(obs)
        return torch.nn.functional.one_hot(s.argmax(1), s.shape[1]).float()


class PointwiseRanker(Solver):
    defaults = {"sessions": 25_000, "batch": 512, "steps": 2000, "lr": 1e-3, "embed": 8}
    default_budget = Budget(steps=2_000_000, seconds=120)
    requires = (ShortVideoView,)
    arch = ""

    def supports(self, problem):
        if importlib.util.find_spec("torch_rechub") is None:  # not imported here: it costs 0.2 s
            return "needs torch-rechub (pip install torch-rechub)"
        return fits(problem, answers=("policy", "pareto-policies"))

    def build(self, layout):
        DenseFeature, SparseFeature, WideDeep, DeepFM = rechub()
        from ...problems.recsys import HIST_FEATURES
        dense = [DenseFeature("user", embed_dim=layout.user_dim), DenseFeature("history", embed_dim=HIST_FEATURES),
                 DenseFeature("video", embed_dim=VIDEO_FEATURES + 2)]
        sparse = [SparseFeature("category", CATEGORIES, self.embed), SparseFeature("activity", 4, self.embed),
                  SparseFeature("seen", 2, self.embed), SparseFeature("duration", 8, self.embed),
                  SparseFeature("popularity", 8, self.embed)]
        mlp = {"dims": [64, 32], "activation": "relu", "dropout": 0.0}
        if self.arch == "wide-deep":
            return WideDeep(wide_features=sparse, deep_features=dense + sparse, mlp_params=mlp)
        return DeepFM(deep_features=dense + sparse, fm_features=sparse, mlp_params=mlp)

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        data = training_log(problem, clock, seed, self.sessions)
        batches = Batches(data, self.batch, seed)
        model = self.build(problem.layout)
        opt = torch.optim.Adam(model.parameters(), self.lr)
        label = data.play / (data.play + SOFT_LABEL_S)
        C = problem.layout.candidates
        for step in range(self.steps):
            if clock.seconds_left < 3:
                break
            rows = torch.randint(0, len(data), (self.batch,), generator=batches.gen)
            obs = data.observe(rows)
            x = pair_features(problem.layout, obs)
            pick = torch.arange(self.batch) * C + data.action[rows]  # the logged (state, candidate) pairs
            pred = model({k: v[pick] for k, v in x.items()})
            loss = torch.nn.functional.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), label[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 200 == 0:
                log(clock.steps, float(loss.detach()))
        return Outcome(policies=[RankerPolicy(model, problem.layout)], info={"data_rows": len(data)})


class WideAndDeep(PointwiseRanker):
    arch = "wide-deep"
    description = "Wide & Deep point-wise ranker of play time (torch-rechub WideDeep)"


class DeepFMRanker(PointwiseRanker):
    arch = "deepfm"
    description = "DeepFM point-wise ranker of play time (torch-rechub DeepFM)"


register_solver("bc", BC)
register_solver("wide-deep", WideAndDeep)
register_solver("deepfm", DeepFMRanker)
