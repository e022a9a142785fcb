"""Gates: dx/dt = α(V)(1 − x) − β(V)x (`RateGate`) or (x∞(V) − x)/τ(V) (`SteadyStateGate`),
each raised to an integer power in its channel's conductance; an instantaneous gate is
x = x∞(V) at every moment (no state). Every gate with a state is an input-free tv-LIF:
τ = 1/(α + β) and rest x∞ = α/(α + β) (He et al. 2024). Rates may be scaled by φ and by a
Q10 temperature factor q10^((T − T_ref)/10)."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array, ArrayLike


def _check_power(power):
    if isinstance(power, bool) or not isinstance(power, int) or power < 1:
        raise ValueError(f"a gate's exponent must be a positive integer, got {power!r}")


class AbstractGate(eqx.Module):
    """A gate raised to `power` in its channel's conductance."""

    power: int = eqx.field(static=True)
    instantaneous: bool = eqx.field(static=True)

    # `rates`: (α(V), β(V)) where the neuron evaluated them already (rate gates only).
    def steady(self, V: ArrayLike, rates=None) -> Array:
        """x∞(V)."""
        raise NotImplementedError

    def inverse_tau(self, V: ArrayLike, temperature_factor=1.0, rates=None) -> Array:
        """1/τ(V) in 1/ms (the tv-LIF's decay rate)."""
        raise NotImplementedError

    def derivative(self, V: ArrayLike, x: ArrayLike, temperature_factor=1.0, rates=None) -> Array:
        """dx/dt (1/ms)."""
        return (self.steady(V, rates) - x) * self.inverse_tau(V, temperature_factor, rates)

    def tvlif(self, V: ArrayLike, temperature_factor=1.0, rates=None) -> tuple[Array, Array]:
        """The gate as an input-free tv-LIF: (τ in ms, rest x∞)."""
        return 1 / self.inverse_tau(V, temperature_factor, rates), self.steady(V, rates)


class RateGate(AbstractGate):
    """dx/dt = φ·(α(V)(1 − x) − β(V)x); `alpha`, `beta` are rate functions of V (1/ms)."""

    alpha: eqx.Module
    beta: eqx.Module
    phi: ArrayLike

    def __init__(self, alpha, beta, power: int = 1, *, phi: ArrayLike = 1.0, instantaneous: bool = False):
        _check_power(power)
        if not (callable(alpha) and callable(beta)):
            raise ValueError("a RateGate needs callable alpha(V) and beta(V) rate functions")
        self.alpha, self.beta, self.power, self.phi, self.instantaneous = alpha, beta, power, phi, instantaneous

    def rates(self, V) -> tuple[Array, Array]:
        """(α(V), β(V)) in 1/ms."""
        return self.alpha(V), self.beta(V)

    def steady(self, V, rates=None):
        a, b = self.rates(V) if rates is None else rates
        return a / (a + b)

    def inverse_tau(self, V, temperature_factor=1.0, rates=None):
        a, b = self.rates(V) if rates is None else rates
        return (self.phi * temperature_factor) * (a + b)

    def derivative(self, V, x, temperature_factor=1.0, rates=None):
        a, b = self.rates(V) if rates is None else rates
        return (self.phi * temperature_factor) * (a - (a + b) * x)


class SteadyStateGate(AbstractGate):
    """dx/dt = φ·(x∞(V) − x)/τ(V); `x_inf`, `tau` functions of V (τ in ms). An
    instantaneous gate needs no `tau`."""

    x_inf: eqx.Module
    tau: eqx.Module | None
    phi: ArrayLike

    def __init__(self, x_inf, tau=None, power: int = 1, *, phi: ArrayLike = 1.0, instantaneous: bool = False):
        _check_power(power)
        if not callable(x_inf) or not (instantaneous or callable(tau)):
            raise ValueError("a SteadyStateGate needs a callable x_inf(V) and, unless instantaneous, tau(V)")
        self.x_inf, self.tau, self.power, self.phi, self.instantaneous = x_inf, tau, power, phi, instantaneous

    def steady(self, V, rates=None):
        return self.x_inf(V)

    def inverse_tau(self, V, temperature_factor=1.0, rates=None):
        return (self.phi * temperature_factor) / self.tau(V)


def gate_power(x: Array, power: int) -> Array:
    """x**power for a small positive integer power, by multiplication."""
    out = x
    for _ in range(power - 1):
        out = out * x
    return out
