"""Spike functions with surrogate gradients: the forward pass is the Heaviside step H(x),
the backward pass the derivative of a smooth stand-in of width `width` (in the units of
x: mV for HH, membrane units for discrete LIF).

| name          | surrogate derivative dS/dx                           |
|---------------|------------------------------------------------------|
| `rectangular` | 1 on |x| < width, else 0 (the authors' "lens" window, unnormalised) |
| `triangle`    | max(0, 1 − |x|/width) / width                        |
| `sigmoid`     | σ'(x/width) / width                                  |
| `fast-sigmoid`| 1 / (width·(1 + |x|/width)²)                         |
| `atan`        | 1 / (width·(1 + (πx/width)²))                        |
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

SURROGATES = ("rectangular", "triangle", "sigmoid", "fast-sigmoid", "atan")


def _derivative(kind: str, x, width):
    a = jnp.abs(x) / width
    if kind == "rectangular":
        return (a < 1).astype(x.dtype)
    if kind == "triangle":
        return jnp.maximum(0.0, 1 - a) / width
    if kind == "sigmoid":
        s = jax.nn.sigmoid(x / width)
        return s * (1 - s) / width
    if kind == "fast-sigmoid":
        return 1 / (width * (1 + a) ** 2)
    if kind == "atan":
        return 1 / (width * (1 + (jnp.pi * x / width) ** 2))
    raise ValueError(f"unknown surrogate {kind!r}; choose from {', '.join(SURROGATES)}")


@partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def spike(x, kind: str = "rectangular", width: float = 0.5):
    """H(x) = 1 for x > 0 else 0, with the surrogate derivative `kind` of `width`."""
    return (x > 0).astype(jnp.result_type(x, float))


@spike.defjvp
def _spike_jvp(kind, width, primals, tangents):
    (x,), (dx,) = primals, tangents
    return spike(x, kind, width), _derivative(kind, x, width) * dx


def spike_function(kind: str = "rectangular", width: float = 0.5):
    """`x ↦ spike(x, kind, width)`, after checking the choice (a clear error up front)."""
    if kind not in SURROGATES:
        raise ValueError(f"unknown surrogate {kind!r}; choose from {', '.join(SURROGATES)}")
    if not width > 0:
        raise ValueError(f"surrogate width must be > 0, got {width}")
    return lambda x: spike(x, kind, float(width))
