"""Populations split over devices give the unsplit answer."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT


def test_sharded_population_equals_unsharded():
    script = textwrap.dedent("""
        import json, jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, numpy as np, hhjax as hj
        I = jnp.linspace(0.0, 20.0, 64)
        g_K = jnp.linspace(30.0, 40.0, 64)
        def run(I, g_K):
            return hj.simulate(hj.HodgkinHuxley(g_K=g_K), hj.Constant(I), t1=40.0, solver="rk4", dt=0.025)
        plain = run(I, g_K)
        Is, gs = hj.shard_population((I, g_K))
        sharded = run(Is, gs)
        print(json.dumps(dict(devices=len(jax.devices()), input_devices=len(Is.sharding.device_set),
                              out_devices=len(sharded.spike_times.sharding.device_set),
                              same_counts=bool(np.array_equal(plain.spike_counts, sharded.spike_counts)),
                              max_dt=float(np.nanmax(np.abs(np.asarray(plain.spike_times) - np.asarray(sharded.spike_times)))),
                              max_dv=float(np.max(np.abs(plain.y_final.V - sharded.y_final.V))))))
        try:
            hj.shard_population(jnp.zeros(10))
        except ValueError as e:
            print("ERROR", e)
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    res = json.loads(lines[-2])
    assert res["devices"] == 4 and res["input_devices"] == 4 and res["out_devices"] == 4
    assert res["same_counts"] and res["max_dt"] < 1e-12 and res["max_dv"] < 1e-10
    assert "10 neurons does not split evenly over 4 devices" in lines[-1]


@pytest.mark.slow
def test_sharding_section_splits_populations_over_host_devices():
    """In a fresh process with 3 host devices (XLA_FLAGS), the bench's sharding
    section runs HH and tv-LIF2HH split over all three (sizes rounded to a multiple of 3)
    with the spike counts of the unsplit population."""
    code = textwrap.dedent("""
        import json, hhjax as hj
        from hhjax.bench.suite import Settings, sharding
        s = Settings(hh_ns=(1, 100), dtypes=("float32",), work=2e4, min_steps=2000, max_steps=2000, repeats=1)
        print(json.dumps(sharding(s, log=lambda *_: None)))
    """)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=3"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == 3 and res["same_counts"]
    assert [(r["model"], r["N"]) for r in res["rows"]] == [("hh", 99), ("tvlif2hh", 99)]
    assert all(r["same_counts"] and r["split_over"] == 3 and r["sharded_per_s"] > 0 for r in res["rows"])


def test_the_planner_splits_large_populations_over_host_devices():
    """In a process with two host devices (as the `hhjax` command starts), a fixed-step
    population from `Tuning.shard_from_neurons` on is split over both (the result lives on
    both) and gives the unsplit answer; a smaller one stays on one device."""
    code = textwrap.dedent("""
        import json, numpy as np, jax.numpy as jnp, hhjax as hj
        def run(n, **kw):
            stim = hj.Constant(jnp.linspace(0.0, 20.0, n, dtype=jnp.float32))
            return hj.simulate(hj.HodgkinHuxley(), stim, t1=20.0, solver="euler", dt=0.01, dtype="float32",
                               max_spikes=8, **kw)
        big, one = run(10_000), run(10_000, tuning=hj.tuning_for().replace(shard_from_neurons=None))
        small = run(100)
        print(json.dumps(dict(big=len(big.spike_counts.sharding.device_set),
                              one=len(one.spike_counts.sharding.device_set),
                              small=len(small.spike_counts.sharding.device_set),
                              same=bool(np.array_equal(big.spike_counts, one.spike_counts)),
                              spikes=int(big.spike_counts.sum()),
                              dt=float(np.nanmax(np.abs(np.asarray(big.spike_times) - np.asarray(one.spike_times)))))))
    """)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["big"] == 2 and res["one"] == 1 and res["small"] == 1
    assert res["same"] and res["spikes"] > 1000 and res["dt"] == 0.0
