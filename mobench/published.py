"""Published figures beside the store's, for the report's "paper vs reproduced" page.

Each CSV of ``results/published/`` has its own layout, so each has one explicit mapping below
(``_zipkin``, ``_chalapathi``, ...) from its rows to claims: the paper's method and our solver,
the problem (id and the parameters the paper's setting fixes), the metric, and how our number
is computed from the store (a column's mean over seeds, the reference's value, a change
relative to another solver, or a paired per-scenario difference from the raw outcomes).

Comparability rule: a published number is compared only on the same metric and the same
problem setting (problem id and version, and the parameters that fix the paper's data, grid
or scale). Otherwise the verdict is "not comparable" with the reason (the paper's grid, data,
units or hardware differ; no such problem in the suite; no matching run in the store); our
number is still shown where the store has one. Where comparable, the verdict is "reproduced"
when our 95% interval (over seeds, or over scenarios for paired differences) meets the
published one (its mean +- std, its CI, or +- half the last printed digit), else "not
reproduced". Methods whose papers have no table that could be read get one row saying why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .stats import bootstrap_ci
from .store import read_raw
from .targets import parse_target

RULE = ("Compared only on the same metric and problem setting (problem id and version, and the parameters that fix "
        "the paper's data, grid or scale); otherwise \"not comparable\", with the reason. Where comparable: "
        "\"reproduced\" when our 95% interval (bootstrap over seeds; for paired differences, over the test "
        "scenarios) meets the published interval (mean +- std, the paper's CI, or +- half the last printed digit), "
        "else \"not reproduced\".")


@dataclass(frozen=True)
class Paper:
    """A method's paper: who wrote it, our solvers for it, its suite, and where its numbers are."""
    key: str
    citation: str
    solvers: tuple[str, ...]
    suite: str | None = None
    csv: str | None = None          # results/published/<csv> holding its figures
    no_table: str | None = None     # why no published figure can be compared (None: see the CSV)


PAPERS = (
    Paper("HDPO", "Alvo, Russo, Kanoria, \"Neural inventory control in networks via hindsight differentiable policy "
          "optimization\", arXiv 2306.11246", ("hdpo",), "paper-hdpo",
          no_table="the paper's gap tables could not be read (only its code's settings); the optimal costs it quotes "
                   "(Zipkin 2008) are compared below as the lost-sales references"),
    Paper("Zipkin 2008", "P. Zipkin, \"Old and new methods for lost-sales inventory systems\", Operations Research "
          "56(5):1256-1263, 2008", (), None, csv="zipkin2008_lost_sales_optimal.csv"),
    Paper("E2E CP+RL", "Tassel, Gebser, Schekotihin, \"An end-to-end reinforcement learning approach for job-shop "
          "scheduling problems based on constraint programming\", ICAPS 2023, arXiv 2306.05747", ("e2e-cp-rl",),
          "paper-cp-rl", no_table="the paper's Taillard table could not be read (only the repository's protocol: "
                                  "10 runs x 32 rollouts per instance, best makespan kept)"),
    Paper("BQ-NCO", "Drakulic, Michel, Mai, Sors, Andreoli, \"BQ-NCO: bisimulation quotienting for efficient neural "
          "combinatorial optimization\", NeurIPS 2023, arXiv 2301.03313", ("bq-nco",), "paper-bq-nco",
          no_table="the paper's Table 1 could not be read; only a survey's secondary notes (greedy gaps TSP100 0.35%, "
                   "TSP1000 2.29%, CVRP1000 5.88%) exist, not checked against the paper and not in results/published/"),
    Paper("C-MORL", "Liu et al., \"C-MORL: multi-objective reinforcement learning through efficient discovery of "
          "Pareto front\", ICLR 2025, arXiv 2410.02236", ("c-morl",), "paper-c-morl",
          no_table="the paper's HV/EU/SP tables could not be read (only the repository's run settings), and its "
                   "benchmarks (MO-Hopper, MO-Ant, Minecart, ...) are not the suite's deep-sea-treasure"),
    Paper("TS-DDR", "Rosemberg, Street, Valladao, Van Hentenryck, \"Efficiently training deep-learning parametric "
          "policies using Lagrangian duality\", arXiv 2405.14973 (figures: the DecisionRules.jl hydro case study "
          "page)", ("ts-ddr", "sddp"), "paper-ts-ddr", csv="rosemberg2024_tsddr.csv"),
    Paper("TSCAC", "Cai et al., \"Two-stage constrained actor-critic for short video recommendation\", WWW 2023, "
          "arXiv 2302.01680 (secondary figures)", ("tscac", "rcpo", "bc", "pareto-mo"), "paper-tscac",
          csv="cai2023_tscac.csv"),
    Paper("SCU", "Nekoei, Blondin Masse, Hassani, Chandar, Mai, \"Shielded controller units for RL with operational "
          "constraints applied to remote microgrids\", arXiv 2512.01046 (abstract only)", ("sac-scu", "mg-rule-based"),
          "paper-scu", csv="nekoei2025_scu_microgrid.csv"),
    Paper("PI-HC-MoE", "Chalapathi, Du, Krishnapriyan, \"Scaling physics-informed hard constraints with "
          "mixture-of-experts\", ICLR 2024, arXiv 2402.13412", ("pi-sc", "pi-hc", "pi-hc-moe"), "paper-pi-hc-moe",
          csv="chalapathi2024_pihc_moe.csv"),
)


