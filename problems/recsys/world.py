"""The synthetic short-video world: users, videos, what the user does with a video, when the
user leaves, the production ranker that logged the data, and the observation's features.

One function, ``respond``, gives every response's expectation for (user, recent history,
video); the batched simulator, the exact LP reference, the production ranker and the oracle all
call it, so they cannot disagree about the dynamics. The intercepts in ``CALIBRATED`` make the
production ranker's log match KuaiRand's per-impression statistics on the default world
(``calibrate`` recomputes them; README, "Calibration").

Everything the dynamics depend on is in the observation: the user (whose observed features
identify it), the period, and the last ``WINDOW`` videos with the realised hate flags. A
policy of the observation can therefore do whatever a policy of the simulator's state can.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import torch

CATEGORIES = 6        # video categories (KuaiRand's first `tag`)
LATENT = 4            # latent taste / content factors
WINDOW = 8            # recent videos the user remembers (fatigue, repeats, dissatisfaction) and the observation shows
RESPONSES = ("play_time", "click", "like", "follow", "comment", "forward", "hate")
AUX = RESPONSES[1:]   # the auxiliary responses (constraints); hate is the one to keep low
INTERACTIONS = ("like", "follow", "comment", "forward")  # the second objective of the 2-objective problem
USER_FEATURES = 4 + 6  # activity level one-hot, six noisy projections of the latent taste
VIDEO_FEATURES = CATEGORIES + 1 + LATENT + 4  # category one-hot, log duration, content embedding, four statistics
HIST_FEATURES = VIDEO_FEATURES + 5  # + realised watch ratio, click, like, hate, slot used
ACTIVITY = ("high_active", "full_active", "middle_active", "UNKNOWN")
ACTIVITY_SHARE = (0.45, 0.30, 0.15, 0.10)
ACTIVITY_PATIENCE = (0.6, 0.2, -0.3, -0.6)  # added to the user's will to stay
MEDIAN_DURATION = 80.0  # seconds (KuaiRand-Pure: median 1.35 min)


@dataclass(frozen=True)
class Model:
    """Coefficients of the response and leaving model (the intercepts are calibrated)."""
    watch0: float = -2.9      # watch-ratio logit intercept
    watch_aff: float = 0.9    # ... per unit of affinity
    watch_dur: float = 0.6   # ... per standard deviation of log duration (longer: smaller share watched)
    watch_contro: float = 0.4  # controversial videos hold attention
    play_noise: float = 0.6   # log-normal spread of the realised play time around its mean
    fatigue: float = 1.5      # affinity lost when the whole window is one category
    repeat: float = 2.5       # affinity lost for a video seen within the window
    click0: float = 0.0
    like0: float = -5.0
    follow0: float = -8.5
    comment0: float = -6.5
    forward0: float = -7.5
    hate0: float = -9.0
    leave0: float = -5.5      # leaving-hazard logit intercept
    leave_dis: float = 0.5    # ... per unit of dissatisfaction
    dis_decay: float = 0.75   # weight of a video l steps back: dis_decay ** l
    dis_hate: float = 3.0     # dissatisfaction of a hated video, beside (1 - watch ratio)
    ranker_temp: float = 1.5  # production ranker: softmax temperature on its score
    ranker_eps: float = 0.1   # ... and its uniform exploration share
    ranker_noise: float = 0.8  # ... error of its user and video embeddings


# Intercepts fitted by ``calibrate`` on the default world (27,285 users, 150 videos, seed 0,
# horizon 30) under the production ranker; the fit's residuals are in the README.
CALIBRATED = Model(watch0=-2.8990, click0=-0.5805, like0=-5.4025, follow0=-8.6383, comment0=-6.4559,
                   forward0=-7.8365, hate0=-9.3142, leave0=-7.1466)


@dataclass
class World:
    """Users and videos of one seeded world (all tensors on the CPU, float32 unless said)."""
    seed: int
    model: Model
    # users
    taste: torch.Tensor       # [U, LATENT]
    cat_pref: torch.Tensor    # [U, CATEGORIES]
    activity: torch.Tensor    # [U] long, index into ACTIVITY
    patience: torch.Tensor    # [U]
    chatty: torch.Tensor      # [U] propensity to interact
    user_x: torch.Tensor      # [U, USER_FEATURES] observed
    # videos
    category: torch.Tensor    # [V] long
    content: torch.Tensor     # [V, LATENT]
    duration: torch.Tensor    # [V] seconds
    zdur: torch.Tensor        # [V] standardised log duration
    quality: torch.Tensor     # [V]
    engaging: torch.Tensor    # [V] raises like/follow/comment/forward (short clips are more engaging)
    controversy: torch.Tensor  # [V] raises hate and holds attention
    exposure: torch.Tensor    # [V] probabilities of being retrieved as a candidate (popularity)
    video_x: torch.Tensor     # [V, VIDEO_FEATURES] observed
    # the production ranker's (imperfect) embeddings
    ranker_taste: torch.Tensor = field(repr=False, default=None)
    ranker_content: torch.Tensor = field(repr=False, default=None)

    def to(self, device) -> "World":
        """The world with its tensors on ``device``."""
        if str(device) == "cpu":
            return self
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)
                                if isinstance(getattr(self, f.name), torch.Tensor)})

    @property
    def users(self) -> int:
        return self.taste.shape[0]

    @property
    def videos(self) -> int:
        return self.content.shape[0]


def make_world(users: int, videos: int, seed: int, model: Model = CALIBRATED) -> World:
    """A seeded world: every draw from one CPU generator, so a seed gives the same world anywhere."""
    g = torch.Generator().manual_seed(int(seed) * 7919 + 17)
    n = lambda *shape: torch.randn(*shape, generator=g)
    U, V = int(users), int(videos)
    taste = n(U, LATENT)
    cat_pref = 0.6 * n(U, CATEGORIES)
    activity = torch.multinomial(torch.tensor(ACTIVITY_SHARE), U, replacement=True, generator=g)
    patience = torch.tensor(ACTIVITY_PATIENCE)[activity] + 0.3 * n(U)
    chatty = 0.6 * n(U)
    project = n(6, LATENT + CATEGORIES) / math.sqrt(LATENT + CATEGORIES)
    observed = torch.cat([taste, cat_pref], 1) @ project.T + 0.5 * n(U, 6)
    user_x = torch.cat([torch.nn.functional.one_hot(activity, 4).float(), observed], 1)

    share = 1.0 / torch.arange(1, CATEGORIES + 1).float() ** 0.6
    category = torch.multinomial(share / share.sum(), V, replacement=True, generator=g)
    content = n(V, LATENT)
    zdur = n(V).clamp(-2.5, 3.0)
    duration = MEDIAN_DURATION * torch.exp(0.8 * zdur)  # log-normal, median 80 s, 5th-95th pct ~21-300 s
    quality = 0.4 * n(V)
    controversy = n(V)
    engaging = -0.7 * zdur - 0.4 * controversy + 0.6 * n(V)
    pop = 1.5 * quality + 0.8 * n(V)  # standard normal
    exposure = torch.softmax(1.56 * pop, 0)  # log-normal weights: Gini ~0.73 as KuaiRand-Pure's exposures
    world = World(seed=int(seed), model=model, taste=taste, cat_pref=cat_pref, activity=activity,
                  patience=patience, chatty=chatty, user_x=user_x, category=category, content=content,
                  duration=duration, zdur=zdur, quality=quality, engaging=engaging, controversy=controversy,
                  exposure=exposure, video_x=torch.zeros(V, VIDEO_FEATURES),
                  ranker_taste=taste + model.ranker_noise * n(U, LATENT),
                  ranker_content=content + model.ranker_noise * n(V, LATENT))
    world.video_x = video_features(world, g)
    return world


def video_features(world: World, g: torch.Generator) -> torch.Tensor:
    """Observed video features: category one-hot, standardised log duration, a noisy content
    embedding, and four statistics as a platform aggregates them (KuaiRand's
    video_features_statistic): mean watch ratio, like rate and report (hate) rate over a sample
    of 512 users, the last with estimation noise, and the log exposure share."""
    V = world.videos
    emb = 0.7 * world.content + 0.5 * torch.randn(V, LATENT, generator=g)
    sample = torch.randint(0, world.users, (512,), generator=g)
    u = sample[:, None].expand(512, V)
    v = torch.arange(V)[None].expand(512, V)
    empty = torch.full((512, WINDOW), -1, dtype=torch.long)
    r = respond(world, u, v, empty)
    stat_watch = r["ratio"].mean(0)
    stat_like = torch.logit(r["probs"][..., AUX.index("like")].mean(0))
    stat_report = torch.logit(r["probs"][..., AUX.index("hate")].mean(0)) + 0.3 * torch.randn(V, generator=g)
    return torch.cat([torch.nn.functional.one_hot(world.category, CATEGORIES).float(), world.zdur[:, None], emb,
                      (stat_watch[:, None] - 0.5) * 4, (stat_like[:, None] + 4.5), (stat_report[:, None] + 8.5) / 2,
                      torch.log(world.exposure * V)[:, None]], 1)


def window_crosses(world: World, v: torch.Tensor, hist: torch.Tensor):
    """For videos ``v`` [B] or [B, C] and windows ``hist`` [B, WINDOW] (video ids, most recent
    first, -1 = empty): the share of the window in v's category, and whether v is in it."""
    flat = v.dim() == 1
    v2 = v[:, None] if flat else v
    B = hist.shape[0]
    used = (hist >= 0).to(world.content.dtype)
    h = hist.clamp_min(0)
    counts = torch.zeros(B, CATEGORIES, device=hist.device).scatter_add_(1, world.category[h], used)
    same = counts.gather(1, world.category[v2]) / WINDOW
    if world.videos * B <= 50_000_000:  # a per-session mask of the pool
        mask = torch.zeros(B, world.videos, device=hist.device).scatter_add_(1, h, used)
        seen = (mask.gather(1, v2) > 0).to(same.dtype)
    else:
        seen = ((h[:, None, :] == v2[..., None]) & (hist >= 0)[:, None, :]).any(-1).to(same.dtype)
    return (same[:, 0], seen[:, 0]) if flat else (same, seen)


