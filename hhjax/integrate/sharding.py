"""Populations split across devices with `jax.sharding`.

A population is elementwise in its neuron axis, so sharding its arrays (currents,
per-neuron parameters, initial states) along that axis splits the whole solve: XLA runs
each device's neurons there and no data moves between devices during the solve.
"""

from __future__ import annotations

import os
from typing import MutableMapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .compiled import add_xla_flag

HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"


def use_host_devices(count: int | None = None, environ: MutableMapping[str, str] | None = None) -> bool:
    """Make XLA's CPU backend show `count` devices (default: the cores this process may
    use) by adding `--xla_force_host_platform_device_count` to `XLA_FLAGS` in `environ`
    (default `os.environ`). Each device runs its share of a sharded population
    (`shard_population`) as its own program, so a CPU's cores all work on a population
    whose kernels XLA would otherwise leave on one thread (README, "Several CPU cores").
    Only before JAX has started its backends, and never over a device count the user has
    set. Returns whether the flag was added."""
    count = usable_cores() if count is None else count
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"the host device count must be a positive integer, got {count!r}")
    return add_xla_flag(f"{HOST_DEVICES_FLAG}={count}", HOST_DEVICES_FLAG, environ)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def population_sharding(devices=None, axis_name: str = "neurons") -> NamedSharding:
    """A sharding that splits an array's first axis over `devices` (default: all)."""
    devices = jax.devices() if devices is None else list(devices)
    return NamedSharding(Mesh(np.asarray(devices), (axis_name,)), PartitionSpec(axis_name))


def shard_population(tree, devices=None):
    """Place every array leaf of `tree` with its first (neuron) axis split over `devices`.
    The neuron count must be divisible by the number of devices; scalars are replicated."""
    devices = jax.devices() if devices is None else list(devices)
    split = population_sharding(devices)
    replicated = NamedSharding(split.mesh, PartitionSpec())

    def place(x):
        if not hasattr(x, "shape"):
            return x
        if x.ndim == 0:
            return jax.device_put(x, replicated)
        if x.shape[0] % len(devices):
            raise ValueError(f"a population of {x.shape[0]} neurons does not split evenly over "
                             f"{len(devices)} devices; pad it to a multiple of {len(devices)}")
        return jax.device_put(x, split)

    return jax.tree.map(place, tree)
