"""A channel: conductance ḡ (mS/cm²) times a product of gates, driving V toward its reversal
potential E (mV): I = ḡ·Π x_i^{p_i}·(V − E) in µA/cm²."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
from jaxtyping import ArrayLike

from .gates import AbstractGate


class Channel(eqx.Module):
    """`g` (mS/cm², ≥ 0), `E` (mV) and `gates` {name: gate}; no gates: a leak. `q10` and
    `reference_celsius`: the gates' rates scale by q10^((T − T_ref)/10) at the neuron's
    temperature T (`ConductanceNeuron.celsius`; None: as given)."""

    g: ArrayLike
    E: ArrayLike
    gates: dict
    q10: ArrayLike
    reference_celsius: ArrayLike

    def __init__(self, g, E, gates: dict | None = None, *, q10: ArrayLike = 1.0, reference_celsius: ArrayLike = 6.3):
        gates = dict(gates or {})
        for name, gate in gates.items():
            if not isinstance(gate, AbstractGate):
                raise ValueError(f"gate {name!r} has no rate form: give a RateGate(alpha, beta, power) or a "
                                 f"SteadyStateGate(x_inf, tau, power), got {type(gate).__name__}")
        _check_non_negative(g, "conductance g")
        self.g, self.E, self.gates, self.q10, self.reference_celsius = g, E, gates, q10, reference_celsius

    def temperature_factor(self, celsius):
        if celsius is None:
            return 1.0
        return self.q10 ** ((celsius - self.reference_celsius) / 10)


def _check_non_negative(x, what: str):
    """A named error for a concrete negative (or NaN) value; traced values pass."""
    if isinstance(x, jax.core.Tracer):
        return
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return
    if arr.size and (np.any(np.isnan(arr)) or np.any(arr < 0)):
        raise ValueError(f"{what} must be non-negative (mS/cm²), got {x!r}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite, got {x!r}")
