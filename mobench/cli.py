"""Command line: ``mobench list | run | leaderboard | rescore | plot | check | new-problem``."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import warnings

from .errors import InvalidParameter, MobenchError


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
        print("SOLVERS")
        for s in cat["solvers"]:
            print(f"  {s['name']:<20} budget={s['default_budget']:<26} {s['description']}")
        print("SUITES")
        for name, cells in cat["suites"].items():
            print(f"  {name:<20} {len(cells)} cells")


def _cmd_run(args):
    from .registry import suites
    from .runner import plan, plan_suite, run
    from .leaderboard import format_board, leaderboard
    solvers = split_solvers(args.solvers) if args.solvers else []
    known_suites = suites()
    specs = []
    for target in args.targets:
        if target in known_suites:
            s = plan_suite(target, args.seeds, args.budget_steps, args.budget_seconds, args.device)
            if solvers:
                names = {x.split(":")[0] for x in solvers}
                s = [r for r in s if r.solver.split(":")[0] in names]
            specs += s
        else:
            if not solvers:
                raise InvalidParameter(f"{target}: name the solvers to run with --solvers A,B")
            specs += plan([target], solvers, args.seeds, args.budget_steps, args.budget_seconds, args.device)
    records = run(specs, store=args.store, backend=args.backend, address=args.address,
                  jobs=args.jobs, progress=not args.quiet)
    n_ok = sum(r["status"] == "ok" for r in records)
    skipped = len({s.run_id for s in specs}) - len(records)
    print(f"{len(records)} runs made ({n_ok} ok, {len(records) - n_ok} failed or timed out), "
          f"{skipped} already in the store")
    for r in records:
        if r["status"] != "ok":
            print(f"  {r['status']}: {r['solver']} on {r['problem']} (rep {r['rep']}): {r.get('error')}")
    if not args.quiet:
        print(format_board(leaderboard(args.store or _store())))


def _store():
    from .store import default_store
    return default_store()


def _cmd_leaderboard(args):
    from .leaderboard import aggregate, format_board, leaderboard
    store = args.store or _store()
    board = leaderboard(store)
    print(format_board(board, args.format))
    if args.format == "table" and not board.empty:
        agg = aggregate(store)
        if not agg.empty:
            print("\nAcross problems: IQM of normalised scores (1 = reference, 0 = twice its cost)")
            print(format_board(agg.assign(problem="all", n_seeds=agg.n_problems)
                               .drop(columns=["n_problems"]), "table"))


def _cmd_rescore(args):
    from .rescore import rescore
    store = args.store or _store()
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
    paths = plot_store(args.store or _store(), args.out)
    for p in paths:
        print(p)


def _cmd_check(args):
    from .check import check
    report = check(args.id)
    for line in report.lines:
        print(line)
    if not report.ok:
        raise SystemExit(1)


def _cmd_new_problem(args):
    from .scaffold import new_problem
    for p in new_problem(args.name, args.root, args.kind):
        print(f"created {p}")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mobench", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("list", help="problems, solvers and suites")
    p.add_argument("--format", choices=["table", "json", "md"], default="table")
    p.add_argument("--out", help="with --format md: write the catalogue to this file")
    p.set_defaults(fn=_cmd_list)

    p = sub.add_parser("run", help="run problems x solvers x seeds into the store")
    p.add_argument("targets", nargs="+", help="problem id with parameters (family/name-vN:key=value,...) or a suite name")
    p.add_argument("--solvers", help="comma-separated solvers with parameters: A,B:key=value,key2=value")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget-steps", type=int)
    p.add_argument("--budget-seconds", type=float)
    p.add_argument("--backend", choices=["loky", "ray", "dask"], default="loky")
    p.add_argument("--address", help="address of an existing Ray or Dask cluster")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--store", help="result store directory (default $MOBENCH_STORE or results/runs)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=_cmd_run)

    p = sub.add_parser("leaderboard", help="aggregate the store into a table")
    p.add_argument("--store")
    p.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    p.set_defaults(fn=_cmd_leaderboard)

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

    p = sub.add_parser("check", help="check that a problem or solver conforms")
    p.add_argument("id", help="problem id (with parameters) or solver name")
    p.set_defaults(fn=_cmd_check)

    p = sub.add_parser("new-problem", help="scaffold problems/NAME (passes `mobench check` as generated)")
    p.add_argument("name")
    p.add_argument("--kind", choices=("policy", "solutions", "env"), default="policy",
                   help="policy: a batched simulator scores one policy; solutions: verify() scores one "
                        "solution per instance; env: episodes of a Gymnasium env score one policy")
    p.add_argument("--root", default=".", help="repository root holding problems/")
    p.set_defaults(fn=_cmd_new_problem)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "run" and args.seeds < 1:
        print("mobench: error: --seeds must be >= 1", file=sys.stderr)
        return 2
    if args.cmd == "run":
        # `kill` stops a run like Ctrl-C does: the runner's workers and their runs end with it
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            args.fn(args)
    except MobenchError as exc:
        print(f"mobench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.cmd != "run":
            raise
        print("\nmobench: interrupted; the runs that finished are stored, the same command runs "
              "the rest", file=sys.stderr)
        return 130
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
