"""What the peer scripts share (imported from this folder, which Python puts on the path of a
script it runs; no hhjax import, so it works in a peer's own environment)."""

import resource

import numpy as np


def cv_isi(index, times, min_spikes: int = 3) -> float:
    """Mean over neurons with ≥ `min_spikes` spikes of std(ISI)/mean(ISI); NaN if none."""
    index, times = np.asarray(index), np.asarray(times, dtype=float)
    order = np.lexsort((times, index))
    index, times = index[order], times[order]
    cvs = []
    for neuron in np.unique(index):
        t = times[index == neuron]
        if len(t) >= min_spikes:
            d = np.diff(t)
            cvs.append(d.std() / d.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def peak_rss_mib() -> float:
    """The larger peak resident memory of this process and of its children (MiB)."""
    return max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
