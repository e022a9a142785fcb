"""The channel library's cost: populations of library models (`hhjax.models.conductance`)
beside the hand-written `HodgkinHuxley`, forward Euler dt = 0.01 ms, constant currents,
interleaved in one process: neuron-steps/s and the ratio to hand-written HH. The squid HH
built from channels measures what the channel abstraction itself costs."""

from __future__ import annotations

import jax.numpy as jnp

from ...integrate import simulate
from ...models import HodgkinHuxley, library_model
from ...stimuli import Constant
from ..settings import DT, Settings
from ..timing import best_times_interleaved

# Currents spread over the range where each model fires (µA/cm²).
CURRENTS = {"hh": (0.0, 20.0), "hodgkin-huxley": (0.0, 20.0), "traub-miles": (0.0, 10.0),
            "wang-buzsaki": (0.0, 5.0)}


def _call(name: str, n: int, dtype: str, steps: int):
    model = HodgkinHuxley() if name == "hh" else library_model(name)
    stim = Constant(jnp.linspace(*CURRENTS[name], n, dtype=dtype))
    t1 = steps * DT
    return lambda: simulate(model, stim, t1=t1, dt=DT, solver="euler", dtype=dtype,
                            max_spikes=int(t1 / 4) + 8).spike_counts


def channels(settings: Settings, log=print) -> list[dict]:
    rows = []
    for dtype in settings.dtypes:
        for n in sorted({min(100, max(settings.hh_ns)), min(10_000, max(settings.hh_ns))}):
            steps = settings.steps_for(n)
            calls = {name: _call(name, n, dtype, steps) for name in CURRENTS}
            times = best_times_interleaved(calls, settings.repeats)
            for name, seconds in times.items():
                row = dict(model=name, dtype=dtype, N=n, steps=steps, per_s=n * steps / seconds,
                           relative_to_hh=times["hh"] / seconds)
                rows.append(row)
                log(f"[channels] {name:<15} {dtype} N={n:<6} {row['per_s']:.3g} neuron-steps/s "
                    f"({row['relative_to_hh']:.2f}x hand-written HH)")
    return rows
