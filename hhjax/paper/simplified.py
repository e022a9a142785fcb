"""HH vs s-LIF2HH, `simplified_simulation/main.m` of He et al. (2024) (spec §3.1).

HH side: two HH neurons in the 0 mV convention; HH1 is driven by the input, HH2 receives
100 µA/cm² while V_HH1 > 70 mV; the output spikes are HH2's crossings of 70 mV. Forward
Euler at dt = 0.001 ms from the script's initial state (not a steady state).

s-LIF2HH side: two joint-reset units at dt = 1 ms; layer-2 input neuron k receives
W12·s_k + s_4 from layer 1's pre-reset indicators (W12 = 1e5). A spike in step k is
stamped at t = k·dt, as in the script.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..integrate import cast_floats, resolve_dtype, simulate
from ..models import SLIF2HH, HHState, HodgkinHuxley, ThresholdCoupled, tvlif2hh
from ..spike_trains import SpikeTrainComparison, compare_spike_trains  # noqa: F401  (re-exported)
from ..stimuli import AbstractStimulus, Constant, Stacked, step_averages

# (V, m, h, n) of `simplified_simulation/main.m`: a refractory-like state, not rest.
PAPER_HH_INIT = dict(V=0.0, m=0.0489, h=0.1341, n=0.6446)
PAPER_THRESHOLD_MV = 70.0
PAPER_WEIGHT = 100.0  # W·dt1 = 1e5 × 0.001 µA/cm²


def hh_chain_spikes(stimuli: list[AbstractStimulus], *, form="hh", dt=0.001, t1=80.0,
                    solver="euler", dtype=None, save_every=None, **kwargs):
    """Output spike times of the HH1 → HH2 chain, one list per stimulus (all chains are
    simulated as one population). `form` is "hh", "tvlif2hh" or "gates". Returns
    (spike lists, Simulation)."""
    k = len(stimuli)
    hh = HodgkinHuxley.shifted()
    start = HHState(**{n: jnp.full((2 * k,), v) for n, v in PAPER_HH_INIT.items()})
    if form == "hh":
        neuron, y0 = hh, start
    else:
        neuron = tvlif2hh(hh, "channels" if form == "tvlif2hh" else "gates")
        y0 = neuron.from_hh_state(start) if form == "tvlif2hh" else start
    weights = np.zeros((2 * k, 2 * k))
    weights[2 * np.arange(k), 2 * np.arange(k) + 1] = PAPER_WEIGHT
    model = ThresholdCoupled(neuron, jnp.asarray(weights), threshold=PAPER_THRESHOLD_MV)
    stim = Stacked(tuple(s for st in stimuli for s in (st, Constant(0.0))))
    sim = simulate(model, stim, t1=t1, dt=dt, solver=solver, y0=y0, dtype=dtype,
                   threshold=PAPER_THRESHOLD_MV, save_every=save_every, **kwargs)
    spikes = sim.spike_list()
    return [spikes[2 * i + 1] for i in range(k)], sim


def slif2hh_chain_spikes(stimuli: list[AbstractStimulus], *, model: SLIF2HH | None = None,
                         t1=80.0, weight=1e5, dtype=None):
    """Output spike times of the two-layer s-LIF2HH chain, one list per stimulus."""
    model = SLIF2HH() if model is None else model
    dtype = resolve_dtype(dtype)
    n_steps = int(round(t1 / model.dt))
    stim = cast_floats(Stacked(tuple(stimuli)), dtype)
    fired = _slif2hh_chain(cast_floats(model, dtype), stim, n_steps, jnp.asarray(weight, dtype))
    fired = np.asarray(fired)
    return [[float(k * model.dt) for k in np.flatnonzero(fired[:, i])] for i in range(len(stimuli))]


@eqx.filter_jit
def _slif2hh_chain(model, stim, n_steps, weight):
    x = step_averages(stim, jnp.zeros((), weight.dtype), model.dt, n_steps)
    y = model.initial_state(x.shape[1:])

    def body(carry, x_t):
        l1, l2 = carry
        l1, _ = model.step(l1, x_t)
        into_l2 = tuple(weight * s + l1.s4 for s in (l1.s1, l1.s2, l1.s3))
        l2, fire = model.step(l2, into_l2)
        return (l1, l2), fire

    _, fired = jax.lax.scan(body, (y, y), x)
    return fired
