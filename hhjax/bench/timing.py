"""Timing helpers and the machine description recorded with every benchmark number."""

from __future__ import annotations

import os
import platform
import time

import jax


def best_time(fn, repeats: int = 3) -> float:
    """Best wall time (s) of `repeats` calls of `fn` after one warm-up call (compilation
    excluded); `fn`'s result is blocked on so asynchronous dispatch is included."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def best_times_interleaved(fns: dict, repeats: int = 3) -> dict:
    """Best wall time (s) of each function in `fns` ({name: fn}), the calls interleaved
    (a, b, c, a, b, c, ...) after one warm-up call each, so that a slow spell of a shared
    machine hits every contender alike and their ratios stay fair."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def first_call_time(fn) -> float:
    """Wall time (s) of the first call of `fn`: tracing, compilation and one run."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device=None) -> dict:
    """Versions, XLA_FLAGS and the per-compilation XLA options of the default tuning,
    device, CPU model and thread count."""
    import jaxlib

    from ..backends import tuning_for

    device = device or jax.devices()[0]
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "loop_compiler_options": tuning_for(device.platform).loop_compiler_options or {},
        "device": str(device),
        "platform": device.platform,
        "device_kind": getattr(device, "device_kind", ""),
        "n_devices": len(jax.devices(device.platform)),
        "cpu": cpu_model(),
        "cpu_threads": os.cpu_count(),
        "python": platform.python_version(),
    }
