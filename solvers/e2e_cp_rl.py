"""`e2e-cp-rl` (Tassel, Gebser, Schekotihin, ICAPS 2023) and `ppo-dispatch` (the same agent
without CP guidance), on the job-shop dispatching MDP (``problems/jobshop/dispatch.py``).

Policy: each job's window of 5 operations (4 features each) is embedded and encoded by a
transformer layer over the window, then mean-pooled into a job embedding; a second
transformer layer attends across jobs, each job only to the jobs whose next operation uses
the same machine (and itself); per-job logits, a No-Op logit and a value from the mean of the
job embeddings. Illegal actions are masked.

Training (PPO on generated Taillard-style instances of ``train_jobs`` x ``train_machines``):
dense reward, minus the increase of the makespan lower bound divided by the instance's
initial bound (its sum is minus the gap to that bound), GAE, clipped objective.
CP guidance (`e2e-cp-rl` only): after each rollout, for ``cp_episodes`` finished episodes,
CP-SAT, warm-started from the agent's schedule, re-optimises the operations that start after
a random cut (the ones before it fixed) for ``cp_seconds``; when it shortens the makespan,
the CP schedule is left-shifted and replayed through the MDP into (state, action) pairs that
the agent imitates with the clipped objective, weighted by the normalised improvement
(makespan_agent - makespan_cp) / makespan_agent.
Inference: one greedy episode, then batches of up to ``samples`` episodes until the run's
seconds budget ends, the rows of every batch sampled at the temperatures of ``temperatures`` in
turn (one temperature per row, as the authors' solver spreads a temperature grid over its
parallel episodes); the best schedule is returned. The episodes of a batch advance together
in one ``BatchDispatch`` and one policy call per step, which re-encodes only the job windows
that changed since the last step (the cross-job layer and the heads run on all of them). A
batch is shrunk to what the time left allows at the last batch's seconds per episode (so large
instances still get sampled episodes within a short limit); one still running at the deadline
is abandoned.

Checkpoints: ``checkpoint="shipped"`` (the default) loads the policy trained for this variant
that ships in ``solvers/data/`` (see its README for the command and CPU time that produced
it); a path loads that file (a training checkpoint or an exported policy); ``"none"`` trains
within the run's budget (``train_fraction`` of it), then samples. Training is resumable:
``python -m mobench.solvers.e2e_cp_rl --help``.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..problems import jobshop
from ..problems.jobshop import FEATURES, WINDOW, JobShopView, makespan
from ..registry import register_solver
from ..solver import Budget, Outcome, Solver
from ._ppo import clipped_surrogate, gae, ppo_defaults, standardise

DEFAULTS = {
    "d_model": 64,
    "heads": 4,
    "train_jobs": 10,
    "train_machines": 10,
    "envs": 16,              # parallel training episodes
    "rollout": 64,           # steps per environment per PPO iteration
    **ppo_defaults("lr", "clip", "ent_coef", "vf_coef", "gae_lambda"),  # episodes undiscounted (gamma 1)
    "epochs": 4,
    "minibatch": 256,
    "cp_episodes": 4,        # e2e-cp-rl: finished episodes re-optimised by CP per iteration
    "cp_seconds": 1.0,       # CP-SAT limit per re-optimisation
    "imitation_coef": 1.0,
    "samples": 32,           # inference: episodes per batch
    # one per row, in turn; chosen on held-out instances, never the test ones (solvers/README.md)
    "temperatures": "0.25,0.5,0.75,1.0",
    "train_fraction": 0.5,   # without a checkpoint: share of the budget spent training
    "checkpoint": "shipped",  # "shipped" | "none" | a path
}
SHIPPED = Path(__file__).parent / "data"  # exported policies: <variant>.pt


class DispatchPolicy(nn.Module):
    def __init__(self, d_model=64, heads=4, features=4):
        super().__init__()
        self.embed = nn.Linear(features, d_model)
        self.window = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
        self.jobs = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
        self.heads = heads
        self.job_logit = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))
        self.noop_logit = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))
        self.value = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))

    def encode_windows(self, windows):
        """Windows [N, W, F] -> job embeddings [N, d_model]: each job's window alone."""
        return self.window(self.embed(windows)).mean(1)

    def forward(self, ops, shared, mask, jobs=None):
        """ops [B, J, W, F], shared [B, J, J] (bool), mask [B, J + 1] (bool) ->
        (masked logits [B, J + 1], value [B]). ``jobs``: the job embeddings [B, J, d_model]
        when already encoded (``encode_windows``; ops is then not read)."""
        if jobs is None:
            B, J, W, F = ops.shape
            jobs = self.encode_windows(ops.reshape(B * J, W, F)).reshape(B, J, -1)
        allowed = shared | torch.eye(jobs.shape[1], dtype=torch.bool, device=jobs.device)
        attn_mask = (~allowed).repeat_interleave(self.heads, dim=0)  # True = not attended
        h = self.jobs(jobs, src_mask=attn_mask)
        pooled = h.mean(1)
        logits = torch.cat([self.job_logit(h).squeeze(-1), self.noop_logit(pooled)], dim=1)
        return logits.masked_fill(~mask, -1e9), self.value(pooled).squeeze(-1)


