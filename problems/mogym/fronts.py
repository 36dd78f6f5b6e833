"""Exact Pareto fronts computed here, where MO-Gymnasium's own are wrong or missing.

Resource gathering (Barrett & Narayanan, ICML 2008; MO-Gymnasium ``resource-gathering-v0``):
MO-Gymnasium's ``pareto_front(gamma)`` lists six hand-written routes and misses the route that
collects gold and gem while avoiding both enemies (18 steps): at gamma = 1 that route's
(0, 1, 1) dominates every listed point, and at every gamma < 1 it is on the front but missing.
The front here is exact for deterministic stationary policies: the grid is read from the
installed environment, and every walk from home that is simple within each phase (no state
visited twice: a deterministic stationary policy that revisits a state loops forever) and
ends home is enumerated up to ``max_steps``; each walk's expected discounted return follows
from its length and the steps at which it crosses an enemy (killed with probability 0.1 there,
MO-Gymnasium's rule). Walks longer than 20 steps are never on the front: the longest route on
it takes 18 (checked against ``max_steps=24`` at gamma = 1, 0.99, 0.97, 0.95 and 0.9 when this
was written: the same fronts).
"""
from __future__ import annotations

import numpy as np

from ...metrics import nondominated

ENEMY_KILL_PROB = 0.1  # ResourceGathering.step: killed with probability 0.1 on an enemy cell


def _walks(grid, home, max_steps: int) -> set:
    """(length, enemy-crossing steps, gold, gem) of every such walk."""
    rows, cols = grid.shape
    out: set = set()

    def dfs(pos, gold, gem, t, enemies, seen):
        if t >= max_steps:
            return
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            r, c = pos[0] + dr, pos[1] + dc
            if not (0 <= r < rows and 0 <= c < cols):
                continue  # a wall: the state repeats
            cell = grid[r, c]
            if cell == "H":
                out.add((t + 1, enemies, gold, gem))
                continue
            g2, m2 = gold or cell == "R1", gem or cell == "R2"
            e2 = enemies + ((t + 1,) if cell in ("E1", "E2") else ())
            key = (r, c, g2, m2)
            if (g2, m2) != (gold, gem):     # a new phase: its states are new
                dfs((r, c), g2, m2, t + 1, e2, {key})
            elif key not in seen:
                seen.add(key)
                dfs((r, c), g2, m2, t + 1, e2, seen)
                seen.discard(key)

    dfs(tuple(home), False, False, 0, (), {(*home, False, False)})
    return out


def resource_gathering_front(gamma: float, max_steps: int = 20) -> np.ndarray:
    """The Pareto front [k, 3] (enemy, gold, gem; all maximised) of expected returns
    discounted by ``gamma`` (the first step undiscounted) over deterministic stationary policies."""
    import mo_gymnasium as mog
    env = mog.make("resource-gathering-v0").unwrapped
    grid, home = np.asarray(env.map), [int(x) for x in env.initial_pos]
    values = []
    for length, enemies, gold, gem in _walks(grid, home, max_steps):
        alive, death = 1.0, 0.0
        for t in enemies:
            death -= ENEMY_KILL_PROB * alive * gamma ** (t - 1)
            alive *= 1 - ENEMY_KILL_PROB
        values.append([death, alive * gamma ** (length - 1) * gold, alive * gamma ** (length - 1) * gem])
    V = np.unique(np.round(np.array(values), 12), axis=0)
    return nondominated(V, ["max"] * 3)
