"""Process-wide XLA flags that speed hhjax up, for the `hhjax` command's entry point.

XLA reads `XLA_FLAGS` once, when JAX starts its backends, and some options exist only
there: XLA's CPU runtime compiles a while loop into one function (instead of dispatching
each of its kernels on every iteration) only when one iteration touches fewer bytes than
`xla_cpu_small_while_loop_byte_threshold`, 1 KiB by default; that option is an entry of
the `xla_backend_extra_options` map, which per-compilation options cannot set (XLA's
`CompileOptions::ApplyOption` rejects message-typed fields). Small populations run 1.3–30×
faster per step with it (docs/performance.md). hhjax never edits `XLA_FLAGS` on import or
in a library call: `hhjax.cli` sets these flags in its entry point, before any JAX
computation, and says so in `hhjax --help`; scripts can start Python with them.
"""

from __future__ import annotations

import os

SMALL_LOOP_BYTES = 65_536
SMALL_LOOP_OPTION = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold"
SMALL_LOOP_FLAG = f"{SMALL_LOOP_OPTION}={SMALL_LOOP_BYTES}"
HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"


def small_loop_flag(byte_threshold: int = SMALL_LOOP_BYTES) -> str:
    """The `XLA_FLAGS` entry that lets XLA compile loops of up to `byte_threshold` bytes
    per iteration into one function."""
    if not isinstance(byte_threshold, int) or byte_threshold < 0:
        raise ValueError(f"byte_threshold must be a non-negative integer, got {byte_threshold!r}")
    return f"{SMALL_LOOP_OPTION}={byte_threshold}"


def host_devices_flag(count: int | None = None) -> str:
    """The `XLA_FLAGS` entry that splits the CPU into `count` devices (default: the cores
    this process may use)."""
    count = usable_cores() if count is None else count
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"the host device count must be a positive integer, got {count!r}")
    return f"{HOST_DEVICES_FLAG}={count}"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