def _tensors(obs, device, rows=None):
    """A batched observation (``BatchDispatch.observation()``) as policy inputs; ``rows``
    selects some of its rows."""
    pick = (lambda x: x) if rows is None else (lambda x: x[rows])
    return (torch.as_tensor(pick(obs["ops"]), device=device),
            torch.as_tensor(pick(obs["shared"]).astype(bool), device=device),
            torch.as_tensor(pick(obs["action_mask"]).astype(bool), device=device))


def _stack(observations, device):
    """A list of single observations as policy inputs."""
    return _tensors({k: np.stack([o[k] for o in observations]) for k in ("ops", "shared", "action_mask")}, device)


# --- CP guidance ------------------------------------------------------------------------------

def left_shift(instance, starts):
    """Semi-active version of a feasible schedule: operations in start order, each moved to
    the end of its job and machine predecessors. Never increases any start."""
    s = np.array(starts, dtype=np.int64)
    d, m = instance.durations, instance.machines
    J, K = d.shape
    job_end = np.zeros(J, np.int64)
    mach_end = np.zeros(instance.n_machines, np.int64)
    order = sorted(((s[j, k], k, j) for j in range(J) for k in range(K)))
    for _, k, j in order:
        s[j, k] = max(job_end[j], mach_end[m[j, k]])
        job_end[j] = mach_end[m[j, k]] = s[j, k] + d[j, k]
    return s


def replay(instance, starts):
    """The MDP's (observation, action) pairs that rebuild a semi-active schedule: at each
    state, start the legal job whose next operation starts now in ``starts``, else No-Op."""
    d, pairs = jobshop.Dispatch(instance), []
    while not d.done:
        obs = d.observation()
        legal = d.legal_jobs()
        k = np.minimum(d.next_op, d.K - 1)
        now = legal & (starts[np.arange(d.J), k] == d.t)
        a = int(np.flatnonzero(now)[0]) if now.any() else d.J
        pairs.append((obs, a))
        d.step(a)
    return pairs, d.starts


def cp_improve(instance, starts, seconds, rng, cut: int | None = None):
    """Re-optimise the operations that start at or after ``cut`` (random when None) with
    CP-SAT, warm-started from ``starts``; -> a strictly shorter left-shifted schedule or None."""
    mk = makespan(instance, starts)
    cut = int(rng.integers(0, max(1, mk))) if cut is None else int(cut)
    prefix = {(j, k): int(starts[j, k]) for j, k in zip(*np.nonzero(starts < cut))}
    r = jobshop.JobShopModel(instance).solve(seconds, hint=starts, fixed_prefix=prefix, workers=1,
                                     makespan_cap=mk - 1, seed=int(rng.integers(1 << 30)))
    return None if r.starts is None else left_shift(instance, r.starts)


# --- training -------------------------------------------------------------------------------

