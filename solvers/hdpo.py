"""`hdpo`: Hindsight Differentiable Policy Optimization (Alvo, Russo, Kanoria 2023,
arXiv 2306.11246).

The simulator is differentiable in the actions, so the pathwise gradient of the mean cost of
a batch of sampled demand paths with respect to the policy's parameters is computed by
backpropagation through the rollout and followed with Adam. The policy is an MLP (ELU) on the
standardised state. As in the paper's code, each gradient step simulates a short window of
periods (60) and drops the first ones from the loss after a restart; here the windows are
consecutive pieces of one long trajectory per path (truncated backpropagation: the state is
carried over, detached), so the policy is trained on the states it visits in the long run,
which is what the test scenarios measure. Early stopping: the policy is scored every
`eval_every` steps on development scenarios (the problem's `dev_seed`, never its test
scenarios) and the best one is returned. Every simulated period, development ones included,
counts against the step budget.

Training starts paths from the simulator's ``training_reset`` (states spread over the ones a
policy may visit), so every input varies from the first step.

Differences from the paper, for CPU budgets (``solvers/README.md`` says why each was chosen):
batch 1024 paths instead of 8192, at most 5000 gradient steps; inputs scaled by one common
scale (``normalise="scalar"``: the inventory inputs are all in units of stock, and the optimal
response depends on their sum); learning rate 2e-2 after a linear warm-up of 100 iterations,
cosine-decayed; output head ``low + (high - low)/8 x softplus(z)`` capped at high, i.e. the
paper code's softplus with a scale (a sigmoid head's exponential tail cannot produce the kink
of a base-stock response).

Works on any single-objective, unconstrained problem whose batched simulator is
differentiable (``sim.differentiable``).

Inventory networks (``inventory.NetworkView``) take one of the paper's architectures
(``arch``): "mlp", the vanilla network (one MLP from the whole state to every order);
"symmetry", the symmetry-aware network (one store sub-network shared by every store, fed
its own state and parameters and a context of the whole network; one head per upstream
location); "gnn", message passing over the supply tree. On networks, each location's stock
inputs are divided by its mean throughput and its order is that mean times a softplus
(stores with observed sales history: the mean of that history), so one set of weights fits
locations of any size; the context pools the stores' embeddings by their mean (a
permutation-invariant summary, where the paper's context network reads the stores in a fixed
order), which makes "symmetry" and "gnn" permutation-equivariant in the stores.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..problems.inventory import NetworkSim
from ..registry import Param, register_solver
from ..solver import Budget, Outcome, Solver
from ..views import Simulated

# hyper-parameters (paper: Adam, MLP with ELU, batch of demand paths, pathwise gradients)
DEFAULTS = {
    "hidden": Param(64, low=1),          # units per hidden layer
    "layers": Param(2, low=1),           # hidden layers
    "lr": Param(2e-2, low=0.0),          # Adam learning rate (cosine-decayed to lr/20 over max_iters)
    "lr_warmup": Param(100, low=0),      # iterations of linear learning-rate warm-up
    "batch": Param(1024, low=1),         # demand paths per gradient step
    "periods": Param(60, low=1),         # periods simulated per path and gradient step (truncated backpropagation)
    "chunks": Param(10, low=1),          # gradient steps along one trajectory before the paths restart
    "warmup": Param(30, low=0),          # after a restart, periods left out of the loss (their actions still get gradient)
    "eval_every": Param(20, low=1),      # iterations between development evaluations
    "dev_paths": Param(1024, low=1),     # development scenarios (their steps count against the budget)
    "dev_periods": Param(400, low=1),
    "dev_warmup": Param(100, low=0),
    "patience": Param(25, low=1),        # evaluations without improvement before stopping
    "max_iters": Param(5000, low=1),     # high shortage costs and long lead times need them (see the docstring)
    "skip": False,         # linear skip connection beside the MLP (see MLPPolicy)
    # output: "softplus" (scaled, kink at the lower bound) or "sigmoid"
    "head": Param("softplus", choices=("softplus", "sigmoid")),
    # input scaling: "scalar" (one scale), "feature" (mean/std per input), "none"
    "normalise": Param("scalar", choices=("scalar", "feature", "none")),
    "spread_start": True,  # restart paths from the simulator's training_reset (spread states)
    # inventory networks: "mlp" (vanilla), "symmetry" (symmetry-aware), "gnn"
    "arch": Param("mlp", choices=("mlp", "symmetry", "gnn")),
    "net_rows": Param(4096, low=1),      # networks: paths per step = min(batch, net_rows / stores (gnn: nodes x rounds)), >= 64
    "net_dev_rows": Param(8192, low=1),  # networks: development paths = min(dev_paths, net_dev_rows / stores), at least 128
    "net_hidden": Param(32, low=1),      # networks: units per hidden layer (the paper's store network: 32)
    # networks' activation ("relu", "elu" as the paper, "tanh"): ELU costs 2.5x on a CPU
    "net_act": Param("relu", choices=("relu", "elu", "tanh")),
}
ACTS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}
ARCHS = ("mlp", "symmetry", "gnn")


class MLPPolicy(nn.Module):
    """Standardised state -> action in [low, high].

    ``skip``: a linear layer from the inputs straight to the output beside the MLP, so that the
    linear part of the policy (for inventory, the response to the inventory position, which
    must sum the inputs with equal weights) is learnt as a well-conditioned regression while the
    MLP learns the rest. ``head``: "softplus" (low + (high - low)/8 softplus(z), capped at high;
    the paper's code uses an unscaled softplus on unscaled inputs) or "sigmoid"
    (low + (high - low) sigmoid(z)).
    """

    def __init__(self, obs_dim, act_dim, hidden, layers, obs_mean, obs_std, low, high,
                 skip=False, head="softplus"):
        super().__init__()
        dims = [obs_dim] + [hidden] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.ELU()]
        mods.append(nn.Linear(dims[-1], act_dim))
        self.net = nn.Sequential(*mods)
        self.skip = nn.Linear(obs_dim, act_dim, bias=False) if skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
        if head not in ("softplus", "sigmoid"):
            raise ValueError(f"head must be 'softplus' or 'sigmoid', got {head!r}")
        self.head = head
        self.register_buffer("obs_mean", obs_mean)
        self.register_buffer("obs_std", obs_std)
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    def forward(self, obs):
        x = (obs - self.obs_mean) / self.obs_std
        z = self.net(x)
        if self.skip is not None:
            z = z + self.skip(x)
        if self.head == "sigmoid":
            return self.low + (self.high - self.low) * torch.sigmoid(z)
        # softplus scaled to an eighth of the action range, so that a unit of the MLP's output
        # moves the action as much as under the sigmoid head, with a kink at `low`
        a = self.low + (self.high - self.low) / 8 * nn.functional.softplus(z)
        return self.high - nn.functional.relu(self.high - a)  # cap at high


def _mlp(n_in, hidden, layers, n_out, act=nn.ELU):
    dims = [n_in] + [hidden] * layers
    mods = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [nn.Linear(a, b), act()]
    return nn.Sequential(*mods, nn.Linear(dims[-1], n_out))


class NetworkInputs(nn.Module):
    """The observation of an inventory network, split per location and put in units of each
    location's mean throughput m: stock [B, N, K+1] / m, its inventory position and echelon
    position (its stock and that of every location it supplies) / (m x the periods of lead
    time they cover + 1), the stores' features (sales history / m,
    per-path parameters, peeked demand / m), the calendar, and each location's instance
    parameters (lead time / 5, holding cost, shortage cost / 10, coefficient of variation,
    store flag). ``static``: the instance parameters [N, 5] (``NetworkSim.static_features``;
    default the simulator's). Returns per-node inputs [B, N, D] and the scales m [B, N]."""

    def __init__(self, sim: NetworkSim):
        super().__init__()
        self.sim = sim
        self.register_buffer("static", sim.static_features())          # [N, 5]: L, h, p, mean, std
        store = torch.zeros(sim.N)
        store[sim.first_store:] = 1.0
        self.register_buffer("store", store)
        below = torch.eye(sim.N)           # below[m, n] = 1: location m is n or supplied through n
        for m in range(sim.N):
            p = sim.topo.parent[m]
            while p >= 0:
                below[m, p] = 1.0
                p = sim.topo.parent[p]
        self.register_buffer("below", below)
        kids = torch.zeros(sim.N, sim.N)    # kids[n, c] = 1: n supplies c
        for c, p in enumerate(sim.topo.parent):
            if p >= 0:
                kids[p, c] = 1.0
        self.register_buffer("kids", kids)
        self.depth = sim.N
        self.dim = (sim.K + 1) + 2 + sim.F + sim.G + 5

    def available(self, obs):
        """Each location's stock on hand plus what arrives this period [B, N]."""
        stock = self.sim.split(obs)[0]
        return stock[..., 0] + stock[..., 1]

    def forward(self, obs, static=None):
        sim = self.sim
        st = self.static if static is None else static
        mean = st[:, 3].clamp_min(1e-3)
        params = torch.stack([st[:, 0] / 5, st[:, 1], st[:, 2] / 10, st[:, 4] / mean, self.store], 1)
        stock, feats, cal = sim.split(obs)
        B = obs.shape[0]
        m = mean.expand(B, -1)
        if sim.H:   # stores with sales history: their scale is that history's mean
            hist = feats[..., :sim.H].mean(-1).clamp_min(0.1)
            m = torch.cat([m[:, :sim.first_store], hist], 1)
        lead = st[:, 0]
        chain = lead.clone()                 # the longest chain of lead times down to a store
        for _ in range(self.depth):
            deeper = lead + (chain.unsqueeze(0) * self.kids).max(1).values
            if torch.equal(deeper, chain):
                break
            chain = deeper
        position = stock.sum(-1)
        # each location's inventory position and echelon position (itself and all it supplies)
        # (in units of the mean demand over the lead times they cover: values near 1)
        x = [stock / m.unsqueeze(-1), (position / (m * (lead + 1))).unsqueeze(-1),
             ((position @ self.below) / (m * (chain + 1))).unsqueeze(-1)]
        if sim.F:
            ms = m[:, sim.first_store:].unsqueeze(-1)
            scaled = feats.clone()
            scaled[..., :sim.H] = feats[..., :sim.H] / ms
            if sim.peek:
                scaled[..., -sim.peek:] = feats[..., -sim.peek:] / ms
            x.append(torch.cat([feats.new_zeros(B, sim.first_store, sim.F), scaled], 1))
        if sim.G:
            x.append(cal.unsqueeze(1).expand(B, sim.N, sim.G))
        x.append(params.expand(B, -1, -1))
        return torch.cat(x, -1), m


class NetworkHead(nn.Module):
    """Orders from per-node outputs z [B, N] (plus a learnt offset per upstream location and
    one for the stores): m x softplus(z), capped at the action box; a
    location that is its supplier's only customer (a serial chain) orders a fraction
    sigmoid(z) of its supplier's available stock, as the paper's serial network does (an
    order beyond that stock is cut by the simulator, and its gradient with it: a policy that
    over-orders would never learn to order less)."""

    def __init__(self, sim: NetworkSim):
        super().__init__()
        parent = torch.tensor(sim.topo.parent)
        kids = torch.bincount(parent[parent >= 0], minlength=sim.N)
        single = (parent >= 0) & (kids[parent.clamp_min(0)] == 1)
        self.register_buffer("parent", parent.clamp_min(0))
        self.register_buffer("single", single)
        self.register_buffer("high", torch.as_tensor(sim.action_high, dtype=torch.float32))
        self.register_buffer("low", torch.as_tensor(sim.action_low, dtype=torch.float32))
        # a learnt offset per upstream location and one shared by the stores (equivariance kept)
        self.register_buffer("which", torch.tensor([min(i, sim.first_store) for i in range(sim.N)]))
        self.offset = nn.Parameter(torch.zeros(sim.first_store + 1))

    def forward(self, z, m, available):
        z = z + self.offset[self.which]
        a = m * nn.functional.softplus(z + 0.5413)   # softplus(0.5413) = 1: one mean at the start
        if self.single.any():
            share = available[:, self.parent].clamp_min(0.0) * torch.sigmoid(z)
            a = torch.where(self.single, share, a)
        return torch.minimum(a, self.high).maximum(self.low)


class NodeSkip(nn.Module):
    """A linear map from each location's inputs to its output beside the network: one per
    upstream location, one shared by the stores (so the stores stay exchangeable); with the
    echelon position among the inputs, it is an echelon base-stock policy through the head."""

    def __init__(self, sim, dim):
        super().__init__()
        self.register_buffer("which", torch.tensor([min(i, sim.first_store) for i in range(sim.N)]))
        self.weight = nn.Parameter(torch.zeros(sim.first_store + 1, dim))

    def forward(self, x):
        return (x * self.weight[self.which]).sum(-1)


class VanillaNetwork(nn.Module):
    """One MLP from every location's (scaled) inputs, flattened, to every order, with a linear
    map beside it (``skip``: an echelon base-stock policy is a linear map through the head)."""

    def __init__(self, sim, hidden, layers, act=nn.ELU, skip=True):
        super().__init__()
        self.inputs, self.head = NetworkInputs(sim), NetworkHead(sim)
        self.net = _mlp(sim.N * self.inputs.dim, hidden, layers, sim.N, act)
        self.skip = nn.Linear(sim.N * self.inputs.dim, sim.N, bias=False) if skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)

    def forward(self, obs):
        x, m = self.inputs(obs)
        x = x.flatten(1)
        z = self.net(x) + (self.skip(x) if self.skip is not None else 0.0)
        return self.head(z, m, self.inputs.available(obs))


