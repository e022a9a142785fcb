"""Spike detection and resets inside a diffrax solve.

diffrax events terminate a solve, which does not fit a population where every neuron
spikes at its own times. `SpikeRecorder` instead wraps any diffrax solver: after each
step it finds the neurons whose voltage crossed the threshold upward, locates each
crossing to sub-step accuracy (root of the solver's own dense interpolant, evaluated
at one time per neuron), and writes the times into a fixed-size per-neuron
buffer carried in the solver state. diffrax keeps a solver state only for accepted
steps, so rejected adaptive steps record nothing. Memory is O(N·max_spikes), never
O(N·steps).

For models with a reset (LIF-type) the crossing also resets the neuron *at the crossing
time*: the state there is interpolated, `model.reset` is applied, and the rest of the
step is integrated from the crossing (or from the end of the refractory period) with
the same solver. Per-neuron sub-intervals are handled in one vectorised step by a time
rescaling t = a + s·(t1 − a), s ∈ [0, 1], with a per-neuron start a. At most one spike per
neuron per step is resolved; choose dt below the shortest inter-spike interval.
"""

from __future__ import annotations

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..models.base import AbstractNeuron
from .solvers import vf_and_decay

_ROOT_ITERATIONS = 30


class SpikeBuffer(eqx.Module):
    """Spike times (ms) `times[..., k]` (NaN past `count`), the number of crossings
    `count` (may exceed the buffer length: overflow), and the first time the state became
    non-finite (`t_nonfinite`, +inf if never)."""

    times: Array
    count: Array
    t_nonfinite: Array

    @classmethod
    def empty(cls, shape, max_spikes, dtype):
        return cls(
            times=jnp.full(tuple(shape) + (max_spikes,), jnp.nan, dtype=dtype),
            count=jnp.zeros(shape, dtype=jnp.int32),
            t_nonfinite=jnp.asarray(jnp.inf, dtype=dtype),
        )

    def record(self, fired: Array, t_spike: Array) -> "SpikeBuffer":
        """Append `t_spike` for the neurons that `fired` (O(N): one gather and one scatter)."""
        k = self.times.shape[-1]
        flat = self.times.reshape(-1, k)
        count = self.count.reshape(-1)
        rows = jnp.arange(flat.shape[0])
        slot = jnp.minimum(count, k - 1)
        write = fired.reshape(-1) & (count < k)
        t_spike = jnp.broadcast_to(t_spike, fired.shape).astype(flat.dtype).reshape(-1)
        flat = flat.at[rows, slot].set(jnp.where(write, t_spike, flat[rows, slot]))
        return SpikeBuffer(flat.reshape(self.times.shape), self.count + fired.astype(self.count.dtype),
                           self.t_nonfinite)

    def mark_nonfinite(self, bad: Array, t: Array) -> "SpikeBuffer":
        first = jnp.isinf(self.t_nonfinite) & bad
        return SpikeBuffer(self.times, self.count, jnp.where(first, jnp.asarray(t, self.t_nonfinite.dtype), self.t_nonfinite))


def bracketed_root(fn, lo, hi, f_lo, f_hi, iterations: int = _ROOT_ITERATIONS):
    """Elementwise root of `fn` in [lo, hi] given f_lo < 0 ≤ f_hi (Illinois-modified
    regula falsi: superlinear, and the iterate never leaves the bracket)."""

    def secant(lo, hi, f_lo, f_hi):
        denom = f_hi - f_lo
        safe = jnp.where(denom > 0, denom, jnp.ones_like(denom))
        x = jnp.where(denom > 0, lo - f_lo * (hi - lo) / safe, 0.5 * (lo + hi))
        return jnp.clip(x, jnp.minimum(lo, hi), jnp.maximum(lo, hi))

    def body(_, carry):
        lo, hi, f_lo, f_hi, side = carry
        x = secant(lo, hi, f_lo, f_hi)
        f = fn(x)
        right = f >= 0
        # Illinois: halve the stale end's value when the same end moves twice in a row.
        f_lo_new = jnp.where(right, jnp.where(side < 0, f_lo / 2, f_lo), f)
        f_hi_new = jnp.where(right, f, jnp.where(side > 0, f_hi / 2, f_hi))
        lo = jnp.where(right, lo, x)
        hi = jnp.where(right, x, hi)
        side = jnp.where(right, -jnp.ones_like(side), jnp.ones_like(side))
        return lo, hi, f_lo_new, f_hi_new, side

    lo, hi, f_lo, f_hi, _ = jax.lax.fori_loop(0, iterations, body, (lo, hi, f_lo, f_hi, jnp.zeros_like(f_lo)))
    return secant(lo, hi, f_lo, f_hi)


