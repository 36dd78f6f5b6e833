"""The pieces of PPO (Schulman et al. 2017) that the suite's own PPO loops share (`c-morl`,
`pgmorl`, `ppo-lagrangian`, `e2e-cp-rl`): default hyper-parameters, generalised advantage
estimation, standardisation and the clipped surrogate. Each works on numpy arrays and torch
tensors alike (``standardise`` keeps each library's own standard deviation: numpy's population
one, torch's sample one). The `ppo` solver is Stable-Baselines3's and needs none of them."""

# Defaults of the clipped-surrogate update (CleanRL's and Stable-Baselines3's for PPO).
PPO_DEFAULTS = {
    "lr": 3e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
}


def ppo_defaults(*names: str) -> dict:
    """The shared defaults named (all of them when none is named)."""
    return {k: PPO_DEFAULTS[k] for k in (names or PPO_DEFAULTS)}


def gae(rew, val, last_val, dones, gamma: float, lam: float):
    """Generalised advantage estimation (Schulman et al. 2016). rew, val, dones: [T, N];
    dones[t] = the episode ended after step t; last_val [N]: the value after the last step.
    -> (advantages, returns), both [T, N]."""
    adv, last = rew * 0, 0.0
    for t in reversed(range(len(rew))):
        nxt = last_val if t == len(rew) - 1 else val[t + 1]
        nonterm = 1.0 - dones[t]
        delta = rew[t] + gamma * nxt * nonterm - val[t]
        last = delta + gamma * lam * nonterm * last
        adv[t] = last
    return adv, adv + val


def standardise(x):
    """(x - mean) / (std + 1e-8)."""
    return (x - x.mean()) / (x.std() + 1e-8)


def clipped_surrogate(ratio, adv, clip: float):
    """PPO's policy loss: minus the mean of min(ratio A, clip(ratio, 1 - clip, 1 + clip) A)."""
    return -(ratio * adv).minimum(ratio.clamp(1 - clip, 1 + clip) * adv).mean()
