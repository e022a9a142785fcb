"""The Traub–Miles type neuron of the COBAHH benchmark (Traub & Miles 1991; Brette et al. 2007,
J. Comput. Neurosci. 23:349, benchmark 3), per cm² of membrane.

C 1 µF/cm²; Na m³h, ḡ 100 mS/cm², E 50 mV; K (delayed rectifier) n⁴, ḡ 30, E −90; leak ḡ 0.05,
E −60; V_T −63 mV. With u = V − V_T: α_m = 0.32(u − 13)/(1 − e^{−(u−13)/4}),
β_m = 0.28(u − 40)/(e^{(u−40)/5} − 1), α_h = 0.128e^{−(u−17)/18}, β_h = 4/(1 + e^{−(u−40)/5}),
α_n = 0.032(u − 15)/(1 − e^{−(u−15)/5}), β_n = 0.5e^{−(u−10)/40}.

With these published values the cell has no resting state (its steady-state current is
inward from −80 to −40 mV): it fires without input, and `initial_state()` starts from the
gates' steady state at V_rest.
"""

from __future__ import annotations

from ...rates import Exponential, Linoid, Sigmoid
from ..channel import Channel
from ..gates import RateGate
from ..neuron import ConductanceNeuron


def traub_miles_channels(V_T: float, g_Na, g_K, E_Na, E_K) -> dict:
    """The Na and K channels of the Traub–Miles family (also Pospischil et al. 2008's)."""
    return {
        "na": Channel(g_Na, E_Na, {
            "m": RateGate(Linoid(0.32, V_T + 13.0, 4.0), Linoid(-0.28, V_T + 40.0, -5.0), 3),
            "h": RateGate(Exponential(0.128, V_T + 17.0, 18.0), Sigmoid(4.0, V_T + 40.0, 5.0), 1)}),
        "k": Channel(g_K, E_K, {"n": RateGate(Linoid(0.032, V_T + 15.0, 5.0), Exponential(0.5, V_T + 10.0, 40.0), 4)}),
    }


def traub_miles(*, C=1.0, g_Na=100.0, g_K=30.0, g_L=0.05, E_Na=50.0, E_K=-90.0, E_L=-60.0, V_T=-63.0,
                V_rest=-60.0, threshold=-20.0) -> ConductanceNeuron:
    """Spike threshold −20 mV, as in Brian2's COBAHH example."""
    return ConductanceNeuron({**traub_miles_channels(V_T, g_Na, g_K, E_Na, E_K), "leak": Channel(g_L, E_L)}, C,
                             V_rest=V_rest, threshold=threshold)
