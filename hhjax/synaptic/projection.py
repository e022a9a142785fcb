"""A projection: synapses of one model from one population onto another."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .connectivity import Connectivity
from .synapses import AbstractSynapse


class Projection(eqx.Module):
    """Synapses from population `pre` to population `post` (names in the network), wired by
    `connectivity`, of the synapse model `synapse`. Weights in mS/cm² (conductance-based),
    µA/cm² (current-based) or mV (delta); delays in ms."""

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    connectivity: Connectivity
    synapse: AbstractSynapse

    def __check_init__(self):
        if not isinstance(self.connectivity, Connectivity):
            raise TypeError("connectivity must be built by hhjax.synaptic (fixed_probability, fixed_in_degree, ...)")
        if not isinstance(self.synapse, AbstractSynapse):
            raise TypeError(f"synapse must be a synapse model, got {type(self.synapse).__name__}")
        if isinstance(self.connectivity.weights, jax.core.Tracer) or isinstance(self.connectivity.delays,
                                                                                 jax.core.Tracer):
            return  # (built inside a traced function: its values are checked where they are concrete)
        w = np.asarray(self.connectivity.weights)
        if np.any(np.isnan(w)):
            raise ValueError(f"projection {self.pre}→{self.post}: weights contain NaN")
        if self.synapse.conductance_based and np.any(w < 0):
            raise ValueError(f"projection {self.pre}→{self.post}: conductance weights must be ≥ 0 (the reversal "
                             "potential sets the sign), got a negative weight")
        d = np.asarray(self.connectivity.delays)
        if np.any(~np.isfinite(d)) or np.any(d < 0):
            raise ValueError(f"projection {self.pre}→{self.post}: delays must be finite and ≥ 0 ms")

    def delay_steps(self, dt: float):
        """Delays as whole steps of `dt` ms (a clear error when one is not a multiple of dt),
        and the depth of the delay buffer they need."""
        d = self.connectivity.delays
        depth = int(round(self.connectivity.max_delay / dt)) + 1
        if isinstance(d, jax.core.Tracer):  # (inside a traced function: checked where it was built)
            return jnp.rint(d / dt).astype(jnp.int32), depth
        d = np.asarray(d, dtype=float)
        steps = np.rint(d / dt)
        off = np.abs(steps * dt - d) > 1e-6 * max(dt, 1.0)
        if np.any(off):
            raise ValueError(f"projection {self.pre}→{self.post}: delay {d[off].ravel()[0]} ms is not a multiple of "
                             f"dt = {dt} ms")
        return jnp.asarray(steps.astype(np.int32)), depth
