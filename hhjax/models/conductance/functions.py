"""Voltage functions for gates given in x∞/τ form (V in mV; τ in ms; x∞ dimensionless).
Rates in α/β form use `hhjax.models.rates` (`Exponential`, `Sigmoid`, `Linoid`)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


class Boltzmann(eqx.Module):
    """1 / (1 + exp(−(V − v_half)/k)): rising with V for k > 0, falling for k < 0."""

    v_half: ArrayLike
    k: ArrayLike

    def __call__(self, V: ArrayLike) -> Array:
        return 1 / (1 + jnp.exp((self.v_half - V) * (1 / self.k)))


class TanhSteady(eqx.Module):
    """(1 + tanh((V − v_half)/slope)) / 2 (Morris–Lecar's m∞ and w∞)."""

    v_half: ArrayLike
    slope: ArrayLike

    def __call__(self, V: ArrayLike) -> Array:
        return 0.5 * (1 + jnp.tanh((V - self.v_half) * (1 / self.slope)))


class CoshTau(eqx.Module):
    """scale / cosh((V − v_half)/(2·slope)) ms (Morris–Lecar's τ_w before its φ)."""

    v_half: ArrayLike
    slope: ArrayLike
    scale: ArrayLike = 1.0

    def __call__(self, V: ArrayLike) -> Array:
        return self.scale / jnp.cosh((V - self.v_half) * (0.5 / self.slope))


class SigmoidTau(eqx.Module):
    """tau0 + tau1 / (1 + exp((V − v_half)·rate)) ms."""

    tau0: ArrayLike
    tau1: ArrayLike
    v_half: ArrayLike
    rate: ArrayLike

    def __call__(self, V: ArrayLike) -> Array:
        return self.tau0 + self.tau1 / (1 + jnp.exp((V - self.v_half) * self.rate))


class SlowPotassiumTau(eqx.Module):
    """tau_max / (3.3·exp((V − v_half)/20) + exp(−(V − v_half)/20)) ms: the M-current's τ_p of
    Yamada et al. (1989) as used by Pospischil et al. (2008)."""

    tau_max: ArrayLike
    v_half: ArrayLike = -35.0

    def __call__(self, V: ArrayLike) -> Array:
        u = (V - self.v_half) / 20
        return self.tau_max / (3.3 * jnp.exp(u) + jnp.exp(-u))
