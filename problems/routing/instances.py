"""Routing and packing instances: the generators of the BQ-NCO paper (Drakulic et al., NeurIPS
2023), fixed seeded test sets, and the TSPLIB reader.

TSP: N points uniform in the unit square, Euclidean distances (unrounded). TSPLIB files
(EUC_2D): distances rounded to the nearest integer, as TSPLIB defines them.
Knapsack: N items, weights and values uniform in (0, 1], capacity 25 (the paper's setting,
taken from POMO; the capacity binds only for N well above 50). Weights are drawn on a grid of
1e-4 (integers 1..10,000 divided by 10,000), so the dynamic program over integer capacity units
is exact; values are unrounded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InvalidSolution, MobenchError

DATA = Path(__file__).parent / "data"
TSPLIB_OPTIMA = {"eil51": 426, "berlin52": 7542, "kroA100": 21282, "ch150": 6528}
WEIGHT_UNITS = 10_000          # knapsack weights are integers / WEIGHT_UNITS
KNAPSACK_CAPACITY = 25.0


class InstanceFileError(MobenchError, ValueError):
    """A malformed instance file."""


@dataclass(frozen=True, eq=False)
class TSPInstance:
    name: str
    coords: np.ndarray            # [N, 2]
    rounding: str = "none"        # "none": Euclidean; "euc2d": TSPLIB's nearest-integer rule
    optimum: float | None = None  # proved optimal tour length, when known
    source: str = ""

    @property
    def n(self) -> int:
        return len(self.coords)

    def distances(self) -> np.ndarray:
        return distance_matrix(self.coords, self.rounding)


def distance_matrix(coords: np.ndarray, rounding: str = "none") -> np.ndarray:
    """[..., N, 2] -> [..., N, N]."""
    d = np.sqrt(((coords[..., :, None, :] - coords[..., None, :, :]) ** 2).sum(-1))
    if rounding == "euc2d":
        return np.floor(d + 0.5)  # TSPLIB: (int)(sqrt(...) + 0.5)
    if rounding != "none":
        raise ValueError(f"rounding must be 'none' or 'euc2d', got {rounding!r}")
    return d


def tour_length(coords: np.ndarray, tour, rounding: str = "none") -> float:
    """Length of the closed tour (a permutation of 0..N-1) under the instance's distances."""
    t = np.asarray(tour, dtype=np.int64)
    a, b = coords[t], coords[np.roll(t, -1)]
    d = np.sqrt(((a - b) ** 2).sum(-1))
    return float((np.floor(d + 0.5) if rounding == "euc2d" else d).sum())


def as_indices(seq, what: str) -> np.ndarray:
    """A 1-D sequence of integer indices (ints or integral floats), else InvalidSolution."""
    try:
        arr = np.asarray(seq, dtype=float)
        if arr.ndim != 1 or (arr != np.round(arr)).any():
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidSolution(f"{what} must be a sequence of integer indices, got {seq!r:.80}") from None
    return arr.astype(np.int64)


def tsp_test_set(n: int, count: int, seed: int) -> np.ndarray:
    """``count`` instances of ``n`` uniform points: [count, n, 2] (float64)."""
    return np.random.default_rng(seed).random((count, n, 2))


@dataclass(frozen=True, eq=False)
class KnapsackInstance:
    weights: np.ndarray   # [N] float (multiples of 1 / WEIGHT_UNITS)
    values: np.ndarray    # [N] float
    capacity: float

    @property
    def n(self) -> int:
        return len(self.weights)

    def int_weights(self) -> tuple[np.ndarray, int]:
        """Weights and capacity in integer units (exact for generated instances)."""
        w = np.rint(self.weights * WEIGHT_UNITS).astype(np.int64)
        return w, int(np.floor(self.capacity * WEIGHT_UNITS + 1e-9))


def knapsack_test_set(n: int, count: int, seed: int, capacity: float = KNAPSACK_CAPACITY) -> list[KnapsackInstance]:
    rng = np.random.default_rng(seed)
    w = rng.integers(1, WEIGHT_UNITS + 1, (count, n)) / WEIGHT_UNITS
    v = 1.0 - rng.random((count, n))  # (0, 1]
    return [KnapsackInstance(w[i], v[i], capacity) for i in range(count)]


