"""Leaky integrate-and-fire neurons with constant and time-varying parameters."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..stimuli import AbstractStimulus, Constant, Function
from .base import AbstractDiscreteNeuron, AbstractNeuron, tvlif_derivative


def _as_time_function(x) -> AbstractStimulus:
    """A tv-LIF parameter as a function of time (ms): a stimulus-like module as it is, a
    callable wrapped, a number or array constant."""
    if isinstance(x, AbstractStimulus):
        return x
    if callable(x):
        return Function(x)
    return Constant(x)


class LIFState(eqx.Module):
    """V (mV) and `t_free` (ms): the time at which the current refractory period ends
    (−inf when the neuron has not spiked)."""

    V: Array
    t_free: Array


class AbstractIntegrateAndFire(AbstractNeuron):
    """Shared threshold/reset/refractory machinery. Subclasses give
    `membrane(t) -> (tau ms, rest mV, gain kΩ·cm²)` and the fields V_reset, V_th, t_ref."""

    def membrane(self, t):
        raise NotImplementedError

    def _start(self, V, *shapes) -> LIFState:
        V = jnp.asarray(V)
        V = jnp.broadcast_to(V, jnp.broadcast_shapes(V.shape, jnp.shape(self.V_th), *shapes))
        return LIFState(V=V, t_free=jnp.full_like(V, -jnp.inf))

    def dynamics(self, t, y: LIFState, current) -> LIFState:
        tau, rest, gain = self.membrane(t)
        dV = tvlif_derivative(y.V, tau, rest, gain, current)
        free = t >= y.t_free
        return LIFState(V=jnp.where(free, dV, jnp.zeros_like(dV)), t_free=jnp.zeros_like(y.t_free))

    def decay_rates(self, t, y: LIFState, current) -> LIFState:
        tau, _, _ = self.membrane(t)
        rate = jnp.where(t >= y.t_free, 1 / tau, jnp.zeros_like(y.V))
        return LIFState(V=rate, t_free=jnp.zeros_like(y.t_free))

    def voltage(self, y) -> Array:
        return y.V

    def default_threshold(self):
        return self.V_th

    @property
    def has_reset(self) -> bool:
        return True

    def refractory_end(self, y: LIFState):
        return y.t_free

    def reset(self, t_spike, y: LIFState) -> LIFState:
        V = jnp.broadcast_to(jnp.asarray(self.V_reset, y.V.dtype), y.V.shape)
        return LIFState(V=V, t_free=jnp.broadcast_to(t_spike + self.t_ref, y.V.shape).astype(y.V.dtype))


class LIF(AbstractIntegrateAndFire):
    """Leaky integrate-and-fire: tau dV/dt = −(V − V_rest) + R·I while not refractory.

    On crossing `V_th` upward the neuron spikes, V is set to `V_reset` and held there for
    `t_ref` ms. Resets happen at the located crossing time inside a step (see
    `hhjax.simulate`). Units: tau, t_ref in ms; potentials in mV; R in kΩ·cm² (so R·I with
    I in µA/cm² is in mV).
    """

    tau: ArrayLike = 10.0
    V_rest: ArrayLike = -65.0
    V_reset: ArrayLike = -65.0
    V_th: ArrayLike = -50.0
    R: ArrayLike = 10.0
    t_ref: ArrayLike = 2.0

    def membrane(self, t):
        return self.tau, self.V_rest, self.R

    def initial_state(self, V: ArrayLike | None = None) -> LIFState:
        return self._start(self.V_rest if V is None else V, jnp.shape(self.tau), jnp.shape(self.R))


class TVLIF(AbstractIntegrateAndFire):
    """Time-varying-parameter LIF (tv-LIF): tau(t) dV/dt = −(V − rest(t)) + gain(t)·I(t),
    with threshold, reset and refractory period as in `LIF`.

    `tau`, `rest` and `gain` are functions of time (ms) — any stimulus module (e.g.
    `Sine`, `Sampled`) or a number for a constant. Units as in `LIF`. When the parameters
    depend on other state rather than on time, assemble the model from
    `hhjax.tvlif_derivative` / `tvlif_derivative_by_rate` instead (as `TVLIFGateForm` and
    `TVLIF2HH` do).
    """

    tau: Callable = eqx.field(converter=_as_time_function)
    rest: Callable = eqx.field(converter=_as_time_function)
    gain: Callable = eqx.field(converter=_as_time_function)
    V_reset: ArrayLike = -65.0
    V_th: ArrayLike = -50.0
    t_ref: ArrayLike = 2.0
    V0: ArrayLike = -65.0

    def membrane(self, t):
        return self.tau(t), self.rest(t), self.gain(t)

    def initial_state(self) -> LIFState:
        return self._start(self.V0)


class DiscreteLIFState(eqx.Module):
    """Membrane `u` and the last step's spike indicator `s` (0/1)."""

    u: Array
    s: Array


class DiscreteLIF(AbstractDiscreteNeuron):
    """The discrete-time LIF of spiking deep networks (He et al.'s layers, spec §3.4):
    u ← decay·u·(1 − s) + x, s = H(u − threshold): hard reset to 0 through the previous
    spike, one update per step of `dt` ms, input `x` per step (dimensionless here, the
    layer's weighted input)."""

    decay: ArrayLike = 0.2
    threshold: ArrayLike = 0.3
    dt: float = eqx.field(static=True, default=1.0)

    def initial_state(self, shape=()) -> DiscreteLIFState:
        shape = jnp.broadcast_shapes(shape, jnp.shape(self.decay), jnp.shape(self.threshold))
        z = jnp.zeros(shape, jnp.result_type(self.decay, float))
        return DiscreteLIFState(z, z)

    def step(self, y: DiscreteLIFState, inputs, spike_fn=None) -> tuple[DiscreteLIFState, Array]:
        """One step; `spike_fn(u − threshold)` replaces the Heaviside (e.g. a surrogate-
        gradient spike from `hhjax.networks.surrogates`)."""
        u = self.decay * y.u * (1 - y.s) + inputs
        x = u - self.threshold
        s = (x > 0).astype(u.dtype) if spike_fn is None else spike_fn(x)
        return DiscreteLIFState(u, s), s

    def voltage(self, y) -> Array:
        return y.u

    def default_threshold(self):
        return self.threshold