class SymmetryAware(nn.Module):
    """Store sub-network shared by every store: [its inputs, context] -> its order; one head
    per upstream location: [its inputs, context] -> its order. Context: an MLP of the mean of
    the stores' embeddings and the upstream locations' inputs."""

    def __init__(self, sim, hidden, layers, act=nn.ELU):
        super().__init__()
        self.sim, self.act = sim, act()
        self.inputs, self.head = NetworkInputs(sim), NetworkHead(sim)
        D, U = self.inputs.dim, sim.first_store
        self.embed = _mlp(D, hidden, 1, hidden, act)
        self.context = _mlp(hidden + U * D, hidden, 1, hidden, act)
        self.store = _mlp(D + hidden, hidden, layers, 1, act)
        self.upstream = nn.ModuleList(_mlp(D + hidden, hidden, layers, 1, act) for _ in range(U))
        self.skip = NodeSkip(sim, D)

    def forward(self, obs, static=None):
        x, m = self.inputs(obs, static)
        U = self.sim.first_store
        pooled = self.act(self.embed(x[:, U:])).mean(1)
        c = self.act(self.context(torch.cat([pooled, x[:, :U].flatten(1)], 1)))
        z_st = self.store(torch.cat([x[:, U:], c.unsqueeze(1).expand(-1, x.shape[1] - U, -1)], -1))[..., 0]
        z_up = [head(torch.cat([x[:, i], c], 1)) for i, head in enumerate(self.upstream)]
        z = torch.cat(z_up + [z_st], 1) if U else z_st
        return self.head(z + self.skip(x), m, self.inputs.available(obs))