# --- TSPLIB -------------------------------------------------------------------------------------

def read_tsplib(path) -> TSPInstance:
    """A TSPLIB ``.tsp`` file with ``EDGE_WEIGHT_TYPE: EUC_2D`` and a ``NODE_COORD_SECTION``."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InstanceFileError(f"cannot read {path}: {e}") from None
    header, coords, i = {}, [], 0
    while i < len(lines) and lines[i].strip() != "NODE_COORD_SECTION":
        if ":" in lines[i]:
            k, v = lines[i].split(":", 1)
            header[k.strip().upper()] = v.strip()
        i += 1
    if i == len(lines):
        raise InstanceFileError(f"{path}: no NODE_COORD_SECTION")
    if header.get("EDGE_WEIGHT_TYPE") != "EUC_2D":
        raise InstanceFileError(f"{path}: only EDGE_WEIGHT_TYPE EUC_2D is supported, "
                                f"got {header.get('EDGE_WEIGHT_TYPE')!r}")
    try:
        n = int(header["DIMENSION"])
    except (KeyError, ValueError):
        raise InstanceFileError(f"{path}: missing or bad DIMENSION") from None
    for line in lines[i + 1:]:
        s = line.strip()
        if not s:
            continue
        if s == "EOF":
            break
        parts = s.split()
        if len(parts) != 3:
            raise InstanceFileError(f"{path}: bad coordinate line {line!r}")
        try:
            coords.append((int(parts[0]), float(parts[1]), float(parts[2])))
        except ValueError:
            raise InstanceFileError(f"{path}: bad coordinate line {line!r}") from None
    ids = [c[0] for c in coords]
    if sorted(ids) != list(range(1, n + 1)):
        raise InstanceFileError(f"{path}: node ids must be 1..{n} (DIMENSION), found {len(coords)} lines")
    xy = np.array([c[1:] for c in sorted(coords)], dtype=float)
    name = header.get("NAME", path.stem)
    return TSPInstance(name, xy, "euc2d", TSPLIB_OPTIMA.get(name), f"TSPLIB file {path.name}")


def read_tour(path) -> np.ndarray:
    """A TSPLIB ``.opt.tour`` file -> 0-based node order."""
    lines = Path(path).read_text().splitlines()
    start = lines.index("TOUR_SECTION") + 1
    out = []
    for s in lines[start:]:
        v = int(s.split()[0])
        if v == -1:
            break
        out.append(v - 1)
    return np.array(out)


def load_tsplib(name: str) -> TSPInstance:
    path = DATA / f"{name}.tsp"
    if not path.exists():
        raise InstanceFileError(f"unknown TSPLIB instance {name!r}; shipped: {sorted(TSPLIB_OPTIMA)}")
    inst = read_tsplib(path)
    return TSPInstance(inst.name, inst.coords, "euc2d", TSPLIB_OPTIMA[name],
                       f"TSPLIB95 (Reinelt 1991), proved optimum {TSPLIB_OPTIMA[name]}")


# --- CVRP ---------------------------------------------------------------------------------------

# Vehicle capacity by problem size: Kool et al. (2019) for N = 10, 20, 50, 100; the BQ-NCO paper
# for N = 200, 500, 1000. Another N takes the capacity of the next listed size (250 above 1000).
CVRP_CAPACITY = {10: 20, 20: 30, 50: 40, 100: 50, 200: 80, 500: 100, 1000: 250}


def cvrp_capacity(n: int) -> int:
    for size in sorted(CVRP_CAPACITY):
        if n <= size:
            return CVRP_CAPACITY[size]
    return 250


@dataclass(frozen=True, eq=False)
class CVRPInstance:
    coords: np.ndarray    # [N + 1, 2]; node 0 is the depot
    demand: np.ndarray    # [N + 1] integers; demand[0] = 0
    capacity: int
    rounding: str = "none"        # "none": Euclidean; "euc2d": CVRPLIB's nearest-integer rule
    name: str = ""
    optimum: float | None = None  # the library's optimal cost, when known
    source: str = ""
    best_known: float | None = None  # the library's best-known cost, when no optimum is stated

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.coords) - 1

    def distances(self) -> np.ndarray:
        return distance_matrix(self.coords, self.rounding)


def cvrp_test_set(n: int, count: int, seed: int) -> list[CVRPInstance]:
    """Depot and customers uniform in the unit square, demands uniform in 1..9."""
    rng = np.random.default_rng(seed)
    xy = rng.random((count, n + 1, 2))
    dem = rng.integers(1, 10, (count, n + 1))
    dem[:, 0] = 0
    cap = cvrp_capacity(n)
    return [CVRPInstance(xy[i], dem[i], cap) for i in range(count)]


# --- CVRPLIB ------------------------------------------------------------------------------------

# Optimal costs of the shipped CVRPLIB instances (Augerat et al. set A; under the EUC_2D nint
# rule, as the library states them).
CVRPLIB_OPTIMA = {"A-n32-k5": 784, "A-n33-k5": 661}
# Best-known costs of the shipped X instances (Uchoa et al. 2017), the cost of the best-known
# solution shipped beside each (its `.sol`, CVRPLIB's): the files state no optimum, so the
# reference is ``best-known``.
CVRPLIB_BEST_KNOWN = {"X-n101-k25": 27591, "X-n106-k14": 26362}


def _sections(path: Path) -> tuple[dict, dict[str, list[list[str]]]]:
    """A TSPLIB-style file's header (``KEY : value``) and its sections (``NAME_SECTION`` -> rows
    of fields until the next section or EOF)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InstanceFileError(f"cannot read {path}: {e}") from None
    header, sections, current = {}, {}, None
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if s == "EOF":
            break
        word = s.split()[0]
        if word.endswith("_SECTION"):
            current = sections.setdefault(word, [])
        elif current is None and ":" in s:
            k, v = s.split(":", 1)
            header[k.strip().upper()] = v.strip()
        elif current is not None:
            current.append(s.split())
        else:
            raise InstanceFileError(f"{path}: unexpected line {line!r} before the first section")
    return header, sections


