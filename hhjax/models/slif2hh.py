"""s-LIF2HH: the discrete-time simplified four-LIF unit of He et al. (2024), spec §3.

One unit = three input neurons u1, u2, u3 and an integrating neuron u4 fed by
w1·u1 + w2·u2 + w3·u3 + bias. Two reset rules:

- `"joint"` (MATLAB, spec §3.1): u4 reads the *updated* u1..u3; the unit fires only when
  all four exceed the threshold at the same step, and then all four reset.
- `"per_neuron"` (PyTorch, spec §3.2): u4 reads the *previous-step* u1..u3; each neuron
  resets on its own spike (u ← rest + decay·(u − rest)·(1 − s) + input); the unit's
  output spike is neuron 4's.

Per step: u ← rest + decay·(u − rest) + gain·x, where x is the mean input current over
the step (µA/cm²). A neuron that resets goes to `reset` (default: `rest`, as in the
authors' code); a reset below rest is an after-hyperpolarisation, which makes the
interval after a spike longer than the latency from rest, as in HH. With dt = 1 ms,
C = 1 µF/cm² the MATLAB update u ← u + dt·(−(u − U_rest)(1 − decay)/C + I/C) is exactly
this with gain = dt/C = 1.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .base import AbstractDiscreteNeuron


class SLIF2HHState(eqx.Module):
    """Membranes u1..u4 (mV) and the spike indicators s1..s4 of the last step (0/1)."""

    u1: Array
    u2: Array
    u3: Array
    u4: Array
    s1: Array
    s2: Array
    s3: Array
    s4: Array

    @property
    def indicators(self) -> tuple[Array, Array, Array, Array]:
        return self.s1, self.s2, self.s3, self.s4


class SLIF2HH(AbstractDiscreteNeuron):
    """Simplified LIF2HH unit; fields: `decay` (per step), `threshold` (mV), weights
    `w1..w3` and `bias` of the 3→1 connection, input `gain`, resting potential
    `rest` (mV), after-spike `reset` (mV; None = `rest`), step `dt` (ms) and `rule`
    ("joint" or "per_neuron")."""

    decay: ArrayLike = 0.9
    threshold: ArrayLike = 70.0
    w1: ArrayLike = 1.0
    w2: ArrayLike = 1.0
    w3: ArrayLike = 1.0
    bias: ArrayLike = 0.0
    gain: ArrayLike = 1.0
    rest: ArrayLike = 0.0
    reset: ArrayLike | None = None
    dt: float = eqx.field(static=True, default=1.0)
    rule: str = eqx.field(static=True, default="joint")

    def __check_init__(self):
        if self.rule not in ("joint", "per_neuron"):
            raise ValueError(f"unknown s-LIF2HH rule {self.rule!r}; choose 'joint' or 'per_neuron'")
        if not self.dt > 0:
            raise ValueError(f"s-LIF2HH step dt must be > 0 ms, got {self.dt}")

    @classmethod
    def matlab(cls, dt: float = 1.0, **overrides) -> "SLIF2HH":
        """The authors' MATLAB unit (spec §3.1) stepped every `dt` ms: their update
        u ← u + dt·(−(u − U_rest)(1 − 0.9)/C + I/C) with C = 1 is decay = 1 − 0.1·dt,
        gain = dt (dt = 1 gives the default unit). Finer steps let spikes fall between
        the 1 ms grid points."""
        params = dict(dt=float(dt), decay=1.0 - 0.1 * float(dt), gain=float(dt))
        params.update(overrides)
        return cls(**params)

    @classmethod
    def pytorch(cls, **overrides) -> "SLIF2HH":
        """The per-neuron-reset layer settings of the authors' PyTorch fc model
        (decay 0.5, threshold 2)."""
        params = dict(decay=0.5, threshold=2.0, rule="per_neuron")
        params.update(overrides)
        return cls(**params)

    def initial_state(self, shape=()) -> SLIF2HHState:
        shape = jnp.broadcast_shapes(shape, jnp.shape(self.decay), jnp.shape(self.threshold))
        u = jnp.broadcast_to(jnp.asarray(self.rest), shape)
        z = jnp.zeros_like(u)
        return SLIF2HHState(u, u, u, u, z, z, z, z)

    def step(self, y: SLIF2HHState, inputs, surrogate_width=None, spike_fn=None) -> tuple[SLIF2HHState, Array]:
        """One step. `inputs` is one current for all three input neurons or a triple.

        `surrogate_width` (mV) replaces the Heaviside spike function by the logistic
        sigmoid((u − θ)/width), so that the step is smooth in the parameters (for fitting);
        `spike_fn(u − θ)` replaces it by any function (e.g. a surrogate-gradient spike for
        training networks); None (default) is the exact model."""
        x1, x2, x3 = inputs if isinstance(inputs, tuple) else (inputs, inputs, inputs)
        r, d, th = self.rest, self.decay, self.threshold
        after = r if self.reset is None else self.reset

        def heaviside(u):
            if spike_fn is not None:
                return spike_fn(u - th)
            if surrogate_width is not None:
                return jax.nn.sigmoid((u - th) / surrogate_width)
            return (u > th).astype(u.dtype)

        if self.rule == "joint":
            u1 = r + d * (y.u1 - r) + self.gain * x1
            u2 = r + d * (y.u2 - r) + self.gain * x2
            u3 = r + d * (y.u3 - r) + self.gain * x3
            u4 = r + d * (y.u4 - r) + self.w1 * u1 + self.w2 * u2 + self.w3 * u3 + self.bias
            s = tuple(heaviside(u) for u in (u1, u2, u3, u4))
            fire = s[0] * s[1] * s[2] * s[3]
            keep = 1 - fire
            u1, u2, u3, u4 = (after + (u - after) * keep for u in (u1, u2, u3, u4))
            return SLIF2HHState(u1, u2, u3, u4, *s), fire
        leak = [(r + d * (u - r)) * (1 - s) + after * s - r for u, s in zip((y.u1, y.u2, y.u3, y.u4), y.indicators)]
        u1 = r + leak[0] + self.gain * x1
        u2 = r + leak[1] + self.gain * x2
        u3 = r + leak[2] + self.gain * x3
        u4 = r + leak[3] + self.w1 * y.u1 + self.w2 * y.u2 + self.w3 * y.u3 + self.bias
        s = tuple(heaviside(u) for u in (u1, u2, u3, u4))
        return SLIF2HHState(u1, u2, u3, u4, *s), s[3]

    def voltage(self, y) -> Array:
        return y.u4

    def default_threshold(self):
        return self.threshold