@dataclass
class Claim:
    """One published number and how the store's counterpart is found and computed."""
    paper: str
    source: str                      # csv file and table / section
    method: str                      # as the paper names it
    solver: str | None               # our solver name (None: no counterpart, or the problem's reference)
    setting: str                     # the paper's setting and budget/hardware, in words
    metric: str
    published: float | None
    published_text: str
    interval: tuple[float, float] | None
    problem_id: str | None           # our problem id (None: none in the suite)
    ours: Callable | None = None     # (runs of problem_id, all runs) -> Ours | None
    fixed: dict = field(default_factory=dict)   # parameters of the paper's setting (others: not comparable)
    select: dict = field(default_factory=dict)  # parameters a run must have to be shown at all
    reason: str | None = None        # always not comparable, why (even when ours exists)


@dataclass
class Ours:
    value: float
    lo: float = float("nan")
    hi: float = float("nan")
    text: str = ""                   # how it was computed
    problem: str = ""
    budget: str = ""
    device: str = ""
    n: int = 0


def _params(key: str) -> dict:
    """A stored problem key's parameters, the registry's defaults filled in where it knows them."""
    pid, params = parse_target(key)
    try:
        from .registry import problem_entry
        defaults = {k: getattr(p, "default", p) for k, p in problem_entry(pid).params.items()}
    except Exception:  # noqa: BLE001 - a problem from a plugin that is not installed: its key alone
        defaults = {}
    return {**defaults, **params}


def _same(a, b) -> bool:
    try:
        return math.isclose(float(a), float(b))
    except (TypeError, ValueError):
        return str(a) == str(b)


def _setting_differs(key: str, fixed: dict) -> str | None:
    params = _params(key)
    text = lambda v: f"{v:g}" if isinstance(v, float) else str(v)
    diff = [f"{k}={text(params.get(k))} here, {text(v)} in the paper" for k, v in fixed.items()
            if not _same(params.get(k), v)]
    return "; ".join(diff) or None


def _runs_meta(g: pd.DataFrame) -> dict:
    return {"problem": g.problem.iloc[0], "budget": ", ".join(sorted(set(g.budget))),
            "device": ", ".join(sorted(set(g.device.astype(str)))) if "device" in g else "", "n": len(g)}


def _pick_problem(runs: pd.DataFrame, fixed: dict, solvers: tuple[str, ...]) -> pd.DataFrame:
    """Runs of the one problem key to compare on: one whose setting matches the paper's if any,
    else the one with most runs of ``solvers`` (shown, marked not comparable)."""
    have = runs[runs.solver_name.isin(solvers)]
    if have.empty:
        return have
    keys = list(dict.fromkeys(have.problem))
    matching = [k for k in keys if _setting_differs(k, fixed) is None]
    key = matching[0] if matching else max(keys, key=lambda k: int((have.problem == k).sum()))
    return runs[runs.problem == key]


