"""The paper's simple synapse: a current W while the presynaptic V is above threshold."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .base import AbstractNeuron


class ThresholdCoupled(AbstractNeuron):
    """A population of `neuron`s where neuron j receives, on top of its stimulus,
    Σ_i weights[i, j]·H(V_i − threshold) (µA/cm²), as in He et al. (2024) §1.4.

    The state is the neuron's state with a trailing population axis of size N =
    weights.shape[0]. `threshold` defaults to the neuron's spike threshold (mV).
    The Heaviside makes the vector field discontinuous in V: use fixed steps.
    """

    neuron: AbstractNeuron
    weights: Array
    threshold: ArrayLike | None = None

    def __check_init__(self):
        shape = jnp.shape(self.weights)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"coupling weights must be a square (N, N) matrix, got shape {shape}")

    def _threshold(self):
        return self.neuron.default_threshold() if self.threshold is None else self.threshold

    def synaptic_current(self, y) -> Array:
        V = self.neuron.voltage(y)
        active = (V > self._threshold()).astype(V.dtype)
        return active @ self.weights

    def initial_state(self, *args, **kwargs):
        n = self.weights.shape[0]
        y = self.neuron.initial_state(*args, **kwargs)
        return jax.tree.map(lambda v: jnp.broadcast_to(v, (n,)), y)

    def dynamics(self, t, y, current):
        return self.neuron.dynamics(t, y, current + self.synaptic_current(y))

    def decay_rates(self, t, y, current):
        return self.neuron.decay_rates(t, y, current + self.synaptic_current(y))

    def voltage(self, y):
        return self.neuron.voltage(y)

    def default_threshold(self):
        return self._threshold()

    @property
    def has_reset(self) -> bool:
        return self.neuron.has_reset

    def reset(self, t_spike, y):
        return self.neuron.reset(t_spike, y)

    def refractory_end(self, y):
        return self.neuron.refractory_end(y)
