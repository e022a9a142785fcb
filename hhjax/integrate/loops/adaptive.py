"""hhjax's own adaptive-step loop for spikes-only solves.

`diffrax.diffeqsolve` brings saving, events, progress meters and adjoint plumbing into
every compiled solve; a spikes-only `simulate` needs none of them, and on a 2-core CPU
they were half of a first call's time (HH, Tsit5, N = 100: a bare `diffeqsolve` 2.1 s to
its first result, the same steps in a plain loop 1.2 s). `adaptive_steps` makes the
steps `diffeqsolve` makes — the same solver step, the same `PIDController` decisions
(jumps included), the same clipping onto t1 — and records a step's crossings only once
the step is accepted, so a rejected step never touches the spike buffer.
"""

from __future__ import annotations

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..spikes import SpikeRecorder

# diffeqsolve rounds a step ending within 100 ulps of t1 onto t1 (no sliver steps).
_ULPS_BEFORE_T1 = 100


def clip_floor(t1: float, dtype) -> np.ndarray:
    """t1 lowered by `_ULPS_BEFORE_T1` ulps of `dtype`: a step ending above it ends at t1."""
    x = np.asarray(t1, dtype)
    for _ in range(_ULPS_BEFORE_T1):
        x = np.nextafter(x, np.asarray(-np.inf, dtype))
    return x


def concatenated(tree) -> jax.Array:
    """Every leaf of `tree` raveled into one 1-D array."""
    # lax, not jnp: jnp's functions are jitted, and each nested jit costs lowering time
    leaves = jax.tree.leaves(tree)
    dtype = jnp.result_type(*leaves)
    leaves = [jax.lax.reshape(jax.lax.convert_element_type(x, dtype), (jnp.size(x),)) for x in leaves]
    return leaves[0] if len(leaves) == 1 else jax.lax.concatenate(leaves, 0)


def rms_norm_of_all(tree) -> jax.Array:
    """The RMS norm of all of `tree`'s elements taken as one vector — diffrax's default
    `rms_norm`, summed as one array (the step-size controllers of `simulate` use it: one
    reduction per step instead of one per state leaf)."""
    return optx.rms_norm(concatenated(tree))


def adaptive_steps(solver: SpikeRecorder, term, controller, t0, t1, t1_floor, dt0, y0, stimulus, max_steps: int,
                   save_ts=None):
    """Integrate from `t0` to `t1` (ms) with the steps of `controller` (a diffrax
    `PIDController`, with or without jumps), recording spikes into the buffer of `solver`,
    and, given `save_ts` (ms, ascending, within [t0, t1]), the state at those times from
    the solver's dense output on the accepted step that holds each (as `diffeqsolve` with
    `SaveAt(ts=save_ts)`).

    Returns (y after the last accepted step, at t1 unless the loop stopped early;
    `SpikeBuffer`; stats {num_steps, num_accepted_steps, num_rejected_steps}; diffrax
    result, `max_steps_reached` when the step limit stopped the loop before t1; the saved
    states, time axis first, or None without `save_ts`; samples the loop did not reach stay
    NaN). A stimulus that is not finite at t0 stops the loop before its first step (the
    caller reports it). Forward only: `simulate` differentiates through `diffeqsolve` (a
    traced call never comes here)."""
    order = solver.error_order(term)
    t_first, controller_state = controller.init(term, t0, t1, y0, dt0, stimulus, solver.func, order)
    t_first = jnp.minimum(t_first, t1)
    inner0, buf0 = solver.init(term, t0, t_first, y0, stimulus)
    input_ok = jnp.all(jnp.isfinite(stimulus(t0)))
    # without jumps the controller never makes one: a static False spares the solver's
    # recomputation branch (as in diffeqsolve)
    jumps = isinstance(controller, dfx.ClipStepSizeController)
    ok = dfx.RESULTS.successful

    def keep(accept, new, old):
        return jax.tree.map(lambda a, b: jnp.where(accept, a, b), new, old)

    def running(t_a, result):
        return (t_a < t1) & (result == ok) & input_ok

    def cond(carry):
        return running(carry[0], carry[-1]) & (carry[-2][0] < max_steps)

    def save_samples(accept, t_a, t_b, dense, saved):
        """The samples that fall in an accepted step [t_a, t_b], from its dense output."""
        if saved is None:
            return None
        interp = solver.interpolation_cls(t0=t_a, t1=t_b, **dense)
        n_save = save_ts.shape[0]

        def more(c):
            i = c[0]
            return accept & (i < n_save) & (save_ts[jnp.minimum(i, n_save - 1)] <= t_b)

        def save_one(c):
            i, ys = c
            y_i = interp.evaluate(save_ts[i])
            return i + 1, jax.tree.map(lambda buf, v: buf.at[i].set(v), ys, y_i)

        return jax.lax.while_loop(more, save_one, saved)

    def body(carry):
        t_a, t_b, y, inner, buf, ctrl, made_jump, saved, counts, result = carry
        y1, y_error, dense, inner1, step_result, fired, t_cross = solver.advance(
            term, t_a, t_b, y, stimulus, inner, made_jump if jumps else False)
        # the controller sees the state as one vector: its NaN check, error scaling and norm
        # are one kernel each instead of one per state leaf (same decisions: a NaN in any
        # leaf makes the error infinite, and the norm is `rms_norm_of_all` on both paths)
        y_error = concatenated(y_error)
        y_error = jnp.where(jnp.isnan(y_error), jnp.inf, y_error)
        accept, t_a1, t_b1, jump1, ctrl, ctrl_result = controller.adapt_step_size(
            t_a, t_b, concatenated(y), concatenated(y1), stimulus, y_error, order, ctrl)
        t_a1 = jnp.minimum(t_a1, t1)
        t_b1 = jnp.where(t_b1 > t1_floor, jnp.where(accept, t1, t_a1 + 0.5 * (t1 - t_a1)), t_b1)
        buf = buf.record_if_any(fired & accept, t_cross)
        saved = save_samples(accept, t_a, t_b, dense, saved)
        step_result = dfx.RESULTS.where(accept, step_result, ok)
        result = dfx.RESULTS.where(result == ok, step_result, result)
        result = dfx.RESULTS.where(result == ok, ctrl_result, result)
        counts = counts + jnp.stack([jnp.ones((), counts.dtype), accept.astype(counts.dtype)])
        made_jump = jnp.where(accept, jump1, made_jump) if jumps else made_jump
        return (t_a1, t_b1, keep(accept, y1, y), keep(accept, inner1, inner), buf, ctrl, made_jump, saved,
                counts, result)

    saved0 = None
    if save_ts is not None:
        saved0 = (jnp.asarray(0), jax.tree.map(lambda x: jnp.full(save_ts.shape + x.shape, jnp.nan, x.dtype), y0))
    init = (jnp.asarray(t0), t_first, y0, inner0, buf0, controller_state, jnp.asarray(False), saved0,
            jnp.zeros(2, jnp.int32), ok)
    final = jax.lax.while_loop(cond, body, init)
    t_a, _, y, _, buf, _, _, saved, counts, result = final
    result = dfx.RESULTS.where(running(t_a, result), dfx.RESULTS.max_steps_reached, result)
    stats = dict(num_steps=counts[0], num_accepted_steps=counts[1], num_rejected_steps=counts[0] - counts[1])
    return y, buf, stats, result, None if saved is None else saved[1]
