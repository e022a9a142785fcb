"""What a network run records: spikes (neuron index and time), per-step spike counts of each
population, and the sampled state of chosen neurons."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


@dataclasses.dataclass(frozen=True)
class Monitors:
    """`spikes`: keep every spike (index, time) up to `max_spikes` per population (default:
    room for 200 Hz per neuron); `states`: {population: neuron indices} whose state is
    sampled every `sample_every` steps."""

    spikes: bool = True
    max_spikes: int | None = None
    states: dict = dataclasses.field(default_factory=dict)
    sample_every: int = 1

    def __post_init__(self):
        if self.max_spikes is not None and self.max_spikes < 1:
            raise ValueError(f"max_spikes must be >= 1, got {self.max_spikes}")
        if not isinstance(self.sample_every, int) or self.sample_every < 1:
            raise ValueError(f"sample_every must be a positive integer, got {self.sample_every!r}")

    def capacity(self, n: int, duration_ms: float) -> int:
        if not self.spikes:
            return 1
        if self.max_spikes is not None:
            return int(self.max_spikes)
        return int(n * max(duration_ms, 1.0) * 0.2) + 64


class SpikeRecord(eqx.Module):
    """Spikes in order of occurrence: neuron `index`, `time` (ms); `count` may exceed the
    capacity (overflow: the later spikes are counted, not kept)."""

    index: Array
    time: Array
    count: Array

    @classmethod
    def empty(cls, capacity: int, dtype):
        return cls(jnp.zeros((capacity,), jnp.int32), jnp.full((capacity,), jnp.nan, dtype), jnp.zeros((), jnp.int32))

    def add(self, idx: Array, t_spike: Array, start) -> "SpikeRecord":
        """Write the spikes of neurons `idx` (n marks "none"), numbers start, start + 1, …
        of this step, at their times `t_spike` (ms, (n,))."""
        n, cap, k = t_spike.shape[0], self.index.shape[0], idx.shape[0]
        pos = jnp.where(idx < n, self.count + start + jnp.arange(k, dtype=jnp.int32), cap)
        t = jnp.take(t_spike, jnp.minimum(idx, n - 1))
        return SpikeRecord(self.index.at[pos].set(idx, mode="drop"),
                           self.time.at[pos].set(t.astype(self.time.dtype), mode="drop"), self.count)

    def counted(self, total) -> "SpikeRecord":
        return SpikeRecord(self.index, self.time, self.count + total)


@dataclasses.dataclass
class SpikeTrains:
    """One population's spikes (host NumPy): `index`, `time` (ms), `n` neurons; `lost` spikes
    beyond the monitor's capacity (counted in `count`, not kept)."""

    index: np.ndarray
    time: np.ndarray
    n: int
    count: int

    @property
    def lost(self) -> int:
        return self.count - len(self.index)

    def per_neuron(self) -> list[np.ndarray]:
        order = np.lexsort((self.time, self.index))
        idx, t = self.index[order], self.time[order]
        bounds = np.searchsorted(idx, np.arange(self.n + 1))
        return [t[bounds[i]:bounds[i + 1]] for i in range(self.n)]

    @classmethod
    def from_record(cls, rec: SpikeRecord, n: int) -> "SpikeTrains":
        count = int(rec.count)
        kept = min(count, rec.index.shape[0])
        return cls(np.asarray(rec.index[:kept]), np.asarray(rec.time[:kept]), n, count)