def read_cvrplib(path) -> CVRPInstance:
    """A CVRPLIB ``.vrp`` file (TSPLIB format, ``TYPE: CVRP``, ``EDGE_WEIGHT_TYPE: EUC_2D``):
    coordinates, demands, the capacity and the depot from the file; distances by the EUC_2D
    nint rule, as the library's published costs assume. The depot becomes node 0, the other
    nodes keep their order (so customer c of a CVRPLIB ``.sol`` file is node c when the depot is
    the file's node 1, as in every CVRPLIB set)."""
    path = Path(path)
    header, sec = _sections(path)
    if header.get("EDGE_WEIGHT_TYPE") != "EUC_2D":
        raise InstanceFileError(f"{path}: only EDGE_WEIGHT_TYPE EUC_2D is supported, "
                                f"got {header.get('EDGE_WEIGHT_TYPE')!r}")
    try:
        n = int(header["DIMENSION"])
    except (KeyError, ValueError):
        raise InstanceFileError(f"{path}: missing or bad DIMENSION") from None
    try:
        capacity = int(float(header["CAPACITY"]))
    except KeyError:
        raise InstanceFileError(f"{path}: no CAPACITY in the header") from None
    except ValueError:
        raise InstanceFileError(f"{path}: bad CAPACITY {header['CAPACITY']!r}") from None
    for name in ("NODE_COORD_SECTION", "DEMAND_SECTION"):
        if name not in sec:
            raise InstanceFileError(f"{path}: no {name}")

    def table(name, width, kind):
        rows = {}
        for fields in sec[name]:
            try:
                if len(fields) != width:
                    raise ValueError
                rows[int(fields[0])] = [kind(x) for x in fields[1:]]
            except ValueError:
                raise InstanceFileError(f"{path}: bad {name} line {' '.join(fields)!r}") from None
        if sorted(rows) != list(range(1, n + 1)):
            raise InstanceFileError(f"{path}: {name} must list the node ids 1..{n} (DIMENSION) once each")
        return np.array([rows[i] for i in range(1, n + 1)])
    xy = table("NODE_COORD_SECTION", 3, float)
    demand = table("DEMAND_SECTION", 2, int)[:, 0]
    depots = [int(f[0]) for f in sec.get("DEPOT_SECTION", [["1"]]) if int(f[0]) != -1]
    if len(depots) != 1 or not 1 <= depots[0] <= n:
        raise InstanceFileError(f"{path}: one depot id in 1..{n} expected in DEPOT_SECTION, got {depots}")
    order = [depots[0] - 1] + [i for i in range(n) if i != depots[0] - 1]
    xy, demand = xy[order], demand[order]
    if demand[0] != 0:
        raise InstanceFileError(f"{path}: the depot's demand must be 0, got {demand[0]}")
    if (demand[1:] < 0).any():
        raise InstanceFileError(f"{path}: negative demand")
    if (demand > capacity).any():
        i = int(np.argmax(demand > capacity))
        raise InstanceFileError(f"{path}: node {order[i] + 1} demands {demand[i]}, above the capacity {capacity}")
    name = header.get("NAME", path.stem)
    return CVRPInstance(xy, demand, capacity, "euc2d", name, CVRPLIB_OPTIMA.get(name), f"CVRPLIB file {path.name}")