class Trainer:
    """PPO (+ CP imitation) on generated instances; ``state_dict`` makes it resumable."""

    def __init__(self, cfg: dict, cp_guidance: bool, seed: int, device="cpu"):
        self.cfg, self.cp, self.device = cfg, cp_guidance, device
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.policy = DispatchPolicy(cfg["d_model"], cfg["heads"]).to(device)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=cfg["lr"])
        self.iteration, self.episodes, self.seen, self.seconds = 0, 0, 0, 0.0
        self._generate = jobshop.generate
        self.envs = jobshop.BatchDispatch([self._new_instance() for _ in range(cfg["envs"])])  # one row per episode
        self.bound0 = self.envs.makespan_lower_bound()  # each episode's initial makespan lower bound
        self.bound = self.bound0.copy()
        self.finished = []  # (instance, schedule, makespan) of the last finished episodes
        self.recent = []
        self.lineage = []  # the policies this training started from (``init_from``), oldest first

    def init_from(self, path):
        """Start from an exported policy's weights (fine-tuning, e.g. at another instance size),
        with a fresh optimiser; its training record joins ``lineage``, so the exported result
        says what it was trained on in all."""
        sd = torch.load(path, map_location=self.device, weights_only=True)
        for k in ("d_model", "heads"):
            if sd["cfg"][k] != self.cfg[k]:
                raise ValueError(f"{path}: {k}={sd['cfg'][k]}, this training has {k}={self.cfg[k]}")
        self.policy.load_state_dict(sd["policy"])
        self.lineage = list(sd.get("lineage", [])) + [
            {"file": Path(path).name, "cp": bool(sd.get("cp")), "iteration": int(sd.get("iteration", 0)),
             "episodes": int(sd.get("episodes", 0)), "seconds": float(sd.get("seconds", 0.0)),
             "train_jobs": int(sd["cfg"]["train_jobs"]), "train_machines": int(sd["cfg"]["train_machines"])}]

    def _new_instance(self):
        return self._generate(self.cfg["train_jobs"], self.cfg["train_machines"], int(self.rng.integers(1 << 62)))

    def state_dict(self):
        return {"policy": self.policy.state_dict(), "opt": self.opt.state_dict(), "iteration": self.iteration,
                "episodes": self.episodes, "rng": self.rng.bit_generator.state, "cfg": self.cfg, "cp": self.cp,
                "seconds": self.seconds, "lineage": self.lineage}

    def load_state_dict(self, sd):
        self.policy.load_state_dict(sd["policy"])
        self.opt.load_state_dict(sd["opt"])
        self.iteration, self.episodes = sd["iteration"], sd["episodes"]
        self.seconds = float(sd.get("seconds", 0.0))
        self.rng.bit_generator.state = sd["rng"]
        self.lineage = list(sd.get("lineage", []))

    def rollout(self):
        c, dev = self.cfg, self.device
        buf = {k: [] for k in ("ops", "shared", "mask", "action", "logp", "value", "reward", "done")}
        envs = self.envs
        for _ in range(c["rollout"]):
            ops, shared, mask = _tensors(envs.observation(), dev)
            with torch.no_grad():
                logits, value = self.policy(ops, shared, mask)
                dist = torch.distributions.Categorical(logits=logits)
                action = dist.sample()
            envs.step(action.cpu().numpy())
            b = envs.makespan_lower_bound()
            rewards = -(b - self.bound) / self.bound0
            self.bound = b
            dones = envs.done
            for i in np.flatnonzero(dones):  # record, then start the row's next episode
                mk = makespan(envs.insts[i], envs.starts[i])
                self.finished.append((envs.insts[i], envs.starts[i].copy(), mk))
                self.recent.append(mk / self.bound0[i])
                self.episodes += 1
                envs.replace(i, self._new_instance())
                self.bound0[i] = self.bound[i] = envs.makespan_lower_bound()[i]
            for k, v in (("ops", ops), ("shared", shared), ("mask", mask), ("action", action),
                         ("logp", dist.log_prob(action)), ("value", value)):
                buf[k].append(v)
            buf["reward"].append(torch.as_tensor(rewards, device=dev, dtype=torch.float32))
            buf["done"].append(torch.as_tensor(dones, device=dev, dtype=torch.float32))
        self.seen += c["rollout"] * envs.B
        with torch.no_grad():
            _, last_value = self.policy(*_tensors(envs.observation(), dev))
        adv, ret = gae(torch.stack(buf["reward"]), torch.stack(buf["value"]), last_value,
                       torch.stack(buf["done"]), 1.0, c["gae_lambda"])  # undiscounted episodes
        flat = {k: torch.cat(v) if k in ("ops", "shared", "mask") else torch.stack(v).reshape(-1)
                for k, v in buf.items()}
        flat["adv"], flat["ret"] = adv.reshape(-1), ret.reshape(-1)
        return flat

    def imitation_data(self):
        """CP-improved decisions of recently finished episodes (e2e-cp-rl only)."""
        if not self.cp or not self.finished:
            self.finished = []
            return None
        pick = self.rng.choice(len(self.finished), size=min(self.cfg["cp_episodes"], len(self.finished)), replace=False)
        obs, acts, weights = [], [], []
        for i in pick:
            inst, starts, mk = self.finished[i]
            better = cp_improve(inst, starts, self.cfg["cp_seconds"], self.rng)
            if better is None:
                continue
            mk_cp = makespan(inst, better)
            if mk_cp >= mk:
                continue
            pairs, _ = replay(inst, better)
            obs += [p[0] for p in pairs]
            acts += [p[1] for p in pairs]
            weights += [(mk - mk_cp) / mk] * len(pairs)
        self.finished = []
        if not obs:
            return None
        ops, shared, mask = _stack(obs, self.device)
        action = torch.tensor(acts, device=self.device)
        with torch.no_grad():
            logits, _ = self.policy(ops, shared, mask)
            logp = torch.distributions.Categorical(logits=logits).log_prob(action)
        w = torch.tensor(weights, device=self.device, dtype=torch.float32)
        return {"ops": ops, "shared": shared, "mask": mask, "action": action, "logp": logp,
                "adv": w / w.max().clamp_min(1e-9)}

    def _clipped(self, batch, idx):
        logits, value = self.policy(batch["ops"][idx], batch["shared"][idx], batch["mask"][idx])
        dist = torch.distributions.Categorical(logits=logits)
        ratio = (dist.log_prob(batch["action"][idx]) - batch["logp"][idx]).exp()
        a = batch["adv"][idx]
        pg = clipped_surrogate(ratio, a, self.cfg["clip"])
        return pg, value, dist

    def update(self, data, imitation):
        c = self.cfg
        n = data["action"].shape[0]
        adv = data["adv"]
        data["adv"] = standardise(adv)
        for _ in range(c["epochs"]):
            for idx in torch.randperm(n, device=self.device).split(c["minibatch"]):
                pg, value, dist = self._clipped(data, idx)
                loss = pg + c["vf_coef"] * (value - data["ret"][idx]).pow(2).mean() - c["ent_coef"] * dist.entropy().mean()
                if imitation is not None:
                    m = imitation["action"].shape[0]
                    j = torch.randint(m, (min(m, c["minibatch"]),), device=self.device)
                    loss = loss + c["imitation_coef"] * self._clipped(imitation, j)[0]
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), 0.5)
                self.opt.step()

    def train(self, seconds: float, checkpoint: Path | None = None, save_every: float = 60.0, log=None):
        t0 = last_save = time.monotonic()
        while time.monotonic() - t0 < seconds:
            t_iter = time.monotonic()
            data = self.rollout()
            self.update(data, self.imitation_data())
            self.iteration += 1
            self.seconds += time.monotonic() - t_iter
            if log is not None and self.recent:
                log(self.seen, float(np.mean(self.recent[-50:])), episodes=self.episodes)
            if checkpoint is not None and time.monotonic() - last_save > save_every:
                save(self, checkpoint)
                last_save = time.monotonic()
        if checkpoint is not None:
            save(self, checkpoint)