def mean_of(solver: str, column: str, scale: float = 1.0, fixed: dict | None = None):
    """Ours: the mean over seeds of ``column`` x ``scale`` of ``solver``'s runs, bootstrap CI."""
    def ours(runs, _all):
        runs = _pick_problem(runs, fixed or {}, (solver,))
        g = runs[runs.solver_name == solver] if not runs.empty else runs
        if g.empty or column not in g or g[column].isna().all():
            return None
        v = g[column].astype(float).dropna().to_numpy() * scale
        lo, hi = bootstrap_ci(v)
        return Ours(float(v.mean()), lo, hi, f"mean of {column}" + (f" x {scale:g}" if scale != 1 else "")
                    + " over seeds", **_runs_meta(g))
    return ours


def reference_value():
    """Ours: the problem's reference value as the runs were scored against it."""
    def ours(runs, _all):
        runs = _pick_problem(runs, {}, tuple(runs.solver_name.unique()) if not runs.empty else ())
        if runs.empty or "reference_value" not in runs or runs.reference_value.isna().all():
            return None
        v = float(runs.reference_value.dropna().iloc[0])
        kind = runs.reference_kind.dropna().iloc[0] if "reference_kind" in runs else "?"
        meta = {**_runs_meta(runs), "budget": "- (the problem's own computation)"}
        return Ours(v, text=f"the problem's reference ({kind}) the runs were scored against", **meta)
    return ours


def change_vs(solver: str, base: str, column: str, fixed: dict | None = None, sign: float = 1.0):
    """Ours: 100 x (mean of ``solver`` / mean of ``base`` - 1) x ``sign`` on ``column``, with a
    bootstrap CI over both solvers' seeds."""
    def ours(runs, _all):
        runs = _pick_problem(runs, fixed or {}, (solver,))
        if runs.empty or column not in runs:
            return None
        a = runs.loc[runs.solver_name == solver, column].astype(float).dropna().to_numpy()
        b = runs.loc[runs.solver_name == base, column].astype(float).dropna().to_numpy()
        if not len(a) or not len(b) or b.mean() == 0:
            return None
        point = sign * 100 * (a.mean() / b.mean() - 1)
        rng = np.random.default_rng(0)
        boots = [sign * 100 * (rng.choice(a, len(a)).mean() / rng.choice(b, len(b)).mean() - 1) for _ in range(1000)]
        lo, hi = (np.quantile(boots, [0.025, 0.975]) if len(a) > 1 or len(b) > 1 else (np.nan, np.nan))
        meta = _runs_meta(runs[runs.solver_name.isin((solver, base))])
        return Ours(float(point), float(min(lo, hi)), float(max(lo, hi)),
                    f"{'+' if sign > 0 else '-'}100 x ({solver} / {base} - 1) on the means of {column}", **meta)
    return ours


def _per_scenario(g: pd.DataFrame, column: str) -> np.ndarray | None:
    """A solver's per-scenario values of ``column`` (its first answer), averaged over its runs."""
    rows = []
    for path in g.path:
        raw = read_raw(path)
        if column not in raw:
            return None
        rows.append(raw[raw.answer == raw.answer.min()].sort_values("scenario")[column].to_numpy(float))
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    return np.mean(rows, axis=0)


