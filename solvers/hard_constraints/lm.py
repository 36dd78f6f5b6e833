"""A batched Levenberg-Marquardt least-squares solve, differentiable by the implicit function
theorem (a ``torch.autograd.Function``).

``solve(fn, w0, *theta)`` minimises 0.5 ||fn(w, *theta)||^2 over w for P independent problems
at once: ``w`` is [P, N], every ``theta`` has P leading rows, ``fn`` returns residuals [P, M]
and must be composable with ``torch.func`` (vmap / jvp / grad); a ``jacobian`` attribute
(w, *theta) -> (r, J) replaces the forward-mode Jacobian in the iteration, and ``hessian``
(w, *theta) -> H [P, N, N] and ``gradient`` (w, *theta) -> J^T r [P, N] (differentiable in
theta) replace the forward-over-reverse ones in the backward pass. The iteration follows
optimistix's ``LevenbergMarquardt`` (the authors' solver): a trust-region step size s (x3.5 on
a good step, x0.25 on a rejected one), damping 1/s on the identity, acceptance when the actual
decrease is at least 1% of the Gauss-Newton prediction, and a Cauchy stopping test on the
step and on every residual entry (|change| < atol + rtol |value|). Finished problems are
frozen while the others go on; the last accepted iterate is returned, converged or not.

Backward: at the returned w*, the optimality condition g(w, theta) = J^T r = 0 gives
dw*/dtheta = -H^-1 dg/dtheta with H = dg/dw the full Hessian of 0.5 ||r||^2 (not the
Gauss-Newton J^T J), so one N x N solve per problem and one vector-Jacobian product.

Why our own and not theseus-ai: its PyPI release is a source distribution that builds C++
extensions and needs SuiteSparse headers, its implicit backward is a Gauss-Newton
approximation (a final step with J^T J, not the full Hessian), and its factor-graph API adds
nothing for 16 unknowns per problem; this module is the authors' algorithm in ~120 lines.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import grad, jvp, vjp, vmap


_FLAT = 1e3 * torch.finfo(torch.float64).eps  # relative rounding level of 0.5 ||r||^2 (see lm_solve)


@dataclass
class LMOptions:
    max_steps: int = 50
    rtol: float = 1e-4
    atol: float = 1e-4


def jacobian(fn, w, theta, eye):
    """(r [P, M], J [P, M, N]): from ``fn.jacobian(w, *theta)`` when the residual has one
    (analytic), else by N forward-mode products (the problems are independent)."""
    if hasattr(fn, "jacobian"):
        return fn.jacobian(w, *theta)
    P, N = w.shape
    r = fn(w, *theta)
    J = vmap(lambda v: jvp(lambda y: fn(y, *theta), (w,), (v.expand(P, N),))[1], out_dims=2)(eye)
    return r, J


@torch.no_grad()
def lm_solve(fn, w0, theta, opts: LMOptions):
    """-> (w* [P, N], steps taken [P], converged [P])."""
    P, N = w0.shape
    eye = torch.eye(N, dtype=w0.dtype, device=w0.device)
    y = w0.clone()
    y_eval = w0.clone()
    s = torch.ones(P, dtype=w0.dtype, device=w0.device)
    r = J = None
    done = torch.zeros(P, dtype=torch.bool, device=w0.device)
    steps = torch.zeros(P, dtype=torch.long, device=w0.device)
    for n in range(opts.max_steps):
        r_e, J_e = jacobian(fn, y_eval, theta, eye)
        live = ~done
        if r is None:  # the first evaluation is accepted by fiat
            r, J = r_e, J_e
        else:
            d = y_eval - y
            Jd = torch.einsum("pmn,pn->pm", J, d)
            # both decreases as sums of products of differences: near the optimum the plain
            # difference of two sums of squares is all rounding, and it rejects every step
            pred = 0.5 * (Jd * (Jd + 2 * r)).sum(1)
            actual = 0.5 * ((r_e - r) * (r_e + r)).sum(1)
            # once the predicted decrease is at the rounding level of 0.5 ||r||^2 the two
            # decreases are noise (every step would be rejected, the iterate stuck where
            # |J^T r| ~ sqrt(eps) |r|); there a step is accepted when it lowers |J^T r|,
            # which is still computed accurately
            flat = pred.abs() <= _FLAT * (r * r).sum(1)
            g_e = torch.einsum("pmn,pm->pn", J_e, r_e).norm(dim=1)
            g_y = torch.einsum("pmn,pm->pn", J, r).norm(dim=1)
            accept = torch.where(flat, g_e < g_y, actual <= 0.01 * pred) & live
            good = accept & ~flat & (pred < 0) & (actual < 0.99 * pred)
            s = torch.where(good, 3.5 * s, torch.where(accept | ~live, s, 0.25 * s))
            small_step = ((y_eval - y).abs() / (opts.atol + opts.rtol * y_eval.abs())).amax(1) < 1
            small_change = ((r_e - r).abs() / (opts.atol + opts.rtol * r_e.abs())).amax(1) < 1
            a = accept[:, None]
            y = torch.where(a, y_eval, y)
            r = torch.where(a, r_e, r)
            J = torch.where(a[:, :, None], J_e, J)
            done = done | (accept & small_step & small_change)
            steps = steps + live.long()
            if bool(done.all()):
                break
        lam = torch.where(s > torch.finfo(s.dtype).eps, 1.0 / s, torch.full_like(s, torch.finfo(s.dtype).max))
        A = J.transpose(1, 2) @ J + lam[:, None, None] * eye
        delta = torch.linalg.solve(A, torch.einsum("pmn,pm->pn", J, r))
        y_eval = torch.where(done[:, None], y, y - delta)
    return y, steps, done


def hessian(fn, w, theta):
    """H [P, N, N] of 0.5 ||fn(w, *theta)||^2 per problem (forward over reverse)."""
    P, N = w.shape
    g = grad(lambda y: 0.5 * (fn(y, *theta) ** 2).sum())
    eye = torch.eye(N, dtype=w.dtype, device=w.device)
    return vmap(lambda v: jvp(g, (w,), (v.expand(P, N),))[1], out_dims=2)(eye)


class _ImplicitLM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, opts, stats, w0, *theta):
        w, steps, done = lm_solve(fn, w0.detach(), [t.detach() for t in theta], opts)
        ctx.fn = fn
        ctx.save_for_backward(w, *theta)
        if stats is not None:
            stats.update(steps=steps, converged=done)
        return w

    @staticmethod
    def backward(ctx, g_w):
        w, *theta = ctx.saved_tensors
        fn = ctx.fn
        theta = [t.detach() for t in theta]
        H = fn.hessian(w, *theta) if hasattr(fn, "hessian") else hessian(fn, w, theta)
        lam = torch.linalg.solve(H, g_w.unsqueeze(-1)).squeeze(-1)

        def optimality(*th):
            if hasattr(fn, "gradient"):
                return fn.gradient(w, *th)
            return grad(lambda y: 0.5 * (fn(y, *th) ** 2).sum())(w)
        _, pull = vjp(optimality, *theta)
        grads = pull(-lam)
        return (None, None, None, None, *grads)


def solve(fn, w0, *theta, opts: LMOptions | None = None, stats: dict | None = None):
    """w* = argmin_w 0.5 ||fn(w, *theta)||^2 per problem, differentiable in ``theta`` (not in
    ``w0``). ``stats``, when given, receives the steps taken and which problems converged."""
    return _ImplicitLM.apply(fn, opts or LMOptions(), stats, w0, *theta)
