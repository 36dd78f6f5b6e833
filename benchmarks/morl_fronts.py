"""Multi-objective RL: HV, EUM, sparsity and cardinality of the solvers' policy sets at equal
environment steps, through the runner, read back from the store.

    python benchmarks/morl_fronts.py --suite [--seeds 3] [--store results/bench-morl] [--jobs 1]
    python benchmarks/morl_fronts.py [--tasks deep-sea-treasure,fruit-tree,resource-gathering,minecart]
        [--solvers c-morl,pgmorl,linear-ppo,linear-ppo:normalize=true]
        [--steps 100000] [--seconds 1800] [--seeds 3] [--store results/bench-morl] [--jobs 1]

`linear-ppo` runs twice: plain, and behind SB3's VecNormalize (`normalize=true`, observations
and rewards; c-morl and pgmorl scale rewards by default). Every solver gets the same step budget
(environment steps, evaluation episodes included for c-morl) and the same wall-clock cap. The engine evaluates every returned policy on the task's
test episodes (discounted only where the task's protocol says: resource-gathering, 0.9) and
scores the set against the task's reference point; where the front is known
(deep-sea-treasure, fruit-tree, resource-gathering) the table also gives the share of its HV.
Minecart's 1,000-step episodes make 100,000 steps a small budget there.
On the tasks of the C-MORL paper (fruit-tree, minecart, mo-hopper-2obj) `c-morl` runs with the
authors' per-task settings (initialisation share, policies selected per round, discount:
`solvers/c_morl.py` PAPER_TASK_OPTIONS; the tables name them); `--no-paper-settings` runs its
defaults everywhere.
C-MORL's published table is not in results/published/: the paper's tables could not be read
from this machine (the stored arXiv page gives only its opening; the authors' README has none).
`--suite` runs the suite `paper-c-morl` (every setting of the leaderboard's current sections:
solvers/morl/__init__.py), i.e. `mobench run paper-c-morl`, then one table per budget.
Already-stored runs are reused.
"""
from __future__ import annotations

import argparse

import pandas as pd

from mobench.cli import split_solvers
from mobench.leaderboard import _budget_text, leaderboard
from mobench.metrics import hypervolume
from mobench.registry import format_target, make
from mobench.solvers.morl.c_morl import paper_options
from mobench.runner import plan, plan_suite, run


def with_paper_options(solver: str, target: str) -> str:
    """``c-morl`` given without options -> ``c-morl:<the authors' settings for the task>``; the
    options are part of the solver's key, so the tables name them."""
    if solver != "c-morl":
        return solver
    options = paper_options(target)
    return format_target(solver, options) if options else solver


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="deep-sea-treasure,fruit-tree,resource-gathering,minecart")
    ap.add_argument("--solvers", default="c-morl,pgmorl,linear-ppo,linear-ppo:normalize=true")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=1800.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--store", default="results/bench-morl")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-paper-settings", dest="paper_settings", action="store_false",
                    help="run c-morl with its defaults on every task (by default it takes the authors' "
                         "per-task settings, solvers/morl/c_morl.py PAPER_TASK_OPTIONS, where the paper has the task)")
    ap.add_argument("--suite", action="store_true", help="run the suite paper-c-morl (the leaderboard's settings)")
    a = ap.parse_args()
    if a.suite:
        specs = plan_suite("paper-c-morl", seeds=a.seeds)
        run(specs, a.store, jobs=a.jobs)
        for steps, seconds in sorted({(s.budget.steps, s.budget.seconds) for s in specs}):
            table(a.store, [s for s in specs if (s.budget.steps, s.budget.seconds) == (steps, seconds)],
                  steps, seconds, a.seeds)
        return
    targets = [f"mogym/{t}-v0" for t in a.tasks.split(",") if t]
    specs = []
    for target in targets:  # one plan per task: c-morl may take the authors' settings for it
        solvers = [with_paper_options(s, target) if a.paper_settings else s for s in split_solvers(a.solvers)]
        specs += plan([target], solvers, a.seeds, budget_steps=a.steps, budget_seconds=a.seconds)
    run(specs, a.store, jobs=a.jobs)
    table(a.store, specs, a.steps, a.seconds, a.seeds)


def table(store, specs, steps, seconds, seeds):
    board = leaderboard(store)
    keys = {s.problem for s in specs}
    board = board[board.problem.isin(keys) & (board.budget == _budget_text(steps, seconds))].copy()
    ref_hv = {}
    for key in keys:
        problem = make(key)
        if problem.reference_kind() == "optimal":
            ref_hv[key] = hypervolume(problem.reference().front, problem.spec.hv_ref_point, problem.spec.senses)
    board["hv_share_pct"] = [100 * h / ref_hv[p] if p in ref_hv else float("nan") for p, h in zip(board.problem, board.hv)]
    # the budget's steps over the run's wall time (the engine's evaluation included): a lower
    # bound on the solver's own environment steps per second
    board["steps_per_s"] = steps / board.solve_s
    for c in ("hv", "eum"):
        ci = [v if isinstance(v, (tuple, list)) else (float("nan"), float("nan")) for v in board[f"{c} ci95"]]
        board[f"{c} lo"], board[f"{c} hi"] = zip(*ci)  # no interval (one seed, a failed metric): NaN
    cols = [c for c in ("hv", "hv lo", "hv hi", "hv_share_pct", "eum", "eum lo", "eum hi", "sparsity", "cardinality", "igd",
                        "n_seeds", "solve_s", "eval_s", "steps_per_s") if c in board]
    pd.set_option("display.width", 220)
    print(f"\nstore {store}, {steps} environment steps per run, {seeds} seeds (mean; lo/hi: 95% bootstrap CI over seeds)")
    print(board.set_index(["problem", "solver"])[cols].round(3).to_string())


if __name__ == "__main__":
    main()
