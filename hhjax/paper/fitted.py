"""The s-LIF2HH parameters fitted once to HH and shipped with hhjax
(`data/slif2hh_fitted.json`, made by `benchmarks/fit_shipped_slif2hh.py`): one set for all
five paper waveforms, on the authors' 1 ms grid and two-layer chain."""

from __future__ import annotations

import json
from importlib import resources

from ..models.slif2hh import SLIF2HH
from ..parameters import set_params


def fitted_slif2hh() -> tuple[SLIF2HH, float, dict]:
    """(the fitted unit, the layer-1 → layer-2 weight, the file's record)."""
    record = json.loads(resources.files("hhjax.paper").joinpath("data/slif2hh_fitted.json").read_text())
    unit = set_params(SLIF2HH(), record["unit"])
    return unit, float(record["weight"]), record