def paired(solver: str, base: str, column: str, what: str, fixed: dict | None = None):
    """Ours from the raw outcomes, scenario by scenario (the same test scenarios for both):
    ``what`` = 'pct' (mean difference in % of ``base``'s mean, 95% normal CI), 'diff' (mean
    difference) or 'share' (share of scenarios where ``solver`` is lower, in %, Wilson CI)."""
    def ours(runs, _all):
        runs = _pick_problem(runs, fixed or {}, (solver,))
        if runs.empty:
            return None
        a = _per_scenario(runs[runs.solver_name == solver], column)
        b = _per_scenario(runs[runs.solver_name == base], column)
        if a is None or b is None or len(a) != len(b) or not len(a):
            return None
        d, n = a - b, len(a)
        se = d.std(ddof=1) / math.sqrt(n) if n > 1 else float("nan")
        meta = _runs_meta(runs[runs.solver_name.isin((solver, base))])
        if what == "share":
            p, z = float((a < b).mean()), 1.96
            centre = (p + z * z / (2 * n)) / (1 + z * z / n)
            half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
            return Ours(100 * p, 100 * (centre - half), 100 * (centre + half),
                        f"% of the {n} test scenarios where {solver} is lower (Wilson 95% CI)", **meta)
        scale = 100 / b.mean() if what == "pct" else 1.0
        return Ours(float(d.mean() * scale), float((d.mean() - 1.96 * se) * scale),
                    float((d.mean() + 1.96 * se) * scale),
                    f"mean over {n} test scenarios of {solver} - {base}" + (f" in % of {base}'s mean" if what == "pct"
                                                                            else "") + " (95% normal CI)", **meta)
    return ours


# ------------------------------------------------------------------ one mapping per CSV

def _zipkin(df: pd.DataFrame, src: str) -> list[Claim]:
    out = []
    for r in df.itertuples():
        fixed = {"L": int(r.L), "p": float(r.p), "h": float(r.h)}
        out.append(Claim("Zipkin 2008", f"{src} (table of optimal costs)", "optimal policy (dynamic programming)",
                         None, f"lost sales, Poisson(5) demand, L={r.L}, p={r.p:g}, h={r.h:g}; exact DP",
                         "long-run average cost per period", float(r.optimal_cost), f"{r.optimal_cost:.2f}",
                         (r.optimal_cost - 0.005, r.optimal_cost + 0.005), r.problem, reference_value(),
                         select=fixed))
    return out


PDE_SOLVERS = {"pi-sc": "pi-sc", "pi-hc": "pi-hc", "pi-hc-moe": "pi-hc-moe"}


def _chalapathi(df: pd.DataFrame, src: str) -> list[Claim]:
    out = []
    paper_grid = {"count": 1000, "nx": 1024, "nt": 101}
    for r in df.itertuples():
        solver = PDE_SOLVERS.get(r.method)
        where = f"{src} ({r.section})"
        if r.kind == "speedup":
            out.append(Claim("PI-HC-MoE", where, r.method, solver, f"{r.pde}, {r.setting}, {r.phase}, "
                             f"{int(r.points):,} points", "speed-up over PI-HC (per batch)", float(r.mean),
                             f"{r.mean:g}x", None, None,
                             reason="a per-batch timing on an A100 GPU; the store records whole-run times on its own "
                                    "machine, not this measurement"))
            continue
        interval = (r.mean - r.std, r.mean + r.std) if pd.notna(r.std) else None
        text = f"{r.mean:g} +- {r.std:g}" if pd.notna(r.std) else f"{r.mean:g}"
        if r.pde != "diffusion-sorption":
            out.append(Claim("PI-HC-MoE", where, r.method, solver, f"{r.pde}, {r.setting}", "relative L2 error (%)",
                             float(r.mean), text, interval, None, reason=f"no {r.pde} problem in the suite"))
        elif "extrapolation" in r.setting:
            out.append(Claim("PI-HC-MoE", where, r.method, solver, f"{r.pde}, {r.setting}", "relative L2 error (%)",
                             float(r.mean), text, interval, "pde/diffusion-sorption-v0",
                             mean_of(solver, "obj:rel_l2", 100.0),
                             reason="the suite has no extrapolation problem (models trained on t <= 400 s, tested "
                                    "beyond it)"))
        else:
            out.append(Claim("PI-HC-MoE", where, r.method, solver,
                             f"{r.pde}, {r.setting}, 8,000 training ICs, 4,000 iterations on an A100",
                             "relative L2 error (%)", float(r.mean), text, interval, "pde/diffusion-sorption-v0",
                             mean_of(solver, "obj:rel_l2", 100.0, paper_grid), paper_grid))
    return out


