"""Voltage-dependent rate functions α(V), β(V) of HH-type gates (1/ms, V in mV).

The three classic families, each with three coefficients (`rate`, `v_half`, `k`):

- `Exponential`: rate·exp(−(V − v_half)/k)
- `Sigmoid`:     rate / (1 + exp(−(V − v_half)/k))
- `Linoid`:      rate·(V − v_half) / (1 − exp(−(V − v_half)/k)), whose removable 0/0 at
  V = v_half is evaluated by a series there (value rate·k, finite gradients).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
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


def _concrete_scalar(x) -> float | None:
    if isinstance(x, jax.core.Tracer) or jnp.ndim(x) != 0:
        return None
    return float(np.asarray(x))


def shared_exponent_plan(rates, max_power: int = 16) -> tuple | None:
    """Which rates can share one exponential: rate i with slope k_i can use
    exp(u_b)^n·exp((v_i − v_b)/k_i) when n = k_b/k_i is a whole number ≤ `max_power`
    (the classic HH rates: k = 80 serves 20 and 10, so six exponentials become two).

    Returns per rate (index of the rate whose exponential it uses, n, the constant factor
    or None if a half-activation voltage is traced), or None when a slope is not a
    concrete scalar (traced under `jit`/`grad`, or one per neuron): sharing is a
    compile-time plan, so a fitted slope keeps the direct evaluation.
    """
    if any(isinstance(r, ConstantRate) for r in rates):
        return None
    ks = [_concrete_scalar(r.k) for r in rates]
    if any(k is None or not np.isfinite(k) or k == 0 for k in ks):
        return None
    order = sorted(range(len(ks)), key=lambda i: -abs(ks[i]))
    plan = [None] * len(ks)
    bases = []
    for i in order:
        for b in bases:
            n = ks[b] / ks[i]
            if 2 <= round(n) <= max_power and abs(n - round(n)) < 1e-12 * abs(n):
                vi, vb = _concrete_scalar(rates[i].v_half), _concrete_scalar(rates[b].v_half)
                scale = None if vi is None or vb is None else float(np.exp((vi - vb) / ks[i]))
                plan[i] = (b, int(round(n)), scale)
                break
        else:
            bases.append(i)
            plan[i] = (i, 1, 1.0)
    return tuple(plan)


def _power(x, n: int):
    """x**n by explicit squaring and multiplication (XLA rewrites pow(exp(u), n) back
    into exp(n·u), which would undo the sharing)."""
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    return result


def shared_rates(rates, plan, V) -> list[Array]:
    """Evaluate `rates` at V with the exponentials `plan` (from `shared_exponent_plan`) shares."""
    # XLA rewrites exp(a)·exp(b) into exp(a + b), which would turn every power back into
    # its own exponential; a factor 1 it cannot see through (one multiply) prevents that.
    V = jnp.asarray(V)
    opaque_one = jax.lax.optimization_barrier(jnp.ones((), V.dtype))
    exps = {i: jnp.exp(rates[i].exponent(V)) * opaque_one for i, (b, _, _) in enumerate(plan) if b == i}
    out = []
    for i, (b, n, scale) in enumerate(plan):
        if b == i:
            E = exps[i]
        else:
            if scale is None:
                scale = jnp.exp((rates[i].v_half - rates[b].v_half) * (1 / rates[i].k))
            E = _power(exps[b], n) * scale
        out.append(rates[i].from_exponential(V, E))
    return out


def gate_tvlif(alpha: ArrayLike, beta: ArrayLike) -> tuple[Array, Array]:
    """A gate dx/dt = α(1 − x) − βx as an input-free tv-LIF τ dx/dt = −(x − x∞):
    returns (τ in ms, x∞ dimensionless), τ = 1/(α+β), x∞ = α/(α+β)."""
    total = alpha + beta
    return 1 / total, alpha / total
