"""Shared test helpers."""

import numpy as np

import hhjax as hj


def reference_stimulus(protocol) -> hj.AbstractStimulus:
    p = protocol["params"]
    if protocol["kind"] == "const":
        return hj.Constant(p["I"])
    if protocol["kind"] == "step":
        return hj.Step(p["I_off"], p["I_on"], p["t_on"])
    raise ValueError(f"unhandled reference protocol kind {protocol['kind']}")


def all_reference_stimuli(reference):
    return hj.Stacked(tuple(reference_stimulus(p) for p in reference["protocols"]))


def max_spike_error(spikes, protocol) -> float:
    ref = np.asarray(protocol["spike_times_ms"])
    got = np.asarray(spikes)
    assert got.shape == ref.shape, f"{protocol['name']}: {got.size} spikes, reference {ref.size}"
    return float(np.max(np.abs(got - ref), initial=0.0))
