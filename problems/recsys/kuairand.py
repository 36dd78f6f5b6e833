"""Loader for KuaiRand-27K's log files (Gao et al., CIKM 2022; kuairand.com), the columns the
TSCAC paper uses, into the session form of its offline experiment: the ``top`` most logged
videos are the candidate set shared by every user, the log is restricted to them, and a user's
rows in time order are one episode.

The real files (about 46 GB) cannot be downloaded here; the loader is tested on a small file in
the same format that the test writes. Its output is the paper's data, not a ``Log`` of the
simulator: the synthetic world has no KuaiRand user or video, so the two are compared through
statistics (README), never row by row.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data import MalformedLog

# Columns of log_standard_*_27k*.csv and log_random_*_27k.csv (KuaiRand README).
KUAIRAND_LOG_COLUMNS = ("user_id", "video_id", "date", "hourmin", "time_ms", "is_click", "is_like", "is_follow",
                        "is_comment", "is_forward", "is_hate", "long_view", "play_time_ms", "duration_ms",
                        "profile_stay_time", "comment_stay_time", "is_profile_enter", "is_rand", "tab")
USED = ("user_id", "video_id", "time_ms", "is_click", "is_like", "is_follow", "is_comment", "is_forward", "is_hate",
        "play_time_ms", "duration_ms")
RESPONSE_COLUMNS = ("is_click", "is_like", "is_follow", "is_comment", "is_forward", "is_hate")


@dataclass
class KuaiRandLog:
    """``frame``: one row per impression, sorted by (session, t), with columns session (user
    index in order of first appearance), t, user_id, video_id, action (index in
    ``candidates``), the six response flags, play_time_s, duration_s, done; ``candidates``:
    the shared candidate video ids, most logged first."""
    frame: pd.DataFrame
    candidates: list[int]

    def per_impression(self) -> dict:
        """Mean of each response per impression and the mean episode length (TSCAC's statistics)."""
        f = self.frame
        out = {c.removeprefix("is_"): float(f[c].mean()) for c in RESPONSE_COLUMNS}
        out["watch_s"] = float(f.play_time_s.mean())
        out["watch_floored_s"] = float((10 * (f.play_time_s // 10)).mean())
        out["session_length"] = float(len(f) / f.session.nunique())
        return out


def load_kuairand(paths, top: int = 150, nrows: int | None = None) -> KuaiRandLog:
    """Read one or more KuaiRand log CSV files (e.g. ``log_standard_4_08_to_4_21_27k_part1.csv``)
    into episodes over the ``top`` most logged videos. Rows are put in time order within each
    user (the paper relies on the file's order; KuaiRand's files are sorted so, and sorting
    makes the episodes independent of it)."""
    import pandas as pd  # here, not at import: runs of the synthetic world never read a log
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise MalformedLog("no KuaiRand log file given")
    frames = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise MalformedLog(f"KuaiRand log file {p} does not exist")
        header = pd.read_csv(p, nrows=0).columns
        missing = [c for c in USED if c not in header]
        if missing:
            raise MalformedLog(f"{p.name} is not a KuaiRand log file: missing column(s) {missing} "
                               f"(expected KuaiRand's {list(KUAIRAND_LOG_COLUMNS)})")
        try:
            frames.append(pd.read_csv(p, usecols=list(USED), nrows=nrows))
        except (ValueError, pd.errors.ParserError) as exc:
            raise MalformedLog(f"{p.name}: unreadable KuaiRand log ({exc})") from None
    df = pd.concat(frames, ignore_index=True)
    for c in USED:
        if not pd.api.types.is_numeric_dtype(df[c]) or df[c].isna().any():
            raise MalformedLog(f"KuaiRand column {c!r} must be numeric without missing values")
    bad = [c for c in RESPONSE_COLUMNS if not df[c].isin([0, 1]).all()]
    if bad:
        raise MalformedLog(f"KuaiRand response column(s) {bad} must hold 0/1 flags")
    if (df.play_time_ms < 0).any():
        raise MalformedLog("KuaiRand play_time_ms must be >= 0")
    counts = df.video_id.value_counts(sort=False)
    order = sorted(counts.index, key=lambda v: (-counts[v], v))  # most logged first, ties by id
    cands = [int(v) for v in order[:top]]
    df = df[df.video_id.isin(cands)].copy()
    if df.empty:
        raise MalformedLog("no row left after restricting the log to the candidate videos")
    df = df.sort_values(["user_id", "time_ms"], kind="stable")
    first = {u: i for i, u in enumerate(pd.unique(df.user_id))}
    df["session"] = df.user_id.map(first)
    df["t"] = df.groupby("session").cumcount()
    df["action"] = df.video_id.map({v: i for i, v in enumerate(cands)})
    df["play_time_s"] = df.play_time_ms / 1000.0
    df["duration_s"] = df.duration_ms / 1000.0
    df["done"] = df.session.ne(df.session.shift(-1))
    cols = ["session", "t", "user_id", "video_id", "action", *RESPONSE_COLUMNS, "play_time_s", "duration_s", "done"]
    return KuaiRandLog(frame=df[cols].reset_index(drop=True), candidates=cands)
