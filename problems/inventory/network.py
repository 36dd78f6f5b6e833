"""Inventory networks as one batched torch simulator, differentiable in the orders: stores
supplied through a tree of upstream locations (a serial chain of echelons, one warehouse with
many stores, a transshipment centre), and the one-store-per-product sales setting.

Nodes are numbered upstream first (every node after its parent), the ``S`` stores last. Each
node has one supplier: its parent, or the outside supplier (unlimited) for a root. The action
is one order per node, the quantity it asks of its supplier.

Timing, per period t, for every node at once (the single-store convention of ``dynamics.py``):
  1. observe each node's on-hand I (net inventory at backlogged stores) and its pipeline
     (slot j: units arriving at the start of period t + j; a node with lead time L uses slots
     0..L-1), and place the orders;
  2. the units in slot 0 arrive: available A = I + slot 0;
  3. each internal node ships to its children what they ordered, rationed in proportion when
     the orders exceed its available stock (shipment = order x min(1, A / sum of orders));
     a transshipment centre ships all its available stock, in proportion to the orders (equal
     shares when nobody orders); a root's order is shipped in full by the outside supplier;
  4. a shipment (or outside order) placed at t arrives at the start of period t + L (slot L-1
     after the pipelines shift);
  5. demand D_t is realised at the stores: backlogged (I' = A - D) or lost (I' = (A - D)^+,
     lost sales (D - A)^+); an internal node keeps I' = A - shipped;
  6. cost: h x (ending on-hand)^+ at every node (holding on ending stock; nothing is charged on
     stock in transit) + p x (units backlogged at the end of the period, or lost) at every store.
The reward is minus the period's total cost divided by the number of stores (cost per store
and period, as the source reports it, so that networks of different sizes compare).
"""
from __future__ import annotations

import functools

from dataclasses import dataclass

import numpy as np
import torch

from ...problem import BatchedSim


@dataclass(frozen=True)
class Topology:
    """A supply tree: ``parent[i]`` (-1: the outside supplier), ``kind[i]`` in {"echelon",
    "warehouse", "store"}; parents come before their children, stores last."""
    parent: tuple[int, ...]
    kind: tuple[str, ...]

    def __post_init__(self):
        for i, p in enumerate(self.parent):
            if not -1 <= p < i:
                raise ValueError(f"node {i}: its parent {p} must come before it (or be -1)")
        s = self.kind.count("store")
        if s == 0 or any(k != "store" for k in self.kind[len(self.kind) - s:]):
            raise ValueError("the stores must be the last nodes, and there must be at least one")
        if any(self.kind[p] == "store" for p in self.parent if p >= 0):
            raise ValueError("a store supplies nobody")

    @property
    def n(self) -> int:
        return len(self.parent)

    @property
    def n_stores(self) -> int:
        return self.kind.count("store")

    def children(self, i: int) -> list[int]:
        return [c for c, p in enumerate(self.parent) if p == i]

    def stores_below(self, i: int) -> list[int]:
        """Store indices (0..S-1) in the subtree of node i."""
        first = self.n - self.n_stores
        out, todo = [], [i]
        while todo:
            j = todo.pop()
            if self.kind[j] == "store":
                out.append(j - first)
            todo += self.children(j)
        return sorted(out)


def serial(stages: int) -> Topology:
    """A chain supplier -> stage 0 -> ... -> the store (``stages`` locations in all)."""
    kinds = ("echelon",) * (stages - 2) + ("warehouse",) * (stages > 1) + ("store",)
    return Topology(tuple(range(-1, stages - 1)), kinds)


def one_warehouse(n_stores: int) -> Topology:
    return Topology((-1,) + (0,) * n_stores, ("warehouse",) + ("store",) * n_stores)


def stores_only(n_stores: int) -> Topology:
    return Topology((-1,) * n_stores, ("store",) * n_stores)


class Demand:
    """A demand model: ``draw(batch, periods, generator, extra)`` -> dict with ``demand``
    [B, H + T + extra, S] (the first ``history`` periods are history, observed but not
    simulated; the last ``extra`` only observed: peeked demand, the state after the horizon)
    and any per-path
    parameters (``L`` [B, N] lead times, ``h`` [B, N], ``p`` [B, S], ``mean`` [B, N] mean
    throughput, ``static`` [B, S, F] per-store features the policy observes, ``calendar``
    [B, H + T] days to the nearest Christmas / 182 of every period)."""
    history: int = 0
    n_static: int = 0      # per-store features observed by the policy (per path)
    calendar: bool = False  # whether the observation carries the calendar (days to Christmas)

    def draw(self, batch: int, periods: int, generator: torch.Generator, extra: int = 0) -> dict:
        raise NotImplementedError


