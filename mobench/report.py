"""``mobench report``: a static website from one or more stores.

Pages: an index (families, problems, solvers; the across-problems IQM of normalised scores
with CIs and performance profiles), one page per family (leaderboard tables with CIs,
references, feasibility, budgets and times, sortable and filterable; SVG figures), "paper vs
reproduced" (``mobench.published``), provenance per run, and failures. Everything is computed
by the engine (``leaderboard``, ``aggregate``, ``stats``, ``plots``) from the stores; the pages
are Jinja2 templates (``templates/report/``) with inline CSS and JS, and the figures SVG files
beside them, so the site works from ``file://`` and any static host and fetches nothing.

Several stores are read as one, as if their files were copied into one folder (how stores
from several machines merge): the report links their files into a temporary folder.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InvalidParameter
from .leaderboard import SET_METRICS, aggregate, leaderboard, runs_frame, scores_by_solver, set_legend
from .store import check_store_path, iter_files, read_records

TEMPLATES = Path(__file__).parent / "templates" / "report"
MARKER = ".mobench-report"      # in the output folder: a site this command wrote (so it may replace it)
TRACEBACK_LINES = 12
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "mobench-report"}  # text as text; stable ids


# ------------------------------------------------------------------ formatting

def _finite(v) -> bool:
    try:
        return v is not None and not pd.isna(v) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt(v, digits: int = 4) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if not _finite(v):
        return "-" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
    v = float(v)
    return f"{int(v):d}" if v.is_integer() and abs(v) < 1e15 else f"{v:.{digits}g}"


def cell(v, ci=None, digits: int = 4) -> dict:
    """A table cell: its text, the value it sorts by (``sort``: '' when empty), a CSS class and
    a link (both optional: '' when none)."""
    if isinstance(v, dict):
        return {"cls": "", "href": "", **v}
    return {"cls": "", "href": "", **_cell(v, ci, digits)}


def _cell(v, ci, digits) -> dict:
    if ci is not None and isinstance(ci, (tuple, list)) and _finite(ci[0]) and _finite(v):
        return {"text": f"{fmt(v, digits)} [{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]", "sort": float(v)}
    if _finite(v) and not isinstance(v, str):
        return {"text": fmt(v, digits), "sort": float(v)}
    text = "-" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
    return {"text": text, "sort": "" if text == "-" else text}


def table(tid: str, columns: list[tuple[str, str, str]], rows: list[list], caption: str = "") -> dict:
    """``columns``: (label, tooltip, 'num' | 'text'); ``rows``: lists of cells (see ``cell``)."""
    return {"id": tid, "caption": caption,
            "columns": [{"label": c[0], "title": c[1], "type": c[2]} for c in columns],
            "rows": [[cell(x) for x in r] for r in rows]}


def slug(text: str, n: int = 40) -> str:
    """A file-name-safe, unique name for ``text`` (readable start + a hash of the whole)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:n] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]


def family_of(problem_id: str) -> str:
    return str(problem_id).split("/")[0]


# ------------------------------------------------------------------ stores

class Merged:
    """The files of several stores linked into one temporary folder (read-only for the engine);
    ``original`` maps a linked path back to the stored file."""

    def __init__(self, stores):
        self.stores = [check_store_path(s, writing=False) for s in stores]
        self._tmp = tempfile.TemporaryDirectory(prefix="mobench-report-")
        self.path = Path(self._tmp.name)
        self.original: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        for s in self.stores:
            files = iter_files(s)
            self.counts[str(s)] = len(files)
            for f in files:
                link = self.path / f.name
                if os.path.lexists(link):  # the same run file copied into two stores: read once
                    continue
                os.symlink(f.resolve(), link)
                self.original[str(link)] = str(f)

    def close(self):
        self._tmp.cleanup()


# ------------------------------------------------------------------ figures

