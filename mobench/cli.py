"""Command line: ``mobench list | run | leaderboard | failures | rescore | plot | report | check | new-problem``."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import warnings
from pathlib import Path

from .errors import InvalidParameter, MobenchError

RUN_EPILOG = """exit status: 0 when every run made now ended ok (or there was nothing to make), 1 when
any run of the sweep failed or timed out (each is listed; `mobench failures` shows their
errors), 2 on bad input (refused before any work starts), 130 when interrupted."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like the rest of the CLI's."""

    def error(self, message):
        self.exit(2, f"mobench: error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def split_solvers(text: str) -> list[str]:
    """'a,b:x=1,y=2,c' -> ['a', 'b:x=1,y=2', 'c'] (a key=value item belongs to the solver before it)."""
    out: list[str] = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" in item and ":" not in item:
            if not out:
                raise InvalidParameter(f"--solvers {text!r}: parameter {item!r} comes before any solver name")
            out[-1] += "," + item
        else:
            out.append(item)
    return out


def _cmd_list(args):
    from .catalogue import catalogue, catalogue_markdown
    cat = catalogue()
    if args.format == "json":
        print(json.dumps(cat, indent=1))
    elif args.format == "md":
        text = catalogue_markdown(cat)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
            print(f"wrote {args.out}")
        else:
            print(text, end="")
    else:
        print("PROBLEMS")
        for p in cat["problems"]:
            params = ", ".join(f"{k}={v['default']}" for k, v in p["params"].items())
            print(f"  {p['id']:<32} {p['answer']:<16} ref={p['reference_kind']:<11} {params}")
            print(f"  {'':<32} {p['description']}")
            if "solvers" in p:
                print(f"  {'':<32} solvers that fit (default parameters): {', '.join(p['solvers']) or 'none'}")
        print("SOLVERS")
        for s in cat["solvers"]:
            print(f"  {s['name']:<20} budget={s['default_budget']:<26} {s['description']}")
        print("SUITES")
        for name, cells in cat["suites"].items():
            print(f"  {name:<20} {len(cells)} cells")


def _plan(args, skipped):
    """The sweep's RunSpecs, every input checked before any work."""
    from .registry import parse_target, suites
    from .runner import plan, plan_suite
    solvers = split_solvers(args.solvers) if args.solvers else []
    known_suites = suites()
    specs = []
    for target in args.targets:
        if target in known_suites:
            names = {parse_target(x)[0] for x in solvers} if solvers else None
            missing = (names or set()) - {parse_target(c.solver)[0] for c in known_suites[target]}
            if missing:
                raise InvalidParameter(f"--solvers: suite {target!r} has no cell of {', '.join(sorted(missing))}")
            specs += plan_suite(target, args.seeds, args.budget_steps, args.budget_seconds, args.device, skipped,
                                names)
        elif "/" not in parse_target(target)[0]:
            plan_suite(target)  # not a problem id (family/name-vN): an unknown suite, said with suggestions
        else:
            if not solvers:
                raise InvalidParameter(f"{target}: name the solvers to run with --solvers A,B")
            specs += plan([target], solvers, args.seeds, args.budget_steps, args.budget_seconds, args.device,
                          skipped)
    return specs


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _dry_run(specs, store, jobs):
    """What ``run`` would do: the cells, their budgets, what the store holds, the CPU time the
    budgets allow."""
    import pandas as pd
    from .leaderboard import _budget_text
    from .runner import NO_SECONDS_LIMIT, estimate
    from .store import current_files, records_frame
    stored = records_frame(store) if Path(store).is_dir() else pd.DataFrame()
    status = {} if stored.empty else dict(zip(*current_files(stored)[["run_id", "status"]].T.values))
    rows = {}
    for s in {s.run_id: s for s in specs}.values():
        key = (s.problem, s.solver, s.budget.describe())
        budget = _budget_text(s.budget.steps, s.budget.seconds)
        row = rows.setdefault(key, {"problem": s.problem, "solver": s.solver, "budget": budget,
                                    "seeds": 0, "stored ok": 0, "failed before": 0, "to make": 0})
        row["seeds"] += 1
        st = status.get(s.run_id)
        row["stored ok" if st == "ok" else "to make"] += 1
        row["failed before"] += st is not None and st != "ok"
    todo = [s for s in {s.run_id: s for s in specs}.values() if status.get(s.run_id) != "ok"]
    print(f"store: {store} ({'exists' if Path(store).is_dir() else 'made by the first run'})")
    print(pd.DataFrame(list(rows.values())).to_string(index=False) if rows else "(no cells)")
    seconds, unbounded = estimate(todo)
    runs = len(todo)
    print(f"{len(rows)} cells, {sum(r['seeds'] for r in rows.values())} runs: {runs} to make "
          f"({sum(r['failed before'] for r in rows.values())} of them failed before), "
          f"{sum(r['stored ok'] for r in rows.values())} stored ok (skipped)")
    if runs:
        note = (f"; {unbounded} run(s) with a steps-only budget counted at their {_duration(NO_SECONDS_LIMIT)} hard limit"
                if unbounded else "")
        print(f"estimated solver CPU time: at most {_duration(seconds)} by the budgets' seconds, so at most about "
              f"{_duration(seconds / jobs)} of wall time with --jobs {jobs} (solvers that finish early take "
              f"less; evaluation and uncached references come on top{note})")
        print(f"each run writes one file {store}/<run id>.<status>.<stamp>.parquet: its record (identity, budget, "
              "seed, status, summary, provenance), anytime curve and raw outcome on the test scenarios")
    print("dry run: nothing was run or written")


def _check_run_args(args):
    from .runner import check_backend, check_device, eval_limit
    from .store import check_store_path, default_store
    import os
    check_backend(args.backend, args.address)
    eval_limit()  # a malformed $MOBENCH_EVAL_LIMIT is refused before any work
    args.device = check_device(args.device, remote=bool(args.address))
    explicit = args.store is not None or "MOBENCH_STORE" in os.environ
    args.store = str(check_store_path(args.store or default_store(), writing=True, explicit=explicit))


def _cmd_run(args):
    if args.backend == "loky" and args.jobs == 1 and not args.dry_run:
        from . import forkserver  # the runs' forkserver imports torch while this process does
        forkserver.start()
    from .runner import run
    _check_run_args(args)
    skipped = [] if args.skip_unfit else None
    specs = _plan(args, skipped)
    for solver, problem, why in skipped or []:
        print(f"skipped (--skip-unfit): {solver} on {problem}: {why}")
    if args.dry_run:
        _dry_run(specs, args.store, args.jobs)
        return 0
    if not specs:
        raise InvalidParameter("nothing to run: no (problem, solver) pair fits")
    records = run(specs, store=args.store, backend=args.backend, address=args.address,
                  jobs=args.jobs, progress=not args.quiet)
    n_ok = sum(r["status"] == "ok" for r in records)
    n_bad = len(records) - n_ok
    left = records.left if hasattr(records, "left") else []
    stored = len({s.run_id for s in specs}) - len(records) - len(left)
    print(f"{len(records)} runs made ({n_ok} ok, {n_bad} failed or timed out), {stored} already in the store"
          + (f", {len(left)} left to another runner on this store (made or in progress there)" if left else ""))
    for r in records:
        if r["status"] != "ok":
            print(f"  {r['status']}: {r['solver']} on {r['problem']} (rep {r['rep']}): {r.get('error')}")
    if n_bad:
        print("  (`mobench failures` shows their errors; the same command makes them again)")
    if not args.quiet:
        from .leaderboard import format_board, leaderboard
        print(format_board(leaderboard(args.store)))
    return 1 if n_bad else 0


def _store(args, writing=False):
    """The store a command reads: --store, else $MOBENCH_STORE, else results/runs; checked."""
    from .store import check_store_path, default_store
    return check_store_path(args.store or default_store(), writing=writing)


def _cmd_leaderboard(args):
    import pandas as pd
    from .leaderboard import aggregate, flat_board, format_board, leaderboard, set_legend
    store = _store(args)
    board = leaderboard(store, args.problem, args.solver) if args.table != "across" else pd.DataFrame()
    agg = aggregate(store, args.problem, args.solver) if args.table != "problems" else pd.DataFrame()
    across_title = ("Across problems: IQM of normalised scores (1 = the reference, 0 = twice its cost or "
                    "infeasible), solvers compared on the problems they share: one block per set of problems")
    if args.format == "json":
        rows = lambda b: json.loads(b.to_json(orient="records")) if not b.empty else []
        if args.table == "both":
            print(json.dumps({"per_problem": rows(board), "across_problems": rows(agg)}, indent=1))
        else:
            print(json.dumps(rows(board if args.table == "problems" else agg), indent=1))
    elif args.format == "csv":
        if args.table == "both":
            parts = [flat_board(b).assign(table=t) for b, t in ((board, "per-problem"), (agg, "across-problems"))
                     if not b.empty]
            if parts:
                both = pd.concat(parts, ignore_index=True)
                print(both[["table"] + [c for c in both.columns if c != "table"]].to_csv(index=False), end="")
        else:
            print(format_board(board if args.table == "problems" else agg, "csv"), end="")
    else:
        if args.table != "across":
            if args.format == "md" and args.table == "both":
                print("## Per problem\n")
            print(format_board(board, args.format))
        if args.table != "problems":
            if args.format == "md":
                print(f"\n## {across_title}\n" if args.table == "both" else "", end="")
                print(format_board(agg, "md") if not agg.empty else "(no problem with a gap to a reference)")
                print("\n" + "\n".join(f"- {line}" for line in set_legend(agg)))
            elif not agg.empty:
                print(f"\n{across_title}" if args.table == "both" else across_title)
                print(format_board(agg, "table"))
                print("\n".join(set_legend(agg)))


def _cmd_failures(args):
    from .leaderboard import runs_frame
    from .store import read_record
    df = runs_frame(_store(args), args.problem, args.solver)
    bad = df[df.status != "ok"] if not df.empty else df
    if bad.empty:
        print("(no failed or timed-out runs in the store)")
        return 0
    for _, r in bad.iterrows():
        print(f"{r['status']}: {r['solver']} on {r['problem']} (rep {r['rep']}, budget {r['budget']}): "
              f"{r.get('error')}")
        tb = str(read_record(r["path"]).get("traceback") or "").strip().splitlines()
        for line in tb[-args.lines:] if args.lines else []:
            print(f"    {line}")
        print(f"    file: {r['path']}")
    print(f"{len(bad)} run(s) without a successful result; the command that made them makes them again")
    return 0


def _cmd_rescore(args):
    from .rescore import rescore
    store = _store(args)
    res = rescore(store, args.problems, dry_run=args.dry_run, progress=not args.quiet)
    if res.empty:
        print("(no successful runs to re-score)")
        return
    cols = [c for c in res.columns if c not in ("run_id", "seed")]
    print(res[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    counts = res["what"].str.split(":").str[0].value_counts()
    print(", ".join(f"{n} {w}" for w, n in counts.items()))
    if counts.get("error", 0):
        raise SystemExit(1)


def _cmd_plot(args):
    from .plots import plot_store
    store = _store(args)
    paths = plot_store(store, args.out)
    if not paths:
        raise MobenchError(f"nothing to plot: no successful run in the store {str(store)!r}")
    for p in paths:
        print(p)


def _cmd_report(args):
    from .report import build
    stores = args.store or [str(_store(argparse.Namespace(store=None)))]
    index = build(stores, args.out, published_dir=args.published, jobs=args.jobs, title=args.title)
    print(f"site written: {index.resolve()}")
    print(f"open it in a browser: {index.resolve().as_uri()}")


def _cmd_check(args):
    from .check import check
    report = check(args.id, args.full)
    for line in report.lines:
        print(line)
    if not report.ok:
        return 1


def _cmd_new_problem(args):
    from .scaffold import new_problem
    for p in new_problem(args.name, args.root, args.kind):
        print(f"created {p}")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = _Parser(prog="mobench", description=__doc__)
    ap.add_argument("--version", action="version", version=f"mobench {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("list", help="problems, solvers and suites")
    p.add_argument("--format", choices=["table", "json", "md"], default="table")
    p.add_argument("--out", help="with --format md: write the catalogue to this file")
    p.set_defaults(fn=_cmd_list)

    p = sub.add_parser("run", help="run problems x solvers x seeds into the store",
                       description="Run problems x solvers x seeds into the store; runs already stored ok "
                                   "are skipped, failed ones made again.", epilog=RUN_EPILOG)
    p.add_argument("targets", nargs="+", help="problem id with parameters (family/name-vN:key=value,...) or a suite name")
    p.add_argument("--solvers", help="comma-separated solvers with parameters: A,B:key=value,key2=value "
                                     "(with a suite: run only these solvers' cells)")
    p.add_argument("--seeds", type=_positive(int), default=3,
                   help="repetitions per (problem, solver); each has its own seed, derived from the problem, the "
                        "solver's name and the repetition, so reruns and other stores get the same seeds (default 3)")
    p.add_argument("--budget-steps", type=_positive(int), metavar="N",
                   help="environment steps per run, overriding each solver's (or the suite's) budget; part of a "
                        "run's identity")
    p.add_argument("--budget-seconds", type=_positive(float), metavar="S",
                   help="solver wall seconds per run, overriding each solver's (or the suite's) budget; a run still "
                        "solving at S x 1.1 + 15 s is stopped and stored as a timeout; part of a run's identity")
    p.add_argument("--backend", choices=["loky", "ray", "dask"], default="loky")
    p.add_argument("--address", help="address of an existing Ray or Dask cluster (with --backend ray or dask)")
    p.add_argument("--jobs", type=_positive(int), default=1, help="runs in parallel (default 1)")
    p.add_argument("--store", help="result store folder (default $MOBENCH_STORE, else results/runs); its parent "
                                   "folder must exist")
    p.add_argument("--device", default="cpu",
                   help="torch device for the solvers and the scoring: cpu (default), cuda or cuda:N, checked before "
                        "any run; each run records the device its solver used (cpu for solvers that use none)")
    p.add_argument("--skip-unfit", action="store_true",
                   help="leave out the (problem, solver) pairs that do not fit, naming them, instead of refusing "
                        "the sweep (for sweeps across families)")
    p.add_argument("--dry-run", action="store_true",
                   help="show the cells, budgets, what the store holds and the CPU time the budgets allow; run nothing")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=_cmd_run)

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--problem", action="append", metavar="P",
                         help="only this problem: a key (family/name-vN:k=v), an id (all its parameter sets) or a glob "
                              "(inventory/*); repeatable")
    filters.add_argument("--solver", action="append", metavar="S",
                         help="only this solver: a name (all its parameter sets), a key or a glob; repeatable")

    p = sub.add_parser("leaderboard", help="aggregate the store into a table", parents=[filters])
    p.add_argument("--store")
    p.add_argument("--format", choices=["table", "csv", "json", "md"], default="table",
                   help="csv with both tables: one file with a first column `table`; json with both: "
                        "{per_problem: [...], across_problems: [...]}")
    p.add_argument("--table", choices=["both", "problems", "across"], default="both",
                   help="the per-problem table, the across-problems table, or both (default)")
    p.set_defaults(fn=_cmd_leaderboard)

    p = sub.add_parser("failures", help="failed and timed-out runs with their errors", parents=[filters])
    p.add_argument("--store")
    p.add_argument("--lines", type=int, default=4, help="last lines of each traceback to show (default 4)")
    p.set_defaults(fn=_cmd_failures)

    p = sub.add_parser("rescore", help="score stored runs again against their problems' current references")
    p.add_argument("problems", nargs="*", help="problems (with parameters as stored, or an id for all its "
                                               "parameter sets); none: every run")
    p.add_argument("--store")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=_cmd_rescore)

    p = sub.add_parser("plot", help="figures from the store")
    p.add_argument("--store")
    p.add_argument("--out", default="paper_figs/demo")
    p.set_defaults(fn=_cmd_plot)

    p = sub.add_parser("report", help="a static website of the store(s): leaderboards, figures, paper vs reproduced",
                       description="Write a static website (HTML with inline CSS/JS and SVG figures; no server, "
                                   "nothing fetched from the network) from one or more stores, read as one.")
    p.add_argument("--store", action="extend", nargs="+", metavar="DIR",
                   help="store folders, read as one (`--store results/stores/*`, or repeat the option; "
                        "default $MOBENCH_STORE, else results/runs)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for the site (new, empty, or a site this command wrote: it is replaced)")
    p.add_argument("--published", metavar="DIR",
                   help="published figures (default results/published of the working folder or the checkout)")
    p.add_argument("--jobs", type=_positive(int), help="processes drawing the figures (default: up to 2)")
    p.add_argument("--title", default="mobench results")
    p.set_defaults(fn=_cmd_report)

    p = sub.add_parser("check", help="check that a problem or solver conforms")
    p.add_argument("id", help="problem id (with parameters) or solver name")
    p.add_argument("--full", action="store_true",
                   help="check the problem's full reference (default: on its quick configuration, when it has one, "
                        "so that a check answers in seconds)")
    p.set_defaults(fn=_cmd_check)

    p = sub.add_parser("new-problem", help="scaffold problems/NAME (passes `mobench check` as generated)")
    p.add_argument("name")
    p.add_argument("--kind", choices=("policy", "solutions", "env"), default="policy",
                   help="policy: a batched simulator scores one policy; solutions: verify() scores one "
                        "solution per instance; env: episodes of a Gymnasium env score one policy")
    p.add_argument("--root", default=".", help="repository root holding problems/")
    p.set_defaults(fn=_cmd_new_problem)
    return ap


class _OneLineWarnings:
    """Warnings as one line each on stderr, each text once per command (libraries reset
    Python's own once-per-location registry whenever they change the filters)."""

    def __init__(self):
        self.seen: set[str] = set()

    def show(self, message, category, filename, lineno, file=None, line=None):
        import re
        text = "mobench: warning: " + " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(message)).split())
        if category is not UserWarning:
            text += f" ({category.__name__})"
        if text not in self.seen:
            self.seen.add(text)
            print(text, file=sys.stderr)


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, bad arguments: argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    if args.cmd == "run":
        # `kill` stops a run like Ctrl-C does: the runner's workers and their runs end with it
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _OneLineWarnings().show
            code = args.fn(args)
    except MobenchError as exc:
        print(f"mobench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.cmd != "run":
            raise
        print("\nmobench: interrupted; the runs that finished are stored, the same command runs "
              "the rest", file=sys.stderr)
        return 130
    return code or 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
