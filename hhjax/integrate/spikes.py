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

import dataclasses

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..models.base import AbstractNeuron
from .solvers import vf_and_decay

_ROOT_ITERATIONS = 40
# Populations from this size on locate crossings in batches of `_LOCATE_BATCH` neurons
# (`SpikeRecorder._locate_in_batches`) in a loop that is not differentiated; smaller ones
# search on the whole population, which compiles to less.
_BATCHED_FROM_NEURONS = 1_000
_LOCATE_BATCH = 64


class SpikeBuffer(eqx.Module):
    """Spike times (ms) `times[..., k]` (NaN past `count`) and the number of crossings
    `count` (may exceed the buffer length: overflow).

    A record is elementwise work and one scatter (a serial loop over the population on
    the CPU), so callers record only on steps where some neuron fired, or once per block of
    steps for a large population. A state that turns
    NaN/inf stays so (NaN is absorbing), so `simulate` checks the final state instead of
    every step.
    """

    times: Array
    count: Array

    @classmethod
    def empty(cls, shape, max_spikes, dtype):
        return cls(
            times=jnp.full(tuple(shape) + (max_spikes,), jnp.nan, dtype=dtype),
            count=jnp.zeros(shape, dtype=jnp.int32),
        )

    def record(self, fired: Array, t_spike: Array) -> "SpikeBuffer":
        """Append `t_spike` for the neurons that `fired`: one scatter in which the other
        neurons' writes are dropped (so their `t_spike` may be anything finite)."""
        k = self.times.shape[-1]
        fired = jnp.broadcast_to(fired, self.count.shape)
        count = self.count.reshape(-1)
        n = count.shape[0]
        write = fired.reshape(-1) & (count < k)
        pos = jnp.where(write, jnp.arange(n, dtype=count.dtype) * k + count, n * k)
        t_flat = jnp.broadcast_to(t_spike, fired.shape).astype(self.times.dtype).reshape(-1)
        flat = self.times.reshape(-1).at[pos].set(t_flat, mode="drop", indices_are_sorted=True)
        return SpikeBuffer(flat.reshape(self.times.shape), self.count + fired.astype(self.count.dtype))

    def record_if_any(self, fired: Array, t_spike: Array) -> "SpikeBuffer":
        """`record`, skipped (by a conditional) when no neuron fired: for loops in which most
        steps of a small population record nothing."""
        return jax.lax.cond(jnp.any(fired), lambda b: b.record(fired, t_spike), lambda b: b, self)


def _fraction_to_threshold(V0, V1, thr, fired):
    """Where along the straight line from V0 to V1 the voltage reaches `thr`, in [0, 1],
    for the neurons that `fired` (1 for the others, with finite gradients)."""
    denom = jnp.where(fired, V1 - V0, jnp.ones_like(V0))
    return jnp.where(fired, jnp.clip((thr - V0) / denom, 0.0, 1.0), jnp.ones_like(V0))


def bracketed_root(fn, lo, hi, f_lo, f_hi, max_iterations: int = _ROOT_ITERATIONS):
    """Elementwise root of `fn` in [lo, hi] given f_lo < 0 ≤ f_hi (Illinois-modified
    regula falsi: superlinear, and the iterate never leaves the bracket). Stops when every
    iterate has settled to a few ulps (one or two iterations for a linear interpolant)."""

    def secant(lo, hi, f_lo, f_hi):
        denom = f_hi - f_lo
        safe = jnp.where(denom > 0, denom, jnp.ones_like(denom))
        x = jnp.where(denom > 0, lo - f_lo * (hi - lo) / safe, 0.5 * (lo + hi))
        return jnp.clip(x, jnp.minimum(lo, hi), jnp.maximum(lo, hi))

    eps = jnp.finfo(jnp.result_type(lo)).eps
    tol = 4 * eps * jnp.maximum(jnp.maximum(jnp.abs(lo), jnp.abs(hi)), 1.0)

    def cond(carry):
        *_, done, it = carry
        return (it < max_iterations) & ~jnp.all(done)

    def body(carry):
        lo, hi, f_lo, f_hi, side, x_prev, done, it = carry
        x = secant(lo, hi, f_lo, f_hi)
        f = fn(x)
        right = f >= 0
        # Illinois: halve the stale end's value when the same end moves twice in a row.
        f_lo_new = jnp.where(right, jnp.where(side < 0, f_lo / 2, f_lo), f)
        f_hi_new = jnp.where(right, f, jnp.where(side > 0, f_hi / 2, f_hi))
        lo = jnp.where(right, lo, x)
        hi = jnp.where(right, x, hi)
        side = jnp.where(right, -jnp.ones_like(side), jnp.ones_like(side))
        done = (jnp.abs(x - x_prev) <= tol) | (f == 0)
        return lo, hi, f_lo_new, f_hi_new, side, x, done, it + 1

    init = (lo, hi, f_lo, f_hi, jnp.zeros_like(f_lo), jnp.full_like(lo, jnp.inf),
            jnp.zeros(jnp.shape(lo), bool), jnp.asarray(0))
    lo, hi, f_lo, f_hi, *_ = jax.lax.while_loop(cond, body, init)
    return secant(lo, hi, f_lo, f_hi)


