"""Ports of the demonstrations in He et al. (2024): the XOR tv-LIF2HH network and the
HH vs s-LIF2HH two-layer comparison (spec §2.2(d), §3.1)."""

from .simplified import (
    PAPER_HH_INIT,
    SpikeTrainComparison,
    compare_spike_trains,
    hh_chain_spikes,
    slif2hh_chain_spikes,
)
from .waveforms import PAPER_PERIOD_MS, PaperSawtooth, PaperSquare, PaperTriangle, paper_waveforms
from .xor import XOR_INIT_MV, xor_network, xor_output_spikes

__all__ = [
    "PAPER_HH_INIT", "SpikeTrainComparison", "compare_spike_trains", "hh_chain_spikes",
    "slif2hh_chain_spikes", "XOR_INIT_MV", "PAPER_PERIOD_MS", "PaperSawtooth", "PaperSquare", "PaperTriangle", "paper_waveforms", "xor_network", "xor_output_spikes",
]
