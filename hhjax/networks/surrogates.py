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

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp

SURROGATES = ("rectangular", "triangle", "sigmoid", "fast-sigmoid", "atan")


def surrogate_derivative(kind: str, x, width):
    """dS/dx of surrogate `kind` of `width` (the table above)."""
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
    return spike(x, kind, width), surrogate_derivative(kind, x, width) * dx


def spike_function(kind: str = "rectangular", width: float = 0.5):
    """`x ↦ spike(x, kind, width)`, after checking the choice (a clear error up front)."""
    if kind not in SURROGATES:
        raise ValueError(f"unknown surrogate {kind!r}; choose from {', '.join(SURROGATES)}")
    if not width > 0:
        raise ValueError(f"surrogate width must be > 0, got {width}")
    return lambda x: spike(x, kind, float(width))



@dataclass(frozen=True)
class CrossingSurrogate:
    """The spike read-out of a conductance neuron over one network step of `substeps`
    sub-steps: detection at `threshold` (mV), surrogate derivative `kind` of `width` (mV)
    centred at `centre` (mV, the excitation threshold); see `no_crossing_yet`."""

    threshold: float
    centre: float
    kind: str
    width: float
    substeps: int

    def __post_init__(self):
        spike_function(self.kind, self.width)  # checks kind and width
        if self.substeps < 1:
            raise ValueError(f"substeps must be >= 1, got {self.substeps}")


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def no_crossing_yet(quiet, v_before, v_after, rule):
    """One sub-step of the spike read-out of a network step: `quiet` (1 while V has not
    crossed θ = `rule.threshold` upwards in this step, else 0) times
    1 − H(V_after − θ)·H(θ − V_before). The step's spike is 1 − quiet after its k sub-steps.

    Surrogate (`rule` = `CrossingSurrogate`): d quiet' = d quiet − D(V_after − centre)/k
    dV_after, so that ds/dV_j = D(V_j − centre)/k — D the derivative of surrogate `kind` of
    `width`, centred on the neuron's excitation threshold (where a spike becomes
    inevitable), not on the detection level θ the upstroke crosses: below threshold, the
    distance to `centre` is what an input changes."""
    crossed = jnp.logical_and(v_after > rule.threshold, v_before < rule.threshold)
    return quiet * (1 - crossed.astype(quiet.dtype))


@no_crossing_yet.defjvp
def _no_crossing_yet_jvp(rule, primals, tangents):
    (quiet, v_before, v_after), (d_quiet, _, d_after) = primals, tangents
    slope = surrogate_derivative(rule.kind, v_after - rule.centre, rule.width) / rule.substeps
    return no_crossing_yet(quiet, v_before, v_after, rule), d_quiet - slope * d_after
