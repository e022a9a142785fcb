"""Reduced models for every library model: one s-LIF2HH unit fitted to the model's spike trains
on the paper's five waveforms (`hhjax.paper.reduced`), on the authors' 1 ms step and on 0.25 ms;
prints each report and writes them as JSON.

    python benchmarks/reduced_models.py [--out benchmarks/results/reduced_models.json]
"""

import argparse
import json
import time

import jax

jax.config.update("jax_enable_x64", True)

import hhjax as hj  # noqa: E402
from hhjax.paper.reduced import LIBRARY_DRIVE, counts_kept, reduce_to_slif2hh  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="benchmarks/results/reduced_models.json")
    a = p.parse_args()
    out = {}
    for name, (offset, scale) in LIBRARY_DRIVE.items():
        for unit_dt in (1.0, 0.25):
            start = time.perf_counter()
            r = reduce_to_slif2hh(hj.library_model(name), offset=offset, scale=scale, unit_dt=unit_dt)
            wall = time.perf_counter() - start
            print(f"\n{name}, unit step {unit_dt} ms, drive {offset} + {scale}·I_paper: counts kept on "
                  f"{counts_kept(r)}/5 ({wall:.0f} s)\n{r.table()}", flush=True)
            out[f"{name}@{unit_dt}"] = dict(model=name, unit_dt_ms=unit_dt, offset=offset, scale=scale, wall_s=wall,
                                            counts_kept=counts_kept(r), rows=r.rows,
                                            unit={k: float(getattr(r.unit, k)) for k in
                                                  ("decay", "threshold", "gain", "w1", "w2", "w3", "bias", "reset")})
    with open(a.out, "w") as fh:
        json.dump(dict(results=out, jax=jax.__version__), fh, indent=1)
