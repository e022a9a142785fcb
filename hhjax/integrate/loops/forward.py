"""Forward-only fixed-step loops (spikes and final state): spike by spike for small
populations, in blocks for large ones (`Tuning.blocked_from_neurons`). No branch per step
and no conditional over the spike buffer."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ...backends.tuning import Tuning
from ..terms import model_term


def forward_steps(solver, stimulus, times, y0, state0, tuning: Tuning):
    """All steps, forward only: the final state and the spike buffer."""
    steps = forward_step_range(solver, stimulus, times, y0, tuning)
    y, (_, buf) = steps(0, times.n, y0, state0)
    return y, buf


def forward_steps_saving(solver, stimulus, times, y0, state0, save_steps, tuning: Tuning):
    """All steps, forward only, keeping the state after each of `save_steps` (grid
    indices, ascending; 0 is the initial state): the final state, the spike buffer and the
    saved states (time axis first)."""
    steps = forward_step_range(solver, stimulus, times, y0, tuning)

    def to_next_sample(carry, k_save):
        k, y, state = carry
        y, state = steps(k, k_save, y, state)
        return (k_save, y, state), y

    # the steps after the last sample are one more segment of the same scan (a second call
    # of `steps` would compile the step twice)
    ends = jnp.concatenate([save_steps, jnp.full((1,), times.n, save_steps.dtype)])
    (_, y, (_, buf)), ys = jax.lax.scan(to_next_sample, (jnp.asarray(0, save_steps.dtype), y0, state0), ends)
    return y, buf, jax.tree.map(lambda x: x[:-1], ys)


def forward_step_range(solver, stimulus, times, y0, tuning: Tuning):
    """`steps(k0, k1, y, (inner, buffer)) -> (y, (inner, buffer))`: grid steps k0 … k1 − 1,
    forward only, spike by spike for small populations and in blocks for large ones."""
    make_advance = _packed_advance if tuning.pack_loop_scalars else _plain_advance
    advance = make_advance(solver.forward_only(), stimulus, times)
    size = jnp.size(solver.model.voltage(y0))
    if size >= tuning.blocked_from_neurons:
        paired = tuning.paired_from_neurons is not None and size >= tuning.paired_from_neurons
        return functools.partial(_steps_in_blocks, advance, paired=paired, tuning=tuning)
    return functools.partial(_steps_until_spikes, advance)


def _packed_advance(solver, stimulus, times):
    """`advance(k, y, inner) -> (y, inner, fired, t_cross)`: step k of `times` with the
    `SpikeRecorder` `solver`. The floating-point scalars of the solver (the model's
    parameters), stimulus and grid enter the loop packed into one vector per dtype and are
    unpacked inside the step behind an optimisation barrier: XLA's CPU loop then carries the
    vector and 9 derived scalars for HH instead of 26 separate scalars (11 without the
    barrier, which lets it hoist the slices back out), and each operand of a loop costs
    time on every step. A/B in one process: N = 100 13–14 % faster (two runs), N = 10 24 %;
    at N = 1 the runs disagreed (+14 %, −6 %); N ≥ 10,000 unchanged."""
    leaves, treedef = jax.tree.flatten((solver, stimulus, times))
    scalar = [isinstance(x, jax.Array) and x.ndim == 0 and jnp.issubdtype(x.dtype, jnp.floating) for x in leaves]
    dtypes = sorted({str(x.dtype) for x, sc in zip(leaves, scalar) if sc})
    packed = {d: jnp.stack([x for x, sc in zip(leaves, scalar) if sc and str(x.dtype) == d]) for d in dtypes}

    def advance(k, y, inner):
        unpacked = {d: iter(v) for d, v in jax.lax.optimization_barrier(packed).items()}
        rebuilt = [next(unpacked[str(x.dtype)]) if sc else x for x, sc in zip(leaves, scalar)]
        solver_, stimulus_, times_ = jax.tree.unflatten(treedef, rebuilt)
        term = model_term(solver_.model, solver_.solver)
        y, _, _, inner, _, fired, t_cross = solver_.advance(term, *times_.at(k), y, stimulus_, inner, False)
        return y, inner, fired, t_cross

    return advance


def _plain_advance(solver, stimulus, times):
    """`_packed_advance` without the packing: the loop closes over each scalar as it is."""
    def advance(k, y, inner):
        term = model_term(solver.model, solver.solver)
        y, _, _, inner, _, fired, t_cross = solver.advance(term, *times.at(k), y, stimulus, inner, False)
        return y, inner, fired, t_cross

    return advance


def _steps_until_spikes(advance, k0, n, y0, state0):
    """All `n` steps without a branch per step, for small populations: an inner loop
    advances until some neuron fired (or the grid ends), then that step's crossings go into
    the spike buffer with one scatter. On the CPU a conditional costs more than a small
    population's step, and most steps of a small population record nothing."""
    inner0, buf0 = state0
    V = jnp.zeros(buf0.count.shape, buf0.times.dtype)  # the population's shape and dtype
    none_fired = jnp.zeros(V.shape, bool)

    def step(carry):
        k, y, inner, _, _ = carry
        y, inner, fired, t_cross = advance(k, y, inner)
        return k + 1, y, inner, fired, t_cross.astype(V.dtype)

    def until_spike(carry):
        k, y, inner, buf = carry
        k, y, inner, fired, t_cross = jax.lax.while_loop(
            lambda c: (c[0] < n) & ~jnp.any(c[3]), step, (k, y, inner, none_fired, jnp.zeros_like(V)))
        return k, y, inner, buf.record(fired, t_cross)

    _, y, inner, buf = jax.lax.while_loop(lambda c: c[0] < n, until_spike, (jnp.asarray(k0), y0, inner0, buf0))
    return y, (inner, buf)


