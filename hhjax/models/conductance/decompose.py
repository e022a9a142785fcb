"""The compiler from channels to tv-LIF networks (He et al. 2024, generalised).

Any gate dx/dt = α(1 − x) − βx (or (x∞ − x)/τ) is an input-free tv-LIF with τ = 1/(α + β)
and rest x∞ = α/(α + β), driven by V; the membrane C dV/dt = I − Σ g_c (V − E_c) is a tv-LIF
with τ = C/g_s, rest E_s = Σ g_c E_c / g_s and gain 1/g_s, g_s = Σ g_c. `tvlif_decompose`
turns a `ConductanceNeuron` into that network — self-contained: it simulates its own gate
units — and reports which gates stay algebraic (instantaneous: x = x∞(V), no unit)."""

from __future__ import annotations

from jaxtyping import Array

from ..base import AbstractNeuron, tvlif_derivative
from .neuron import ConductanceNeuron, ConductanceState


class TVLIFNetwork(AbstractNeuron):
    """A `ConductanceNeuron` as tv-LIF units: one per gate with a state (input-free, τ and
    rest set by V) and one membrane unit (τ, rest and gain set by the gates). The state is
    the source model's (`ConductanceState`), so traces compare directly."""

    source: ConductanceNeuron

    def initial_state(self, V=None) -> ConductanceState:
        return self.source.initial_state(V)

    def dynamics(self, t, y: ConductanceState, current) -> ConductanceState:
        rates = self.source.rate_values(y.V)
        tau, rest, gain = self.source.membrane_tvlif(y, rates)
        dV = tvlif_derivative(y.V, tau, rest, gain, current)
        gates = {k: tvlif_derivative(y.gates[k], tau_k, x_inf, 0.0, 0.0)
                 for k, (tau_k, x_inf) in self.source.gate_tvlif(y.V, rates).items()}
        return ConductanceState(V=dV, gates=gates)

    def decay_rates(self, t, y: ConductanceState, current) -> ConductanceState:
        rates = self.source.rate_values(y.V)
        tau, _, _ = self.source.membrane_tvlif(y, rates)
        return ConductanceState(V=1 / tau, gates={k: 1 / tau_k
                                                  for k, (tau_k, _) in self.source.gate_tvlif(y.V, rates).items()})

    def voltage(self, y) -> Array:
        return y.V

    def default_threshold(self):
        return self.source.default_threshold()

    def units(self) -> list[dict]:
        """The network's units: each gate unit (input-free tv-LIF), the membrane unit, and
        each algebraic (instantaneous) gate, with what sets its τ and rest."""
        out = [dict(name=f"{c}.{g}", kind="gate tv-LIF", power=self.source.channels[c].gates[g].power,
                    tau="1/(alpha+beta)(V)", rest="x_inf(V)", input=None) for c, g in self.source.state_gates()]
        out += [dict(name=f"{c}.{g}", kind="algebraic gate (instantaneous)",
                     power=self.source.channels[c].gates[g].power, value="x_inf(V)")
                for c, g in self.source.algebraic_gates()]
        out.append(dict(name="V", kind="membrane tv-LIF", tau="C/g_s", rest="sum(g_c E_c)/g_s", gain="1/g_s",
                        input="I", channels=list(self.source.channels)))
        return out


def tvlif_decompose(model: ConductanceNeuron) -> TVLIFNetwork:
    """`model` as its network of tv-LIF units (see the module docstring)."""
    if not isinstance(model, ConductanceNeuron):
        raise ValueError(f"tvlif_decompose takes a ConductanceNeuron, got {type(model).__name__}")
    return TVLIFNetwork(model)
