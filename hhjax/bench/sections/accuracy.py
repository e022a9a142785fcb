"""Accuracy vs cost: spike-time error of every solver setting against the SciPy Radau reference."""

from __future__ import annotations

import json
import math
import pathlib

import jax.numpy as jnp
import numpy as np

from ...integrate import simulate
from ...models import HodgkinHuxley
from ...stimuli import Constant, Stacked, Step
from ..timing import best_time
from ..settings import REFERENCE, Settings


def _reference_stimulus(p):
    if p["kind"] == "const":
        return Constant(p["params"]["I"])
    return Step(p["params"]["I_off"], p["params"]["I_on"], p["params"]["t_on"])


def accuracy(settings: Settings, reference=REFERENCE, log=print) -> list[dict]:
    """Spike-time error against the independent SciPy Radau reference (float64, all
    reference protocols as one population) and wall time; marks the Pareto front."""
    ref = json.loads(pathlib.Path(reference).read_text())
    protos = ref["protocols"]
    stim = Stacked(tuple(_reference_stimulus(p) for p in protos))
    y0 = HodgkinHuxley().initial_state(jnp.full((len(protos),), -65.0, jnp.float64))
    rows = []
    for solver, kw in settings.accuracy_cases:
        kw = dict(kw)

        def run():
            return simulate(HodgkinHuxley(), stim, t1=ref["t_stop_ms"], solver=solver, dtype="float64", y0=y0, **kw)

        wall = best_time(lambda: run().spike_counts, settings.repeats)
        sim = run()
        errs, counts_ok = [], True
        for got, p in zip(sim.spike_list(), protos):
            if len(got) != p["n_spikes"]:
                counts_ok = False
                continue
            errs.extend(np.abs(np.asarray(got) - np.asarray(p["spike_times_ms"])).tolist())
        rows.append(dict(solver=solver, settings=kw, steps=int(sim.stats["num_steps"]), wall_s=wall,
                         max_err_ms=max(errs) if counts_ok else math.inf, counts_ok=counts_ok,
                         default=(solver == "tsit5" and kw == dict(rtol=1e-6, atol=1e-8))))
    for r in rows:
        r["pareto"] = not any(o["wall_s"] <= r["wall_s"] and o["max_err_ms"] <= r["max_err_ms"]
                              and (o["wall_s"] < r["wall_s"] or o["max_err_ms"] < r["max_err_ms"]) for o in rows)
        s = ", ".join(f"{k}={v:g}" for k, v in r["settings"].items())
        log(f"[accuracy] {r['solver']:<8} {s:<22} max err {r['max_err_ms']:.2e} ms, {r['wall_s'] * 1e3:.1f} ms"
            f"{'  (Pareto front)' if r['pareto'] else ''}{'  <- default' if r['default'] else ''}")
    return rows
