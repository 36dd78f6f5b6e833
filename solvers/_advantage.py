"""Generalised advantage estimation (Schulman et al. 2016), shared by the suite's own PPO
loops (`ppo-lagrangian`, `e2e-cp-rl`); works on numpy arrays and torch tensors alike."""


def gae(rew, val, last_val, dones, gamma: float, lam: float):
    """rew, val, dones: [T, N]; dones[t] = the episode ended after step t; last_val [N]: the
    value after the last step. -> (advantages, returns), both [T, N]."""
    adv, last = rew * 0, 0.0
    for t in reversed(range(len(rew))):
        nxt = last_val if t == len(rew) - 1 else val[t + 1]
        nonterm = 1.0 - dones[t]
        delta = rew[t] + gamma * nxt * nonterm - val[t]
        last = delta + gamma * lam * nonterm * last
        adv[t] = last
    return adv, adv + val
