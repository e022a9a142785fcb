"""What `simulate` returns, and the error of a solve that could not finish."""

from __future__ import annotations

import equinox as eqx
import numpy as np
from jaxtyping import Array, PyTree


class SimulationError(RuntimeError):
    """A solve that could not finish: step limit reached, unstable step, buffer overflow."""


class Simulation(eqx.Module):
    """What `simulate` returns.

    - `y_final`: the state at `t1`.
    - `spike_times`: shape `population + (max_spikes,)`, ms, NaN-padded, ascending.
    - `spike_counts`: shape `population`, number of spikes.
    - `ts`, `ys`, `V`: saved trace times (ms), states and voltages (mV), time axis first,
      or None when only spikes were kept.
    - `stats`: step statistics (`num_steps`, `num_accepted_steps`, `num_rejected_steps`).
    - `threshold`: the spike threshold used (mV).
    """

    t0: Array
    t1: Array
    y_final: PyTree
    spike_times: Array
    spike_counts: Array
    ts: Array | None
    ys: PyTree | None
    V: Array | None
    stats: dict
    threshold: Array

    def spike_list(self) -> list:
        """Spike times as Python lists: one list per neuron (a single list for one neuron)."""
        times = np.asarray(self.spike_times)
        counts = np.asarray(self.spike_counts)
        flat_t = times.reshape(-1, times.shape[-1])
        flat_c = counts.reshape(-1)
        out = [[float(x) for x in row[: min(c, row.shape[0])]] for row, c in zip(flat_t, flat_c)]
        return out[0] if counts.ndim == 0 else out
