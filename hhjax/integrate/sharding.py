"""Populations split across devices with `jax.sharding`.

A population is elementwise in its neuron axis, so sharding its arrays (currents,
per-neuron parameters, initial states) along that axis splits the whole solve: XLA runs
each device's neurons there and no data moves between devices during the solve.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


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


def split_over_devices(request):
    """`request` (a `SolveRequest`) with its per-neuron arrays split over every device of
    the default backend, where its `Tuning` asks for that (`shard_from_neurons`), there are
    several devices, the call is concrete and the population is one axis of a multiple of
    the device count; otherwise `request` itself. Arrays that are not per-neuron are
    replicated; arrays the caller already placed are left as they are."""
    threshold = request.tuning.shard_from_neurons
    shape = request.init.shape
    devices = jax.devices()
    if (threshold is None or len(devices) < 2 or request.traced or len(shape) != 1 or shape[0] < threshold
            or shape[0] % len(devices)):
        return request
    split = population_sharding(devices)
    replicated = NamedSharding(split.mesh, PartitionSpec())

    def place(x):
        if isinstance(x, jax.Array) and len(x.sharding.device_set) > 1:
            return x  # placed by the caller
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            return x
        per_neuron = np.ndim(x) >= 1 and np.shape(x)[0] == shape[0]
        return jax.device_put(x, split if per_neuron else replicated)

    model, stimulus, init = jax.tree.map(place, (request.model, request.stimulus, request.init))
    return dataclasses.replace(request, model=model, stimulus=stimulus, init=init)
