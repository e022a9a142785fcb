"""What every peer runner returns, and the helpers they share (no peer imported here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np



class PeerUnavailable(RuntimeError):
    """The peer simulator is not installed or cannot run here."""


@dataclass
class PeerRun:
    spike_times: list | None  # one list per neuron (None: counts only)
    seconds: float
    method: str
    version: str
    spike_counts: list | None = None

    def __post_init__(self):
        if self.spike_counts is None and self.spike_times is not None:
            self.spike_counts = [len(s) for s in self.spike_times]


def steady(V: float):
    """Gate steady states at V (mV), classic rates."""
    am = 0.1 * (V + 40) / (1 - math.exp(-(V + 40) / 10))
    bm = 4 * math.exp(-(V + 65) / 18)
    ah = 0.07 * math.exp(-(V + 65) / 20)
    bh = 1 / (1 + math.exp(-(V + 35) / 10))
    an = 0.01 * (V + 55) / (1 - math.exp(-(V + 55) / 10))
    bn = 0.125 * math.exp(-(V + 65) / 80)
    return am / (am + bm), ah / (ah + bh), an / (an + bn)


def crossings(V: np.ndarray, dt: float) -> list:
    """Upward crossings of 0 mV from V sampled every step ((steps + 1, N)), located by
    linear interpolation inside the step."""
    out = []
    for v in V.T:
        k = np.nonzero((v[:-1] < 0) & (v[1:] >= 0))[0]
        out.append(list((k + (-v[k]) / (v[k + 1] - v[k])) * dt))
    return out


# --- BrainPy --------------------------------------------------------------------------