def _render(task):
    """Draw one figure task in a worker: (kind, data, folder) -> the files written."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import rc_context
    from . import plots
    kind, data, folder = task
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with rc_context(SVG_RC), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "profile":
            return [str(_plot_profile(*data, folder))]
        fn = {"anytime": plots.plot_anytime, "fronts": plots.plot_fronts, "cost_return": plots.plot_cost_return}[kind]
        return [str(p) for p in fn(data, folder, ext="svg")]


def _profile_band(by_problem: dict, taus: np.ndarray, n_boot: int = 200, seed: int = 0):
    """95% band of a performance profile: rliable's stratified bootstrap (runs resampled within
    each problem)."""
    from .stats import performance_profile
    rng = np.random.default_rng(seed)
    boots = np.array([performance_profile({p: v[rng.integers(0, len(v), len(v))] for p, v in by_problem.items()
                                           if len(v)}, taus) for _ in range(n_boot)])
    return np.quantile(boots, 0.025, axis=0), np.quantile(boots, 0.975, axis=0)


def _plot_profile(set_name: str, rows: list[dict], scores: dict, members: list[str], folder: Path) -> Path:
    """IQM with its CI (left) and the performance profiles with 95% bands (right) of one set."""
    import matplotlib.pyplot as plt
    from .stats import performance_profile
    taus = np.linspace(0.0, 1.01, 102)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 0.9 + 0.35 * max(3, len(rows))),
                                 gridspec_kw={"width_ratios": [1, 1.4]})
    y = np.arange(len(rows))[::-1]
    for yi, r, i in zip(y, rows, range(len(rows))):
        lo, hi = r["iqm ci95"]
        color = f"C{i % 10}"
        if _finite(lo):
            a1.plot([lo, hi], [yi, yi], color=color, lw=3, alpha=0.6)
        a1.plot([r["iqm"]], [yi], "o", color=color)
        by_problem = {p: np.asarray(scores[r["solver"]][p], float) for p in members}
        prof = performance_profile(by_problem, taus)
        if any(len(v) > 1 for v in by_problem.values()):
            low, high = _profile_band(by_problem, taus)
            a2.fill_between(taus, low, high, color=color, alpha=0.15, step="post")
        a2.step(taus, prof, where="post", color=color, label=r["solver"])
    a1.set_yticks(y, [r["solver"] for r in rows], fontsize=7)
    a1.set_xlabel("IQM of normalised scores (95% CI)")
    a1.set_xlim(-0.02, 1.03)
    a2.set_xlabel("normalised score tau")
    a2.set_ylabel("fraction of runs with score > tau")
    a2.set_xlim(0, 1.01)
    a2.set_ylim(-0.02, 1.02)
    a2.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"set {set_name}: {len(members)} problem(s)", fontsize=8)
    fig.tight_layout()
    path = folder / f"profile_{set_name}.svg"
    fig.savefig(path)
    plt.close(fig)
    return path


class Drawing:
    """Figure tasks drawn by worker processes while the pages' tables are computed (``jobs``
    <= 1: drawn here, when asked for)."""

    def __init__(self, tasks: list, jobs: int):
        self.tasks, self.pool, self.futures = tasks, None, []
        if jobs > 1 and len(tasks) >= 4:
            import multiprocessing as mp
            ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
            self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
            # largest first, so that the last one does not start alone at the end
            order = sorted(range(len(tasks)), key=lambda i: -_weight(tasks[i]))
            futures = {i: self.pool.submit(_render, tasks[i]) for i in order}
            self.futures = [futures[i] for i in range(len(tasks))]

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def results(self) -> list[list[str]]:
        if self.pool is None:
            return [_render(t) for t in self.tasks]
        try:
            return [f.result() for f in self.futures]
        finally:
            self.pool.shutdown(cancel_futures=True)


def _weight(task) -> int:
    data = task[1]
    return len(data) if isinstance(data, pd.DataFrame) else 1


def _has_curves(runs: pd.DataFrame) -> bool:
    """Whether some run logged an anytime curve with two or more estimates."""
    return any(sum(1 for p in (c or []) if isinstance(p, dict) and _finite(p.get("estimate"))) >= 2
               for c in runs.get("curve", []))


def _symlog(x: float) -> float:
    return math.copysign(math.log10(1.0 + abs(x)), x)


def gap_chart(b: pd.DataFrame) -> dict | None:
    """Geometry of a problem's inline SVG chart: each row's mean gap (dot) and 95% CI (bar) on a
    symmetric log axis (linear within +-1 %), as ``plots.plot_gaps`` draws them."""
    if "gap_pct" not in b or b["gap_pct"].isna().all():
        return None
    b = b[b["gap_pct"].notna()]
    rows = []
    for _, r in b.iterrows():
        ci = r.get("gap_pct ci95")
        lo, hi = (ci if isinstance(ci, (tuple, list)) and _finite(ci[0]) else (r["gap_pct"], r["gap_pct"]))
        rows.append((f"{r['solver']} [{r['budget']}]", float(r["gap_pct"]), float(lo), float(hi)))
    left, width, row_h, top = 230, 420, 18, 8
    xmin = min(0.0, *(_symlog(lo) for _, _, lo, _ in rows))
    xmax = max(_symlog(1.0), *(_symlog(hi) for _, _, _, hi in rows)) * 1.05
    x = lambda v: left + width * (_symlog(v) - xmin) / (xmax - xmin)
    ticks = [t for t in (-1000, -100, -10, -1, 0, 1, 10, 100, 1000, 10000)
             if xmin <= _symlog(t) <= xmax]
    height = top + row_h * len(rows) + 34
    return {"width": left + width + 90, "height": height, "zero": x(0.0), "top": top, "axis_y": top + row_h * len(rows),
            "ticks": [{"x": x(t), "label": f"{t:g}"} for t in ticks],
            "rows": [{"label": lab, "y": top + row_h * i + row_h / 2, "x": x(m), "x_lo": x(lo), "x_hi": x(hi),
                      "value": fmt(m, 3)} for i, (lab, m, lo, hi) in enumerate(rows)]}


# ------------------------------------------------------------------ tables

def _board_table(tid: str, b: pd.DataFrame) -> dict:
    """One problem's leaderboard rows as a table."""
    obj_cols = [c for c in b.columns if c.startswith("obj:") and not c.endswith(" ci95") and b[c].notna().any()]
    set_cols = [c for c in SET_METRICS if c in b and b[c].notna().any()]
    cols = [("rank", "rank within the problem: feasible first, then gap (or HV), ties by solve time", "num"),
            ("solver", "solver and its non-default parameters", "text"),
            ("budget", "environment steps and solver seconds per run", "text"),
            ("seeds", "successful runs (seeds)", "num"), ("failed", "failed or timed-out runs", "num")]
    has_gap = "gap_pct" in b and b["gap_pct"].notna().any()
    if has_gap:
        cols += [("gap % [95% CI]", "gap to the reference in %, mean over seeds, bootstrap 95% CI", "num")]
        if "gap_se_pct" in b and b["gap_se_pct"].notna().any():
            cols += [("gap s.e. %", "sampling error of the gap from the test scenarios", "num")]
    cols += [(c[4:] + " [95% CI]", f"objective {c[4:]}: mean over seeds, bootstrap 95% CI", "num") for c in obj_cols]
    cols += [(c + " [95% CI]", f"{c} of the returned policy set, mean over seeds", "num") for c in set_cols]
    cols += [("reference", "the reference's kind: optimal, best-known, bound or none", "text"),
             ("feasible", "share of seeds whose answer is feasible", "num"),
             ("violation rate", "share of test scenarios violating a constraint", "num"),
             ("worst violation", "largest constraint excess", "num"),
             ("solve s", "solver time per run (what the budget limits), mean", "num"),
             ("eval s", "the engine's scoring time per run, mean", "num"),
             ("device", "device the solver used", "text"), ("version", "solver version", "num")]
    rows = []
    for _, r in b.iterrows():
        row = [r.get("rank"), r["solver"], r["budget"], r["n_seeds"], r["n_failed"]]
        if has_gap:
            row.append(cell(r.get("gap_pct"), r.get("gap_pct ci95")))
            if "gap_se_pct" in b and b["gap_se_pct"].notna().any():
                row.append(r.get("gap_se_pct"))
        row += [cell(r.get(c), r.get(c + " ci95")) for c in obj_cols]
        row += [cell(r.get(c), r.get(c + " ci95")) for c in set_cols]
        row += [r.get("reference_kind"), r.get("feasible_rate"), r.get("violation_rate"), r.get("worst_violation"),
                r.get("solve_s"), r.get("eval_s"), r.get("device"), r.get("solver_version")]
        rows.append(row)
    return table(tid, cols, rows)