class NormalDemand(Demand):
    """i.i.d. over periods; across stores multivariate normal with means ``mean``, standard
    deviations ``std`` and correlation ``rho`` between every pair; clipped at 0 if ``clip``."""

    def __init__(self, mean, std, rho: float = 0.0, clip: bool = True):
        self.mean = torch.as_tensor(np.asarray(mean, float), dtype=torch.float32)
        self.std = torch.as_tensor(np.asarray(std, float), dtype=torch.float32)
        S = len(self.mean)
        corr = torch.full((S, S), float(rho), dtype=torch.float64)
        corr.fill_diagonal_(1.0)
        cov = corr * torch.outer(self.std.double(), self.std.double())
        self._cov = cov
        self.clip = bool(clip)

    @functools.cached_property
    def chol(self) -> torch.Tensor:
        """Cholesky factor of the covariance, on first draw (``mobench list`` builds every
        problem's simulator to see which solvers fit, and draws nothing)."""
        S = len(self.mean)
        return torch.linalg.cholesky(self._cov).float() if S > 1 else self.std.reshape(1, 1)

    def draw(self, batch, periods, generator, extra=0):
        z = torch.randn((batch, periods + extra, len(self.mean)), generator=generator)
        d = self.mean + z @ self.chol.T
        return {"demand": d.clamp_min(0.0) if self.clip else d}


