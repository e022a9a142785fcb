"""The XOR demo of He et al. (2024), `time_varied_simulation/xor/main.m` (spec §2.2(d)).

Three neurons in the −65 mV convention, started at the steady state of −70 mV. Inputs
1 and 2 get constant currents I1, I2; neuron 3 gets +W while V1 > −40 mV and −W while
V2 > −40 mV. Forward Euler, dt = 0.001 ms, 40 ms.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..integrate import simulate
from ..models import HodgkinHuxley, ThresholdCoupled, tvlif2hh
from ..stimuli import Constant

XOR_INIT_MV = -70.0
XOR_THRESHOLD_MV = -40.0


def xor_network(I1: float, I2: float, *, form: str = "hh", weight: float = 20.0, hh=None):
    """(model, stimulus, y0) of the XOR network; `form` is "hh", "tvlif2hh" (the
    four-neuron wiring) or "gates" (gate-form tv-LIF)."""
    hh = HodgkinHuxley() if hh is None else hh
    start = hh.steady_state(jnp.full((3,), XOR_INIT_MV))
    if form == "hh":
        neuron, y0 = hh, start
    elif form in ("tvlif2hh", "gates"):
        neuron = tvlif2hh(hh, "channels" if form == "tvlif2hh" else "gates")
        y0 = neuron.from_hh_state(start) if form == "tvlif2hh" else start
    else:
        raise ValueError(f"unknown XOR network form {form!r}; choose 'hh', 'tvlif2hh' or 'gates'")
    weights = jnp.array([[0.0, 0.0, weight], [0.0, 0.0, -weight], [0.0, 0.0, 0.0]])
    model = ThresholdCoupled(neuron, weights, threshold=XOR_THRESHOLD_MV)
    return model, Constant(jnp.array([I1, I2, 0.0])), y0


def xor_output_spikes(I1, I2, *, form="hh", dt=0.001, t1=40.0, solver="euler", dtype=None, **kwargs):
    """Spike times (ms) of the output neuron: upward crossings of −40 mV."""
    model, stim, y0 = xor_network(I1, I2, form=form)
    sim = simulate(model, stim, t1=t1, dt=dt, solver=solver, y0=y0, dtype=dtype,
                   threshold=XOR_THRESHOLD_MV, **kwargs)
    return sim.spike_list()[2]
