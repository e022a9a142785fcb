"""Bijections between an unconstrained real line (where the optimiser steps) and a
parameter's allowed range, so that bounds hold at every step without projection."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


class AbstractBijection(eqx.Module):
    """`forward`: unconstrained → constrained; `inverse`: constrained → unconstrained."""

    def forward(self, u: ArrayLike) -> Array:
        raise NotImplementedError

    def inverse(self, x: ArrayLike) -> Array:
        raise NotImplementedError

    def check(self, name: str, x) -> None:
        """Raise a `ValueError` if `x` lies outside the range (so `inverse` would be NaN/inf)."""


class Identity(AbstractBijection):
    """No constraint."""

    def forward(self, u):
        return jnp.asarray(u)

    def inverse(self, x):
        return jnp.asarray(x)


class Positive(AbstractBijection):
    """x = sign·exp(u): a scale parameter of fixed sign (conductances, capacitance, time
    constants, rate coefficients). The log scale makes ±50 % symmetric steps."""

    sign: float = eqx.field(static=True, default=1.0)

    def forward(self, u):
        return self.sign * jnp.exp(u)

    def inverse(self, x):
        return jnp.log(self.sign * jnp.asarray(x))

    def check(self, name, x):
        import numpy as np

        if not np.all(self.sign * np.asarray(x) > 0):
            kind = "positive" if self.sign > 0 else "negative"
            raise ValueError(f"parameter {name!r} = {x} must be {kind}")


class Bounded(AbstractBijection):
    """x = low + (high − low)·sigmoid(u): a parameter confined to (low, high), e.g. a
    reversal potential or a per-step decay in (0, 1)."""

    low: float = eqx.field(static=True)
    high: float = eqx.field(static=True)

    def __check_init__(self):
        if not self.high > self.low:
            raise ValueError(f"Bounded needs low < high, got ({self.low}, {self.high})")

    def forward(self, u):
        return self.low + (self.high - self.low) * jax.nn.sigmoid(u)

    def inverse(self, x):
        p = (jnp.asarray(x) - self.low) / (self.high - self.low)
        return jnp.log(p) - jnp.log1p(-p)

    def check(self, name, x):
        import numpy as np

        if not np.all((np.asarray(x) > self.low) & (np.asarray(x) < self.high)):
            raise ValueError(f"parameter {name!r} = {x} lies outside its bounds ({self.low}, {self.high})")


REVERSAL_BOUNDS_MV = (-200.0, 200.0)


def default_bijection(name: str, value) -> AbstractBijection:
    """The constraint a parameter's name implies: conductances, capacitance, time constants,
    gains, rate coefficients and slopes keep their sign (`Positive`); reversal potentials
    and half-activation voltages are bounded to ±200 mV; the s-LIF2HH `decay` lies in
    (0, 1); anything else is unconstrained."""
    import numpy as np

    leaf = name.split(".")[-1]
    sign = 1.0 if np.all(np.asarray(value) >= 0) else -1.0
    if leaf == "decay":
        return Bounded(0.0, 1.0)
    if leaf.startswith("E_") or leaf in ("E", "v_half", "V_rest", "rest", "reset", "E_s"):
        return Bounded(*REVERSAL_BOUNDS_MV)
    if (leaf in ("C", "g") or leaf.startswith("g_") or leaf in ("rate", "k", "tau", "gain", "threshold", "phi")
            or leaf.startswith("w") or leaf.startswith("tau")):
        return Positive(sign)
    return Identity()