@dataclass
class NetworkSim(BatchedSim):
    """The simulator. ``lead``, ``h`` ([N]) and ``p`` ([S]) are the instance's parameters;
    a demand model may override them per path (``L``, ``h``, ``p`` in its draw).
    ``mean`` [S]: mean demand per store (scales the start state and the order boxes).
    ``q_max`` [N]: the largest order each node may place. ``peek`` > 0 puts the next ``peek``
    periods' demand in the observation (an oracle, for non-admissible benchmarks only).
    ``returns``: stores may order negative quantities (returns, non-admissible): a negative
    order sends back at once up to the stock available (on hand and arriving)."""
    topo: Topology
    lead: tuple[int, ...]
    h: tuple[float, ...]
    p: tuple[float, ...]
    lost: bool
    demand_model: Demand
    mean: tuple[float, ...]
    q_max: tuple[float, ...]
    transship: bool = False
    horizon: int = 200
    peek: int = 0
    returns: bool = False
    max_lead: int = 0       # pipeline slots (default: the largest lead time)
    n_obj: int = 1
    n_con: int = 0
    differentiable: bool = True

    def __post_init__(self):
        t = self.topo
        if len(self.lead) != t.n or len(self.h) != t.n or len(self.p) != t.n_stores:
            raise ValueError("lead and h need one entry per node, p one per store")
        if min(self.lead) < 1:
            raise ValueError("lead times must be >= 1")
        self.N, self.S = t.n, t.n_stores
        self.K = max(self.max_lead, max(self.lead))
        self.first_store = self.N - self.S
        self.H = self.demand_model.history
        self.F = self.H + self.demand_model.n_static + self.peek   # per-store observed features
        self.G = 1 if self.demand_model.calendar else 0             # global observed features
        self.obs_dim = self.N * (self.K + 1) + self.S * self.F + self.G
        self.act_dim = self.N
        q = np.asarray(self.q_max, float)
        low = np.zeros(self.N)
        if self.returns:
            low[self.first_store:] = -q[self.first_store:]
        self.action_low, self.action_high = low, q
        backlog = not self.lost
        lo = np.zeros((self.N, self.K + 1))
        if backlog:
            lo[self.first_store:, 0] = -np.inf
        feat_lo = np.full((self.S, self.F), -np.inf)
        self.obs_low = np.concatenate([lo.ravel(), feat_lo.ravel(), np.full(self.G, -np.inf)])
        self.obs_high = np.inf
        # parent incidence: M[c, u] = 1 when u supplies c
        M = torch.zeros(self.N, self.N)
        for c, u in enumerate(t.parent):
            if u >= 0:
                M[c, u] = 1.0
        self.M, self.MT = M, M.T.contiguous()
        self.internal = torch.tensor([k != "store" for k in t.kind], dtype=torch.float32)
        self.n_children = M.sum(0)
        self.roots = torch.tensor([u < 0 for u in t.parent], dtype=torch.float32)
        # mean throughput of each node (sum of its stores' mean demand)
        m = np.asarray(self.mean, float)
        self.node_mean = torch.tensor([m[t.stores_below(i)].sum() for i in range(self.N)], dtype=torch.float32)
        self._on = {}

    def _consts(self, device):
        """The topology's constant tensors on ``device`` (moved once)."""
        key = str(device)
        if key not in self._on:
            self._on[key] = {k: getattr(self, k).to(device) for k in ("M", "MT", "internal", "n_children", "roots")}
        return self._on[key]

    # -- views of the observation -------------------------------------------------------
    def split(self, obs: torch.Tensor):
        """obs -> (stock [B, N, K+1]: on-hand then pipeline slots, store features [B, S, F]:
        past demand (oldest first), per-path parameters, peeked demand; calendar [B, G])."""
        B = obs.shape[0]
        a = self.N * (self.K + 1)
        b = a + self.S * self.F
        return obs[:, :a].reshape(B, self.N, self.K + 1), obs[:, a:b].reshape(B, self.S, self.F), obs[:, b:]

    def static_features(self) -> torch.Tensor:
        """Per-node instance parameters [N, 5]: lead time, holding cost, shortage cost (0 for
        internal nodes), mean and standard deviation of the demand below (per period)."""
        std = getattr(self.demand_model, "std", None)
        sd = torch.zeros(self.N)
        if std is not None:
            chol = self.demand_model.chol
            cov = chol @ chol.T
            for i in range(self.N):
                idx = self.topo.stores_below(i)
                sd[i] = cov[idx][:, idx].sum().clamp_min(0).sqrt()
        p = torch.zeros(self.N)
        p[self.first_store:] = torch.tensor(self.p, dtype=torch.float32)
        return torch.stack([torch.tensor(self.lead, dtype=torch.float32), torch.tensor(self.h, dtype=torch.float32),
                            p, self.node_mean, sd], 1)

    # -- dynamics -------------------------------------------------------------------------
    def _params(self, draw, batch):
        L = draw.get("L", torch.tensor(self.lead).expand(batch, self.N))
        h = draw.get("h", torch.tensor(self.h, dtype=torch.float32).expand(batch, self.N))
        p = draw.get("p", torch.tensor(self.p, dtype=torch.float32).expand(batch, self.S))
        return L.long(), h.float(), p.float()

    def reset(self, batch, generator, device="cpu", horizon=None):
        T = self.horizon if horizon is None else int(horizon)
        draw = self.demand_model.draw(batch, T, generator, extra=self.peek + 1)   # + 1: observed at t = T
        L, h, p = self._params(draw, batch)
        # slot[b, n]: where a new order enters the node's stock vector after the shift (index L)
        slot = L.unsqueeze(-1)                                             # [B, N, 1]
        # start: each store holds one period's mean demand on hand and in each of its pipeline
        # slots; upstream nodes likewise hold their throughput
        m = draw.get("mean", self.node_mean.expand(batch, self.N)).float()
        within = (torch.arange(self.K + 1) <= L.unsqueeze(-1)).float()
        state = {"t": 0, "T": T, "demand": draw["demand"].to(device), "L": L.to(device), "h": h.to(device),
                 "p": p.to(device), "slot": slot.to(device), "stock": (m.unsqueeze(-1) * within).to(device),
                 "node_mean": m.to(device)}
        for k in ("static", "calendar"):
            if k in draw:
                state[k] = draw[k].to(device)
        return state

    def training_reset(self, batch, generator, device="cpu", horizon=None):
        """Start states spread over those a policy may visit: each node's on-hand uniform in
        [0, 4 m] ([-2 m, 4 m] at backlogged stores) and each of its pipeline slots in [0, 2 m],
        m its mean throughput per period; same demand draws as ``reset``."""
        state = self.reset(batch, generator, device, horizon)
        m = state["node_mean"]
        u = torch.rand((batch, self.N, self.K + 1), generator=generator).to(device)
        lo = torch.zeros_like(m)
        if not self.lost:
            lo[:, self.first_store:] = -2 * m[:, self.first_store:]
        within = (torch.arange(self.K + 1, device=device) <= state["L"].unsqueeze(-1)).float()
        spread = 2 * m.unsqueeze(-1) * u * within
        spread[..., 0] = lo + (4 * m - lo) * u[..., 0]
        state["stock"] = spread
        return state

    def observe(self, state):
        B = state["stock"].shape[0]
        stock = state["stock"].reshape(B, -1)
        t, H = state["t"], self.H
        feats = []
        if H:
            feats.append(state["demand"][:, t:t + H].transpose(1, 2))      # past H periods
        if "static" in state:
            feats.append(state["static"])
        if self.peek:
            feats.append(state["demand"][:, H + t:H + t + self.peek].transpose(1, 2))
        if not feats and not self.G:
            return stock
        parts = [stock]
        if feats:
            parts.append(torch.cat(feats, -1).reshape(B, -1))
        if self.G:
            parts.append(state["calendar"][:, H + t].unsqueeze(1))
        return torch.cat(parts, 1)

    def ship(self, available, orders):
        """Shipments to every node and the amounts shipped out of every node [B, N], given each
        node's available stock and the orders: proportional rationing at internal nodes;
        everything at a transshipment centre; a root's order in full (outside supplier)."""
        c = self._consts(orders.device)
        req = orders @ c["M"]                                             # asked of each node
        supply = available.clamp_min(0.0) * c["internal"]
        if self.transship:
            asked = req > 0
            share = supply / torch.where(asked, req, torch.ones_like(req))
            ship = orders * (share @ c["MT"])
            equal = (~asked).to(orders) * supply / c["n_children"].clamp_min(1)
            return ship + equal @ c["MT"] + orders * c["roots"], supply
        # f = min(1, supply / req): supply / max(req, supply), 0 when nothing is asked or held
        f = supply / torch.maximum(req, supply).clamp_min(1e-12)
        ship = orders * (f @ c["MT"] + c["roots"])
        return ship, f * req

    def step(self, state, action):
        t, H, fs = state["t"], self.H, self.first_store
        stock = state["stock"]
        orders = action.to(stock.dtype)
        available = stock[..., 0] + stock[..., 1]
        returned = None
        if self.returns:   # a store's negative order returns stock now, at most what it has
            want = (-orders[:, fs:]).clamp_min(0.0)
            returned = torch.minimum(want, available[:, fs:].clamp_min(0.0))
            orders = orders.clamp_min(0.0)
            available = torch.cat([available[:, :fs], available[:, fs:] - returned], 1)
        ship, out = self.ship(available, orders)
        d = state["demand"][:, H + t]
        after_int = (available[:, :fs] - out[:, :fs]).clamp_min(0.0)  # >= 0 up to rounding
        after_store = available[:, fs:] - d
        held_store = after_store.clamp_min(0.0)
        short = (-after_store).clamp_min(0.0)
        cost = (state["h"][:, fs:] * held_store + state["p"] * short).sum(1)
        if fs:
            cost = cost + (state["h"][:, :fs] * after_int).sum(1)
        onhand = torch.cat([after_int, held_store if self.lost else after_store], 1)
        new_stock = torch.cat([onhand.unsqueeze(-1), stock[..., 2:], torch.zeros_like(stock[..., :1])], -1)
        new_stock = new_stock.scatter_add(-1, state["slot"], ship.unsqueeze(-1))   # arrives in L periods
        new = {**state, "t": t + 1, "stock": new_stock, "sold": d - short if self.lost else d,
               "lost_units": short if self.lost else torch.zeros_like(short), "shipped": ship,
               "returned": returned if returned is not None else torch.zeros_like(short)}
        reward = -(cost / self.S).unsqueeze(1)
        done = torch.full((reward.shape[0],), t + 1 >= state["T"], dtype=torch.bool, device=reward.device)
        return new, reward, reward.new_zeros(reward.shape[0], 0), done


def days_to_christmas(week: torch.Tensor) -> torch.Tensor:
    """Signed days from the nearest Christmas for a week index (week 0 = the week of 1 January,
    52-week years, Christmas in week 51): positive after Christmas, negative before."""
    w = torch.remainder(week.float() - 51.0, 52.0)
    return torch.where(w > 26, w - 52, w) * 7.0


def stock_total(sim: NetworkSim, obs: torch.Tensor) -> torch.Tensor:
    """All stock in the network: on-hand (net) plus every pipeline, per path [B]."""
    return sim.split(obs)[0].sum((1, 2))
