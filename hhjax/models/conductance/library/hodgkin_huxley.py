"""Hodgkin & Huxley (1952), squid giant axon, in the modern convention (rest near −65 mV,
6.3 °C): C 1 µF/cm²; Na m³h, ḡ 120 mS/cm², E 50 mV; K n⁴, ḡ 36, E −77; leak ḡ 0.3, E −54.387."""

from __future__ import annotations

from ...rates import Exponential, Linoid, Sigmoid
from ..channel import Channel
from ..gates import RateGate
from ..neuron import ConductanceNeuron


def hodgkin_huxley(*, C=1.0, g_Na=120.0, g_K=36.0, g_L=0.3, E_Na=50.0, E_K=-77.0, E_L=-54.387,
                   V_rest=-65.0, threshold=0.0) -> ConductanceNeuron:
    """The classic squid HH neuron as channels (equal to `hhjax.HodgkinHuxley` to rounding)."""
    return ConductanceNeuron({
        "na": Channel(g_Na, E_Na, {"m": RateGate(Linoid(0.1, -40.0, 10.0), Exponential(4.0, -65.0, 18.0), 3),
                                   "h": RateGate(Exponential(0.07, -65.0, 20.0), Sigmoid(1.0, -35.0, 10.0), 1)}),
        "k": Channel(g_K, E_K, {"n": RateGate(Linoid(0.01, -55.0, 10.0), Exponential(0.125, -65.0, 80.0), 4)}),
        "leak": Channel(g_L, E_L),
    }, C, V_rest=V_rest, threshold=threshold)
