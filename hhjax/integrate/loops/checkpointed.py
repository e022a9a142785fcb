"""Fixed-step loops that reverse mode differentiates: every step stored while that is
cheap (`Tuning.store_every_step_bytes`), else O(√steps) checkpoints (segments of steps
recomputed in the backward pass, `jax.checkpoint` around an inner `lax.scan`)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...backends.tuning import Tuning
from ..terms import model_term
from .forward import forward_steps


def default_checkpoints(n_steps: int, carry, budget_bytes: int) -> int | None:
    """The checkpoint count of a fixed-step gradient when the adjoint leaves it open
    (`RecursiveCheckpointAdjoint()`): every step (`n_steps`) while `n_steps` copies of the
    loop's `carry` (its arrays' bytes) fit in `budget_bytes`, else None (O(√steps))."""
    step_bytes = sum(math.prod(np.shape(x)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(carry))
    return max(n_steps, 1) if n_steps * step_bytes <= budget_bytes else None


def checkpointed_steps(solver, stimulus, times, y0, state0, checkpoints, tuning: Tuning):
    """All steps of `times` as a reverse-differentiable loop, each recording its crossings
    into the buffer: with `checkpoints` ≥ the step count every step's residuals are kept
    (one `lax.scan`); with fewer, the steps run in that many segments whose insides are
    recomputed in the backward pass; None: `default_checkpoints`, and ~√(2·steps) segments
    beyond its budget."""
    n = times.n
    if checkpoints is None:
        checkpoints = default_checkpoints(n, (y0, state0), tuning.store_every_step_bytes)
    if checkpoints is None:
        checkpoints = max(1, int(math.ceil(math.sqrt(2 * n))))
    term = model_term(solver.model, solver.solver)

    def step(carry, k):
        y, state = carry
        y, _, _, state, _ = solver.step(term, *times.at(k), y, stimulus, state, False)
        return (y, state), None

    if checkpoints >= n:
        (y, (_, buf)), _ = jax.lax.scan(step, (y0, state0), jnp.arange(n))
        return y, buf
    length = -(-n // checkpoints)
    segments = -(-n // length)

    def step_or_stay(carry, k):  # the last segment's steps past the grid leave the carry alone
        new, _ = step(carry, jnp.minimum(k, n - 1))
        return jax.tree.map(lambda a, b: jnp.where(k < n, a, b), new, carry), None

    @jax.checkpoint
    def segment(carry, first):
        body = step if segments * length == n else step_or_stay
        carry, _ = jax.lax.scan(body, carry, first + jnp.arange(length))
        return carry, None

    (y, (_, buf)), _ = jax.lax.scan(segment, (y0, state0), length * jnp.arange(segments))
    return y, buf


def all_steps(solver, stimulus, times, y0, state0, checkpoints, tuning: Tuning):
    """The final state and spike buffer after every step of `times`: the branch-free
    forward loop when evaluated, the checkpointed loop's derivatives when differentiated
    (a custom JVP; reverse mode transposes it). The term is built inside from the
    `SpikeRecorder`'s model, so that nothing traced is closed over."""
    dynamic, static = eqx.partition((solver, stimulus, times, y0, state0), eqx.is_array)

    def unpack(d):
        return eqx.combine(d, static)

    @jax.custom_jvp
    def run(dynamic):
        return forward_steps(*unpack(dynamic), tuning)

    def run_jvp(primals, tangents):
        # Only what is differentiated enters the checkpointed loop's derivative: the rest
        # (symbolic-zero tangents: the grid's step-time table, a sampled stimulus's arrays
        # when only parameters are differentiated) is held constant, so reverse mode does not
        # accumulate its cotangent at every backward step — an array of that length per step,
        # O(steps²) for the table (HH, 10,000 steps with a current step at 5 ms, √steps
        # checkpoints: 15 s instead of 2.8–3.5 ms per value-and-grad).
        (d,), (t,) = primals, tangents

        def is_zero(x):
            return isinstance(x, jax.custom_derivatives.SymbolicZero)

        live = jax.tree.map(lambda x: not is_zero(x), t, is_leaf=is_zero)
        d_live, d_fixed = eqx.partition(d, live)
        t_live = eqx.filter(t, live, is_leaf=is_zero)

        def steps(d_live):
            return checkpointed_steps(*unpack(eqx.combine(d_live, jax.lax.stop_gradient(d_fixed))), checkpoints,
                                      tuning)

        return jax.jvp(steps, (d_live,), (t_live,))

    run.defjvp(run_jvp, symbolic_zeros=True)
    return run(dynamic)
