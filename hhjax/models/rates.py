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

from .._numerics import x_over_one_minus_exp, x_over_one_minus_given_exp


class AbstractRate(eqx.Module):
    rate: ArrayLike
    v_half: ArrayLike
    k: ArrayLike

    def __call__(self, V: ArrayLike) -> Array:
        return self.from_exponential(V, jnp.exp(self.exponent(V)))

    def exponent(self, V: ArrayLike) -> Array:
        """u = −(V − v_half)/k: every family is a function of V and exp(u)."""
        return (self.v_half - V) * (1 / self.k)

    def from_exponential(self, V: ArrayLike, E: ArrayLike) -> Array:
        """The rate at V given E = exp(self.exponent(V)) computed elsewhere (shared)."""
        raise NotImplementedError

    def shifted(self, dv: float):
        """The same function moved by `dv` mV along the voltage axis."""
        return type(self)(rate=self.rate, v_half=self.v_half + dv, k=self.k)


class Exponential(AbstractRate):
    def from_exponential(self, V, E):
        return self.rate * E


class Sigmoid(AbstractRate):
    def from_exponential(self, V, E):
        return self.rate / (1 + E)


class Linoid(AbstractRate):
    def __call__(self, V):
        return self.rate * self.k * x_over_one_minus_exp((V - self.v_half) * (1 / self.k))

    def from_exponential(self, V, E):
        return self.rate * self.k * x_over_one_minus_given_exp((V - self.v_half) * (1 / self.k), E)


class ConstantRate(AbstractRate):
    """A rate that does not depend on V (`v_half`, `k` unused): the frozen random rates of
    He et al.'s deep-learning "HH" layer (spec §3.3)."""

    def __init__(self, rate, v_half=0.0, k=1.0):
        self.rate, self.v_half, self.k = rate, v_half, k

    def __call__(self, V):
        return self.rate * jnp.ones_like(V)

    def from_exponential(self, V, E):
        return self(V)


def gate_tvlif(alpha: ArrayLike, beta: ArrayLike) -> tuple[Array, Array]:
    """A gate dx/dt = α(1 − x) − βx as an input-free tv-LIF τ dx/dt = −(x − x∞):
    returns (τ in ms, x∞ dimensionless), τ = 1/(α+β), x∞ = α/(α+β)."""
    total = alpha + beta
    return 1 / total, alpha / total
