"""Process-wide settings of the `hhjax` command, made in its entry point before JAX starts:
XLA flags, 64-bit floats and the persistent compilation cache. The library itself never
changes these (hhjax.backends.xla_flags)."""

from __future__ import annotations

import os
import sys
from typing import MutableMapping

from ..backends.xla_flags import HOST_DEVICES_FLAG, SMALL_LOOP_FLAG, host_devices_flag, usable_cores


def add_xla_flag(flag: str, unless: str, environ: MutableMapping[str, str] | None = None) -> bool:
    """Append `flag` to `XLA_FLAGS` in `environ` (default `os.environ`) unless `XLA_FLAGS`
    already mentions `unless` (the user's own setting wins). Returns whether it was added.
    Effective only before JAX starts its backends (the first JAX computation)."""
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    if unless in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {flag}".strip()
    return True


def set_xla_flags(host_devices: int | None = None) -> list[str]:
    """Add to XLA_FLAGS, unless it sets them already: the small-loop flag, and one host
    device per core this process may use (`host_devices` to choose the count; 1 adds none).
    With several devices the planner splits large fixed-step populations over them
    (`Tuning.shard_from_neurons`); everything else runs on the first. Returns what was added."""
    added = []
    if add_xla_flag(SMALL_LOOP_FLAG, "xla_backend_extra_options"):
        added.append(SMALL_LOOP_FLAG)
    count = usable_cores() if host_devices is None else host_devices
    if count > 1:
        flag = host_devices_flag(count)
        if add_xla_flag(flag, HOST_DEVICES_FLAG):
            added.append(flag)
        elif host_devices is not None:
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
