"""Synthetic targets: traces of a known model under several protocols (steps, sines,
noise), for testing that a fit recovers what generated them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..integrate import simulate
from ..stimuli import AbstractStimulus, Sine, Stacked, Step, Sum, ornstein_uhlenbeck
from .traces import Trace


def default_protocols(t1: float = 100.0, seed: int = 0, rest_mV: float = -65.0) -> dict[str, AbstractStimulus]:
    """Four protocols (µA/cm², ms) that take an HH neuron through rest, sub-threshold
    responses, repetitive firing and irregular firing: a 3 µA/cm² step (sub-threshold),
    a 10 µA/cm² step, a slow sine and an Ornstein–Uhlenbeck noise current. Steps start
    at 5 ms so that every trace opens with a stretch of rest. (`rest_mV` is unused by
    these currents; it is kept so that protocol sets for other conventions share the
    signature.)"""
    del rest_mV
    noise = ornstein_uhlenbeck(jax.random.PRNGKey(seed), mean=6.0, sigma=6.0, tau=2.0, t1=t1 + 1.0, dt=0.05)
    return {
        "step3": Step(0.0, 3.0, 5.0),
        "step10": Step(0.0, 10.0, 5.0),
        "sine": Sum((Step(0.0, 4.0, 5.0), Sine(0.0, 8.0, 40.0))),
        "noise": noise,
    }


def sample_protocols(stimuli: dict[str, AbstractStimulus], t: np.ndarray) -> np.ndarray:
    """The currents at the sample times, shape (P, T)."""
    ts = jnp.asarray(t)
    return np.stack([np.asarray(jax.vmap(s)(ts)) for s in stimuli.values()])


def synthetic_traces(model, stimuli: dict[str, AbstractStimulus] | None = None, *, t1: float = 100.0,
                     sample_dt: float = 0.01, rtol: float = 1e-9, atol: float = 1e-9,
                     noise_mV: float = 0.0, key=None, dtype=None) -> Trace:
    """Simulate `model` (tsit5, tight tolerances, steady state at its nominal rest as
    the start) under each stimulus and sample V every `sample_dt` ms from 0 to `t1`;
    optionally add Gaussian noise of s.d. `noise_mV` (needs `key`)."""
    stimuli = default_protocols(t1) if stimuli is None else stimuli
    n = int(round(t1 / sample_dt))
    t = sample_dt * np.arange(n + 1)
    stacked = Stacked(tuple(stimuli.values()))
    y0 = jax.tree.map(lambda x: jnp.broadcast_to(x, (len(stimuli),)), model.initial_state())
    sim = simulate(model, stacked, t1=float(t[-1]), solver="tsit5", rtol=rtol, atol=atol, y0=y0,
                   save_every=sample_dt, dtype=dtype, max_spikes=2048)
    V = np.asarray(sim.V).T
    current = sample_protocols(stimuli, t)
    trace = Trace(jnp.asarray(t, sim.V.dtype), jnp.asarray(current, sim.V.dtype), jnp.asarray(V))
    if noise_mV:
        if key is None:
            raise ValueError("noise_mV > 0 needs a PRNG key")
        trace = trace.with_noise(key, noise_mV)
    return trace