def read_cvrplib_solution(path) -> tuple[list[list[int]], float | None]:
    """A CVRPLIB ``.sol`` file: its routes (``Route #r: c1 c2 ...``, customer numbers, which are
    the node ids of ``read_cvrplib``'s instance) and its ``Cost`` line."""
    path = Path(path)
    routes, cost = [], None
    for line in path.read_text().splitlines():
        s = line.strip()
        if s.lower().startswith("route"):
            try:
                routes.append([int(x) for x in s.split(":", 1)[1].split()])
            except (IndexError, ValueError):
                raise InstanceFileError(f"{path}: bad route line {line!r}") from None
        elif s.lower().startswith("cost"):
            cost = float(s.split()[1])
    if not routes:
        raise InstanceFileError(f"{path}: no route lines")
    return routes, cost


def load_cvrplib(name: str) -> CVRPInstance:
    """A shipped CVRPLIB instance by name: set A with its optimum, set X with its best-known cost."""
    path = DATA / f"{name}.vrp"
    if name not in CVRPLIB_OPTIMA and name not in CVRPLIB_BEST_KNOWN or not path.exists():
        raise InstanceFileError(f"unknown CVRPLIB instance {name!r}; shipped: "
                                f"{sorted(CVRPLIB_OPTIMA) + sorted(CVRPLIB_BEST_KNOWN)}")
    inst = read_cvrplib(path)
    if name in CVRPLIB_OPTIMA:
        return CVRPInstance(inst.coords, inst.demand, inst.capacity, "euc2d", inst.name, CVRPLIB_OPTIMA[name],
                            f"CVRPLIB set A (Augerat et al. 1995), optimal cost {CVRPLIB_OPTIMA[name]}")
    return CVRPInstance(inst.coords, inst.demand, inst.capacity, "euc2d", inst.name, None,
                        f"CVRPLIB set X (Uchoa et al. 2017), best-known cost {CVRPLIB_BEST_KNOWN[name]} "
                        "(the shipped .sol)", best_known=CVRPLIB_BEST_KNOWN[name])


# --- orienteering (OP) -------------------------------------------------------------------------

# Kool et al. (2019), distance-based prizes: prize_i = (1 + floor(99 d(0, i) / max_j d(0, j))) / 100,
# tour length budget 2 / 3 / 4 for N = 20 / 50 / 100 (another N: the next listed size's; 5 above 100).
OP_MAX_LENGTH = {20: 2.0, 50: 3.0, 100: 4.0}


def op_max_length(n: int) -> float:
    for size in sorted(OP_MAX_LENGTH):
        if n <= size:
            return OP_MAX_LENGTH[size]
    return 5.0


@dataclass(frozen=True, eq=False)
class OPInstance:
    coords: np.ndarray    # [N + 1, 2]; node 0 is the depot
    prize: np.ndarray     # [N + 1]; prize[0] = 0
    max_length: float

    @property
    def n(self) -> int:
        return len(self.coords) - 1


def op_test_set(n: int, count: int, seed: int) -> list[OPInstance]:
    rng = np.random.default_rng(seed)
    xy = rng.random((count, n + 1, 2))
    d0 = np.sqrt(((xy - xy[:, :1]) ** 2).sum(-1))
    prize = (1 + np.floor(99 * d0 / d0[:, 1:].max(1, keepdims=True))) / 100
    prize[:, 0] = 0.0
    L = op_max_length(n)
    return [OPInstance(xy[i], prize[i], L) for i in range(count)]
