"""`ConductanceNeuron`: a single-compartment neuron built from channels,
C dV/dt = I − Σ_c ḡ_c Π x^p (V − E_c), every gated variable a tv-LIF of its own."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

import equinox as eqx

from ..base import AbstractNeuron
from .channel import Channel, _check_non_negative
from .gates import RateGate, gate_power


class ConductanceState(eqx.Module):
    """V (mV) and each gate with a state, {"channel.gate": x}."""

    V: Array
    gates: dict


class ConductanceNeuron(AbstractNeuron):
    """A single-compartment conductance-based neuron.

    - `channels`: {name: `Channel`}; a channel without gates is a leak;
    - `C`: membrane capacitance (µF/cm², required, > 0);
    - `V_rest`: where the search for the resting state starts (mV);
    - `threshold`: spike threshold, an upward crossing (mV);
    - `celsius`: temperature for the channels' Q10 factors (None: rates as given).

    Instantaneous gates (x = x∞(V)) carry no state. `initial_state()` is the resting steady
    state for no input (gates at x∞, V where the ionic current vanishes).
    """

    channels: dict
    C: ArrayLike
    V_rest: ArrayLike
    threshold: ArrayLike
    celsius: ArrayLike | None

    def __init__(self, channels: dict, C: ArrayLike | None = None, *, V_rest: ArrayLike = -65.0,
                 threshold: ArrayLike = 0.0, celsius: ArrayLike | None = None):
        if C is None:
            raise ValueError("a ConductanceNeuron needs a membrane capacitance C (µF/cm²)")
        if not channels:
            raise ValueError("a ConductanceNeuron needs at least one channel")
        for name, channel in channels.items():
            if not isinstance(channel, Channel):
                raise ValueError(f"channel {name!r} must be a Channel, got {type(channel).__name__}")
            if "." in name:
                raise ValueError(f"channel name {name!r} must not contain '.'")
        _check_non_negative(C, "capacitance C")
        if not isinstance(C, jax.core.Tracer) and np.any(np.asarray(C, dtype=float) == 0):
            raise ValueError("the membrane capacitance C must be positive (µF/cm²)")
        self.channels, self.C, self.V_rest, self.threshold, self.celsius = dict(channels), C, V_rest, threshold, celsius

    # -- structure -----------------------------------------------------------------------
    def state_gates(self) -> list[tuple[str, str]]:
        """(channel, gate) of every gate with a state, in state order."""
        return [(c, g) for c, ch in self.channels.items() for g, gate in ch.gates.items() if not gate.instantaneous]

    def algebraic_gates(self) -> list[tuple[str, str]]:
        """(channel, gate) of every instantaneous gate (x = x∞(V), no state)."""
        return [(c, g) for c, ch in self.channels.items() for g, gate in ch.gates.items() if gate.instantaneous]

    def rate_gates(self) -> list[tuple[str, RateGate]]:
        """("channel.gate", gate) of every gate in α/β form."""
        return [(f"{c}.{g}", gate) for c, ch in self.channels.items() for g, gate in ch.gates.items()
                if isinstance(gate, RateGate)]

    def rate_values(self, V) -> dict:
        """{"channel.gate": (α(V), β(V))} of every gate in α/β form (1/ms), evaluated once per
        step and shared by the gates' derivatives, steady states and decay rates."""
        return {key: gate.rates(V) for key, gate in self.rate_gates()}

    # -- membrane ------------------------------------------------------------------------
    def gate_values(self, V, gates: dict, rates: dict | None = None) -> dict:
        """Every gate's value: from the state, or x∞(V) for an instantaneous one."""
        rates = self.rate_values(V) if rates is None else rates
        return {f"{c}.{g}": (gate.steady(V, rates.get(f"{c}.{g}")) if gate.instantaneous else gates[f"{c}.{g}"])
                for c, ch in self.channels.items() for g, gate in ch.gates.items()}

    def conductances(self, y: ConductanceState, rates: dict | None = None) -> dict:
        """{channel: ḡ·Π x^p} in mS/cm²."""
        values = self.gate_values(y.V, y.gates, rates)
        out = {}
        for c, ch in self.channels.items():
            g = jnp.asarray(ch.g)
            for name, gate in ch.gates.items():
                g = g * gate_power(values[f"{c}.{name}"], gate.power)
            out[c] = g
        return out

    def ionic_current(self, y: ConductanceState, rates: dict | None = None) -> Array:
        """Total ionic current (µA/cm², outward positive)."""
        g = self.conductances(y, rates)
        return sum(g[c] * (y.V - ch.E) for c, ch in self.channels.items())

    def membrane_tvlif(self, y: ConductanceState, rates: dict | None = None) -> tuple[Array, Array, Array]:
        """The membrane as one tv-LIF: (τ = C/g_s ms, E_s = Σ g_c E_c / g_s mV, R = 1/g_s)."""
        g = self.conductances(y, rates)
        g_s = sum(g.values())
        E_s = sum(g[c] * ch.E for c, ch in self.channels.items()) / g_s
        return self.C / g_s, E_s, 1 / g_s

    # -- gates ---------------------------------------------------------------------------
    def _factor(self, channel: Channel):
        return channel.temperature_factor(self.celsius)

    def gate_tvlif(self, V, rates: dict | None = None) -> dict:
        """Each gate with a state as an input-free tv-LIF: {"channel.gate": (τ ms, x∞)}."""
        rates = self.rate_values(V) if rates is None else rates
        return {f"{c}.{g}": self.channels[c].gates[g].tvlif(V, self._factor(self.channels[c]), rates.get(f"{c}.{g}"))
                for c, g in self.state_gates()}

    def steady_state(self, V) -> ConductanceState:
        """Gates at x∞(V) for a clamped V (mV)."""
        V = jnp.asarray(V)
        rates = self.rate_values(V)
        return ConductanceState(V=V, gates={f"{c}.{g}": self.channels[c].gates[g].steady(V, rates.get(f"{c}.{g}"))
                                            for c, g in self.state_gates()})

    def resting_state(self, current: ArrayLike = 0.0, iterations: int = 40) -> ConductanceState:
        """The equilibrium for a constant `current` (µA/cm²): V with I = I_ion(V, x∞(V)) by
        Newton's method from `V_rest` (steps limited to 10 mV), gates at x∞(V). A model
        with no equilibrium there (it fires without input, e.g. Traub–Miles with its
        published leak) gets gates at x∞(V_rest) instead."""

        def residual(V):
            return current - self.ionic_current(self.steady_state(V))

        def newton(_, V):
            r, dr = jax.jvp(residual, (V,), (jnp.ones_like(V),))
            return V - jnp.clip(r / dr, -10.0, 10.0)

        shape = jnp.broadcast_shapes(jnp.shape(self.V_rest), jnp.shape(self.C), jnp.shape(current),
                                     *(jnp.shape(ch.g) for ch in self.channels.values()),
                                     *(jnp.shape(ch.E) for ch in self.channels.values()))
        V0 = jnp.broadcast_to(jnp.asarray(self.V_rest, dtype=jnp.result_type(self.V_rest, float)), shape)
        V = jax.lax.fori_loop(0, iterations, newton, V0)
        converged = jnp.abs(residual(V)) <= 1e-6 * (1 + jnp.abs(current))
        return self.steady_state(jnp.where(converged, V, V0))

    def initial_state(self, V: ArrayLike | None = None) -> ConductanceState:
        """The resting steady state (no input), or gates at x∞(V) for a given V."""
        if V is not None:
            return self.steady_state(V)
        return self.resting_state()

    # -- dynamics ------------------------------------------------------------------------
    def dynamics(self, t, y: ConductanceState, current) -> ConductanceState:
        rates = self.rate_values(y.V)
        dV = (current - self.ionic_current(y, rates)) * (1 / self.C)
        dgates = {f"{c}.{g}": self.channels[c].gates[g].derivative(y.V, y.gates[f"{c}.{g}"],
                                                                  self._factor(self.channels[c]), rates.get(f"{c}.{g}"))
                  for c, g in self.state_gates()}
        return ConductanceState(V=dV, gates=dgates)

    def decay_rates(self, t, y: ConductanceState, current) -> ConductanceState:
        rates = self.rate_values(y.V)
        g_s = sum(self.conductances(y, rates).values())
        inv = {f"{c}.{g}": self.channels[c].gates[g].inverse_tau(y.V, self._factor(self.channels[c]),
                                                                 rates.get(f"{c}.{g}"))
               for c, g in self.state_gates()}
        return ConductanceState(V=g_s / self.C, gates=inv)

    def voltage(self, y) -> Array:
        return y.V

    def default_threshold(self):
        return self.threshold
