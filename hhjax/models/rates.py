"""Voltage-dependent rate functions α(V), β(V) of HH-type gates (1/ms, V in mV).

The three classic families, each with three coefficients (`rate`, `v_half`, `k`):

- `Exponential`: rate·exp(−(V − v_half)/k)
- `Sigmoid`:     rate / (1 + exp(−(V − v_half)/k))
- `Linoid`:      rate·(V − v_half) / (1 − exp(−(V − v_half)/k)), whose removable 0/0 at
  V = v_half is evaluated by a series there (value rate·k, finite gradients).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._numerics import x_over_one_minus_exp


class AbstractRate(eqx.Module):
    rate: ArrayLike
    v_half: ArrayLike
    k: ArrayLike

    def __call__(self, V: ArrayLike) -> Array:
        raise NotImplementedError

    def shifted(self, dv: float):
        """The same function moved by `dv` mV along the voltage axis."""
        return type(self)(rate=self.rate, v_half=self.v_half + dv, k=self.k)


class Exponential(AbstractRate):
    def __call__(self, V):
        return self.rate * jnp.exp(-(V - self.v_half) / self.k)


class Sigmoid(AbstractRate):
    def __call__(self, V):
        return self.rate / (1 + jnp.exp(-(V - self.v_half) / self.k))


class Linoid(AbstractRate):
    def __call__(self, V):
        return self.rate * self.k * x_over_one_minus_exp((V - self.v_half) / self.k)


def gate_tvlif(alpha: ArrayLike, beta: ArrayLike) -> tuple[Array, Array]:
    """A gate dx/dt = α(1 − x) − βx as an input-free tv-LIF τ dx/dt = −(x − x∞):
    returns (τ in ms, x∞ dimensionless), τ = 1/(α+β), x∞ = α/(α+β)."""
    total = alpha + beta
    return 1 / total, alpha / total
