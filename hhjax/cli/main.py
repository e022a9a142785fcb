"""The `hhjax` command: one module per subcommand, assembled here. The entry point sets the
process-wide XLA flags before any JAX computation (`environment.set_xla_flags`) and says so
in `hhjax --help`."""

from __future__ import annotations

import argparse
import os
import sys

from . import bench, compare, equivalence, fit, network, rl, simulate, train
from .environment import enable_compile_cache, set_xla_flags

COMMANDS = (simulate, fit, equivalence, network, bench, train, rl, compare)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hhjax", description="Differentiable neuron dynamics in JAX.",
        epilog="Compiled programs are kept in ~/.cache/hhjax/xla between runs (set HHJAX_COMPILE_CACHE to "
               "another folder, or to an empty string to switch this off; `hhjax bench` never uses it). Unless "
               "XLA_FLAGS sets them, this command adds to it, before JAX starts, "
               "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=65536 (small populations step "
               "in one compiled function) and --xla_force_host_platform_device_count=<cores> (populations of "
               "10,000 neurons or more are split over the cores); the hhjax library itself never sets XLA_FLAGS.")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv=None, *, process_settings: bool | None = None) -> int:
    """Run the command line `argv` (default: `sys.argv[1:]`). `process_settings` (default:
    only when `argv` is None, i.e. as the `hhjax` command) lets it set XLA flags before JAX
    starts; a call from Python with its own `argv` leaves the process's settings alone."""
    process_settings = argv is None if process_settings is None else process_settings
    p = build_parser()
    a = p.parse_args(argv)
    if getattr(a, "n", 1) < 1:
        p.error("--n must be >= 1")
    if a.command == "fit" and (a.starts < 1 or a.steps < 1):
        p.error("--starts and --steps must be >= 1")
    if a.command == "fit" and a.resume and not a.checkpoint:
        p.error("--resume needs --checkpoint DIR")
    for option in ("out", "figure", "plot"):  # (written at the end of what may be a long run: checked first)
        path = getattr(a, option, None)
        if path and os.path.isdir(path):
            p.error(f"--{option} {path} is a directory; give a file path")
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            p.error(f"--{option} {path}: the folder {os.path.dirname(os.path.abspath(path))} does not exist")
    host_devices = getattr(a, "host_devices", None)
    if host_devices is not None and host_devices < 1:
        p.error("--host-devices must be >= 1")
    if process_settings:
        set_xla_flags(host_devices)  # (before any JAX computation: parsing computes nothing)
    if argv is None and a.command != "bench":  # the `hhjax` command itself, not a call from Python
        enable_compile_cache()  # (the bench measures compile times: its own process stays cold)
    try:
        return a.func(a)
    except (ValueError, TypeError, FloatingPointError) as err:
        print(f"hhjax: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"hhjax: {a.command} failed: {err}", file=sys.stderr)
        return 1
