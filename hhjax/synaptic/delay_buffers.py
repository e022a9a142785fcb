"""What a projection's delay ring buffer holds — two named kinds, chosen in `buffer_kind_for`:

- `WeightSums`: at each target, the sum of the weights arriving in each slot (floating
  point, the network's dtype). Every projection and propagation can use it; `AllSynapses`
  needs it (it sends every synapse a number, the surrogate spike value, not 0 or 1).
- `SpikeCounts`: at each target, how many spikes arrive in each slot, in the narrowest
  integer type that holds the target's in-degree (int8 up to 127 synapses, int16 up to
  32,767), multiplied by the projection's one weight when they arrive. For event-driven
  propagation through a projection with one weight for all its synapses. The buffer takes
  a quarter (int8) or half (int16) of a float32 buffer's memory, so the random adds of the
  propagation touch fewer cache lines (measurements: `Tuning.network_count_buffers_from_entries`).

Both deliver the same weights up to rounding: k spikes of weight w arrive as k·w rounded
once (`SpikeCounts`), or as w added k times (`WeightSums`).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..backends import Tuning
from .connectivity import Connectivity


class WeightSums(eqx.Module):
    """Each slot holds the summed weights arriving then at each target."""

    def dtype(self, state_dtype):
        return state_dtype

    def spike_values(self, connectivity: Connectivity) -> Array:
        """What one spike adds at each synapse: the weights (shape () or that of the
        connectivity's rows)."""
        return connectivity.weights

    def arriving(self, due: Array, connectivity: Connectivity, state_dtype) -> Array:
        """The weights arriving at each target, from the slot's contents `due`."""
        return due


class SpikeCounts(eqx.Module):
    """Each slot holds how many spikes arrive then at each target (`integer`: the dtype's
    name), times the projection's one weight on arrival."""

    integer: str = eqx.field(static=True)

    def dtype(self, state_dtype):
        return jnp.dtype(self.integer)

    def spike_values(self, connectivity: Connectivity) -> Array:
        return jnp.ones((), self.integer)

    def arriving(self, due: Array, connectivity: Connectivity, state_dtype) -> Array:
        return due.astype(state_dtype) * jnp.asarray(connectivity.weights, state_dtype)


def count_dtype(max_in_degree: int) -> str | None:
    """The narrowest signed integer type holding counts up to `max_in_degree` (None: wider
    than int16, where a count buffer would save nothing over float32)."""
    for name in ("int8", "int16"):
        if max_in_degree <= np.iinfo(name).max:
            return name
    return None


def buffer_kind_for(connectivity: Connectivity, depth: int, event_driven: bool, tuning: Tuning):
    """The one place a projection's buffer kind is chosen: `SpikeCounts` where `tuning`
    asks for them at this buffer's size (`depth` slots of n_post targets), the propagation
    sends whole spikes (`event_driven`), all synapses share one weight, and the in-degree
    is known and fits an int16; else `WeightSums`."""
    threshold = tuning.network_count_buffers_from_entries
    if (threshold is not None and depth * connectivity.n_post >= threshold and event_driven
            and jnp.ndim(connectivity.weights) == 0 and connectivity.max_in_degree is not None):
        integer = count_dtype(connectivity.max_in_degree)
        if integer is not None:
            return SpikeCounts(integer)
    return WeightSums()
