"""COBAHH against Brian2: the network rate and CV(ISI) of hhjax's COBAHH (N = 4,000, 1 s)
lie within Brian2's seed-to-seed spread for the same benchmark (Brian2's numbers, five
seeds, are stored in tests/data/brian2_cobahh.json by benchmarks/cobahh_vs_brian2.py)."""

import json
import pathlib

import numpy as np
import pytest

from hhjax import synaptic as sy

BRIAN2 = json.loads((pathlib.Path(__file__).parents[1] / "data" / "brian2_cobahh.json").read_text())


def _within_spread(value, samples, k=3.0):
    samples = np.asarray(samples)
    return abs(value - samples.mean()) <= k * samples.std(ddof=1)


@pytest.mark.parametrize("seed", [11, pytest.param(12, marks=pytest.mark.slow)])
def test_cobahh_rate_and_cv_within_brian2_spread(seed):
    net, state = sy.cobahh(4000, seed=seed)
    run = sy.run_network(net, 1000.0, initial=state)
    assert _within_spread(run.rate_hz(), BRIAN2["rate_hz"]), (run.rate_hz(), BRIAN2["rate_hz"])
    assert _within_spread(run.cv_isi(), BRIAN2["cv_isi"]), (run.cv_isi(), BRIAN2["cv_isi"])