TSCAC_SOLVERS = {"BC": "bc", "RCPO": "rcpo", "Pareto": "pareto-mo", "TSCAC": "tscac", "Interaction-AC": None}
TSCAC_SCALE = {"watch_time": 1.0, "click": 1.0, "like": 1.0, "comment": 1.0, "hate": 1e4}
TSCAC_WHY = ("the paper's figures are NCIS estimates on the KuaiRand logs (secondary transcription); ours are NCIS "
             "estimates on logs of a simulated world fitted to KuaiRand's marginals, not the same data")


def _cai(df: pd.DataFrame, src: str) -> list[Claim]:
    out = []
    pid = "recsys/short-video-offline-v0"
    for r in df.itertuples():
        solver = TSCAC_SOLVERS.get(r.method)
        column = "obj:" + ("play_time" if r.metric == "watch_time" else r.metric) + "_ncis"
        where = f"{src} (table={r.table})"
        if r.table == "live":
            out.append(Claim("TSCAC", where, r.method, solver, "live A/B test on Kuaishou, vs the production ranker",
                             f"{r.metric}: change vs production (%)", float(r.rel_pct), f"{r.rel_pct:+g}%", None,
                             None, reason="a live A/B test on the platform's traffic; the suite has no counterpart"))
            continue
        setting = "offline KuaiRand (26,858 users, 150 videos per user), NCIS per impression, gamma 0.99"
        if pd.notna(r.value) and solver is not None:
            unit = " (x 1e-4)" if r.metric == "hate" else (" (s)" if r.metric == "watch_time" else "")
            out.append(Claim("TSCAC", where, r.method, solver, setting, f"{r.metric} per impression{unit}",
                             float(r.value), f"{r.value:g}", (r.value, r.value), pid,
                             mean_of(solver, column, TSCAC_SCALE.get(r.metric, 1.0)), reason=TSCAC_WHY))
        if pd.notna(r.rel_pct) and solver is not None:
            out.append(Claim("TSCAC", where, r.method, solver, setting, f"{r.metric}: change vs BC (%)",
                             float(r.rel_pct), f"{r.rel_pct:+g}%", (r.rel_pct, r.rel_pct), pid,
                             change_vs(solver, "bc", column), reason=TSCAC_WHY))
    return out


SCU_WHY = ("the paper's data (chandar-lab/remote_microgrid_data) and evaluation protocol (abstract only: its results "
           "table was not retrieved) are not this run's")


def _nekoei(df: pd.DataFrame, src: str) -> list[Claim]:
    out = []
    base = {"rule-based": "mg-rule-based"}
    for r in df.itertuples():
        solver = "sac-scu" if r.method == "sac-scu" else None
        where = f"{src} ({r.source})"
        setting = "remote wind-diesel-battery microgrid, SAC 500k steps, 1-minute steps"
        if r.metric == "fuel_reduction_pct":
            out.append(Claim("SCU", where, r.method, solver, setting, f"fuel saved vs {r.baseline} (%)",
                             float(r.value), f"{r.value}%", None, "microgrid/remote-2obj-v0",
                             change_vs("sac-scu", base.get(r.baseline, r.baseline), "obj:fuel_l", sign=-1.0),
                             reason=SCU_WHY))
        elif r.metric == "battery_degradation":
            out.append(Claim("SCU", where, r.method, solver, setting, f"battery degradation vs {r.baseline}: change (%)",
                             None, str(r.value), None, "microgrid/remote-2obj-v0",
                             change_vs("sac-scu", base.get(r.baseline, r.baseline), "obj:degradation"), reason=SCU_WHY))
        else:
            out.append(Claim("SCU", where, r.method, solver, setting, "constraint violation rate",
                             float(r.value), str(r.value), None, "microgrid/remote-v0",
                             mean_of("sac-scu", "violation_rate"), reason=SCU_WHY))
    return out


TSDDR_FIXED = {"network": "ac", "stages": 126, "stage": "weekly", "load": "training"}
TSDDR_UNITS = ("cost levels differ: here a weekly stage costs 168 h of dispatch, in the source one hour "
               "(see problems/hydro/README.md); only relative figures compare")


