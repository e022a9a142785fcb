"""Populations: n neurons of one hhjax model (each parameter one number or one per neuron),
and Poisson spike sources."""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from ..models.base import AbstractDiscreteNeuron, AbstractNeuron, input_current


def _is_array(x) -> bool:
    return isinstance(x, (jax.Array, np.ndarray))


class Population(eqx.Module):
    """`n` neurons of `model` (any hhjax model: HH, LIF, tv-LIF2HH, a `ConductanceNeuron`, …,
    or a discrete one such as s-LIF2HH, which steps once per network step and needs the
    network's dt to be its own); parameters of `model` may be arrays of shape (n,).

    - `stimulus`: external current (µA/cm²): None, a number, an (n,) array, or any hhjax
      stimulus (a function of t in ms, scalar or (n,)).
    - `threshold` (mV): spikes are upward crossings of it (default: the model's).
    - `refractory` (ms): no new spike is detected this long after one (models with their own
      reset, LIF-type, hold V themselves for their `t_ref`).
    - `initial`: the state to start from (default: `model.initial_state()` broadcast to n).
    """

    model: AbstractNeuron
    n: int = eqx.field(static=True)
    stimulus: Any = None
    threshold: float | None = eqx.field(static=True, default=None)
    refractory: float = eqx.field(static=True, default=0.0)
    initial: PyTree | None = None

    def __check_init__(self):
        if not isinstance(self.model, (AbstractNeuron, AbstractDiscreteNeuron)):
            raise TypeError(f"a Population needs an hhjax neuron model, got {type(self.model).__name__}")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"population size n must be a positive integer, got {self.n!r}")
        for path, leaf in jax.tree_util.tree_leaves_with_path(self.model):
            if _is_array(leaf) and leaf.ndim > 0 and leaf.shape != (self.n,):
                raise ValueError(f"population size mismatch: model parameter {jax.tree_util.keystr(path)} has shape "
                                 f"{leaf.shape}, expected () or ({self.n},)")
        if _is_array(self.stimulus) and self.stimulus.ndim > 0 and self.stimulus.shape != (self.n,):
            raise ValueError(f"population size mismatch: stimulus has shape {self.stimulus.shape}, "
                             f"expected () or ({self.n},)")
        if not (math.isfinite(self.refractory) and self.refractory >= 0):
            raise ValueError(f"refractory period must be a non-negative number of ms, got {self.refractory!r}")
        if self.initial is not None:
            for leaf in jax.tree.leaves(self.initial):
                if jnp.shape(leaf) != (self.n,):
                    raise ValueError(f"population size mismatch: initial state leaf of shape {jnp.shape(leaf)}, "
                                     f"expected ({self.n},)")

    @property
    def discrete(self) -> bool:
        """Whether the model steps in discrete time (`model.step`) rather than by an ODE."""
        return isinstance(self.model, AbstractDiscreteNeuron)

    @property
    def spike_threshold(self) -> float:
        return self.model.default_threshold() if self.threshold is None else self.threshold

    def initial_state(self, dtype) -> PyTree:
        if self.initial is not None:
            y = self.initial
        else:
            y = self.model.initial_state((self.n,)) if self.discrete else self.model.initial_state()
        return jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x, dtype), (self.n,)), y)

    def external_current(self, t):
        return input_current(self.stimulus, t)


class PoissonSource(eqx.Module):
    """`n` independent Poisson spike trains at `rate_hz` (one number or (n,)); drawn per
    step of the fixed-step path (probability rate·dt per step)."""

    n: int = eqx.field(static=True)
    rate_hz: Any = 10.0

    def __check_init__(self):
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"Poisson source size n must be a positive integer, got {self.n!r}")
        rate = np.asarray(self.rate_hz, dtype=float)
        if rate.ndim > 0 and rate.shape != (self.n,):
            raise ValueError(f"population size mismatch: rate_hz has shape {rate.shape}, expected () or ({self.n},)")
        if np.any(~np.isfinite(rate)) or np.any(rate < 0):
            raise ValueError("Poisson rates must be finite and non-negative (Hz)")

    def draw(self, key, dt: float, dtype):
        p = jnp.asarray(self.rate_hz, dtype) * (dt * 1e-3)
        return jax.random.uniform(key, (self.n,), dtype) < p