def _per_user(user: torch.Tensor, video: torch.Tensor):
    return (lambda x: x[user]) if user.shape == video.shape else (lambda x: x[user].unsqueeze(1))


def affinity(world: World, user: torch.Tensor, video: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
    """How much ``user`` likes ``video`` after the window ``hist``: taste x content, category
    preference, quality, less fatigue (share of the window in the same category) and a
    penalty for a video seen within the window. Shapes as in ``respond``."""
    m = world.model
    if hist.dim() != 2 or hist.shape[1] != WINDOW:
        raise ValueError(f"hist must be [batch, {WINDOW}], got {tuple(hist.shape)}")
    same, seen = window_crosses(world, video, hist)
    per_user = _per_user(user, video)
    pref = per_user(world.cat_pref).expand(*video.shape, CATEGORIES).gather(-1, world.category[video].unsqueeze(-1))[..., 0]
    return ((per_user(world.taste) * world.content[video]).sum(-1) / math.sqrt(LATENT) + pref
            + world.quality[video] - m.fatigue * same - m.repeat * seen)


def outcomes(world: World, user: torch.Tensor, video: torch.Tensor, aff: torch.Tensor) -> dict:
    """Expected responses given the affinity: ``ratio`` (expected share watched; long videos
    are watched for a smaller share, controversial ones hold attention), ``play`` (expected
    play time, s) and ``probs`` [..., 6] (click, like, follow, comment, forward, hate: engaging
    videos, mostly short ones, draw interactions; controversial ones draw comments and hate)."""
    m = world.model
    z, e, h, y = world.zdur[video], world.engaging[video], world.controversy[video], _per_user(user, video)(world.chatty)
    ratio = torch.sigmoid(m.watch0 + m.watch_aff * aff - m.watch_dur * z + m.watch_contro * h)
    logits = torch.stack([
        m.click0 + 0.8 * aff - 0.3 * z,
        m.like0 + 0.3 * aff + 1.3 * e + 0.6 * y,
        m.follow0 + 0.3 * aff + 1.2 * e + 0.6 * y,
        m.comment0 + 0.3 * aff + 0.8 * e + 0.6 * h + 0.6 * y,
        m.forward0 + 0.3 * aff + 1.3 * e + 0.6 * y,
        m.hate0 - 0.6 * aff + 1.3 * h], -1)
    return {"affinity": aff, "ratio": ratio, "play": world.duration[video] * ratio, "probs": torch.sigmoid(logits)}


def respond(world: World, user: torch.Tensor, video: torch.Tensor, hist: torch.Tensor) -> dict:
    """Expected responses of ``user`` to ``video`` after the window ``hist``.

    ``video`` is [B] or [B, C], ``user`` [B] or shaped like ``video``; ``hist`` is [B, WINDOW]
    (video ids, most recent first, -1 = empty slot). -> dict of tensors shaped like ``video``:
    ``affinity``, ``ratio``, ``play`` and ``probs`` (see ``outcomes``)."""
    return outcomes(world, user, video, affinity(world, user, video, hist))


def dissatisfaction(model: Model, ratios: torch.Tensor, hates: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
    """Dissatisfaction after a window (most recent first): the sum over its slots of
    dis_decay ** l x (-log(expected watch ratio) + dis_hate x hate): videos left after a small
    share of their length, and hated ones, make the user leave sooner."""
    w = model.dis_decay ** torch.arange(WINDOW, dtype=ratios.dtype, device=ratios.device)
    return (w * used * (-torch.log(ratios.clamp_min(1e-6)) + model.dis_hate * hates)).sum(-1)


def leave_probability(world: World, user: torch.Tensor, dis: torch.Tensor) -> torch.Tensor:
    """Probability that the user leaves after an impression, given the dissatisfaction after it."""
    m = world.model
    return torch.sigmoid(m.leave0 + m.leave_dis * dis - world.patience[user])


def ranker_scores(world: World, user: torch.Tensor, cands: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
    """The production ranker's score of each candidate [B, C]: its own (noisy) estimate of the
    affinity, aware of fatigue and repeats, with a taste for long videos (watch time)."""
    m = world.model
    same, seen = window_crosses(world, cands, hist)
    pref = world.cat_pref[user].gather(1, world.category[cands])
    return ((world.ranker_taste[user].unsqueeze(1) * world.ranker_content[cands]).sum(-1) / math.sqrt(LATENT)
            + pref + world.quality[cands] - m.fatigue * same - 2 * m.repeat * seen + 0.3 * world.zdur[cands])


def ranker_probs(world: World, user: torch.Tensor, cands: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
    """The production (behaviour) policy: softmax of its scores mixed with uniform exploration."""
    m = world.model
    p = torch.softmax(m.ranker_temp * ranker_scores(world, user, cands, hist), -1)
    return (1 - m.ranker_eps) * p + m.ranker_eps / cands.shape[-1]


def with_model(world: World, **changes) -> World:
    """The same world under other model coefficients (calibration, tests)."""
    new = replace(world, model=replace(world.model, **changes))
    return new