class GNN(nn.Module):
    """Message passing over the supply tree (plain torch): node embeddings from the node
    inputs; each round, every node adds an MLP of [itself, its supplier's message, the mean
    of its customers' messages] (messages: MLPs of [sender, receiver]); a virtual supplier
    (zeros) feeds the roots. Two rounds. Output: each node's order."""

    def __init__(self, sim, hidden, layers, act=nn.ELU):
        super().__init__()
        self.sim, self.act = sim, act()
        self.inputs, self.head = NetworkInputs(sim), NetworkHead(sim)
        parent = torch.tensor(sim.topo.parent)
        self.rounds = 2   # a store and its supplier exchange messages both ways (every node sees
        # the whole system through its echelon-position input; more rounds cost a CPU too much)
        child = torch.nonzero(parent >= 0)[:, 0]
        # edges as dense 0/1 matrices (gathers and scatters as matmuls: fast on a CPU, in both passes)
        to_child = nn.functional.one_hot(child, sim.N).float()                 # [E, N]: edge -> its customer
        to_parent = nn.functional.one_hot(parent[child], sim.N).float()        # [E, N]: edge -> its supplier
        kids = to_parent.sum(0).clamp_min(1)
        self.register_buffer("child_of_edge", to_child)
        self.register_buffer("parent_of_edge", to_parent)
        self.register_buffer("mean_up", (to_parent / kids).T.contiguous())    # [N, E]: mean over customers
        self.enc = _mlp(self.inputs.dim, hidden, 1, hidden, act)
        self.down = _mlp(2 * hidden, hidden, 1, hidden, act)   # supplier -> customer
        self.up = _mlp(2 * hidden, hidden, 1, hidden, act)     # customer -> supplier
        self.update = _mlp(3 * hidden, hidden, 1, hidden, act)
        self.out = _mlp(hidden, hidden, layers, 1, act)
        self.skip = NodeSkip(sim, self.inputs.dim)

    def forward(self, obs, static=None):
        x, m = self.inputs(obs, static)
        h = self.act(self.enc(x))
        for _ in range(self.rounds):
            hp = torch.einsum("en,bnh->beh", self.parent_of_edge, h)
            hc = torch.einsum("en,bnh->beh", self.child_of_edge, h)
            from_sup = torch.einsum("en,beh->bnh", self.child_of_edge, self.down(torch.cat([hp, hc], -1)))
            from_cust = torch.einsum("ne,beh->bnh", self.mean_up, self.up(torch.cat([hc, hp], -1)))
            h = h + self.update(torch.cat([h, from_sup, from_cust], -1))
        return self.head(self.out(self.act(h))[..., 0] + self.skip(x), m, self.inputs.available(obs))


