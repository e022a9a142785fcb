"""From a finished solve to a `Simulation`: the result, and in the same compiled call the
status words that `errors.raise_on_failure` reads (one transfer to the host)."""

from __future__ import annotations

from typing import Any, NamedTuple

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import raise_on_failure
from .results import Simulation
from .spikes import SpikeBuffer
from .validation import is_traced


class GridSolution(eqx.Module):
    """The parts of a diffrax `Solution` that `collect` and `raise_on_failure` read."""

    ts: tuple
    ys: tuple
    stats: dict
    result: Any


class CallInfo(NamedTuple):
    """What `_finish` and `_raise_on_failure`'s messages need to know about the call."""

    name: str
    dt: Any
    max_steps: int
    max_spikes: int
    adaptive: bool
    save_step: bool


def finish(model, result, status, code, call: CallInfo):
    """Trim a saved-every-step trace, drop the spike times for `max_spikes = 0`, and raise
    on a failed solve (when concrete)."""
    if call.save_step and not is_traced(result.stats["num_accepted_steps"]):
        n = int(result.stats["num_accepted_steps"])  # drop the unused tail of the step buffer
        ys = jax.tree.map(lambda x: x[:n], result.ys)
        result = eqx.tree_at(lambda r: (r.ts, r.ys, r.V), result, (result.ts[:n], ys, model.voltage(ys)))
    if call.max_spikes == 0:
        empty = jnp.full(result.spike_counts.shape + (0,), jnp.nan, result.spike_times.dtype)
        result = eqx.tree_at(lambda r: r.spike_times, result, empty)
    if not isinstance(status, jax.core.Tracer):  # (traced exactly when the solve's inputs are)
        raise_on_failure(code, np.asarray(status), call)
    return result


def collect(model, sol, buf: SpikeBuffer, t0, t1, thr) -> Simulation:
    y_final = jax.tree.map(lambda x: x[-1], sol.ys[0])
    ts = ys = V = None
    if len(sol.ys) > 1:  # (a saved-every-step trace is trimmed outside jit, by `_finish`)
        ts, ys = sol.ts[1], sol.ys[1]
        V = model.voltage(ys)
    return Simulation(
        t0=t0, t1=t1, y_final=y_final, spike_times=buf.times, spike_counts=buf.count,
        ts=ts, ys=ys, V=V, stats=dict(sol.stats), threshold=thr,
    )


@eqx.filter_jit
def collect_with_status(model, stimulus, sol, buf: SpikeBuffer, t0, t1, thr, config):
    """`collect` and, in the same compiled call (one transfer to the host, not one per
    leaf), the status `raise_on_failure` reads: [final state has NaN or V is not finite,
    largest spike count, stimulus at t0 not finite, step limit reached, solve failed]."""
    result = collect(model, sol, buf, t0, t1, thr)
    bad = ~jnp.isfinite(model.voltage(result.y_final))
    for x in jax.tree.leaves(result.y_final):
        if jnp.issubdtype(x.dtype, jnp.floating):
            bad = bad | jnp.isnan(x)
    bad_input = ~jnp.isfinite(stimulus(t0))
    shape = jnp.broadcast_shapes(bad.shape, bad_input.shape, buf.count.shape)
    # one reduction for the three per-neuron flags (each reduction is a kernel to compile)
    per_neuron = jnp.stack([jnp.broadcast_to(x, shape).astype(jnp.int32) for x in (bad, buf.count, bad_input)])
    worst = jnp.max(per_neuron.reshape(3, -1), axis=1, initial=0)
    solver_flags = jnp.stack([sol.result == dfx.RESULTS.max_steps_reached, sol.result != dfx.RESULTS.successful])
    return result, jnp.concatenate([worst, solver_flags.astype(jnp.int32)])
