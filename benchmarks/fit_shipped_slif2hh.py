"""Fit the s-LIF2HH parameters that `hhjax equivalence` ships (`hhjax/paper/data/slif2hh_fitted.json`):
one set for all five paper waveforms at once (the authors' 1 ms grid, their chain), by the
cross-entropy search of `hhjax.fitting.slif2hh.fit_slif2hh`, against HH's spike trains.

    python benchmarks/fit_shipped_slif2hh.py [--out hhjax/paper/data/slif2hh_fitted.json]
"""

import argparse
import json
import time

import jax

jax.config.update("jax_enable_x64", True)

import hhjax as hj  # noqa: E402
from hhjax.fitting.slif2hh import fit_slif2hh  # noqa: E402
from hhjax.paper.simplified import hh_chain_spikes  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="hhjax/paper/data/slif2hh_fitted.json")
    p.add_argument("--iterations", type=int, default=60)
    a = p.parse_args()
    waves = hj.paper_waveforms()
    targets, _ = hh_chain_spikes(list(waves.values()), dt=0.001)
    start = time.perf_counter()
    fit = fit_slif2hh(list(waves.values()), targets, key=jax.random.PRNGKey(0), iterations=a.iterations)
    u = fit.model.unit
    params = {k: float(getattr(u, k)) for k in ("decay", "threshold", "gain", "w1", "w2", "w3", "bias", "reset")}
    out = dict(unit=params, weight=float(fit.model.weight), unit_dt_ms=float(u.dt), score=fit.score,
               waveforms=list(waves), fitted_on="all five paper waveforms at once, HH chain at dt 0.001 ms",
               wall_s=time.perf_counter() - start, jax=jax.__version__)
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps(out, indent=1))
    for n, c in zip(waves, fit.comparison):
        print(n, c)