def _rosemberg(df: pd.DataFrame, src: str) -> list[Claim]:
    out = []
    pid = "hydro/bolivia-v1"
    setting = ("Bolivia (28 buses, 11 hydro units), 126 weekly stages, AC evaluation on 500 inflow scenarios, "
               "SDDP cuts on the SOC relaxation; TS-DDR trained 10.97 h on one GPU")
    for r in df.itertuples():
        method = r.policy
        interval = (r.low, r.high) if pd.notna(r.low) else None
        claim = dict(paper="TS-DDR", source=f"{src} (hydro case study)", method=method, setting=setting,
                     published=float(r.value), published_text=f"{r.value:,.6g}", interval=interval, problem_id=pid,
                     fixed=TSDDR_FIXED)
        solver = {"SDDP": "sddp", "TS-DDR": "ts-ddr"}.get(method, "ts-ddr")
        if r.metric in ("mean_cost", "std"):
            fn = mean_of(solver, "obj:cost") if r.metric == "mean_cost" else None
            out.append(Claim(**claim, solver=solver, metric=r.metric.replace("_", " "), ours=fn, reason=TSDDR_UNITS))
        elif r.metric == "paired_difference":
            out.append(Claim(**claim, solver="ts-ddr", metric="paired difference TS-DDR - SDDP (cost)",
                             ours=paired("ts-ddr", "sddp", "obj:cost", "diff"), reason=TSDDR_UNITS))
        elif r.metric == "paired_difference_pct":
            out.append(Claim(**{**claim, "published_text": f"{r.value:+g}% [{r.low:g}, {r.high:g}]"}, solver="ts-ddr",
                             metric="paired difference TS-DDR - SDDP (% of SDDP's mean cost)",
                             ours=paired("ts-ddr", "sddp", "obj:cost", "pct", TSDDR_FIXED)))
        elif r.metric == "cheaper_scenarios":
            share = 100 * r.value / r.n
            out.append(Claim(**{**claim, "published": share, "published_text": f"{share:.1f}% ({r.value:g} of {r.n:g})",
                                "interval": (share - 50 / r.n, share + 50 / r.n)}, solver="ts-ddr",
                             metric="scenarios where TS-DDR is cheaper than SDDP (%)",
                             ours=paired("ts-ddr", "sddp", "obj:cost", "share", TSDDR_FIXED)))
        elif r.metric in ("training_hours", "updates"):
            out.append(Claim(**claim, solver="ts-ddr", metric=r.metric.replace("_", " "),
                             reason="a training budget on one GPU, not a result; our budgets are in the run's column"))
        # paired_difference_se: the standard error of the row above, shown through its interval
    return out


MAPPINGS: dict[str, Callable[[pd.DataFrame, str], list[Claim]]] = {
    "zipkin2008_lost_sales_optimal.csv": _zipkin,
    "chalapathi2024_pihc_moe.csv": _chalapathi,
    "cai2023_tscac.csv": _cai,
    "nekoei2025_scu_microgrid.csv": _nekoei,
    "rosemberg2024_tsddr.csv": _rosemberg,
}


def default_dir() -> Path | None:
    """results/published of the working folder, else of the checkout this package sits in."""
    for d in (Path("results/published"), Path(__file__).resolve().parents[1] / "results" / "published"):
        if d.is_dir():
            return d
    return None


def claims(published_dir: Path | str | None) -> tuple[list[Claim], list[str]]:
    """Every mapped CSV's claims, and notes (CSVs without a mapping, mapped ones missing)."""
    out, notes = [], []
    if published_dir is None or not Path(published_dir).is_dir():
        return out, ["no results/published folder found: no published figures to show"]
    d = Path(published_dir)
    for name, mapping in MAPPINGS.items():
        path = d / name
        if not path.exists():
            notes.append(f"{name} is not in {d}: its rows are left out")
            continue
        out += mapping(pd.read_csv(path, comment="#"), name)
    for path in sorted(d.glob("*.csv")):
        if path.name not in MAPPINGS:
            notes.append(f"{path.name} has no mapping in mobench/published.py yet: its rows are not shown")
    return out, notes


