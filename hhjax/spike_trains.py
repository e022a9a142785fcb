"""Comparing two spike trains: counts, mean inter-spike-interval difference and the
normalised timing error of He et al. (2024) (spec §3.1)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SpikeTrainComparison(NamedTuple):
    n_reference: int
    n_test: int
    mean_isi_difference_ms: float | None
    normalised_error: float | None
    max_abs_difference_ms: float | None


def compare_spike_trains(reference, test) -> SpikeTrainComparison:
    """The script's metrics (spec §3.1), defined only when both trains have the same
    n ≥ 2 spikes: mean ISI difference ((t_n − t_1)_test − (t_n − t_1)_ref)/(n − 1) and
    normalised error (1/n) Σ|t_k,test − t_k,ref| / t_d, t_d the mean reference ISI."""
    ref = np.asarray(reference, dtype=float)
    tst = np.asarray(test, dtype=float)
    if ref.size != tst.size or ref.size < 2:
        return SpikeTrainComparison(ref.size, tst.size, None, None, None)
    n = ref.size
    t_d = (ref[-1] - ref[0]) / (n - 1)
    isi = ((tst[-1] - tst[0]) - (ref[-1] - ref[0])) / (n - 1)
    err = float(np.mean(np.abs(tst - ref)) / t_d)
    return SpikeTrainComparison(n, n, float(isi), err, float(np.max(np.abs(tst - ref))))
