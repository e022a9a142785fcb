"""Memory: XLA's compiled buffers of a solve per size, spikes only vs traces."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...integrate import simulate
from ...models import HodgkinHuxley
from ...stimuli import Constant
from ..settings import DT, Settings


def _compiled_bytes(fn, *args) -> dict:
    return buffer_bytes(jax.jit(fn).lower(*args).compile())


def buffer_bytes(compiled) -> dict:
    m = compiled.memory_analysis()
    return dict(temp=int(m.temp_size_in_bytes), output=int(m.output_size_in_bytes),
                argument=int(m.argument_size_in_bytes))


def memory(settings: Settings, log=print) -> list[dict]:
    """XLA's buffer sizes for a spikes-only HH run of `memory_n` neurons at increasing step
    counts (constant: O(N)), against saving every step (O(N·steps)) at the smallest count."""
    n = settings.memory_n
    rows = []
    model = HodgkinHuxley()
    current = jnp.linspace(0.0, 20.0, n, dtype=jnp.float32)
    for steps in settings.memory_steps:
        def spikes_only(I, steps=steps):
            sim = simulate(model, Constant(I), t1=steps * DT, dt=DT, solver="euler", dtype="float32", max_spikes=64)
            return sim.spike_times, sim.spike_counts, sim.y_final

        b = _compiled_bytes(spikes_only, current)
        rows.append(dict(N=n, steps=steps, record="spikes", **b, total_MiB=sum(b.values()) / 2**20))
        log(f"[memory] N={n} steps={steps} spikes only: {rows[-1]['total_MiB']:.1f} MiB "
            f"(temp {b['temp'] / 2**20:.1f}, out {b['output'] / 2**20:.1f})")
    steps = settings.memory_steps[0]

    def every_step(I):
        return simulate(model, Constant(I), t1=steps * DT, dt=DT, solver="euler", dtype="float32",
                        save_every="step", max_spikes=64).V

    b = _compiled_bytes(every_step, current)
    rows.append(dict(N=n, steps=steps, record="every step", **b, total_MiB=sum(b.values()) / 2**20))
    log(f"[memory] N={n} steps={steps} saving every step: {rows[-1]['total_MiB']:.1f} MiB")
    return rows