def _first(g: pd.DataFrame, col: str):
    if col not in g:
        return None
    v = g[col].dropna()
    return v.iloc[0] if len(v) else None


def _short_commit(c, dirty) -> str:
    if not isinstance(c, str) or not c:
        return "unknown (not recorded)"
    return c[:10] + (" +uncommitted changes" if dirty is True else "")


# ------------------------------------------------------------------ the site

def build(stores, out, published_dir=None, jobs: int | None = None, title: str = "mobench results") -> Path:
    """Write the site for ``stores`` into ``out``; returns the index page's path."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from . import __version__
    from . import published as pub
    t0 = time.monotonic()
    stores = list(stores)
    if not stores:
        raise InvalidParameter("mobench report: name at least one --store")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidParameter(f"--out {str(out)!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise InvalidParameter(f"--out {str(out)!r} is a folder with other files in it; name a new or empty folder "
                               "(or one this command wrote)")
    merged = Merged(stores)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            records = {r["path"]: r for r in read_records(merged.path)}
            runs = runs_frame(merged.path)
            board = leaderboard(merged.path)
            agg = aggregate(merged.path)
            scores = scores_by_solver(merged.path)
        notes = list(dict.fromkeys(str(w.message).replace(str(merged.path), "<merged stores>") for w in caught))
        if runs.empty:
            raise InvalidParameter(f"no runs in the store(s) {', '.join(map(str, merged.stores))}: nothing to report")
        if out.is_dir():
            shutil.rmtree(out)
        (out / "figures").mkdir(parents=True)
        (out / MARKER).write_text("written by `mobench report`; the next report into this folder replaces it\n")
        site = _site(merged, records, runs, board, agg, scores, out, published_dir, jobs, pub)
    finally:
        merged.close()
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    common = {"title": title, "version": __version__, "families": site["families"], "notes": notes,
              "stores": [(str(s), merged.counts[str(s)]) for s in merged.stores]}
    pages = [("index.html", "index.html.tmpl", site["index"])]
    pages += [(f["page"], "family.html.tmpl", f) for f in site["family_pages"]]
    pages += [("paper.html", "paper.html.tmpl", site["paper"]), ("provenance.html", "provenance.html.tmpl",
                                                                  site["provenance"]),
              ("failures.html", "failures.html.tmpl", site["failures"])]
    for name, tmpl, ctx in pages:
        (out / name).write_text(env.get_template(tmpl).render(**{**common, **ctx, "page": name}), encoding="utf-8")
    seconds = time.monotonic() - t0
    (out / MARKER).write_text(f"written by `mobench report` in {seconds:.1f} s; the next report into this folder "
                              "replaces it\n")
    return out / "index.html"


def _site(merged, records, runs, board, agg, scores, out, published_dir, jobs, pub) -> dict:
    runs = runs.assign(family=runs.problem_id.map(family_of))
    ok = runs[runs.status == "ok"]
    board = board.assign(family=board.problem.map(lambda k: family_of(k.split(":")[0])))
    figures = out / "figures"
    tasks, owners = [], []   # figure tasks and (page key, section key) each belongs to

    # -------- families and their problems
    families, fam_pages = [], []
    for fam, fr in runs.groupby("family", sort=True):
        page = f"family-{slug(fam, 30)}.html"
        fb = board[board.family == fam]
        problems = []
        for prob in sorted(fr.problem.unique()):
            pr = fr[fr.problem == prob]
            pok = pr[pr.status == "ok"]
            pb = fb[fb.problem == prob]
            key = slug(prob)
            folder = figures / slug(fam, 30) / key
            section = {"problem": prob, "anchor": "p-" + key, "n_ok": len(pok), "n_failed": int((pr.status != "ok").sum()),
                       "reference_kind": _first(pok, "reference_kind") or "-",
                       "reference_source": _first(pok, "reference_source") or "-",
                       "reference_value": _first(pok, "reference_value"),
                       "objectives": ", ".join(f"{n} ({s})" for n, s in zip(_first(pok, "objective_names") or [],
                                                                            _first(pok, "objective_senses") or [])),
                       "constraints": ", ".join(f"{n} <= {fmt(t)}" for n, t in
                                                zip(_first(pok, "constraint_names") or [],
                                                    _first(pok, "constraint_thresholds") or [])),
                       "table": _board_table("t-" + key, pb) if not pb.empty else None, "figures": [],
                       "gap_chart": None}
            if not pok.empty:
                kinds = (["anytime"] if _has_curves(pok) else []) + ["fronts", "cost_return"]
                for kind in kinds:
                    tasks.append((kind, pok, str(folder)))
                    owners.append((page, prob))
                section["gap_chart"] = gap_chart(pb) if not pb.empty else None
            problems.append(section)
        solvers = sorted(fr.solver.unique())
        fam_pages.append({"family": fam, "page": page, "problems": problems, "solvers": solvers,
                          "n_ok": int((fr.status == "ok").sum()), "n_failed": int((fr.status != "ok").sum())})
        families.append({"name": fam, "page": page, "n_problems": fr.problem.nunique(), "n_solvers": len(solvers),
                         "n_ok": int((fr.status == "ok").sum()), "n_failed": int((fr.status != "ok").sum())})

    # -------- across problems: one block per set of shared problems
    sets = []
    if not agg.empty:
        legend = dict(zip(agg.drop_duplicates("set").set, set_legend(agg)))
        for name, g in agg.groupby("set", sort=True):
            rows = g.to_dict("records")
            members = rows[0]["problems"].split("; ")
            t = table(f"iqm-{name}", [("rank", "rank within the set by IQM", "num"),
                                       ("solver [budget]", "solver with its budget", "text"),
                                       ("problems", "problems in the set", "num"), ("runs", "runs pooled", "num"),
                                       ("IQM [95% CI]", "interquartile mean of normalised scores, bootstrap 95% CI",
                                        "num"),
                                       ("CI resamples", "what the bootstrap resamples", "text")],
                      [[r["rank"], r["solver"], r["n_problems"], r["n_runs"], cell(r["iqm"], r["iqm ci95"]),
                        r["ci_over"]] for r in rows])
            poi = None
            labels = [r["solver"] for r in rows]
            if 2 <= len(labels) <= 12:
                from .stats import probability_of_improvement
                cols = [("P(row > column)", "solver", "text")] + [(lab, lab, "num") for lab in labels]
                poi = table(f"poi-{name}", cols, [[a] + [cell(probability_of_improvement(
                    {p: scores[a][p] for p in members}, {p: scores[b][p] for p in members})) if a != b else "-"
                    for b in labels] for a in labels])
            tasks.append(("profile", (name, rows, {r["solver"]: scores[r["solver"]] for r in rows}, members),
                          str(figures / "index")))
            owners.append(("index.html", name))
            sets.append({"name": name, "legend": legend.get(name, ""), "members": members, "table": t, "poi": poi,
                         "figures": []})

    # -------- figures: drawn by worker processes while the rest is computed
    drawing = Drawing(tasks, jobs if jobs is not None else min(2, os.cpu_count() or 1))
    try:
        return _pages(runs, ok, records, merged, families, fam_pages, sets, published_dir, pub, drawing, owners, out)
    finally:
        drawing.close()


def _pages(runs, ok, records, merged, families, fam_pages, sets, published_dir, pub, drawing, owners, out) -> dict:
    """The index's tables, paper vs reproduced, provenance and failures; then the figures."""

    # -------- index tables
    prob_rows, solver_rows = [], []
    for prob, pr in runs.groupby("problem", sort=True):
        fam = family_of(pr.problem_id.iloc[0])
        page = next(f["page"] for f in families if f["name"] == fam)
        pok = pr[pr.status == "ok"]
        prob_rows.append([{"text": prob, "sort": prob, "href": f"{page}#p-{slug(prob)}"}, fam,
                          _first(pok, "reference_kind") or "-", pr.solver.nunique(), len(pok),
                          int((pr.status != "ok").sum())])
    from .registry import solver_entries
    try:
        registered = list(solver_entries())
    except Exception:  # noqa: BLE001 - a broken plugin must not stop the report
        registered = []
    names = sorted(set(registered) | set(runs.solver_name.unique()))
    descriptions = _solver_descriptions(names)
    for name, sr in runs.groupby("solver_name", sort=True):
        solver_rows.append([name, ", ".join(sorted(sr.family.unique())), sr.problem.nunique(),
                            int((sr.status == "ok").sum()), int((sr.status != "ok").sum()), descriptions.get(name, "-")])
    index = {"n_runs": len(runs), "n_ok": len(ok), "n_failed": int((runs.status != "ok").sum()), "sets": sets,
             "family_table": table("families", [("family", "", "text"), ("problems", "", "num"),
                                                ("solvers", "", "num"), ("runs ok", "", "num"),
                                                ("failed", "failed or timed-out runs", "num")],
                                   [[{"text": f["name"], "sort": f["name"], "href": f["page"]}, f["n_problems"],
                                     f["n_solvers"], f["n_ok"], f["n_failed"]] for f in families]),
             "problem_table": table("problems", [("problem", "", "text"), ("family", "", "text"),
                                                 ("reference", "the reference's kind", "text"),
                                                 ("solvers", "", "num"), ("runs ok", "", "num"),
                                                 ("failed", "", "num")], prob_rows),
             "solver_table": table("solvers", [("solver", "", "text"), ("families", "", "text"),
                                               ("problems", "", "num"), ("runs ok", "", "num"), ("failed", "", "num"),
                                               ("description", "", "text")], solver_rows)}

    # -------- paper vs reproduced
    rows, pub_notes = pub.compare(ok, published_dir, names)
    paper_rows, others = [], []
    for r in rows:
        if r.get("other"):
            others.append([r["solver"], descriptions.get(r["solver"], "-"), r["why"]])
            continue
        o = r["ours"]
        ours = (cell(o.value, (o.lo, o.hi)) if o is not None else cell(None))
        paper_rows.append([r["paper"], r["method"], r["solver"], r["metric"], r["setting"], r["published"], ours,
                           (o.text if o else "-"), (o.problem if o else "-"),
                           (f"{o.budget}; {o.n} run(s); device {o.device}" if o else "-"),
                           {"text": r["verdict"], "sort": r["verdict"], "cls": "v-" + r["verdict"].replace(" ", "-")},
                           r["why"], r["source"]])
    cites = {}
    for r in rows:
        if r["citation"] != "-":
            cites[r["paper"]] = r["citation"]
    paper = {"rule": pub.RULE, "notes": pub_notes, "citations": sorted(cites.items()),
             "others": table("others", [("solver", "", "text"), ("description", "", "text"), ("why no row", "", "text")],
                             others),
             "counts": pd.Series([r["verdict"] for r in rows if not r.get("other")]).value_counts().to_dict(),
             "table": table("paper", [("paper", "", "text"), ("method (paper)", "", "text"),
                                      ("our solver", "", "text"), ("metric", "", "text"),
                                      ("paper's setting, budget, hardware", "", "text"),
                                      ("published", "", "num"), ("ours [95% CI]", "", "num"),
                                      ("ours: how", "", "text"), ("our problem", "", "text"),
                                      ("our budget, runs, device", "", "text"), ("verdict", "", "text"),
                                      ("why", "", "text"), ("source", "results/published file", "text")],
                            paper_rows)}

    # -------- provenance
    prov_rows, combos = [], {}
    for _, r in runs.sort_values(["family", "problem", "solver", "rep"]).iterrows():
        rec = records.get(r["path"], {})
        prov = rec.get("provenance") or {}
        pk = prov.get("packages") or {}
        pk_text = "; ".join(f"{k} {v}" for k, v in sorted(pk.items())) or "-"
        commit = _short_commit(prov.get("git_commit"), prov.get("git_dirty"))
        key = (commit, prov.get("mobench_version", "-"), prov.get("python", "-"), pk_text)
        combos[key] = combos.get(key, 0) + 1
        prov_rows.append([r["run_id"], r["problem"], r["solver"], r["budget"], r["rep"], r["seed"], r["status"],
                          commit, prov.get("mobench_version", "-"), prov.get("python", "-"),
                          prov.get("device", "-"), prov.get("host", "-"), prov.get("timestamp", "-"),
                          fmt(r.get("wall_seconds")), pk_text, merged.original.get(r["path"], r["path"])])
    provenance = {
        "table": table("provenance", [("run", "run id", "text"), ("problem", "", "text"), ("solver", "", "text"),
                                      ("budget", "", "text"), ("rep", "", "num"), ("seed", "", "num"),
                                      ("status", "", "text"), ("commit", "git commit of the code that ran", "text"),
                                      ("mobench", "", "text"), ("python", "", "text"), ("device", "", "text"),
                                      ("host", "", "text"), ("finished (UTC)", "", "text"),
                                      ("wall s", "the run's whole time", "num"), ("packages", "", "text"),
                                      ("file", "the stored file", "text")], prov_rows),
        "combos": table("combos", [("commit", "", "text"), ("mobench", "", "text"), ("python", "", "text"),
                                   ("packages", "", "text"), ("runs", "", "num")],
                        [[*k, n] for k, n in sorted(combos.items(), key=lambda kv: -kv[1])])}

    # -------- failures: runs without a successful file, then earlier attempts made again since
    fails = []
    for _, r in runs[runs.status != "ok"].sort_values(["family", "problem", "solver", "rep"]).iterrows():
        rec = records.get(r["path"], {})
        tb = str(rec.get("traceback") or "").strip().splitlines()[-TRACEBACK_LINES:]
        fails.append({"status": r["status"], "problem": r["problem"], "solver": r["solver"], "budget": r["budget"],
                      "rep": r["rep"], "error": rec.get("error") or "-", "traceback": "\n".join(tb),
                      "file": merged.original.get(r["path"], r["path"]), "family": r["family"]})
    current = set(runs.path)
    redone = [[rec["problem"], rec["solver"], rec.get("rep"), rec["status"], rec.get("error") or "-",
               merged.original.get(p, p)]
              for p, rec in sorted(records.items()) if rec.get("status") != "ok" and p not in current
              and rec.get("run_id") in set(ok.run_id)]
    failures = {"fails": fails, "redone": table("redone", [("problem", "", "text"), ("solver", "", "text"),
                                                           ("rep", "", "num"), ("status", "", "text"),
                                                           ("error", "", "text"), ("file", "", "text")], redone)}
    by_owner: dict[tuple, list[str]] = {}
    for owner, files in zip(owners, drawing.results()):
        by_owner.setdefault(owner, []).extend(Path(f).relative_to(out).as_posix() for f in files)
    for fp in fam_pages:
        for s in fp["problems"]:
            s["figures"] = by_owner.get((fp["page"], s["problem"]), [])
    for s in sets:
        s["figures"] = by_owner.get(("index.html", s["name"]), [])
    return {"families": families, "family_pages": fam_pages, "index": index, "paper": paper,
            "provenance": provenance, "failures": failures}


def _solver_descriptions(names) -> dict:
    from .registry import solver_entry
    out = {}
    for n in names:
        try:
            out[n] = str(getattr(solver_entry(n).cls, "description", "") or "-")
        except Exception:  # noqa: BLE001 - a solver from a plugin not installed here
            out[n] = "-"
    return out
