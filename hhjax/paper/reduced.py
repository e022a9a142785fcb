"""Reduced models for any channel set: the s-LIF2HH construction generalised. One s-LIF2HH
unit (four LIF neurons with the fixed 3 → 1 wiring, He et al. 2024) is fitted to a
conductance model's spike trains on the paper's five waveforms, moved into the model's
firing range (`offset + scale·I_paper(t)`), by the exact-score search of
`fitting.slif2hh.fit_slif2hh`; the report says what it keeps: spike counts and the
normalised timing error per waveform."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from ..fitting.slif2hh import SLIF2HH_FREE, fit_slif2hh
from ..integrate import simulate
from ..models import SLIF2HH
from ..spike_trains import compare_spike_trains
from ..stimuli import Affine, Stacked
from .waveforms import paper_waveforms

# Where each library model fires over the paper's waveforms (about −7 to 30 µA/cm² for HH):
# (offset, scale) of the current handed to the model.
LIBRARY_DRIVE = {
    "hodgkin-huxley": (0.0, 1.0), "wang-buzsaki": (0.0, 0.15), "traub-miles": (0.0, 0.5),
    "connor-stevens": (0.0, 2.0), "pospischil-rs": (0.0, 0.6), "pospischil-fs": (0.0, 0.5),
    "morris-lecar": (60.0, 4.0),
}


@dataclasses.dataclass
class ReducedModel:
    """The fitted unit, the drives used, and per waveform: the model's and the unit's spike
    times (ms), counts and the normalised timing error (None where the counts differ)."""

    unit: SLIF2HH
    offset: float
    scale: float
    rows: list

    def table(self) -> str:
        head = f"{'waveform':<9} {'model':>5} {'reduced':>7} {'norm. err':>9}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            err = "—" if r["normalised_error"] is None else f"{r['normalised_error']:.3f}"
            lines.append(f"{r['waveform']:<9} {r['model_spikes']:>5} {r['reduced_spikes']:>7} {err:>9}")
        return "\n".join(lines)


def reduce_to_slif2hh(model, *, offset: float = 0.0, scale: float = 1.0, t1: float = 80.0, unit_dt: float = 1.0,
                      iterations: int = 40, key=None) -> ReducedModel:
    """Fit one s-LIF2HH unit (step `unit_dt` ms) to `model`'s spike trains on the paper's
    five waveforms (each `offset + scale·I`), all at once."""
    waves = paper_waveforms()
    stimuli = [Affine(w, scale, offset) for w in waves.values()]
    sim = simulate(model, Stacked(tuple(stimuli)), t1=t1, dtype="float64", rtol=1e-8, atol=1e-8, max_spikes=1024)
    targets = sim.spike_list()
    base = SLIF2HH() if unit_dt == 1.0 else SLIF2HH.matlab(unit_dt)
    fit = fit_slif2hh(stimuli, targets, base=base, free=SLIF2HH_FREE, chain=False, t1=t1, iterations=iterations,
                      key=jax.random.PRNGKey(0) if key is None else key)
    rows = []
    for name, target, got in zip(waves, targets, fit.spikes):
        c = compare_spike_trains(target, got)
        rows.append(dict(waveform=name, model_spikes=len(target), reduced_spikes=len(got),
                         normalised_error=c.normalised_error, model_spike_times_ms=list(map(float, target)),
                         reduced_spike_times_ms=list(map(float, got))))
    return ReducedModel(unit=fit.model.unit, offset=float(offset), scale=float(scale), rows=rows)


def counts_kept(reduced: ReducedModel) -> int:
    """On how many waveforms the reduced unit fires as often as the model."""
    return int(np.sum([r["model_spikes"] == r["reduced_spikes"] for r in reduced.rows]))
