"""What it takes to hold 90% of fruit-tree's front HV, and what C-MORL's steps can reach there.

    python benchmarks/morl_fruit_tree_front.py [--betas 0.9,0.8,0.7,0.5]

Computed from the known front alone (the 64 leaves of `mogym/fruit-tree-v0`, the engine's
reference, HV at the task's reference point, the origin); no policy is trained:

1. the HV share of the best k leaves (greedy by HV gain): how many deterministic policies, each
   ending in one leaf, a solver must return at the least;
2. the leaves that weighted-sum policies reach: the maximiser of w . J for every w on the
   simplex lattice of p partitions (C-MORL's and linear-ppo's initialisation grid; p = 1 is the
   authors' fruit-tree setting, the corners) and their HV share;
3. C-MORL's extension step solved exactly on the front: from leaf a and objective i, the leaf
   of largest J_i among those with J_j >= beta J_j(a) for every j != i (the paper's constraint).
   Started from the corners (what the authors' initialisation returns), the leaves reachable by
   chains of such steps and their HV share, per beta.
"""
from __future__ import annotations

import argparse

import numpy as np
from pymoo.util.ref_dirs import get_reference_directions

from mobench.metrics import hypervolume
from mobench.registry import make


def greedy_subset_shares(F, ref, senses) -> list[float]:
    """HV share of the first k leaves chosen greedily by HV gain, k = 1..len(F)."""
    total, chosen, rest, shares = hypervolume(F, ref, senses), [], list(range(len(F))), []
    while rest:
        best = max(rest, key=lambda i: hypervolume(F[chosen + [i]], ref, senses))
        chosen.append(best)
        rest.remove(best)
        shares.append(hypervolume(F[chosen], ref, senses) / total)
    return shares


def extension_step(F, a: int, i: int, beta: float) -> int | None:
    """The exact constrained step from leaf a for objective i (None: no leaf improves J_i)."""
    others = np.arange(F.shape[1]) != i
    ok = (F[:, i] > F[a, i]) & np.all(F[:, others] >= beta * F[a, others], 1)
    return int(np.flatnonzero(ok)[np.argmax(F[ok, i])]) if ok.any() else None


def reachable(F, starts, beta: float) -> set[int]:
    seen, todo = set(starts), list(starts)
    while todo:
        a = todo.pop()
        for i in range(F.shape[1]):
            b = extension_step(F, a, i, beta)
            if b is not None and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--betas", default="0.9,0.8,0.7,0.5")
    a = ap.parse_args()
    problem = make("mogym/fruit-tree-v0")
    F, ref, senses = np.asarray(problem.reference().front, float), problem.spec.hv_ref_point, problem.spec.senses
    total = hypervolume(F, ref, senses)
    share = lambda idx: 100 * hypervolume(F[sorted(idx)], ref, senses) / total
    print(f"fruit-tree: {len(F)} leaves, front HV {total:.1f} at {list(ref)}")

    shares = greedy_subset_shares(F, ref, senses)
    need = {t: 1 + int(np.argmax(np.asarray(shares) >= t - 1e-12)) for t in (0.5, 0.75, 0.9, 0.95)}
    print("1. best k leaves: " + ", ".join(f"k = {k}: {100 * shares[k - 1]:.1f}%" for k in (1, 6, 12, 21, 32))
          + "; leaves needed for " + ", ".join(f"{int(100 * t)}%: {k}" for t, k in need.items()))

    print("2. weighted-sum maximisers on the simplex lattice:")
    for p in (1, 2, 3, 4):
        W = get_reference_directions("das-dennis", F.shape[1], n_partitions=p)
        leaves = set((W @ F.T).argmax(1).tolist())
        print(f"   p = {p}: {len(W)} weights, {len(leaves)} leaves, {share(leaves):.1f}% of the HV")

    corners = {int(F[:, i].argmax()) for i in range(F.shape[1])}
    print("3. C-MORL's constrained step solved exactly, from the corners:")
    for beta in (float(b) for b in a.betas.split(",")):
        steps = sum(extension_step(F, s, i, beta) is not None for s in range(len(F)) for i in range(F.shape[1]))
        seen = reachable(F, corners, beta)
        print(f"   beta = {beta:g}: {steps} of {len(F) * F.shape[1]} (leaf, objective) pairs have a feasible "
              f"improving leaf; reachable from the corners: {len(seen)} leaves, {share(seen):.1f}% of the HV")


if __name__ == "__main__":
    main()
