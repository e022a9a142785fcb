"""Populations split over several devices vs one."""

from __future__ import annotations

import jax
import numpy as np

from ...backends import tuning_for
from ...integrate.sharding import shard_population
from ..timing import best_times_interleaved
from ..settings import Settings
from .throughput import simulate_call


def sharding(settings: Settings, log=print) -> dict:
    """HH and tv-LIF2HH populations (float32 Euler, the throughput section's currents) split
    over every device (`jax.sharding`) vs on one device: neuron-steps/s, interleaved, and
    equal spike counts. On a CPU started with several host devices (`hhjax bench
    --host-devices K`) each device runs its neurons as its own program (README, "Several
    CPU cores"). Sizes: 10,000 neurons and the largest HH size, rounded to the devices."""
    devices = jax.devices()
    if len(devices) < 2:
        log("[sharding] one device only: skipped (`hhjax bench --host-devices 2`, or "
            "XLA_FLAGS=--xla_force_host_platform_device_count=2, splits a CPU into two)")
        return dict(skipped="one device")
    k = len(devices)
    largest = max(settings.hh_ns)
    ns = sorted({(n // k) * k for n in (min(10_000, largest), largest)} - {0})
    rows = []
    for model_name in ("hh", "tvlif2hh"):
        for n in ns:
            steps = settings.steps_for(n)
            one = simulate_call(model_name, n, "float32", steps, tuning=tuning_for().replace(shard_from_neurons=None))
            split = simulate_call(model_name, n, "float32", steps, place=lambda s: shard_population(s, devices))
            counts = split()
            same = bool(np.array_equal(np.asarray(one()), np.asarray(counts)))
            times = best_times_interleaved(dict(one=one, split=split), settings.repeats)
            row = dict(model=model_name, N=n, steps=steps, single_per_s=n * steps / times["one"],
                       sharded_per_s=n * steps / times["split"], same_counts=same,
                       split_over=len(counts.sharding.device_set))  # devices holding the result
            row["speedup"] = row["sharded_per_s"] / row["single_per_s"]
            rows.append(row)
            log(f"[sharding] {model_name:<8} N={n:<8} over {k} devices {row['sharded_per_s']:.3g}/s vs one device "
                f"{row['single_per_s']:.3g}/s ({row['speedup']:.2f}x); same spike counts: {same}")
    return dict(devices=k, rows=rows, same_counts=all(r["same_counts"] for r in rows))
