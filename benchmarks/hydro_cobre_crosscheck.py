"""Cross-check of the suite's SDDP (``problems/hydro/sddp.py``) against Cobre (``cobre-python``,
Apache-2.0, a Rust + HiGHS SDDP for hydrothermal dispatch) on the same synthetic systems.

    python benchmarks/hydro_cobre_crosscheck.py [--cases 3x4x5,5x12x10] [--iterations 300]

Cobre ships wheels for Python >= 3.12 only, while the suite runs on 3.11 (its CPU torch build),
so this script makes its own environment: ``.venv-cobre`` from Python 3.12 (pyenv's, or
``--python``), with ``cobre-python==0.18.0``. The case directory is written here (this venv
has pyarrow) in Cobre's case format and solved there in a subprocess.

Translation (one bus, no network): reservoirs -> hydros with constant productivity (one unit
group each), ``downstream_id`` = the next reservoir (turbined and spilled water both go
there, as in ``synthetic()``), thermal units -> thermals, the demand -> a deterministic load
(std 0), the deficit cost -> one unbounded deficit segment. Inflows: Cobre's "identity"
convention for explicit trees (seasonal mean 0, std 1, AR order 0, so a noise value is the
inflow itself) with the S equiprobable rows of each stage as the opening tree
(``scenarios/noise_openings.parquet``); forward passes sample the same tree (in-sample).
Stage blocks of 730 h, no discounting. Penalties Cobre requires to be strictly positive
(spillage, excess, ...) are set to 1e-6 per unit, which moves the optimum by far less than the
tolerance compared. Reported: each method's lower bound, the deterministic equivalent where
the tree is small, the iterations and the wall time of each.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mobench.problems.hydro import SDDP, synthetic
from mobench.problems.hydro.sddp import deterministic_equivalent
from mobench.problems.hydro.system import STAGE_HOURS

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-cobre"
COBRE = "cobre-python==0.18.0"
TINY = 1e-6


def cobre_python(python: str | None) -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        base = python or _pyenv_312()
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", COBRE], check=True)
    return py


def _pyenv_312() -> str:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob("3.12*/bin/python"))
    if found:
        return str(found[-1])
    exe = shutil.which("python3.12")
    if exe:
        return exe
    sys.exit("no Python 3.12 found (Cobre's wheels need >= 3.12): pass --python")


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))


def write_case(system, case: Path, iterations: int, seed: int) -> None:
    """The synthetic system in Cobre's case format (see the module docstring)."""
    if case.exists():
        shutil.rmtree(case)
    R, G, (T, S, _) = system.n_res, len(system.thermal_cost), system.inflows.shape
    start = "2024-01-01"
    months = [f"{2024 + (m // 12)}-{m % 12 + 1:02d}-01" for m in range(T + 1)]
    _json(case / "config.json", {
        "training": {"selection": {"method": "sampled", "forward_passes": 1}, "tree_seed": seed,
                     "stopping_rules": [{"type": "iteration_limit", "limit": iterations}],
                     "scenario_source": {"seed": seed, "openings": {"source": "file"},
                                         "inflow": {"scheme": "in_sample"}}},
        "simulation": {"enabled": False},
        "modeling": {"inflow_non_negativity": {"method": "none"}}})
    _json(case / "penalties.json", {
        "bus": {"deficit_segments": [{"depth_mw": None, "cost": float(system.deficit_cost)}], "excess_cost": TINY},
        "line": {"exchange_cost": TINY},
        "hydro": {k: TINY for k in ("spillage_cost", "turbined_cost", "diversion_cost")}
        | {k: 1e4 for k in ("storage_violation_below_cost", "filling_target_violation_cost",
                            "turbined_violation_below_cost", "outflow_violation_below_cost",
                            "outflow_violation_above_cost", "generation_violation_below_cost",
                            "evaporation_violation_cost", "water_withdrawal_violation_cost")},
        "non_controllable_source": {"curtailment_cost": TINY}})
    _json(case / "stages.json", {
        "policy_graph": {"type": "finite_horizon", "annual_discount_rate": 0.0},
        "stages": [{"id": t, "start_date": months[t], "end_date": months[t + 1], "num_openings": S,
                    "blocks": [{"id": 0, "name": "SINGLE", "hours": STAGE_HOURS}]} for t in range(T)]})
    _json(case / "initial_conditions.json", {
        "storage": [{"hydro_id": i, "value_hm3": float(system.v0[i])} for i in range(R)], "filling_storage": []})
    _json(case / "system" / "buses.json", {"buses": [{"id": 0, "name": "B0", "operational_start_date": start}]})
    _json(case / "system" / "lines.json", {"lines": []})
    _json(case / "system" / "thermals.json", {"thermals": [
        {"id": g, "name": f"T{g}", "operational_start_date": start, "bus_id": 0,
         "cost_per_mwh": float(system.thermal_cost[g]),
         "generation": {"min_mw": 0.0, "max_mw": float(system.thermal_pmax[g])}} for g in range(G)]})
    if (system.down_turbine != system.down_spill).any():
        raise ValueError("Cobre has one downstream plant per hydro: turbined and spilled water must go to the same plant")
    _json(case / "system" / "hydros.json", {"hydros": [
        {"id": i, "name": f"H{i}", "operational_start_date": start,
         "downstream_id": int(system.down_turbine[i]) if system.down_turbine[i] >= 0 else None,
         "reservoir": {"min_storage_hm3": float(system.vmin[i]), "max_storage_hm3": float(system.vmax[i])},
         "outflow": {"min_outflow_m3s": 0.0},
         "generation": {"model": "constant_productivity", "min_turbined_m3s": 0.0,
                        "max_turbined_m3s": float(system.qmax[i]), "min_generation_mw": 0.0,
                        "max_generation_mw": float(system.prod[i] * system.qmax[i])},
         "unit_groups": [{"id": 0, "name": "U0", "bus_id": 0, "min_generation_mw": 0.0,
                          "max_generation_mw": float(system.prod[i] * system.qmax[i]),
                          "min_turbined_m3s": 0.0, "max_turbined_m3s": float(system.qmax[i])}]}
        for i in range(R)]})
    _json(case / "system" / "hydro_production_models.json", {"production_models": [
        {"hydro_id": i, "selection_mode": "stage_ranges",
         "stage_ranges": [{"start_stage_id": 0, "end_stage_id": None, "model": "constant_productivity",
                           "productivity_mw_per_m3s": float(system.prod[i])}]} for i in range(R)]})
    sc = case / "scenarios"
    sc.mkdir(parents=True)
    ids = [(i, t) for i in range(R) for t in range(T)]
    pq.write_table(pa.table({
        "hydro_id": pa.array([i for i, _ in ids], pa.int32()), "stage_id": pa.array([t for _, t in ids], pa.int32()),
        "mean_m3s": pa.array([0.0] * len(ids), pa.float64()), "std_m3s": pa.array([1.0] * len(ids), pa.float64()),
        "ar_order": pa.array([0] * len(ids), pa.int32())}), sc / "inflow_seasonal_stats.parquet", compression="none")
    pq.write_table(pa.table({
        "bus_id": pa.array([0] * T, pa.int32()), "stage_id": pa.array(list(range(T)), pa.int32()),
        "mean_mw": pa.array([float(system.demand)] * T, pa.float64()), "std_mw": pa.array([0.0] * T, pa.float64())}),
        sc / "load_seasonal_stats.parquet", compression="none")
    rows = [(t, j, i, float(system.inflows[t, j, i])) for t in range(T) for j in range(S) for i in range(R)]
    pq.write_table(pa.table({
        "stage_id": pa.array([r[0] for r in rows], pa.int32()), "opening_index": pa.array([r[1] for r in rows], pa.uint32()),
        "entity_index": pa.array([r[2] for r in rows], pa.uint32()), "value": pa.array([r[3] for r in rows], pa.float64())}),
        sc / "noise_openings.parquet", compression="none")  # Cobre reads no Snappy


