"""Synapse models: how a presynaptic spike becomes input to the postsynaptic neuron.

Each synapse model keeps a state of shape (k, n_post) per projection (k = 1 for exponential,
2 for alpha and dual-exponential, 0 for delta), linear between spikes. A spike of weight w
adds `w · kick` to that state. The input to the neuron is `s = conductance(state)`:

- conductance-based (COBA, `reversal` given in mV): current s·(E − V), s in mS/cm²;
- current-based (CUBA, `reversal=None`): current s in µA/cm²;
- `Delta`: no state; a spike moves the postsynaptic V by w (mV) at once.

Time constants in ms. Weights are normalised so that one spike of weight w gives a peak of w
(exponential: at once; alpha: after tau; dual-exponential: at the rise/decay peak).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array


def _positive(value, what):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a positive number of ms, got {value!r}")
    return float(value)


class AbstractSynapse(eqx.Module):
    """The interface of a synapse model (see the module docstring)."""

    reversal: float | None = None

    @property
    def n_states(self) -> int:
        raise NotImplementedError

    @property
    def conductance_based(self) -> bool:
        return self.reversal is not None

    def kick(self) -> tuple[float, ...]:
        """The state increment per unit weight, one entry per state row."""
        raise NotImplementedError

    def derivative(self, s: Array) -> Array:
        """ds/dt (per ms) of the state s, shape (k, n)."""
        raise NotImplementedError

    def decay_rates(self, s: Array) -> Array:
        """The diagonal decay rate (1/ms) of each state row, for exponential Euler: shape
        (k, 1) when every neuron's is the same (so the solver's step factor is evaluated
        once per row, not once per neuron), else (k, n)."""
        raise NotImplementedError

    def conductance(self, s: Array) -> Array:
        """The synaptic drive (mS/cm² for COBA, µA/cm² for CUBA), shape (n,)."""
        raise NotImplementedError

    def current(self, s: Array, V: Array) -> Array:
        """The current (µA/cm²) into neurons at potential V (mV)."""
        g = self.conductance(s)
        return g * (self.reversal - V) if self.conductance_based else g

    def initial_state(self, n: int, dtype) -> Array:
        return jnp.zeros((self.n_states, n), dtype)


class _OneTimeConstant(AbstractSynapse):
    """A synapse whose every state decays with one time constant `tau` (ms)."""

    tau: float = 5.0

    def __init__(self, tau: float = 5.0, reversal: float | None = None):
        self.tau, self.reversal = _positive(tau, "tau"), None if reversal is None else float(reversal)

    def decay_rates(self, s):
        return jnp.full((s.shape[0], 1), 1 / self.tau, s.dtype)

    def conductance(self, s):
        return s[0]


class Exponential(_OneTimeConstant):
    """ds/dt = −s/tau; a spike adds w."""

    @property
    def n_states(self):
        return 1

    def kick(self):
        return (1.0,)

    def derivative(self, s):
        return -s / self.tau


class Alpha(_OneTimeConstant):
    """g(t) = w·(t/tau)·e^{1 − t/tau} after a spike at 0: dg/dt = −g/tau + a, da/dt = −a/tau,
    a spike adds w·e/tau to a (peak w at t = tau)."""

    @property
    def n_states(self):
        return 2

    def kick(self):
        return (0.0, math.e / self.tau)

    def derivative(self, s):
        return jnp.stack([-s[0] / self.tau + s[1], -s[1] / self.tau])


class DualExponential(AbstractSynapse):
    """g(t) = w·k·(e^{−t/tau_decay} − e^{−t/tau_rise}) after a spike at 0, k such that the
    peak is w; states (rise, decay) each decaying with its own constant, g = decay − rise."""

    tau_rise: float = 1.0
    tau_decay: float = 5.0

    def __init__(self, tau_rise: float = 1.0, tau_decay: float = 5.0, reversal: float | None = None):
        self.tau_rise, self.tau_decay = _positive(tau_rise, "tau_rise"), _positive(tau_decay, "tau_decay")
        if not self.tau_rise < self.tau_decay:
            raise ValueError(f"tau_rise ({tau_rise} ms) must be shorter than tau_decay ({tau_decay} ms)")
        self.reversal = None if reversal is None else float(reversal)

    @property
    def n_states(self):
        return 2

    def _norm(self) -> float:
        r, d = self.tau_rise, self.tau_decay
        t_peak = r * d / (d - r) * math.log(d / r)
        return 1 / (math.exp(-t_peak / d) - math.exp(-t_peak / r))

    def kick(self):
        k = self._norm()
        return (k, k)

    def derivative(self, s):
        return jnp.stack([-s[0] / self.tau_rise, -s[1] / self.tau_decay])

    def decay_rates(self, s):
        return jnp.stack([1 / jnp.asarray(self.tau_rise, s.dtype), 1 / jnp.asarray(self.tau_decay, s.dtype)])[:, None]

    def conductance(self, s):
        return s[1] - s[0]


class Delta(AbstractSynapse):
    """A spike of weight w moves the postsynaptic membrane potential by w mV at once
    (current-based only: `reversal` must be None)."""

    def __init__(self):
        self.reversal = None

    @property
    def n_states(self):
        return 0

    def kick(self):
        return ()

    def derivative(self, s):
        return s

    def decay_rates(self, s):
        return s

    def conductance(self, s):
        raise TypeError("a delta synapse has no conductance")

    def current(self, s, V):
        return jnp.zeros_like(V)


SYNAPSES = {"exponential": Exponential, "alpha": Alpha, "dual-exponential": DualExponential, "delta": Delta}