def evaluate_per_neuron(interp, times, shape):
    """Evaluate a diffrax local interpolation at one time per neuron (`times` has the
    population's shape; every state leaf must have exactly that shape)."""
    if shape == ():
        return interp.evaluate(times)
    leaves, treedef = jax.tree.flatten(interp)
    mapped = [jnp.ndim(x) >= 1 for x in leaves]
    flat_times = times.reshape(-1)
    n = flat_times.shape[0]

    def one(cols, t):
        it = iter(cols)
        full = [next(it) if m else x for x, m in zip(leaves, mapped)]
        return jax.tree.unflatten(treedef, full).evaluate(t)

    cols = [x.reshape(x.shape[: x.ndim - len(shape)] + (n,)) for x, m in zip(leaves, mapped) if m]
    out = jax.vmap(one, in_axes=(-1, 0))(cols, flat_times)
    return jax.tree.map(lambda y: y.reshape(shape), out)


class _RescaledTerm(dfx.AbstractTerm):
    """Per-neuron time rescaling: dy/ds = r·f(a + s·r, y) on s ∈ [0, 1]."""

    base: dfx.AbstractTerm
    start: Array
    length: Array

    def vf(self, s, y, args):
        f = self.base.vf(self.start + s * self.length, y, args)
        return jax.tree.map(lambda fi: self.length * fi, f)

    def contr(self, t0, t1, **kwargs):
        return t1 - t0

    def prod(self, vf, control):
        return jax.tree.map(lambda v: control * v, vf)

    def vf_and_decay(self, s, y, args):
        t = self.start + s * self.length
        f, lam = vf_and_decay(self.base, t, y, args)
        return jax.tree.map(lambda fi: self.length * fi, f), jax.tree.map(lambda li: self.length * li, lam)