RUNNER = r"""
import json, sys, time
import cobre
case, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
r = cobre.run.run(case, output_dir=out, threads=1)
r = dict(r)
r["wall_s"] = time.perf_counter() - t0
print("COBRE_RESULT " + json.dumps({k: v for k, v in r.items() if isinstance(v, (int, float, str, bool, type(None)))}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="3x4x5,5x12x10", help="reservoirs x stages x scenarios, comma-separated")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--python", help="a Python >= 3.12 for Cobre's environment")
    ap.add_argument("--workdir", default="results/cobre-crosscheck")
    a = ap.parse_args()
    py = cobre_python(a.python)
    version = subprocess.run([str(py), "-c", "import cobre; print(cobre.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"cobre {version} ({py})")
    for spec in a.cases.split(","):
        R, T, S = (int(x) for x in spec.split("x"))
        system = synthetic(R, 3, T, S, 0)
        case = Path(a.workdir) / f"synthetic-r{R}-t{T}-s{S}"
        write_case(system, case, a.iterations, seed=0)
        res = subprocess.run([str(py), "-c", RUNNER, str(case), str(case / "output")],
                             capture_output=True, text=True)
        line = [ln for ln in res.stdout.splitlines() if ln.startswith("COBRE_RESULT ")]
        if res.returncode != 0 or not line:
            print(res.stdout[-3000:], res.stderr[-3000:])
            sys.exit(f"cobre failed on {case}")
        cobre_r = json.loads(line[0].split(" ", 1)[1])
        t0 = time.perf_counter()
        ours = SDDP(system).train(max_iterations=a.iterations, seconds=900, tol=1e-4, window=20)
        ours_s = time.perf_counter() - t0
        de = deterministic_equivalent(system) if S ** T <= 20000 else None
        lb_c, lb_o = cobre_r.get("lower_bound"), ours.lower_bounds[-1]
        print(f"synthetic-v0:reservoirs={R},stages={T},scenarios={S} (thermals=3, seed=0)")
        print(f"  cobre  LB {lb_c:.6e}  iterations {cobre_r.get('iterations')}  wall {cobre_r['wall_s']:.2f} s")
        print(f"  mobench LB {lb_o:.6e}  iterations {ours.iterations}  wall {ours_s:.2f} s"
              f"  (stopping rule {'met' if ours.converged else 'not met'})")
        print(f"  relative difference {100 * (lb_o - lb_c) / abs(lb_c):+.4f}%"
              + (f"; deterministic equivalent {de:.6e} (cobre {100 * (lb_c - de) / de:+.4f}%, "
                 f"mobench {100 * (lb_o - de) / de:+.4f}%)" if de is not None else ""))


if __name__ == "__main__":
    main()
