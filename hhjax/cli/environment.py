"""Process-wide settings of the `hhjax` command, made in its entry point before JAX starts:
XLA flags, 64-bit floats and the persistent compilation cache. The library itself never
changes these (hhjax.backends.xla_flags)."""

from __future__ import annotations

import sys

from ..backends.xla_flags import HOST_DEVICES_FLAG, SMALL_LOOP_FLAG, add_xla_flag, host_devices_flag


def set_xla_flags(host_devices: int | None = None) -> list[str]:
    """Add the small-loop flag (unless XLA_FLAGS sets backend options already) and, on
    request, a host device count to XLA_FLAGS; returns what was added."""
    added = []
    if add_xla_flag(SMALL_LOOP_FLAG, "xla_backend_extra_options"):
        added.append(SMALL_LOOP_FLAG)
    if host_devices is not None:
        flag = host_devices_flag(host_devices)
        if add_xla_flag(flag, HOST_DEVICES_FLAG):
            added.append(flag)
        else:
            print("hhjax: note: --host-devices left as it was (XLA_FLAGS sets the device count already)",
                  file=sys.stderr)
    return added


def enable_x64():
    import jax

    jax.config.update("jax_enable_x64", True)


def enable_compile_cache():
    """Keep compiled programs on disk between runs (JAX's persistent compilation cache), so
    that a repeated `hhjax` command skips XLA compilation: in `$HHJAX_COMPILE_CACHE`, by
    default `~/.cache/hhjax/xla`; set it to an empty string to switch the cache off."""
    import os

    import jax

    path = os.environ.get("HHJAX_COMPILE_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "hhjax", "xla"))
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
