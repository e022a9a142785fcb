"""The discrete path: models that update once per step of their own `dt` (s-LIF2HH).
Each step's mean input is computed inside the loop (memory O(N), not O(N·steps)); spikes
are recorded once per block of `Tuning.discrete_block_steps` steps (one bit per step)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...backends.compiled import CompiledSolve
from ...stimuli import step_average
from ..request import DiscreteRequest
from ..results import Simulation, SimulationError
from ..spikes import SpikeBuffer
from ..validation import broadcast_leaves
from .base import ExecutionPath


class DiscretePath(ExecutionPath):
    name = "discrete"

    def refuses(self, request) -> str | None:
        return None if isinstance(request, DiscreteRequest) else "the model is continuous (it has a vector field)"

    def prepare(self, request) -> "_DiscreteSolve":
        return _DiscreteSolve(request)


class _DiscreteSolve:
    """A discrete call's compiled run bound to its arguments; `run()` runs and checks."""

    path = "discrete"

    def __init__(self, r):
        self.max_spikes = r.max_spikes
        self.traced = r.traced
        ts = (jnp.asarray(float(r.t0) + r.model.dt * np.arange(1, r.n_steps + 1), r.dtype)
              if r.keep_trace else None)
        self.bound = _run_discrete_and_collect.bind(r.model, r.stimulus, r.y0, r.t0, r.t1, ts, r.n_steps, r.max_spikes,
                                                    r.keep_trace, r.tuning.discrete_block_steps)

    def run(self) -> Simulation:
        result, status = self.bound()
        if not isinstance(status, jax.core.Tracer):
            bad_input, most = (int(x) for x in np.asarray(status))
            if bad_input:
                raise ValueError("stimulus returns NaN or inf")
            if self.max_spikes and most > self.max_spikes:  # 0: counts only, no times kept
                raise SimulationError(f"more than max_spikes = {self.max_spikes} spikes; pass a larger max_spikes")
        return result


def _run_discrete_and_collect(model, stimulus, y0, t0, t1, ts, n_steps, max_spikes, keep_trace, block_steps):
    """`_run_discrete` and the `Simulation`, with the status `_DiscreteSolve.run` checks
    ([stimulus not finite on some step, largest spike count]), as one compiled call."""
    y_final, buf, V, inputs_ok = _run_discrete(model, stimulus, y0, t0, n_steps, max_spikes, keep_trace,
                                               block_steps)
    result = Simulation(
        t0=t0, t1=t1, y_final=y_final, spike_times=buf.times, spike_counts=buf.count, ts=ts, ys=None,
        V=V, stats={"num_steps": n_steps}, threshold=jnp.asarray(model.default_threshold(), t0.dtype),
    )
    status = jnp.stack([(~inputs_ok).astype(jnp.int32), jnp.max(buf.count, initial=0).astype(jnp.int32)])
    return result, status


_run_discrete_and_collect = CompiledSolve(_run_discrete_and_collect)


def _run_discrete(model, stimulus, y0, t0, n_steps, max_spikes, keep_trace, block_steps):
    """Step a discrete model; each step's mean input is computed inside the loop (memory
    O(N), not O(N·steps)); the voltage is kept per step only when `keep_trace`. A spike in
    step k (covering [t0 + k·dt, t0 + (k+1)·dt]) is stamped at the step's start."""
    def step_input(k):
        return step_average(stimulus, t0 + k * model.dt, model.dt)

    y0 = model.initial_state() if y0 is None else y0
    V0 = model.voltage(y0)
    shape = jnp.broadcast_shapes(jnp.shape(V0), jax.eval_shape(step_input, t0).shape)
    y0 = broadcast_leaves(y0, shape)
    buf = SpikeBuffer.empty(shape, max_spikes, V0.dtype)

    def step(y, k):
        x = step_input(k)
        y, fire = model.step(y, x)
        return y, fire > 0, jnp.all(jnp.isfinite(x))

    if keep_trace:
        def body(carry, k):
            y, buf, ok = carry
            y, fired, finite = step(y, k)
            buf = buf.record(fired, t0 + k * model.dt)
            return (y, buf, ok & finite), model.voltage(y)

        (y, buf, ok), V = jax.lax.scan(body, (y0, buf, jnp.asarray(True)), jnp.arange(n_steps, dtype=t0.dtype))
        return y, buf, V, ok

    def block(carry, k_start, length):
        y, buf, ok = carry

        def body(carry, k):
            y, ok, spikes = carry
            y, fired, finite = step(y, k_start + k.astype(t0.dtype))
            return (y, ok & finite, spikes | (fired.astype(jnp.uint32) << k)), None

        spikes = jnp.zeros(shape, jnp.uint32)
        (y, ok, spikes), _ = jax.lax.scan(body, (y, ok, spikes), jnp.arange(length, dtype=jnp.uint32))
        return (y, _record_block(buf, spikes, lambda k: t0 + (k_start + k) * model.dt), ok), None

    blocks, rest = divmod(n_steps, block_steps)
    starts = block_steps * jnp.arange(blocks, dtype=t0.dtype)
    carry, _ = jax.lax.scan(functools.partial(block, length=block_steps), (y0, buf, jnp.asarray(True)),
                            starts)
    if rest:
        carry, _ = block(carry, jnp.asarray(blocks * block_steps, t0.dtype), rest)
    y, buf, ok = carry
    return y, buf, None, ok


def _record_block(buf: SpikeBuffer, spikes, stamp) -> SpikeBuffer:
    """Append one block's spikes to `buf` in time order. `spikes`: per neuron, bit k set
    when it fired in the block's step k (a neuron fires at most once per step), stamped
    `stamp(k)` (k as a float). Pass j writes every neuron's (j+1)-th spike of the block
    with one scatter, so a block costs as many scatters as its busiest neuron has spikes
    in it (a scatter is a serial loop over the whole population on the CPU: recorded every
    step, it cost s-LIF2HH more than the step itself)."""
    def write(carry):
        j, left, buf = carry
        k = 31 - jax.lax.clz(left & (~left + 1))  # the earliest spike still left
        buf = buf.record(left != 0, stamp(k.astype(buf.times.dtype)))
        return j + 1, left & (left - 1), buf

    passes = jnp.max(jax.lax.population_count(spikes), initial=0)
    _, _, buf = jax.lax.while_loop(lambda c: c[0] < passes, write, (jnp.asarray(0, jnp.uint32), spikes, buf))
    return buf
