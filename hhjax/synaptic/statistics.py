"""Summary statistics of network spike trains (as reported by the network benchmarks)."""

from __future__ import annotations

import numpy as np

from .monitors import SpikeTrains


def rate_hz(trains: list[SpikeTrains], duration_ms: float) -> float:
    """Total spikes / neurons / simulated seconds."""
    n = sum(t.n for t in trains)
    return float(sum(t.count for t in trains) / n / (duration_ms * 1e-3))


def cv_isi(trains: list[SpikeTrains], min_spikes: int = 3) -> float:
    """Mean over neurons with ≥ `min_spikes` spikes of std(ISI)/mean(ISI); NaN if none."""
    cvs = []
    for train in trains:
        for t in train.per_neuron():
            if len(t) >= min_spikes:
                isi = np.diff(t)
                cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def population_rate(counts: np.ndarray, n: int, dt: float, bin_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres ms, rate Hz) from per-step spike counts of a population of n neurons."""
    per_bin = max(1, int(round(bin_ms / dt)))
    m = len(counts) // per_bin
    binned = np.asarray(counts[: m * per_bin]).reshape(m, per_bin).sum(1)
    centres = (np.arange(m) + 0.5) * per_bin * dt
    return centres, binned / n / (per_bin * dt * 1e-3)
