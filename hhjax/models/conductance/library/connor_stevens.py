"""Connor & Stevens (1977), J. Physiol. 213:31, with the transient A-type K⁺ current, in the
form of Dayan & Abbott (2001), Theoretical Neuroscience §6.2 (per cm²):

C 1 µF/cm²; Na m³h, ḡ 120 mS/cm², E 55 mV; K n⁴, ḡ 20, E −72; A a³b, ḡ 47.7, E −75; leak ḡ 0.3,
E −17 mV.
α_m = 0.38(V+29.7)/(1 − e^{−0.1(V+29.7)}), β_m = 15.2e^{−0.0556(V+54.7)},
α_h = 0.266e^{−0.05(V+48)}, β_h = 3.8/(1 + e^{−0.1(V+18)}),
α_n = 0.02(V+45.7)/(1 − e^{−0.1(V+45.7)}), β_n = 0.25e^{−0.0125(V+55.7)},
a∞ = (0.0761e^{0.0314(V+94.22)}/(1 + e^{0.0346(V+1.17)}))^{1/3}, τ_a = 0.3632 + 1.158/(1 + e^{0.0497(V+55.96)}),
b∞ = (1 + e^{0.0688(V+53.3)})^{−4}, τ_b = 1.24 + 2.678/(1 + e^{0.0624(V+50)}).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import ArrayLike

from ...rates import Exponential, Linoid, Sigmoid
from ..channel import Channel
from ..functions import SigmoidTau
from ..gates import RateGate, SteadyStateGate
from ..neuron import ConductanceNeuron


class ConnorStevensAInf(eqx.Module):
    """a∞(V) = (scale·e^{rise(V − v_rise)}/(1 + e^{fall(V − v_fall)}))^{1/3}."""

    scale: ArrayLike = 0.0761
    rise: ArrayLike = 0.0314
    v_rise: ArrayLike = -94.22
    fall: ArrayLike = 0.0346
    v_fall: ArrayLike = -1.17

    def __call__(self, V):
        return jnp.cbrt(self.scale * jnp.exp(self.rise * (V - self.v_rise)) / (1 + jnp.exp(self.fall * (V - self.v_fall))))


class ConnorStevensBInf(eqx.Module):
    """b∞(V) = (1 + e^{rate(V − v_half)})^{−4}."""

    rate: ArrayLike = 0.0688
    v_half: ArrayLike = -53.3

    def __call__(self, V):
        return (1 + jnp.exp(self.rate * (V - self.v_half))) ** -4


def connor_stevens(*, C=1.0, g_Na=120.0, g_K=20.0, g_A=47.7, g_L=0.3, E_Na=55.0, E_K=-72.0, E_A=-75.0,
                   E_L=-17.0, V_rest=-68.0, threshold=0.0) -> ConductanceNeuron:
    return ConductanceNeuron({
        "na": Channel(g_Na, E_Na, {
            "m": RateGate(Linoid(0.38, -29.7, 10.0), Exponential(15.2, -54.7, 1 / 0.0556), 3),
            "h": RateGate(Exponential(0.266, -48.0, 20.0), Sigmoid(3.8, -18.0, 10.0), 1)}),
        "k": Channel(g_K, E_K, {"n": RateGate(Linoid(0.02, -45.7, 10.0), Exponential(0.25, -55.7, 80.0), 4)}),
        "a": Channel(g_A, E_A, {
            "a": SteadyStateGate(ConnorStevensAInf(), SigmoidTau(0.3632, 1.158, -55.96, 0.0497), 3),
            "b": SteadyStateGate(ConnorStevensBInf(), SigmoidTau(1.24, 2.678, -50.0, 0.0624), 1)}),
        "leak": Channel(g_L, E_L),
    }, C, V_rest=V_rest, threshold=threshold)
