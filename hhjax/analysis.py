"""Measures of a model's behaviour computed from `simulate` runs."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .integrate import simulate
from .stimuli import Constant


def fi_curve(model, currents, *, t1: float = 1000.0, transient: float = 200.0, **options) -> np.ndarray:
    """Steady firing rate (Hz) at each constant current (µA/cm²): the number of spikes after
    `transient` ms divided by the time they span, from one population solve (`options` go to
    `simulate`; default adaptive Tsit5). 0 where fewer than two spikes follow the transient."""
    if not t1 > transient >= 0:
        raise ValueError(f"need t1 > transient >= 0 (ms), got t1={t1}, transient={transient}")
    currents = jnp.asarray(currents)
    sim = simulate(model, Constant(currents), t1=t1, max_spikes=options.pop("max_spikes", int(t1) + 8), **options)
    times = np.asarray(sim.spike_times).reshape(-1, sim.spike_times.shape[-1])
    rates = []
    for row in times:
        late = row[np.isfinite(row) & (row > transient)]
        rates.append(1000.0 * (len(late) - 1) / (late[-1] - late[0]) if len(late) >= 2 else 0.0)
    return np.asarray(rates).reshape(currents.shape)
