"""Solvers: diffrax's by lower-case name, plus classic RK4 and exponential Euler."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ClassVar

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from .._numerics import update_factor


class _PointwiseInterpolation(dfx.AbstractLocalInterpolation):
    """A local interpolation defined by its value at one time, `at(t)`."""

    def at(self, t):
        raise NotImplementedError

    def evaluate(self, t0, t1=None, left=True):
        del left
        if t1 is None:
            return self.at(t0)
        return jax.tree.map(lambda a, b: a - b, self.at(t1), self.at(t0))


class RK4Interpolation(_PointwiseInterpolation):
    """Third-order dense output of classic RK4 (Hairer, Nørsett & Wanner, II.6):
    y(t0 + θh) = y0 + Σ b_i(θ) k_i, where k_i are the stage increments (already ×h)."""

    t0: float
    t1: float
    y0: object
    y1: object
    k: object

    def at(self, t):
        theta = (t - self.t0) / (self.t1 - self.t0)
        th2 = theta * theta
        th3 = th2 * theta
        b1 = theta - 1.5 * th2 + (2 / 3) * th3
        b23 = th2 - (2 / 3) * th3
        b4 = -0.5 * th2 + (2 / 3) * th3

        def one(y0, k):
            return y0 + b1 * k[0] + b23 * (k[1] + k[2]) + b4 * k[3]

        return jax.tree.map(one, self.y0, self.k)


def _in_memory(finite_step, k):
    """The stage increments `k`, written to memory before the next stage reads them.
    Left to itself, XLA fuses the whole written-out step into each state variable's
    output and recomputes the earlier stages' arithmetic in every one of them (HH: four
    outputs, ~380 operations each). A conditional is a fusion boundary; its predicate (a
    finite step) is true whenever the step means anything (a non-finite step gives NaN,
    as it would anyway)."""
    return jax.lax.cond(finite_step, lambda k: k, lambda k: jax.tree.map(lambda x: jnp.full_like(x, jnp.nan), k), k)


class RK4(dfx.AbstractSolver):
    """The classic fourth-order Runge–Kutta method (fixed steps only), written out stage
    by stage. `stages_in_memory_from`: from this many state elements on, each stage's
    increments are kept in memory (`_in_memory`; a backend tuning, set by `simulate` from
    its `Tuning`); None: never."""

    stages_in_memory_from: int | None = eqx.field(static=True, default=None)
    term_structure: ClassVar = dfx.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., RK4Interpolation]] = RK4Interpolation

    def order(self, terms):
        return 4

    def init(self, terms, t0, t1, y0, args):
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        h = terms.contr(t0, t1)
        half = 0.5 * h

        def axpy(a, k):
            return jax.tree.map(lambda y, ki: y + a * ki, y0, k)

        size = sum(jnp.size(x) for x in jax.tree.leaves(y0))
        if self.stages_in_memory_from is not None and size >= self.stages_in_memory_from:
            stage = functools.partial(_in_memory, jnp.isfinite(h))
        else:
            def stage(k):
                return k
        k1 = stage(terms.vf_prod(t0, y0, args, h))
        k2 = stage(terms.vf_prod(t0 + half, axpy(0.5, k1), args, h))
        k3 = stage(terms.vf_prod(t0 + half, axpy(0.5, k2), args, h))
        k4 = terms.vf_prod(t1, axpy(1.0, k3), args, h)
        y1 = jax.tree.map(lambda y, a, b, c, d: y + (a + 2 * (b + c) + d) / 6, y0, k1, k2, k3, k4)
        k = jax.tree.map(lambda *ks: jnp.stack(ks), k1, k2, k3, k4)
        return y1, None, dict(y0=y0, y1=y1, k=k), None, dfx.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


class ExponentialEulerInterpolation(_PointwiseInterpolation):
    """y(t) = y0 + (t − t0)·f·φ1(−λ(t − t0)): exact inside a step for frozen tv-LIF rates."""

    t0: float
    t1: float
    y0: object
    f: object
    lam: object

    def at(self, t):
        h = t - self.t0
        return jax.tree.map(lambda y, fi, li: y + h * fi * update_factor(li * h), self.y0, self.f, self.lam)


class ExponentialEuler(dfx.AbstractSolver):
    """Exponential Euler with the model's diagonal linearisation:
    y1 = y0 + h·φ1(−λh)·f(y0), φ1(z) = (e^z − 1)/z, where λ ≥ 0 (1/ms) is the model's
    `decay_rates`. Exact for every tv-LIF component with frozen τ and rest (the HH gates
    over one step); reduces to Euler where λ = 0. First order; fixed steps. φ1 is
    `update_factor`: rounding errors of the update about ulp·|y∞ − y| (y∞ = y + f/λ).

    Needs the term to be a `ModelTerm` (built by `hhjax.simulate`).
    """

    term_structure: ClassVar = dfx.AbstractTerm
    interpolation_cls: ClassVar = ExponentialEulerInterpolation

    def order(self, terms):
        return 1

    def init(self, terms, t0, t1, y0, args):
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        h = terms.contr(t0, t1)
        f, lam = vf_and_decay(terms, t0, y0, args)
        y1 = jax.tree.map(lambda y, fi, li: y + h * fi * update_factor(li * h), y0, f, lam)
        return y1, None, dict(y0=y0, f=f, lam=lam), None, dfx.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


class ModelTerm(dfx.ODETerm):
    """An `ODETerm` that also carries the model's decay rates (for `ExponentialEuler`) and,
    on a fixed grid, the exact step.

    `decay(t, y, args)` returns the pytree of linear decay rates λ (1/ms). `step` (ms): the
    length of every step, exactly, for loops that step t by a fixed dt (the network loop);
    None: t1 − t0, which for rounded times is off by up to an ulp of t — in float32 1 % of a
    0.1 ms step at t = 10 s, enough to shift spikes by milliseconds."""

    decay: Callable = eqx.field(static=False, default=None)
    step: float | None = None

    def contr(self, t0, t1, **kwargs):
        span = t1 - t0
        return span if self.step is None else jnp.asarray(self.step, jnp.result_type(span))

    def vf_and_decay(self, t, y, args):
        return self.vf(t, y, args), self.decay(t, y, args)


def vf_and_decay(term, t, y, args):
    """(f, λ) from a `ModelTerm`, looking through the terms diffrax wraps it in (its
    forward-time wrapper keeps the wrapped term as `.term`; simulate integrates forward)."""
    while not hasattr(term, "vf_and_decay"):
        inner = getattr(term, "term", None)
        if not isinstance(inner, dfx.AbstractTerm):
            raise TypeError("ExponentialEuler needs a hhjax ModelTerm with decay rates (use hhjax.simulate)")
        term = inner
    return term.vf_and_decay(t, y, args)


# Lower-case names of the solvers accepted by `simulate` and the CLI.
SOLVERS: dict[str, Callable[[], dfx.AbstractSolver]] = {
    "euler": dfx.Euler,
    "heun": dfx.Heun,
    "midpoint": dfx.Midpoint,
    "ralston": dfx.Ralston,
    "bosh3": dfx.Bosh3,
    "rk4": RK4,
    "tsit5": dfx.Tsit5,
    "dopri5": dfx.Dopri5,
    "dopri8": dfx.Dopri8,
    "implicit_euler": dfx.ImplicitEuler,
    "kvaerno3": dfx.Kvaerno3,
    "kvaerno4": dfx.Kvaerno4,
    "kvaerno5": dfx.Kvaerno5,
    "expeuler": ExponentialEuler,
}

# Solvers run with an adaptive PID step-size controller unless told otherwise.
ADAPTIVE_BY_DEFAULT = {"bosh3", "tsit5", "dopri5", "dopri8", "kvaerno3", "kvaerno4", "kvaerno5"}


def get_solver(solver) -> tuple[str, dfx.AbstractSolver]:
    """Resolve a solver name (case-insensitive) or instance to (name, instance)."""
    if isinstance(solver, dfx.AbstractSolver):
        return type(solver).__name__.lower(), solver
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a name or a diffrax solver, got {type(solver).__name__}")
    name = solver.strip().lower().replace("-", "_")
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose from {sorted(SOLVERS)}")
    return name, SOLVERS[name]()


def is_adaptive_capable(solver: dfx.AbstractSolver) -> bool:
    return isinstance(solver, dfx.AbstractAdaptiveSolver)


