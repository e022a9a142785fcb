"""Throughput of `hhjax.simulate` against a hand-written `jax.lax.scan` (forward Euler HH).

    python benchmarks/against_scan.py [--dtype float32] [--ns 1,100,10000,100000] [--steps 1000]

Uncoupled HH population, constant currents spread over 0–20 µA/cm², dt = 0.01 ms. The scan
is the same vector field stepped by hand with no spike detection; `simulate` also locates
and records every spike. Compilation is excluded (best of 3 calls after a warm-up). Prints
neuron-steps per second and the ratio, with the JAX version and XLA_FLAGS.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp

import hhjax as hj


def best_of(fn, repeats=3):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--ns", default="1,100,10000,100000")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--solver", default="euler")
    a = ap.parse_args()
    if a.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = jnp.dtype(a.dtype)
    dt = 0.01
    print(f"jax {jax.__version__}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, {jax.devices()[0]}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {a.dtype}, solver {a.solver}")
    print(f"{'N':>8} {'steps':>7} {'simulate /s':>12} {'scan /s':>12} {'ratio':>6}")
    for n in (int(x) for x in a.ns.split(",")):
        steps = a.steps if n >= 1000 else max(a.steps, 100_000 // max(n, 1))
        currents = jnp.linspace(0.0, 20.0, n, dtype=dtype)
        model = hj.cast_floats(hj.HodgkinHuxley(), dtype)
        y0 = hj.cast_floats(model.initial_state(jnp.full((n,), -65.0, dtype)), dtype)

        @jax.jit
        def scan(y, model, currents):
            def body(y, _):
                f = model.dynamics(0.0, y, currents)
                return jax.tree.map(lambda u, du: u + dt * du, y, f), None

            return jax.lax.scan(body, y, None, length=steps)[0]

        t_scan = best_of(lambda: scan(y0, model, currents).V)
        t_sim = best_of(lambda: hj.simulate(model, hj.Constant(currents), t1=steps * dt, dt=dt, solver=a.solver,
                                            dtype=a.dtype, y0=y0, max_spikes=steps // 100 + 8).spike_counts)
        work = n * steps
        print(f"{n:>8} {steps:>7} {work / t_sim:>12.3g} {work / t_scan:>12.3g} {t_scan / t_sim:>6.2f}")


if __name__ == "__main__":
    main()
