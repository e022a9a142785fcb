"""Wang & Buzsáki (1996), J. Neurosci. 16:6402, hippocampal fast-spiking interneuron.

C 1 µF/cm²; Na m∞³h with instantaneous m, ḡ 35 mS/cm², E 55 mV; K n⁴, ḡ 9, E −90; leak ḡ 0.1,
E −65; φ = 5 on h and n. α_m = 0.1(V+35)/(1 − e^{−(V+35)/10}), β_m = 4e^{−(V+60)/18},
α_h = 0.07e^{−(V+58)/20}, β_h = 1/(1 + e^{−(V+28)/10}), α_n = 0.01(V+34)/(1 − e^{−(V+34)/10}),
β_n = 0.125e^{−(V+44)/80}.
"""

from __future__ import annotations

from ...rates import Exponential, Linoid, Sigmoid
from ..channel import Channel
from ..gates import RateGate
from ..neuron import ConductanceNeuron


def wang_buzsaki(*, C=1.0, g_Na=35.0, g_K=9.0, g_L=0.1, E_Na=55.0, E_K=-90.0, E_L=-65.0, phi=5.0,
                 V_rest=-65.0, threshold=0.0) -> ConductanceNeuron:
    return ConductanceNeuron({
        "na": Channel(g_Na, E_Na, {
            "m": RateGate(Linoid(0.1, -35.0, 10.0), Exponential(4.0, -60.0, 18.0), 3, instantaneous=True),
            "h": RateGate(Exponential(0.07, -58.0, 20.0), Sigmoid(1.0, -28.0, 10.0), 1, phi=phi)}),
        "k": Channel(g_K, E_K, {"n": RateGate(Linoid(0.01, -34.0, 10.0), Exponential(0.125, -44.0, 80.0), 4,
                                              phi=phi)}),
        "leak": Channel(g_L, E_L),
    }, C, V_rest=V_rest, threshold=threshold)
