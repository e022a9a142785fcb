"""HH written as coupled tv-LIF neurons (He et al. 2024, spec §2).

Two self-contained forms, both built from any HH-type parameter set by `tvlif2hh`:

- `TVLIFGateForm`: m, h, n and V are each one tv-LIF. Gate x has τ_x(V) = 1/(α_x+β_x) and
  rest x∞(V) = α_x/(α_x+β_x) with no input; the membrane has τ = C/g_s(t), rest E_s(t) and
  gain 1/g_s(t).
- `TVLIF2HH`: the authors' four-neuron wiring. Three channel tv-LIFs u_Na, u_K, u_L with
  τ = C, rests E_Na, E_K, E_L and input I/g_s; an accumulator F with dF = Σ g_k du_k; an
  integrating tv-LIF u_4 with τ = C/g_s, rest −F + Σ g_k u_k / g_s; output V = F + u_4.
  Its conductances come from its own gates (input-free tv-LIFs driven by V), never from a
  parallel HH simulation.

Since dV/dt = dF/dt + du_4/dt reduces to the HH membrane equation and V = F + u_4 is
linear, any Runge–Kutta method gives the same V as on HH up to rounding.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .base import AbstractNeuron, tvlif_derivative, tvlif_derivative_by_rate
from .hh import HHState, HodgkinHuxley


def _gate_derivatives(hh: HodgkinHuxley, V, y):
    """Each gate as an input-free tv-LIF, dx/dt = (x∞ − x)/τ, evaluated without a division:
    1/τ = α + β and x∞/τ = α, so dx/dt = α − x/τ (`gate_tvlif` gives τ and x∞ themselves)."""
    return {x: a - (a + b) * getattr(y, x) for x, (a, b) in hh.gate_rates(V).items()}


def _gate_decay_rates(hh: HodgkinHuxley, V):
    return {x: a + b for x, (a, b) in hh.gate_rates(V).items()}


class TVLIFGateForm(AbstractNeuron):
    """HH with every state variable written as one tv-LIF (state: `HHState`)."""

    hh: HodgkinHuxley

    def initial_state(self, V=None) -> HHState:
        return self.hh.initial_state(V)

    def dynamics(self, t, y: HHState, current) -> HHState:
        tau, rest, gain = self.hh.membrane_tvlif(y)
        dV = tvlif_derivative(y.V, tau, rest, gain, current)
        return HHState(V=dV, **_gate_derivatives(self.hh, y.V, y))

    def decay_rates(self, t, y: HHState, current) -> HHState:
        tau, _, _ = self.hh.membrane_tvlif(y)
        return HHState(V=1 / tau, **_gate_decay_rates(self.hh, y.V))

    def voltage(self, y) -> Array:
        return y.V

    def default_threshold(self):
        return self.hh.default_threshold()


class TVLIF2HHState(eqx.Module):
    """Channel neurons u_na, u_k, u_l (mV), accumulator f (mV), integrating neuron u4
    (mV), and the gate neurons m, h, n. The output potential is V = f + u4."""

    u_na: Array
    u_k: Array
    u_l: Array
    f: Array
    u4: Array
    m: Array
    h: Array
    n: Array


class TVLIF2HH(AbstractNeuron):
    """The four-tv-LIF wiring of HH (tv-LIF2HH) with its gates simulated as tv-LIFs."""

    hh: HodgkinHuxley

    def from_hh_state(self, s: HHState) -> TVLIF2HHState:
        """Same initial condition as an HH state: u_k = 0, F = 0, u4 = V, same gates."""
        z = jnp.zeros_like(s.V)
        return TVLIF2HHState(u_na=z, u_k=z, u_l=z, f=z, u4=s.V, m=s.m, h=s.h, n=s.n)

    def initial_state(self, V=None) -> TVLIF2HHState:
        return self.from_hh_state(self.hh.initial_state(V))

    def voltage(self, y) -> Array:
        return y.f + y.u4

    def default_threshold(self):
        return self.hh.default_threshold()

    def _conductances(self, y):
        return self.hh.conductances(HHState(V=self.voltage(y), m=y.m, h=y.h, n=y.n))

    def dynamics(self, t, y: TVLIF2HHState, current) -> TVLIF2HHState:
        # Each neuron is a tv-LIF; the reciprocals 1/C and 1/g_s are formed once (one
        # division per step, not six).
        hh = self.hh
        V = self.voltage(y)
        g_na, g_k, g_l = self._conductances(y)
        g_s = g_na + g_k + g_l
        gain = 1 / g_s  # the channel neurons' gain, kΩ·cm²
        inv_c = 1 / hh.C
        drive = gain * current  # the same for the three channel neurons
        du_na = tvlif_derivative_by_rate(y.u_na, inv_c, hh.E_Na, drive)
        du_k = tvlif_derivative_by_rate(y.u_k, inv_c, hh.E_K, drive)
        du_l = tvlif_derivative_by_rate(y.u_l, inv_c, hh.E_L, drive)
        pull = g_na * y.u_na + g_k * y.u_k + g_l * y.u_l
        # dF = Σ g_k du_k with du_k = (E_k − u_k + I/g_s)/C summed in closed form (the three
        # inputs g_k·I/g_s add up to I), and u4's tv-LIF (τ4 = C/g_s, rest −F + Σ g_k u_k/g_s)
        # multiplied out: the same derivatives without re-reading du_k or dividing by g_s
        # (about 5 % less time per step for N = 100,000 at float64).
        df = (g_na * hh.E_Na + g_k * hh.E_K + g_l * hh.E_L - pull + current) * inv_c
        du4 = (pull - V * g_s) * inv_c
        return TVLIF2HHState(u_na=du_na, u_k=du_k, u_l=du_l, f=df, u4=du4, **_gate_derivatives(hh, V, y))

    def decay_rates(self, t, y: TVLIF2HHState, current) -> TVLIF2HHState:
        g_na, g_k, g_l = self._conductances(y)
        g_s = g_na + g_k + g_l
        inv_c = 1 / self.hh.C + jnp.zeros_like(y.f)
        return TVLIF2HHState(
            u_na=inv_c, u_k=inv_c, u_l=inv_c, f=jnp.zeros_like(y.f), u4=g_s / self.hh.C,
            **_gate_decay_rates(self.hh, self.voltage(y)),
        )


def tvlif2hh(hh: HodgkinHuxley | None = None, form: str = "channels") -> AbstractNeuron:
    """Build the tv-LIF description of an HH-type model: `form="channels"` gives the
    authors' four-neuron `TVLIF2HH`, `form="gates"` the `TVLIFGateForm`. A
    `ConductanceNeuron` (any channel set) goes through the general compiler,
    `tvlif_decompose`, whose gate form is the same network (`form` "gates" only)."""
    from .conductance import ConductanceNeuron, tvlif_decompose

    if isinstance(hh, ConductanceNeuron):
        if form != "gates":
            raise ValueError("a ConductanceNeuron decomposes in the gate form only (form='gates'); the four-neuron "
                             "channel wiring of He et al. is written for the squid HH set")
        return tvlif_decompose(hh)
    hh = HodgkinHuxley() if hh is None else hh
    if form == "channels":
        return TVLIF2HH(hh)
    if form == "gates":
        return TVLIFGateForm(hh)
    raise ValueError(f"unknown tv-LIF2HH form {form!r}; choose 'channels' or 'gates'")
