"""Which parameters are free, how each is constrained, and the map between a model and
the unconstrained vector the optimiser sees."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..parameters import get_param, resolve_name, set_params
from .bijections import AbstractBijection, default_bijection


class ParameterSpace(eqx.Module):
    """The free parameters of `base` (dotted names) and their bijections; every other
    field stays fixed at its value in `base`.

    Free parameters live as a dict {name: unconstrained array} — a pytree, so a batch of
    K starts is the same dict with a leading axis of length K.
    """

    base: eqx.Module
    names: tuple[str, ...] = eqx.field(static=True)
    bijections: dict[str, AbstractBijection]

    @classmethod
    def of(cls, base, names, bijections: dict | None = None) -> "ParameterSpace":
        """Free `names` of `base`; `bijections` overrides the name-based defaults."""
        if isinstance(names, str):
            names = [n for n in names.split(",") if n.strip()]
        if not names:
            raise ValueError("no free parameters: name at least one field to fit")
        full = tuple(resolve_name(base, n.strip()) for n in names)
        if len(set(full)) != len(full):
            raise ValueError(f"a parameter is named twice in {list(names)}")
        given = {resolve_name(base, k): v for k, v in (bijections or {}).items()}
        bij = {n: given.get(n, default_bijection(n, get_param(base, n))) for n in full}
        for n in full:
            bij[n].check(n, np.asarray(get_param(base, n)))
        return cls(base=base, names=full, bijections=bij)

    def values(self, model=None) -> dict[str, Array]:
        """{name: constrained value} of `model` (default `base`)."""
        model = self.base if model is None else model
        return {n: jnp.asarray(get_param(model, n)) for n in self.names}

    def to_unconstrained(self, values: dict) -> dict[str, Array]:
        for n in self.names:
            self.bijections[n].check(n, np.asarray(values[n]))
        return {n: self.bijections[n].inverse(values[n]) for n in self.names}

    def to_values(self, theta: dict) -> dict[str, Array]:
        return {n: self.bijections[n].forward(theta[n]) for n in self.names}

    def model(self, theta: dict):
        """The model with the free parameters set from unconstrained `theta`."""
        return set_params(self.base, self.to_values(theta))

    def perturbed_starts(self, key, starts: int, relative: float = 0.5, absolute_mV: float = 10.0,
                         values: dict | None = None) -> dict[str, Array]:
        """K = `starts` unconstrained starting points around `values` (default: `base`'s):
        scale parameters multiplied by a factor uniform in [1 − relative, 1 + relative];
        voltage-like parameters (bounded) moved by a uniform shift, at most `relative`
        of |value| or `absolute_mV`, whichever is larger — clipped inside their bounds."""
        values = self.values() if values is None else values
        keys = jax.random.split(key, len(self.names))
        out = {}
        for k, n in zip(keys, self.names):
            v = jnp.asarray(values[n])
            r = jax.random.uniform(k, (starts,) + v.shape, v.dtype, -1.0, 1.0)
            bij = self.bijections[n]
            if hasattr(bij, "low"):  # bounded: additive shift
                width = bij.high - bij.low
                span = jnp.maximum(relative * jnp.abs(v), min(absolute_mV, 0.1 * width))
                x = jnp.clip(v + r * span, bij.low + 1e-3 * width, bij.high - 1e-3 * width)
            else:
                x = v * (1 + relative * r)
            out[n] = bij.inverse(x)
        return out