def _overlap(ours: Ours, interval) -> bool:
    lo, hi = (ours.lo, ours.hi) if np.isfinite(ours.lo) and np.isfinite(ours.hi) else (ours.value, ours.value)
    return lo <= interval[1] + 1e-12 and interval[0] <= hi + 1e-12


def compare(runs: pd.DataFrame, published_dir=None, solver_names=()) -> tuple[list[dict], list[str]]:
    """Rows of the paper-vs-reproduced table: one per claim, then one per paper without a
    readable table, then one per other solver (``solver_names``) without any published figure.
    ``runs``: the successful runs (``leaderboard.runs_frame`` rows with status ok)."""
    found, notes = claims(published_dir if published_dir is not None else default_dir())
    rows = []
    cite = {p.key: p for p in PAPERS}
    for c in found:
        pruns = runs[runs.problem_id == c.problem_id] if c.problem_id and not runs.empty else runs.iloc[0:0]
        if c.select and not pruns.empty:
            pruns = pruns[[_setting_differs(k, c.select) is None for k in pruns.problem]]
        ours = None
        if c.ours is not None and not pruns.empty:
            try:
                ours = c.ours(pruns, runs)
            except Exception as exc:  # noqa: BLE001 - one bad row says so; the page still builds
                notes.append(f"{c.source} {c.method} {c.metric}: ours not computed ({type(exc).__name__}: {exc})")
        if c.reason:
            verdict, why = "not comparable", c.reason
        elif ours is None:
            verdict = "not comparable"
            setting = "".join(f", {k}={v:g}" if isinstance(v, float) else f", {k}={v}" for k, v in c.select.items())
            why = (f"the store holds no run of {c.solver or 'any solver'} on {c.problem_id}{setting}"
                   + (f" (run `mobench run {cite[c.paper].suite}`)" if cite.get(c.paper) and cite[c.paper].suite else ""))
        elif (differs := _setting_differs(ours.problem, c.fixed)):
            verdict, why = "not comparable", f"the paper's setting differs: {differs}"
        elif c.interval is None or c.published is None:
            verdict, why = "not comparable", "the paper gives no number to compare with"
        else:
            hit = _overlap(ours, c.interval)
            verdict = "reproduced" if hit else "not reproduced"
            why = (f"ours {'meets' if hit else 'misses'} the published interval "
                   f"[{c.interval[0]:.4g}, {c.interval[1]:.4g}]")
        p = cite.get(c.paper)
        rows.append({"paper": c.paper, "citation": p.citation if p else c.paper, "source": c.source,
                     "method": c.method, "solver": c.solver or "-", "setting": c.setting, "metric": c.metric,
                     "published": c.published_text, "ours": ours, "verdict": verdict, "why": why})
    covered = {s for c in found for s in ([c.solver] if c.solver else [])}
    for p in PAPERS:
        if p.no_table:
            rows.append({"paper": p.key, "citation": p.citation, "source": "-", "method": p.key,
                         "solver": ", ".join(p.solvers) or "-", "setting": "-", "metric": "-", "published": "-",
                         "ours": None, "verdict": "not comparable", "why": f"no readable table: {p.no_table}"})
            covered |= set(p.solvers)
        elif p.csv and p.csv not in {c.source.split(" ")[0] for c in found}:
            rows.append({"paper": p.key, "citation": p.citation, "source": p.csv, "method": p.key,
                         "solver": ", ".join(p.solvers) or "-", "setting": "-", "metric": "-", "published": "-",
                         "ours": None, "verdict": "not comparable",
                         "why": f"its figures' file results/published/{p.csv} is missing"})
    for s in sorted(set(solver_names) - covered):
        rows.append({"paper": "-", "citation": "-", "source": "-", "method": s, "solver": s, "setting": "-", "other": True,
                     "metric": "-", "published": "-", "ours": None, "verdict": "not comparable",
                     "why": "no published figure for this solver has been gathered in results/published/ "
                            "(a baseline, or a method whose paper's numbers were not collected)"})
    return rows, notes
