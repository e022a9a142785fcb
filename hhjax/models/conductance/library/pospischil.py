"""Pospischil et al. (2008), Biol. Cybern. 99:427, minimal HH models of cortical neurons: the
regular-spiking (RS) pyramidal cell with a slow M-current, and the fast-spiking (FS)
interneuron. Na and K as Traub–Miles (`traub_miles_channels`) with the cell's V_T; C 1 µF/cm²,
E_Na 50, E_K −90, E_leak −70 mV.

- RS: ḡ_leak 0.1, ḡ_Na 50, ḡ_Kd 5, ḡ_M 0.07 mS/cm², τ_max 1000 ms, V_T −56.2 mV;
- FS: ḡ_leak 0.15, ḡ_Na 50, ḡ_Kd 10 mS/cm², no M-current, V_T −63 mV.

M-current (Yamada et al. 1989): ḡ_M p (V − E_K), p∞ = 1/(1 + e^{−(V+35)/10}),
τ_p = τ_max/(3.3e^{(V+35)/20} + e^{−(V+35)/20}).
"""

from __future__ import annotations

from ..channel import Channel
from ..functions import Boltzmann, SlowPotassiumTau
from ..gates import SteadyStateGate
from ..neuron import ConductanceNeuron
from .traub_miles import traub_miles_channels


def pospischil_rs(*, C=1.0, g_L=0.1, g_Na=50.0, g_K=5.0, g_M=0.07, tau_max=1000.0, E_L=-70.0, E_Na=50.0,
                  E_K=-90.0, V_T=-56.2, V_rest=-70.0, threshold=0.0) -> ConductanceNeuron:
    channels = traub_miles_channels(V_T, g_Na, g_K, E_Na, E_K)
    channels["m_current"] = Channel(g_M, E_K, {"p": SteadyStateGate(Boltzmann(-35.0, 10.0),
                                                                    SlowPotassiumTau(tau_max, -35.0), 1)})
    channels["leak"] = Channel(g_L, E_L)
    return ConductanceNeuron(channels, C, V_rest=V_rest, threshold=threshold)


def pospischil_fs(*, C=1.0, g_L=0.15, g_Na=50.0, g_K=10.0, E_L=-70.0, E_Na=50.0, E_K=-90.0, V_T=-63.0,
                  V_rest=-70.0, threshold=0.0) -> ConductanceNeuron:
    channels = traub_miles_channels(V_T, g_Na, g_K, E_Na, E_K)
    channels["leak"] = Channel(g_L, E_L)
    return ConductanceNeuron(channels, C, V_rest=V_rest, threshold=threshold)
