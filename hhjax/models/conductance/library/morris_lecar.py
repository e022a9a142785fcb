"""Morris & Lecar (1981), Biophys. J. 35:193, barnacle muscle fibre, with the parameter set of
Rinzel & Ermentrout (1989) for a Hopf (class II) onset:

C 20 µF/cm²; Ca with instantaneous m∞ = (1 + tanh((V − V1)/V2))/2, ḡ_Ca 4.4 mS/cm², E_Ca 120 mV;
K with w: dw/dt = φ(w∞ − w)/τ_w, w∞ = (1 + tanh((V − V3)/V4))/2, τ_w = 1/cosh((V − V3)/(2V4)),
ḡ_K 8, E_K −84; leak ḡ 2, E −60; V1 −1.2, V2 18, V3 2, V4 30 mV, φ 0.04 /ms.
"""

from __future__ import annotations

from ..channel import Channel
from ..functions import CoshTau, TanhSteady
from ..gates import SteadyStateGate
from ..neuron import ConductanceNeuron


def morris_lecar(*, C=20.0, g_Ca=4.4, g_K=8.0, g_L=2.0, E_Ca=120.0, E_K=-84.0, E_L=-60.0, V1=-1.2, V2=18.0,
                 V3=2.0, V4=30.0, phi=0.04, V_rest=-60.0, threshold=0.0) -> ConductanceNeuron:
    return ConductanceNeuron({
        "ca": Channel(g_Ca, E_Ca, {"m": SteadyStateGate(TanhSteady(V1, V2), None, 1, instantaneous=True)}),
        "k": Channel(g_K, E_K, {"w": SteadyStateGate(TanhSteady(V3, V4), CoshTau(V3, V4), 1, phi=phi)}),
        "leak": Channel(g_L, E_L),
    }, C, V_rest=V_rest, threshold=threshold)
