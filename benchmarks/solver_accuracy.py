"""Spike-time error of each solver against the SciPy Radau reference, with wall time.

    python benchmarks/solver_accuracy.py [--reference PATH] [--dtype float64|float32]

All reference protocols run as one population (per-neuron stimuli). Wall time excludes
compilation (second call of the same compiled solve). Prints a table and the JAX version
and XLA_FLAGS it ran with.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hhjax as hj  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_REF = HERE.parent.parent / "shared" / "reference" / "hh_reference.json"
FALLBACK_REF = HERE.parent / "tests" / "data" / "hh_reference.json"

CASES = [
    ("euler", dict(dt=0.01)),
    ("euler", dict(dt=0.005)),
    ("expeuler", dict(dt=0.01)),
    ("heun", dict(dt=0.01)),
    ("rk4", dict(dt=0.05)),
    ("rk4", dict(dt=0.025)),
    ("tsit5", dict(rtol=1e-6, atol=1e-8)),
    ("tsit5", dict(rtol=1e-10, atol=1e-10)),
    ("dopri5", dict(rtol=1e-8, atol=1e-8)),
    ("dopri8", dict(rtol=1e-10, atol=1e-10)),
    ("kvaerno5", dict(rtol=1e-8, atol=1e-8)),
]


def stimulus_for(p):
    if p["kind"] == "const":
        return hj.Constant(p["params"]["I"])
    return hj.Step(p["params"]["I_off"], p["params"]["I_on"], p["params"]["t_on"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=str(DEFAULT_REF if DEFAULT_REF.exists() else FALLBACK_REF))
    ap.add_argument("--dtype", default="float64")
    a = ap.parse_args()
    ref = json.loads(pathlib.Path(a.reference).read_text())
    protos = ref["protocols"]
    stim = hj.Stacked(tuple(stimulus_for(p) for p in protos))
    y0 = hj.HodgkinHuxley().initial_state(jnp.full((len(protos),), -65.0))
    print(f"jax {jax.__version__}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, device {jax.devices()[0]}, "
          f"dtype {a.dtype}, {len(protos)} protocols x 200 ms, "
          f"{sum(p['n_spikes'] for p in protos)} reference spikes")
    print(f"{'solver':<9} {'settings':<22} {'steps':>7} {'max err ms':>11} {'mean err ms':>11} {'counts':>6} {'wall s':>7}")
    for name, kw in CASES:
        def run():
            return hj.simulate(hj.HodgkinHuxley(), stim, t1=200.0, solver=name, dtype=a.dtype, y0=y0, **kw)

        run()  # compile
        t = time.perf_counter()
        sim = run()
        jax.block_until_ready(sim.spike_times)
        wall = time.perf_counter() - t
        errs, ok = [], True
        for got, p in zip(sim.spike_list(), protos):
            if len(got) != p["n_spikes"]:
                ok = False
                continue
            errs.extend(np.abs(np.asarray(got) - p["spike_times_ms"]).tolist())
        settings = ", ".join(f"{k}={v:g}" for k, v in kw.items())
        print(f"{name:<9} {settings:<22} {int(sim.stats['num_steps']):>7} {max(errs):>11.2e} "
              f"{np.mean(errs):>11.2e} {'ok' if ok else 'WRONG':>6} {wall:>7.3f}")


if __name__ == "__main__":
    main()
