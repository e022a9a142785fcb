"""Checks of a `simulate` call's input, each raising an error that names the problem, and
the population's shape (worked out from shapes alone)."""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree


def is_traced(tree) -> bool:
    """Whether any leaf of `tree` is a tracer (the call is being traced by `jit`/`grad`)."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def check_finite_leaves(tree, what: str, allow_inf: bool = False):
    """ValueError naming the leaf when a concrete float leaf of `tree` is NaN (or inf)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if isinstance(leaf, float):  # the common case (default parameters): no array at all
            bad = math.isnan(leaf) or (not allow_inf and math.isinf(leaf))
        elif isinstance(leaf, jax.core.Tracer) or not eqx.is_array_like(leaf):
            continue
        else:
            arr = np.asarray(leaf)
            ok = ~np.isnan(arr) if allow_inf else np.isfinite(arr)
            bad = np.issubdtype(arr.dtype, np.floating) and not np.all(ok)
        if bad:
            name = jax.tree_util.keystr(path)
            raise ValueError(f"{what} contains NaN or inf in {name or 'its value'}")


def check_times(t0, t1, dt):
    """t0, t1 finite, t1 > t0, dt positive and no longer than the interval (ms)."""
    for name, v in (("t0", t0), ("t1", t1)):
        if not isinstance(v, jax.core.Tracer) and not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v}")
    if not is_traced((t0, t1)) and not float(t1) > float(t0):
        raise ValueError(f"t1 must be greater than t0 (got t0={t0} ms, t1={t1} ms)")
    if dt is not None and not is_traced(dt):
        dt = float(dt)
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive, finite step in ms, got {dt}")
        if not is_traced((t0, t1)) and dt > float(t1) - float(t0):
            raise ValueError(f"dt = {dt} ms is longer than the interval t1 - t0 = {float(t1) - float(t0)} ms")


def check_max_spikes(max_spikes):
    if not isinstance(max_spikes, int) or max_spikes < 0:
        raise ValueError(f"max_spikes must be a non-negative integer, got {max_spikes!r}")


def check_save_every(save_every):
    if isinstance(save_every, str) and save_every != "step":
        raise ValueError(f"save_every must be a number of ms, 'step' or None, got {save_every!r}")
    if save_every is not None and not isinstance(save_every, str) and not float(save_every) > 0:
        raise ValueError(f"save_every must be > 0 ms, got {save_every}")


def _structure_key(*trees):
    leaves, treedef = jax.tree.flatten(trees)

    def describe(x):
        if isinstance(x, (np.ndarray, jax.Array, np.generic, jax.ShapeDtypeStruct)):
            return (x.shape, x.dtype)
        if isinstance(x, (bool, int, float, complex)):
            return ((), type(x))
        return (jnp.shape(x), jnp.result_type(x)) if eqx.is_array_like(x) else ("static", x)

    return treedef, tuple(describe(x) for x in leaves)


# Population shapes and default-state shapes by pytree structure (shapes and dtypes only):
# a sweep over parameter values works them out once. Bounded: cleared past 256 entries.
_SHAPES: dict = {}
_SHAPES_SIZE = 256


def _by_structure(key, make):
    try:
        hash(key)
    except TypeError:
        return make()
    value = _SHAPES.get(key)
    if value is None:
        if len(_SHAPES) >= _SHAPES_SIZE:
            _SHAPES.clear()
        value = _SHAPES[key] = make()
    return value


def _shape_of(x) -> tuple:
    """The shape of an array, a number or a `jax.ShapeDtypeStruct`."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _vector_field(model, t, y, args):
    return model.vector_field(t, y, args)


def broadcast_leaves(tree, shape):
    return jax.tree.map(lambda y: jnp.broadcast_to(y, shape), tree)


def population_shape(model, y0, stimulus, t0) -> tuple:
    """The population's shape: the common broadcast shape of the state `y0` (arrays or
    `jax.ShapeDtypeStruct`s), the parameters' effect on the vector field and the stimulus;
    every state leaf is broadcast to it (inside the compiled solve, see `InitialState`). A
    clear error when they disagree. No array is computed (`jax.eval_shape`)."""
    if is_traced((model, y0, stimulus, t0)):
        return _population_shape(model, y0, stimulus, t0)
    return _by_structure(_structure_key(model, y0, stimulus, t0),
                         lambda: _population_shape(model, y0, stimulus, t0))


def initial_state_like(model):
    """`model.initial_state()` as `jax.ShapeDtypeStruct`s."""
    return _by_structure(("initial state", _structure_key(model)), lambda: jax.eval_shape(model.initial_state))


def _population_shape(model, y0, stimulus, t0) -> tuple:
    def describe():
        return {"state": [_shape_of(x) for x in jax.tree.leaves(y0)],
                "stimulus": jax.eval_shape(stimulus, t0).shape}

    def broadcast_field(model, t0, y0, stimulus, shape):
        return _vector_field(model, t0, broadcast_leaves(y0, shape), stimulus)

    try:
        out = jax.eval_shape(_vector_field, model, t0, y0, stimulus)
        shape = jnp.broadcast_shapes(*(o.shape for o in jax.tree.leaves(out)),
                                     *(_shape_of(x) for x in jax.tree.leaves(y0)))
        out = jax.eval_shape(functools.partial(broadcast_field, shape=shape), model, t0, y0, stimulus)
    except (ValueError, TypeError) as e:
        raise ValueError(f"mismatched population shapes ({describe()}): {e}") from None
    for o in jax.tree.leaves(out):
        if o.shape != shape and jnp.broadcast_shapes(o.shape, shape) != shape:
            raise ValueError(f"mismatched population shapes: vector field gives {o.shape}, state {shape}")
    return tuple(shape)


class InitialState(eqx.Module):
    """The initial state as the compiled solve builds it: `given` (None: the model's
    `initial_state()`) broadcast to the population's `shape`. Built inside the solve, the
    default state and the broadcast cost no compiled calls of their own."""

    given: PyTree | None
    shape: tuple = eqx.field(static=True)

    def of(self, model) -> PyTree:
        y0 = model.initial_state() if self.given is None else self.given
        return broadcast_leaves(y0, self.shape)