NETWORKS = {"mlp": VanillaNetwork, "symmetry": SymmetryAware, "gnn": GNN}


def _rollout_cost(sim, policy, batch, periods, warmup, gen, device):
    """Mean per-period loss (minus reward, summed over objectives) of one batch of paths."""
    state = sim.reset(batch, gen, device, horizon=periods)
    return _chunk_cost(sim, policy, state, periods, warmup)[0]


def _chunk_cost(sim, policy, state, periods, warmup):
    """Simulate ``periods`` more periods from ``state``: -> (mean per-period loss after the
    first ``warmup`` periods, final state)."""
    total = 0.0
    for t in range(periods):
        state, r, _, _ = sim.step(state, policy(sim.observe(state)))
        if t >= warmup:
            total = total - r.sum(dim=1).mean()
    return total / (periods - warmup), state


def _detach(state):
    return {k: (v.detach() if torch.is_tensor(v) else v) for k, v in state.items()}


class HDPO(Solver):
    defaults = DEFAULTS
    default_budget = Budget(steps=500_000_000, seconds=1200)
    description = "pathwise policy gradients through the batched simulator, MLP policy, Adam"
    version = 4  # what each version changed: solvers/README.md

    requires = (Simulated,)

    def supports(self, problem):
        if self.arch not in ARCHS:
            return f"arch must be one of {ARCHS}, got {self.arch!r}"
        if self.net_act not in ACTS:
            return f"net_act must be one of {tuple(ACTS)}, got {self.net_act!r}"
        if not problem.sim().differentiable:
            return "needs a differentiable batched simulator"
        if self.arch != "mlp" and not isinstance(problem.sim(), NetworkSim):
            return f"arch {self.arch!r} is for inventory networks (inventory.NetworkView)"
        if problem.spec.n_obj != 1 or problem.spec.n_con != 0 or problem.spec.answer != "policy":
            return "single-objective, unconstrained, single-policy problems only"
        return None

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        dev = self.device
        sim, sc = problem.sim(), problem.spec.scenarios
        gen = torch.Generator().manual_seed(seed)
        if isinstance(sim, NetworkSim):
            policy = NETWORKS[self.arch](sim, self.net_hidden, self.layers, ACTS[self.net_act]).to(dev)
            # the store sub-networks see every store of a path (the GNN every node, once per
            # round): fewer paths where there are many
            rows = sim.N * policy.rounds if self.arch == "gnn" else sim.S
            batch = max(64, min(self.batch, self.net_rows // rows))
            dev_paths = max(128, min(self.dev_paths, self.net_dev_rows // rows))
            return self._train(policy, sim, sc, clock, seed, gen, log, batch, dev_paths, by_time=True)
        # observation statistics for standardisation, from a short rollout of a constant action
        # (an eighth of the way into the action box); these steps count against the budget
        with torch.no_grad():
            n_probe = 64
            state = sim.reset(n_probe, gen, dev, horizon=50)
            probe = torch.as_tensor(sim.action_low + (sim.action_high - sim.action_low) / 8,
                                    dtype=torch.float32, device=dev).expand(n_probe, sim.act_dim)
            obs = []
            for _ in range(50):
                obs.append(sim.observe(state))
                state, *_ = sim.step(state, probe)
            clock.add(n_probe * 50)
            obs = torch.cat(obs)
            if self.normalise == "none":
                obs_mean, obs_std = torch.zeros(sim.obs_dim, device=dev), torch.ones(sim.obs_dim, device=dev)
            elif self.normalise == "scalar":  # one scale for every input: keeps their sums meaningful
                obs_mean = torch.zeros(sim.obs_dim, device=dev)
                obs_std = obs.abs().mean().clamp_min(1e-3).expand(sim.obs_dim).clone()
            else:
                obs_mean, obs_std = obs.mean(0), obs.std(0).clamp_min(1.0)
        policy = MLPPolicy(sim.obs_dim, sim.act_dim, self.hidden, self.layers, obs_mean, obs_std,
                           torch.as_tensor(sim.action_low, dtype=torch.float32),
                           torch.as_tensor(sim.action_high, dtype=torch.float32),
                           skip=self.skip, head=self.head).to(dev)
        return self._train(policy, sim, sc, clock, seed, gen, log, self.batch, self.dev_paths)

    def _train(self, policy, sim, sc, clock, seed, gen, log, batch, dev_paths, by_time=False):
        """Adam on the pathwise gradient, truncated backpropagation along long trajectories,
        early stopping on the development scenarios (module docstring)."""
        dev = self.device
        opt = torch.optim.Adam(policy.parameters(), lr=self.lr)
        if clock.budget.steps is not None:  # a budget smaller than one step: fewer paths
            batch = int(max(1, min(batch, clock.steps_left // self.periods)))
        steps_per_iter = batch * self.periods
        dev_steps = dev_paths * self.dev_periods
        iters = self.max_iters
        if clock.budget.steps is not None:  # development evaluations count against the budget
            iters = max(1, min(iters, int(clock.budget.steps / (steps_per_iter + dev_steps / self.eval_every))))
        warm_iters = max(1, min(self.lr_warmup, iters // 2))
        if by_time and clock.budget.seconds is not None:
            # networks: the cosine follows the larger of the iterations' and the seconds' progress
            # (a time budget ends training long before max_iters on a CPU)
            def factor(i):
                if i < warm_iters:
                    return (i + 1) / warm_iters
                done = max((i - warm_iters) / max(1, iters - warm_iters), clock.elapsed / clock.budget.seconds)
                return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))
            sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        else:
            sched = torch.optim.lr_scheduler.SequentialLR(opt, [
                torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warm_iters, total_iters=warm_iters),
                torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, iters - warm_iters), eta_min=self.lr / 20)],
                milestones=[warm_iters])
        dev_seed = sc.dev_seed if sc is not None else seed + 1
        best, best_state, stale, it = math.inf, None, 0, 0

        def dev_evaluate(loss):
            nonlocal best, best_state, stale
            with torch.no_grad():
                dgen = torch.Generator().manual_seed(dev_seed)
                dev_cost = float(_rollout_cost(sim, policy, dev_paths, self.dev_periods,
                                               self.dev_warmup, dgen, dev))
            clock.add(dev_steps)
            log(clock.steps, dev_cost, train_loss=float(loss.detach()))
            if dev_cost < best - 1e-9:
                best, best_state, stale = dev_cost, copy.deepcopy(policy.state_dict()), 0
            else:
                stale += 1

        loss, evaluated, state = None, False, None
        while it < iters and clock.steps_left >= steps_per_iter and clock.seconds_left > 0:
            it += 1
            # truncated backpropagation through one long trajectory per path: each step
            # continues from where the last one stopped (so the policy trains on the states it
            # visits in the long run), with a fresh start every `chunks` steps
            if state is None or state["t"] + self.periods > state["T"]:
                start = sim.training_reset if self.spread_start else sim.reset
                state = start(batch, gen, dev, horizon=self.periods * self.chunks)
                warm = self.warmup
            else:
                warm = 0
            loss, state = _chunk_cost(sim, policy, _detach(state), self.periods, warm)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            clock.add(steps_per_iter)
            evaluated = False
            if it % self.eval_every == 0 and clock.steps_left >= dev_steps:
                dev_evaluate(loss)
                evaluated = True
                if stale >= self.patience:
                    break
        if loss is not None and not evaluated and clock.steps_left >= dev_steps:
            dev_evaluate(loss)
        if best_state is not None:  # the best policy on the development scenarios
            policy.load_state_dict(best_state)
        policy.eval()
        return Outcome(policies=[policy], info={"iterations": it, "dev_cost": best})


register_solver("hdpo", HDPO)