def _split_per_neuron(interp, shape):
    """Columns of an interpolant's per-neuron leaves (population axes flattened last) and
    a function evaluating one neuron's interpolant from its column slice."""
    leaves, treedef = jax.tree.flatten(interp)
    k = len(shape)
    mapped = [jnp.ndim(x) >= k and jnp.shape(x)[jnp.ndim(x) - k:] == shape for x in leaves]
    cols = [x.reshape(x.shape[: x.ndim - k] + (-1,)) for x, m in zip(leaves, mapped) if m]

    def one(col, t):
        it = iter(col)
        full = [next(it) if m else x for x, m in zip(leaves, mapped)]
        return jax.tree.unflatten(treedef, full).evaluate(t)

    return cols, one


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
    # A located crossing ends with one Newton step, which carries its derivative; a loop
    # that is never differentiated leaves it out (about 0.3–0.5 s less to compile with Tsit5).
    newton_step: bool = eqx.field(static=True, default=True)

    def forward_only(self) -> "SpikeRecorder":
        """The same recorder for a loop that is never differentiated."""
        return dataclasses.replace(self, newton_step=False)

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
        """Crossing time (in the interpolant's time) and the state there, for the neurons
        that `fired` (others get `hi` and the state there)."""
        v = self.model.voltage
        V0, V1 = v(y0), v(y1)
        shape = V0.shape
        dtype = V0.dtype
        thr = jnp.broadcast_to(self.threshold, shape).astype(dtype)
        lo = jnp.broadcast_to(lo, shape).astype(dtype)
        hi = jnp.broadcast_to(hi, shape).astype(dtype)
        if type(interp) is dfx.LocalLinearInterpolation:
            return self._locate_on_line(lo, hi, y0, y1, V0, V1, thr, fired)
        if shape == ():
            def evaluate(t):
                return interp.evaluate(t)

            def g(t):
                return v(evaluate(t)) - thr

            f_lo, f_hi, mask = V0 - thr, V1 - thr, fired
        else:
            # All neurons are iterated together (cheap elementwise work; the loop stops as
            # soon as the fired ones have converged, after 1–2 passes for a linear interpolant).
            cols, one = _split_per_neuron(interp, shape)
            lo, hi, f_lo, f_hi, thr = (x.reshape(-1) for x in (lo, hi, V0 - thr, V1 - thr, thr))
            mask = fired.reshape(-1)
            f_lo = jnp.where(mask, f_lo, -jnp.ones_like(f_lo))
            f_hi = jnp.where(mask, f_hi, jnp.zeros_like(f_hi))

            def evaluate(t):
                return jax.vmap(one, in_axes=(-1, 0))(cols, t)

            def g(t):
                return v(evaluate(t)) - thr

        sg = jax.lax.stop_gradient
        t = bracketed_root(lambda t: sg(g(t)), sg(lo), sg(hi), sg(f_lo), sg(f_hi))
        if self.newton_step:
            # One Newton step from the converged root carries the implicit-function-theorem
            # derivative dt*/dp = −(∂V/∂p)/(dV/dt) (the while loop itself is not differentiated).
            value, slope = jax.jvp(g, (t,), (jnp.ones_like(t),))
            safe = jnp.where(slope != 0, slope, jnp.ones_like(slope))
            t = jnp.where(slope != 0, t - value / safe, t)
        t = jnp.where(mask, t, hi)
        return t.reshape(shape), jax.tree.map(lambda x: x.reshape(shape), evaluate(t))

    @staticmethod
    def _locate_on_line(lo, hi, y0, y1, V0, V1, thr, fired):
        """`_locate` for a linear interpolant (Euler's, Heun's; every reset model's): the
        crossing in closed form (`_fraction_to_threshold`), whose derivative is the one the
        Newton step gives — no root search (on a large population, where some neuron
        fires on every step, that search ran every step)."""
        frac = _fraction_to_threshold(V0, V1, thr, fired)

        def at(a, b):
            f = frac.reshape(frac.shape + (1,) * (jnp.ndim(a) - frac.ndim))
            return a + f * (b - a)

        return lo + frac * (hi - lo), jax.tree.map(at, y0, y1)

    def _crossing_times(self, interp, lo, hi, y0, y1, fired):
        """Crossing times on [lo, hi] (the interpolant's time). The linear estimate is
        exact for a linear interpolant (Euler); otherwise it is refined on the solver's
        dense output, only on steps where some neuron fired."""
        V0, V1 = self.model.voltage(y0), self.model.voltage(y1)
        if self.solver.interpolation_cls is dfx.LocalLinearInterpolation:
            return lo + (hi - lo) * _fraction_to_threshold(V0, V1, self.threshold, fired)
        if not self.newton_step and V0.size >= _BATCHED_FROM_NEURONS:
            return self._locate_in_batches(interp, lo, hi, V0, V1, fired)
        return jax.lax.cond(
            jnp.any(fired),
            lambda: self._locate(interp, lo, hi, y0, y1, fired)[0],
            lambda: jnp.broadcast_to(jnp.asarray(hi, V0.dtype), V0.shape),
        )

    def _locate_in_batches(self, interp, lo, hi, V0, V1, fired):
        """Crossing times like `_locate`'s, for a large population in a loop that is not
        differentiated: the root search runs on the neurons that fired only, gathered
        `_LOCATE_BATCH` at a time (a pass per batch; usually one), instead of on the whole
        population (at N = 10,000 with Tsit5 some neuron fires on nearly every step, and
        iterating all of them took two thirds of the solve)."""
        shape, dtype, n = V0.shape, V0.dtype, V0.size
        cols, one = _split_per_neuron(interp, shape)
        flat = [jnp.broadcast_to(jnp.asarray(x, dtype), shape).reshape(-1) for x in (lo, hi, self.threshold)]
        lo, hi, thr = flat
        f_lo, f_hi = V0.reshape(-1) - thr, V1.reshape(-1) - thr
        voltage = self.model.voltage

        def one_batch(carry):
            t, left = carry
            (idx,) = jnp.nonzero(left, size=_LOCATE_BATCH, fill_value=0)
            valid = jnp.arange(_LOCATE_BATCH) < jnp.sum(left)
            batch_cols = [c[..., idx] for c in cols]

            def g(t):
                return voltage(jax.vmap(one, in_axes=(-1, 0))(batch_cols, t)) - thr[idx]

            root = bracketed_root(g, lo[idx], hi[idx], jnp.where(valid, f_lo[idx], -1.0),
                                  jnp.where(valid, f_hi[idx], 0.0))
            write = jnp.where(valid, idx, n)  # padding writes nothing
            return t.at[write].set(root, mode="drop"), left.at[write].set(False, mode="drop")

        t, _ = jax.lax.while_loop(lambda c: jnp.any(c[1]), one_batch, (hi, fired.reshape(-1)))
        return t.reshape(shape)

    def advance(self, terms, t0, t1, y0, args, inner_state, made_jump):
        """One step of the inner solver with threshold detection (and reset), without
        touching the spike buffer: (y1, y_error, dense, inner_state, result, fired, t_cross);
        `t_cross` is meaningful where `fired`."""
        model = self.model
        V0 = model.voltage(y0)
        if model.has_reset:
            return self._step_with_reset(terms, t0, t1, y0, args, inner_state, V0)
        y1, y_error, dense, inner_state, result = self.solver.step(terms, t0, t1, y0, args, inner_state, made_jump)
        fired = (V0 < self.threshold) & (model.voltage(y1) >= self.threshold)
        interp = self.solver.interpolation_cls(t0=t0, t1=t1, **dense)
        t_cross = self._crossing_times(interp, t0, t1, y0, y1, fired)
        return y1, y_error, dense, inner_state, result, fired, t_cross

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        inner_state, buf = solver_state
        y1, y_error, dense, inner_state, result, fired, t_cross = self.advance(
            terms, t0, t1, y0, args, inner_state, made_jump
        )
        buf = buf.record_if_any(fired, t_cross)
        return y1, y_error, dense, (inner_state, buf), result

    def _step_with_reset(self, terms, t0, t1, y0, args, inner_state, V0):
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
            return jax.tree.map(keep, y2, y1), t_cross

        y_new, t_cross = jax.lax.cond(
            jnp.any(fired), with_spikes, lambda: (y1, jnp.broadcast_to(t1a, V0.shape))
        )
        dense = dict(y0=y0, y1=y_new)
        return y_new, y_error, dense, inner_state, result, fired, t_cross
