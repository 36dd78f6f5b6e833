"""`bq-nco` (Drakulic, Michel, Mai, Sors, Andreoli, "BQ-NCO: Bisimulation Quotienting for
Efficient Neural Combinatorial Optimization", NeurIPS 2023) on the routing family's BQ-MDPs:
at every step the remaining sub-problem is re-encoded from scratch by a transformer, and the
next node (item) is chosen. One model per problem, one module each: ``tsp.py``, ``cvrp.py``,
``op.py``, ``knapsack.py``; what they share is in ``common.py``.

Departures from the paper, for CPU/short-GPU budgets: 6 layers (the paper: 9), tours by LKH
with one run instead of Concorde, about 22,000 training instances (the paper: 1M) multiplied
by the symmetries, minutes instead of days of training; the knapsack model picks items, not
nodes (see ``knapsack.py``).

Checkpoints: ``checkpoint="shipped"`` (default) loads the problem's model from ``solvers/data/``
(``solvers/data/README.md`` has the commands and their cost); a path loads that file (an
export or a training checkpoint: both carry their architecture, which overrides
``d_model``/``heads``/``layers``/``ff``); "none" trains on the CPU within the run's budget
(``train_fraction`` of it). TSPLIB instances are moved to the unit square (aspect kept) before
decoding; their tours are scored on the file's own coordinates.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...errors import MobenchError
from ...problems.routing import CVRPView, KnapsackView, OPView, TSPView
from ...registry import register_solver
from ...solver import Budget, Outcome, Solver
from ...views import offers
from . import cvrp as cv
from . import knapsack as kp
from . import op
from . import tsp
from .common import ARCH

DEFAULTS = {
    **tsp.DEFAULTS,          # architecture and imitation settings of a model trained in the run
    "train_n": tsp.TRAIN_N,  # nodes of the generated training instances
    "train_instances": 2000,  # instances with reference solutions in the training pool
    "beam": 1,               # 1: greedy
    "knn": 0,                # > 0: sub-problems restricted to the knn nodes nearest the current one (TSP)
    "train_fraction": 0.8,
    "checkpoint": "shipped",  # "shipped" | "none" | a path
}


VIEWS = (TSPView, CVRPView, OPView, KnapsackView)


class BQNCO(Solver):
    defaults = DEFAULTS
    version = 2  # what each version changed: solvers/README.md
    default_budget = Budget(seconds=600)
    description = ("BQ-NCO: transformer over the re-encoded sub-problem; imitation of LKH tours (TSP), "
                   "PyVRP routes (CVRP) and tours (OP), or optimal item sets (knapsack)")

    def supports(self, problem):
        if not any(offers(problem, v) for v in VIEWS):
            return "TSP, CVRP, OP and knapsack problems only (the routing family's views)"
        return None

    def checkpoint_path(self, shipped: Path = tsp.SHIPPED) -> Path | None:
        if self.checkpoint in ("", "none"):
            return None
        path = shipped if self.checkpoint == "shipped" else Path(self.checkpoint)
        if self.checkpoint != "shipped" and not path.exists():
            raise MobenchError(f"bq-nco: checkpoint file {path} does not exist")
        return path if path.exists() else None

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        if self.knn != 0 and not offers(problem, TSPView):
            raise MobenchError("bq-nco: knn is implemented for the TSP only; use knn=0 on this problem")
        if offers(problem, KnapsackView):
            return self._solve_knapsack(problem, clock, seed, log)
        if offers(problem, CVRPView):
            return self._solve_cvrp(problem, clock, seed, log)
        if offers(problem, OPView):
            return self._solve_op(problem, clock, seed, log)

        def fit(seconds):  # train within the run's budget, on the CPU
            cfg = {k: getattr(self, k) for k in DEFAULTS}
            model, t0 = tsp.BQModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            coords, tours = tsp.reference_tours(self.train_n, self.train_instances, 10_000 + seed, 1, seconds / 3)
            tsp.train(model, torch.as_tensor(coords), torch.as_tensor(tours), seconds - (time.monotonic() - t0),
                      cfg, seed, log)
            return model
        model, policy = self._shipped_or_trained(tsp.SHIPPED, tsp.load_model, clock, fit)
        insts = problem.instances()
        coords = torch.as_tensor(np.stack([i.coords for i in insts]), dtype=torch.float32)
        lo = coords.amin(1, keepdim=True)  # TSPLIB coordinates: to the unit square, aspect kept
        scale = (coords.amax(1, keepdim=True) - lo).amax(2, keepdim=True).clamp_min(1e-9)
        unit = torch.where(scale > 1.0, (coords - lo) / scale, coords)  # generated instances as they are
        tours = torch.cat([tsp.decode(model, chunk, self.beam, self.knn) for chunk in unit.split(256)])
        return Outcome(solutions=list(tours.numpy()), info={"policy": policy})

    def _shipped_or_trained(self, shipped: Path, load, clock, fit):
        """-> (model in eval mode, where it comes from): the ``shipped`` model (or the
        ``checkpoint`` file) read by ``load``, else ``fit(seconds)`` trained in the run on
        ``train_fraction`` of the time left."""
        path = self.checkpoint_path(shipped)
        if path is not None:
            model, meta = load(path)
            return model, _describe(path, meta)
        return fit(clock.seconds_left * self.train_fraction).eval(), "trained in the run"

    def _solve_knapsack(self, problem, clock, seed, log):
        """The knapsack model (``knapsack.py``), greedy; with ``checkpoint=none`` trained in the
        run on ``train_instances`` generated instances of the test set's size."""
        if self.beam != 1:
            raise MobenchError("bq-nco: beam search is implemented for the TSP, the CVRP and the OP only; use beam=1 "
                               "on knapsack")

        def fit(seconds):
            cfg = {**{k: getattr(self, k) for k in DEFAULTS}}
            model, t0 = kp.KPModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            w, v, s, cap = kp.training_pool(problem.instances()[0].n, self.train_instances, 20_000 + seed)
            kp.train(model, torch.as_tensor(w), torch.as_tensor(v, dtype=torch.float32), torch.as_tensor(s), cap,
                     seconds - (time.monotonic() - t0), cfg, seed, log=log)
            return model
        model, policy = self._shipped_or_trained(kp.SHIPPED, kp.load_model, clock, fit)
        return Outcome(solutions=kp.solve_instances(model, problem.instances()), info={"policy": policy})

    def _solve_cvrp(self, problem, clock, seed, log):
        """The CVRP model (``cvrp.py``), greedy or beam search; with ``checkpoint=none`` trained
        in the run on PyVRP routes of up to ``train_instances`` generated instances of ``train_n``
        customers."""

        def fit(seconds):
            cfg = {**cv.DEFAULTS, **{k: getattr(self, k) for k in (*ARCH, "batch")}}
            model, t0 = cv.CVRPModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            z = cv.training_pool(self.train_n, self.train_instances, 30_000 + seed, 1, 0.5, seconds / 3)
            cv.train(model, {k: torch.as_tensor(v) for k, v in z.items()}, seconds - (time.monotonic() - t0),
                     cfg, seed, log=log)
            return model
        model, policy = self._shipped_or_trained(cv.SHIPPED, cv.load_model, clock, fit)
        return Outcome(solutions=cv.solve_instances(model, problem.instances(), self.beam), info={"policy": policy})

    def _solve_op(self, problem, clock, seed, log):
        """The OP model (``op.py``), greedy or beam search; with ``checkpoint=none`` trained in
        the run on PyVRP tours of up to ``train_instances`` generated instances of ``train_n``
        nodes."""

        def fit(seconds):
            cfg = {**op.DEFAULTS, **{k: getattr(self, k) for k in (*ARCH, "batch")}}
            model, t0 = op.OPModel(**{k: cfg[k] for k in ARCH}), time.monotonic()
            z = op.training_pool(self.train_n, self.train_instances, 40_000 + seed, 1, 0.3, seconds / 3)
            op.train(model, op.as_pool(z), seconds - (time.monotonic() - t0), cfg, seed, log=log)
            return model
        model, policy = self._shipped_or_trained(op.SHIPPED, op.load_model, clock, fit)
        return Outcome(solutions=op.solve_instances(model, problem.instances(), self.beam), info={"policy": policy})


def _describe(path: Path, meta: dict) -> str:
    stages = [*meta.get("lineage", []), {**meta.get("train", {}), **meta.get("state", {})}]  # oldest first
    return f"{path.name} (trained " + ", then ".join(
        f"at N={x.get('n')}, {x.get('updates')} updates, {x.get('seconds', 0):.0f} s on {x.get('device')}"
        for x in stages) + ")"


register_solver("bq-nco", BQNCO)
