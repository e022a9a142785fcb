"""Floating-point types: which one a call runs in, and casting pytrees to it."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def resolve_dtype(dtype) -> Any:
    """float32/float64 (name or dtype); None gives JAX's default float."""
    if dtype is None:
        return jnp.dtype(jnp.result_type(float))
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"unknown dtype {dtype!r}; use 'float32' or 'float64'") from None
    if dt not in (jnp.dtype("float32"), jnp.dtype("float64")):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    if dt == jnp.dtype("float64") and not jax.config.jax_enable_x64:
        raise ValueError(
            "float64 needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) "
            "before creating arrays"
        )
    return dt


def cast_floats(tree, dtype):
    """Cast every floating-point array leaf (and Python float) of a pytree to `dtype`."""

    def cast(x):
        # Python floats become NumPy arrays (no per-leaf device transfer; `jit` moves them
        # in one go), JAX arrays are cast only when their dtype differs.
        if isinstance(x, float):
            return np.asarray(x, dtype)
        if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.floating):
            return x if x.dtype == dtype else x.astype(dtype)
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            return x.astype(dtype, copy=False)
        return x

    return jax.tree.map(cast, tree)


def as_scalar(x, dtype):
    """A scalar as a NumPy array of `dtype` (no eager device op; `jit` moves it with the
    other arguments), or as a JAX array when it is traced."""
    if isinstance(x, jax.core.Tracer):
        return jnp.asarray(x, dtype)
    if isinstance(x, jax.Array):
        return x.astype(dtype) if x.dtype != dtype else x
    return np.asarray(x, dtype)