def save(trainer: Trainer, path: Path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(trainer.state_dict(), tmp)
    tmp.replace(path)


def export_policy(checkpoint: Path, out: Path) -> dict:
    """A training checkpoint without its optimiser and generator state: what ships."""
    sd = torch.load(checkpoint, map_location="cpu", weights_only=True)
    small = {k: sd[k] for k in ("policy", "cfg", "cp", "iteration", "episodes", "seconds", "lineage") if k in sd}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(small, out)
    return small


def load_policy(path, device="cpu") -> tuple[DispatchPolicy, dict]:
    sd = torch.load(path, map_location=device, weights_only=True)
    cfg = sd["cfg"]
    policy = DispatchPolicy(cfg["d_model"], cfg["heads"]).to(device)
    policy.load_state_dict(sd["policy"])
    return policy, sd


# --- inference ------------------------------------------------------------------------------

def sample_schedules(policy, instance, samples, temperature, device="cpu", generator=None, deadline=None,
                     reuse=True):
    """``samples`` episodes in one batch, row i sampled at ``temperature[i]`` (or all at one
    ``temperature``; a row at temperature <= 0 is the greedy episode); -> (best starts, best
    makespan), or (None, inf) when ``deadline`` (a ``time.monotonic()`` value) passes before
    the batch is complete. ``reuse``: keep the job embeddings of jobs whose window did not
    change since the last step (False re-encodes every window, for comparison)."""
    temps = torch.as_tensor(temperature, dtype=torch.float32).expand(samples)
    greedy = temps <= 0
    scale = torch.where(greedy, torch.ones_like(temps), temps)[:, None]
    envs = jobshop.BatchDispatch(instance, copies=samples)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    actions = np.zeros(samples, np.int64)
    # job embeddings of the last step, re-encoded only where a job's window changed (about
    # 60% of them per step on ta41: a step moves one job and one machine, t not always)
    last_ops = np.full((samples, envs.J, WINDOW, FEATURES), np.nan, np.float32)
    jobs = torch.zeros(samples, envs.J, policy.embed.out_features, device=device)
    while not (done := envs.done).all():
        if deadline is not None and time.monotonic() > deadline:
            return None, math.inf
        live = np.flatnonzero(~done)
        obs = envs.observation()
        changed = np.zeros(done.shape + (envs.J,), bool)
        changed[live] = (obs["ops"][live] != last_ops[live]).any((2, 3)) if reuse else True
        rows, cols = np.nonzero(changed)
        last_ops[rows, cols] = obs["ops"][rows, cols]
        with torch.no_grad():
            jobs[rows, cols] = policy.encode_windows(torch.as_tensor(obs["ops"][rows, cols], device=device))
            _, shared, mask = _tensors(obs, device, live)
            logits, _ = policy(None, shared, mask, jobs=jobs[live])
            logits = logits.cpu()
        sampled = torch.multinomial(torch.softmax(logits / scale[live], dim=1), 1, generator=gen)[:, 0]
        actions[live] = torch.where(greedy[live], logits.argmax(1), sampled).numpy()
        envs.step(actions)
    mks = (envs.starts + envs.dur).max((1, 2))
    i = int(np.argmin(mks))
    return envs.starts[i].copy(), int(mks[i])


class E2ECPRL(Solver):
    defaults = DEFAULTS
    default_budget = Budget(seconds=60)
    description = "end-to-end RL over the CP dispatching MDP, CP-SAT-guided PPO (Tassel et al. 2023)"
    cp_guidance = True
    version = 6  # what each version changed: solvers/README.md

    def __init__(self, name, device="cpu", **params):
        super().__init__(name, device, **params)
        try:
            self.temps = [float(x) for x in str(self.temperatures).split(",")]
        except ValueError:
            self.temps = []
        if not self.temps or min(self.temps) < 0:
            raise ValueError(f"{name}: temperatures must be comma-separated numbers >= 0 (0: greedy), "
                             f"got {self.temperatures!r}")

    requires = (JobShopView,)

    def supports(self, problem):
        if problem.spec.answer != "solutions":
            return "single-objective job-shop problems only"
        return None

    def checkpoint_path(self) -> Path | None:
        if self.checkpoint in ("", "none"):
            return None
        if self.checkpoint == "shipped":
            path = SHIPPED / f"{self.name}.pt"
            return path if path.exists() else None
        return Path(self.checkpoint)

    def solve(self, problem, clock, seed, log):
        torch.manual_seed(seed)
        seconds = clock.seconds_left if clock.budget.seconds is not None else 60.0
        path = self.checkpoint_path()
        if path is not None:
            policy, _ = load_policy(path, self.device)
        else:  # train within the budget, then sample
            cfg = {k: getattr(self, k) for k in DEFAULTS}
            trainer = Trainer(cfg, self.cp_guidance, seed, self.device)
            trainer.train(seconds * self.train_fraction, log=log)
            policy = trainer.policy
        policy.eval()
        inst = problem.instances()[0]
        deadline = time.monotonic() + clock.seconds_left - 1.0
        gen = torch.Generator().manual_seed(seed)
        # the greedy episode first, so that an answer exists however large the instance; then
        # sampled batches until the deadline, each sized to fit the time left at the last
        # batch's seconds per episode (an overestimate: a batch's fixed cost is shared)
        t0 = time.monotonic()
        best, best_mk = sample_schedules(policy, inst, 1, 0.0, self.device, gen)
        per_episode = time.monotonic() - t0
        log(clock.steps, float(best_mk))
        i = sampled = 0
        while (size := min(self.samples, int(0.9 * (deadline - time.monotonic()) / per_episode))) >= 1:
            t0 = time.monotonic()
            row_temps = [self.temps[(sampled + r) % len(self.temps)] for r in range(size)]
            starts, mk = sample_schedules(policy, inst, size, row_temps, self.device, gen, deadline=deadline)
            per_episode = (time.monotonic() - t0) / size
            i, sampled = i + 1, sampled + (size if starts is not None else 0)
            if mk < best_mk:
                best, best_mk = starts, mk
                log(clock.steps, float(mk))
        return Outcome(solutions=[best], info={"batches": i, "episodes": 1 + sampled, "makespan": best_mk,
                                               "policy": str(path) if path is not None else "trained in the run"})


class PPODispatch(E2ECPRL):
    description = "PPO on the CP dispatching MDP, same network, no CP guidance (ablation of e2e-cp-rl)"
    cp_guidance = False


register_solver("e2e-cp-rl", E2ECPRL)
register_solver("ppo-dispatch", PPODispatch)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train e2e-cp-rl / ppo-dispatch on generated instances (resumable).")
    ap.add_argument("--variant", choices=["e2e-cp-rl", "ppo-dispatch"], default="e2e-cp-rl")
    ap.add_argument("--out", required=True, help="checkpoint file (resumed when it exists)")
    ap.add_argument("--seconds", type=float, default=7200.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=DEFAULTS["train_jobs"])
    ap.add_argument("--machines", type=int, default=DEFAULTS["train_machines"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--init", help="start from this exported policy (fine-tuning; ignored when --out is resumed)")
    ap.add_argument("--export", help="after training, write the policy alone (what ships) to this file")
    a = ap.parse_args(argv)
    cfg = {**DEFAULTS, "train_jobs": a.jobs, "train_machines": a.machines}
    trainer = Trainer(cfg, a.variant == "e2e-cp-rl", a.seed, a.device)
    out = Path(a.out)
    if out.exists():
        trainer.load_state_dict(torch.load(out, map_location=a.device, weights_only=True))
        print(f"resumed from {out} at iteration {trainer.iteration}")
    elif a.init:
        trainer.init_from(a.init)
        print(f"starting from {a.init}: {trainer.lineage[-1]}")

    def log(steps, ratio, episodes):
        print(f"iter {trainer.iteration:5d}  steps {steps:9d}  episodes {int(episodes):6d}  "
              f"makespan / initial bound {ratio:.4f}", flush=True)
    trainer.train(a.seconds, out, log=log)
    if a.export:
        small = export_policy(out, Path(a.export))
        before = sum(x["seconds"] for x in small.get("lineage", []))
        print(f"exported {a.export}: iteration {small['iteration']}, {small['episodes']} episodes, "
              f"{small.get('seconds', 0):.0f} s of training" + (f" after {before:.0f} s before it" if before else ""))


if __name__ == "__main__":
    main()