class SpikeRecorder(dfx.AbstractAdaptiveSolver):
    """Wraps `solver`, recording threshold crossings of `model.voltage` and applying
    `model.reset` for models with a reset. See the module docstring.

    (Deliberately not a diffrax `AbstractWrappedSolver`: `simulate` sets an implicit
    inner solver's root-finder tolerances itself.)"""

    solver: dfx.AbstractSolver
    model: AbstractNeuron
    threshold: Array
    max_spikes: int = eqx.field(static=True)

    @property
    def term_structure(self):
        return self.solver.term_structure

    @property
    def interpolation_cls(self):
        if self.model.has_reset:
            return dfx.LocalLinearInterpolation
        return self.solver.interpolation_cls

    @property
    def term_compatible_contr_kwargs(self):
        return self.solver.term_compatible_contr_kwargs

    def order(self, terms):
        return self.solver.order(terms)

    def strong_order(self, terms):
        return self.solver.strong_order(terms)

    def error_order(self, terms):
        if hasattr(self.solver, "error_order"):
            return self.solver.error_order(terms)
        return None

    def init(self, terms, t0, t1, y0, args):
        V = self.model.voltage(y0)
        buf = SpikeBuffer.empty(jnp.shape(V), self.max_spikes, jnp.result_type(V))
        return self.solver.init(terms, t0, t1, y0, args), buf

    def func(self, terms, t0, y0, args):
        return self.solver.func(terms, t0, y0, args)

    def _locate(self, interp, lo, hi, y0, y1, fired):
        """Crossing time (in the interpolant's time) and the state there, for `fired`."""
        v = self.model.voltage
        V0, V1 = v(y0), v(y1)
        shape = V0.shape

        def g(t):
            return v(evaluate_per_neuron(interp, t, shape)) - self.threshold

        lo = jnp.broadcast_to(lo, shape).astype(V0.dtype)
        hi = jnp.broadcast_to(hi, shape).astype(V0.dtype)
        t_cross = bracketed_root(g, lo, hi, V0 - self.threshold, V1 - self.threshold)
        t_cross = jnp.where(fired, t_cross, hi)
        return t_cross, evaluate_per_neuron(interp, t_cross, shape)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        inner_state, buf = solver_state
        model = self.model
        V0 = model.voltage(y0)
        if model.has_reset:
            y1, y_error, dense, inner_state, result = self._step_with_reset(
                terms, t0, t1, y0, args, inner_state, buf, V0
            )
            y1, buf, y_error = y1
        else:
            y1, y_error, dense, inner_state, result = self.solver.step(
                terms, t0, t1, y0, args, inner_state, made_jump
            )
            V1 = model.voltage(y1)
            fired = (V0 < self.threshold) & (V1 >= self.threshold)
            interp = self.solver.interpolation_cls(t0=t0, t1=t1, **dense)
            # Root finding and recording only run on steps where some neuron fired.
            buf = jax.lax.cond(
                jnp.any(fired),
                lambda b: b.record(fired, self._locate(interp, t0, t1, y0, y1, fired)[0]),
                lambda b: b,
                buf,
            )
        bad = ~jnp.all(jnp.isfinite(model.voltage(y1)))
        buf = buf.mark_nonfinite(bad, t1)
        return y1, y_error, dense, (inner_state, buf), result

    def _step_with_reset(self, terms, t0, t1, y0, args, inner_state, buf, V0):
        model = self.model
        dtype = V0.dtype
        t0a = jnp.asarray(t0, dtype)
        t1a = jnp.asarray(t1, dtype)
        # Each neuron integrates from the end of its refractory period (or t0) to t1.
        start = jnp.clip(model.refractory_end(y0).astype(dtype), t0a, t1a)
        length = t1a - start
        zero, one = jnp.zeros((), dtype), jnp.ones((), dtype)
        term = _RescaledTerm(terms, start, length)
        y1, y_error, dense, inner_state, result = self.solver.step(term, zero, one, y0, args, inner_state, True)
        V1 = model.voltage(y1)
        fired = (V0 < self.threshold) & (V1 >= self.threshold) & (length > 0)
        interp = self.solver.interpolation_cls(t0=zero, t1=one, **dense)

        def with_spikes():
            s_cross, y_cross = self._locate(interp, zero, one, y0, y1, fired)
            t_cross = start + s_cross * length
            y_reset = model.reset(t_cross, y_cross)
            start2 = jnp.clip(model.refractory_end(y_reset).astype(dtype), t_cross, t1a)
            start2 = jnp.where(fired, start2, t1a)
            term2 = _RescaledTerm(terms, start2, t1a - start2)
            y2, _, _, _, _ = self.solver.step(term2, zero, one, y_reset, args, inner_state, True)
            keep = lambda a, b: jnp.where(fired.reshape(fired.shape + (1,) * (a.ndim - fired.ndim)), a, b)
            return jax.tree.map(keep, y2, y1), buf.record(fired, t_cross)

        y_new, buf = jax.lax.cond(jnp.any(fired), with_spikes, lambda: (y1, buf))
        dense = dict(y0=y0, y1=y_new)
        return (y_new, buf, y_error), y_error, dense, inner_state, result
