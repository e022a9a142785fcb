"""The Hodgkin–Huxley squid-axon model in both conventions used by He et al. (2024)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .base import AbstractNeuron
from .rates import AbstractRate, Exponential, Linoid, Sigmoid, gate_tvlif


class HHState(eqx.Module):
    """V (mV) and the gates m, h, n (dimensionless, in [0, 1])."""

    V: Array
    m: Array
    h: Array
    n: Array


class HodgkinHuxley(AbstractNeuron):
    """Hodgkin–Huxley neuron: C dV/dt = I − ḡNa m³h (V − ENa) − ḡK n⁴ (V − EK) − ḡL (V − EL),
    dx/dt = α_x(V)(1 − x) − β_x(V) x for x ∈ {m, h, n}.

    Units: C in µF/cm², conductances in mS/cm², potentials in mV, time in ms, current in
    µA/cm². The defaults are the standard convention (rest near −65 mV);
    `HodgkinHuxley.shifted()` gives the 1952 convention with rest at 0 mV. `V_rest` is
    the nominal resting potential used by `initial_state()` and the spike threshold
    (`V_rest + 65` mV, i.e. 0 mV on the absolute scale).

    Rate functions are `AbstractRate` modules, so a variant (e.g. Traub–Miles) is just
    another set of coefficients or a subclass overriding `gate_rates`.
    """

    C: ArrayLike = 1.0
    g_Na: ArrayLike = 120.0
    g_K: ArrayLike = 36.0
    g_L: ArrayLike = 0.3
    E_Na: ArrayLike = 50.0
    E_K: ArrayLike = -77.0
    E_L: ArrayLike = -54.387
    V_rest: ArrayLike = -65.0
    alpha_m: AbstractRate = Linoid(0.1, -40.0, 10.0)
    beta_m: AbstractRate = Exponential(4.0, -65.0, 18.0)
    alpha_h: AbstractRate = Exponential(0.07, -65.0, 20.0)
    beta_h: AbstractRate = Sigmoid(1.0, -35.0, 10.0)
    alpha_n: AbstractRate = Linoid(0.01, -55.0, 10.0)
    beta_n: AbstractRate = Exponential(0.125, -65.0, 80.0)

    @classmethod
    def standard(cls, **overrides) -> "HodgkinHuxley":
        """Rest near −65 mV: ENa/EK/EL = 50/−77/−54.387 mV."""
        return cls(**overrides)

    @classmethod
    def shifted(cls, **overrides) -> "HodgkinHuxley":
        """Rest at 0 mV (HH 1952): ENa/EK/EL = 115/−12/10.613 mV, rates shifted by +65 mV."""
        base = cls()
        params = dict(
            E_Na=115.0,
            E_K=-12.0,
            E_L=10.613,
            V_rest=0.0,
            **{name: getattr(base, name).shifted(65.0) for name in RATE_NAMES},
        )
        params.update(overrides)
        return cls(**params)

    # -- gates ---------------------------------------------------------------------
    def gate_rates(self, V: ArrayLike) -> dict[str, tuple[Array, Array]]:
        """{'m': (α_m, β_m), 'h': (α_h, β_h), 'n': (α_n, β_n)} at V (1/ms)."""
        am, bm, ah, bh, an, bn = (getattr(self, name)(V) for name in RATE_NAMES)
        return {"m": (am, bm), "h": (ah, bh), "n": (an, bn)}

    def gate_tvlif(self, V: ArrayLike) -> dict[str, tuple[Array, Array]]:
        """Each gate as an input-free tv-LIF: {'m': (τ_m, m∞), ...}; τ in ms."""
        return {x: gate_tvlif(a, b) for x, (a, b) in self.gate_rates(V).items()}

    def steady_state(self, V: ArrayLike) -> HHState:
        """The state with gates at their steady state x∞(V) for a clamped V (mV)."""
        V = jnp.asarray(V)
        g = self.gate_tvlif(V)
        return HHState(V=V, m=g["m"][1], h=g["h"][1], n=g["n"][1])

    def initial_state(self, V: ArrayLike | None = None) -> HHState:
        """Steady state at `V` (default `V_rest`), broadcast to the parameters' shape."""
        V = self.V_rest if V is None else V
        shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in (V, self.g_Na, self.g_K, self.g_L, self.C)))
        return self.steady_state(jnp.broadcast_to(jnp.asarray(V), shape))

    def resting_state(self, current: ArrayLike = 0.0, iterations: int = 30) -> HHState:
        """The equilibrium for a constant `current` (µA/cm²): V with I = I_ion(V, x∞(V)),
        found by Newton's method from `V_rest`, gates at x∞(V). (For the standard
        parameters the I = 0 rest is ≈ −64.996 mV, not exactly −65.)"""

        def residual(V):
            return current - self.ionic_current(self.steady_state(V))

        def newton(_, V):
            r, dr = jax.jvp(residual, (V,), (jnp.ones_like(V),))
            return V - r / dr

        V0 = jnp.asarray(self.V_rest, dtype=jnp.result_type(self.V_rest, float))
        V0 = jnp.broadcast_to(V0, jnp.broadcast_shapes(V0.shape, jnp.shape(current)))
        return self.steady_state(jax.lax.fori_loop(0, iterations, newton, V0))

    # -- membrane ------------------------------------------------------------------
    def conductances(self, y) -> tuple[Array, Array, Array]:
        """(g_Na, g_K, g_L) in mS/cm² for the gate state in `y`."""
        return self.g_Na * y.m**3 * y.h, self.g_K * y.n**4, jnp.asarray(self.g_L)

    def ionic_current(self, y) -> Array:
        """Total ionic current (µA/cm², outward positive)."""
        g_na, g_k, g_l = self.conductances(y)
        return g_na * (y.V - self.E_Na) + g_k * (y.V - self.E_K) + g_l * (y.V - self.E_L)

    def membrane_tvlif(self, y) -> tuple[Array, Array, Array]:
        """The membrane as one tv-LIF: (τ = C/g_s in ms, E_s in mV, R = 1/g_s in kΩ·cm²)."""
        g_na, g_k, g_l = self.conductances(y)
        g_s = g_na + g_k + g_l
        E_s = (g_na * self.E_Na + g_k * self.E_K + g_l * self.E_L) / g_s
        return self.C / g_s, E_s, 1 / g_s

    def dynamics(self, t, y: HHState, current) -> HHState:
        rates = self.gate_rates(y.V)
        dV = (current - self.ionic_current(y)) * (1 / self.C)

        def gate(x, ab):
            a, b = ab
            return a * (1 - x) - b * x

        return HHState(V=dV, m=gate(y.m, rates["m"]), h=gate(y.h, rates["h"]), n=gate(y.n, rates["n"]))

    def decay_rates(self, t, y: HHState, current) -> HHState:
        g_na, g_k, g_l = self.conductances(y)
        rates = self.gate_rates(y.V)
        return HHState(
            V=(g_na + g_k + g_l) / self.C,
            m=rates["m"][0] + rates["m"][1],
            h=rates["h"][0] + rates["h"][1],
            n=rates["n"][0] + rates["n"][1],
        )

    def voltage(self, y) -> Array:
        return y.V

    def default_threshold(self) -> float:
        return self.V_rest + 65.0