def _steps_in_blocks(advance, k0, n, y0, state0, paired: bool, tuning: Tuning):
    """All `n` steps in blocks of up to `tuning.max_block_steps`, for large populations, where
    some neuron fires on most steps and recording spike by spike would cost a scatter over
    the whole population (a serial loop on the CPU) nearly every step.

    A block steps without touching the buffer, keeping each neuron's first crossing time
    (NaN: none; −inf: it crossed a second time), then writes them with one scatter. A block
    in which some neuron crossed twice is discarded and redone at half the length (one step
    never holds two crossings of one neuron, so this ends); after
    `tuning.clean_blocks_before_growing` clean blocks the length doubles, up to the maximum. No
    conditional touches the buffer: on the CPU a `lax.cond` over it copied it (tried:
    recording per block through `cond` was slower than recording every step).

    `paired`: each iteration of a block's loop takes two steps, the second inside a
    conditional (taken unless the block ends after the first). That makes XLA write the
    first step's state to fresh buffers; in a loop of single steps its copy insertion
    copies every state variable on every step (each is overwritten in place while other
    kernels still read its old value), which at large N costs about as much as the step."""
    n = jnp.asarray(n)
    inner0, buf0 = state0
    no_crossing = jnp.full(buf0.count.shape, jnp.nan, buf0.times.dtype)

    def one_step(k, y, inner, first):
        y, inner, fired, t_cross = advance(k, y, inner)
        again = jnp.full_like(first, -jnp.inf)
        first = jnp.where(fired, jnp.where(jnp.isnan(first), t_cross.astype(first.dtype), again), first)
        return y, inner, first

    def step(carry):
        k, end, y, inner, first = carry
        y, inner, first = one_step(k, y, inner, first)
        if not paired:
            return k + 1, end, y, inner, first
        y, inner, first = jax.lax.cond(k + 1 < end, lambda s: one_step(k + 1, *s), lambda s: s, (y, inner, first))
        return k + 2, end, y, inner, first

    def block(carry):
        k, length, clean, y, inner, buf = carry
        end = jnp.minimum(k + length, n)
        _, _, y_end, inner_end, first = jax.lax.while_loop(
            lambda c: c[0] < c[1], step, (k, end, y, inner, no_crossing))
        twice = jnp.any(first == -jnp.inf)
        buf = buf.record(~twice & ~jnp.isnan(first), first)  # writes nothing for a discarded block
        y = jax.tree.map(lambda a, b: jnp.where(twice, a, b), y, y_end)
        inner = jax.tree.map(lambda a, b: jnp.where(twice, a, b), inner, inner_end)
        grow = ~twice & (clean + 1 >= tuning.clean_blocks_before_growing)
        length = jnp.where(twice, jnp.maximum(length // 2, 1),
                           jnp.where(grow, jnp.minimum(2 * length, tuning.max_block_steps), length))
        clean = jnp.where(twice | grow, 0, clean + 1)
        return jnp.where(twice, k, end), length, clean, y, inner, buf

    init = (jnp.asarray(k0), jnp.asarray(tuning.max_block_steps), jnp.asarray(0), y0, inner0, buf0)
    _, _, _, y, inner, buf = jax.lax.while_loop(lambda c: c[0] < n, block, init)
    return y, (inner, buf)