RATE_NAMES = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")


def traub_miles(**overrides) -> HodgkinHuxley:
    """Traub–Miles (1991) HH variant as used by Brette et al. (2007), V_T = −63 mV:
    α_m = 0.32(V−V_T−13)/(1−e^{−(V−V_T−13)/4}), β_m = 0.28(V−V_T−40)/(e^{(V−V_T−40)/5}−1),
    α_h = 0.128 e^{−(V−V_T−17)/18}, β_h = 4/(1+e^{−(V−V_T−40)/5}),
    α_n = 0.032(V−V_T−15)/(1−e^{−(V−V_T−15)/5}), β_n = 0.5 e^{−(V−V_T−10)/40}.
    Shows that a new HH-type model is only a new set of rate functions.
    """
    vt = -63.0
    params = dict(
        g_Na=100.0, g_K=30.0, g_L=0.05, E_Na=50.0, E_K=-90.0, E_L=-65.0, V_rest=-65.0,
        alpha_m=Linoid(0.32, vt + 13, 4.0),
        # 0.28(V−a)/(exp((V−a)/5) − 1) = Linoid with negative k: rate·k·x/(1−e^{−x}), k = −5
        beta_m=Linoid(-0.28, vt + 40, -5.0),
        alpha_h=Exponential(0.128, vt + 17, 18.0),
        beta_h=Sigmoid(4.0, vt + 40, 5.0),
        alpha_n=Linoid(0.032, vt + 15, 5.0),
        beta_n=Exponential(0.5, vt + 10, 40.0),
    )
    params.update(overrides)
    return HodgkinHuxley(**params)
