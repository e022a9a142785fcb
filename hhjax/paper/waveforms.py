"""The five input currents of He et al. (2024)'s Fig. 3 script (`simplified_simulation/main.m`)."""

from __future__ import annotations

import math

import jax.numpy as jnp

from ..stimuli import AbstractStimulus, Constant, Sine, periodic_edges


PAPER_PERIOD_MS = 8.5


class PaperSquare(AbstractStimulus):
    """9 − 15.5·sign(mod(⌊t⌋, 8.5) − 3.751): 24.5 while mod(⌊t⌋, 8.5) < 3.751, else −6.5."""

    def __call__(self, t):
        return 9.0 - 15.5 * jnp.sign(jnp.mod(jnp.floor(t), PAPER_PERIOD_MS) - 3.751)

    def discontinuities(self, t0, t1):
        return [float(k) for k in range(math.floor(t0) + 1, math.ceil(t1)) if t0 < k < t1]


class PaperSawtooth(AbstractStimulus):
    """6.5 + (11/8.5)·(mod(t, 8.5) + 8.5/2): rises 12 → 23 over each 8.5 ms period."""

    def __call__(self, t):
        f = PAPER_PERIOD_MS
        return 6.5 + (11.0 / f) * (jnp.mod(t, f) + f / 2)

    def discontinuities(self, t0, t1):
        return periodic_edges(t0, t1, PAPER_PERIOD_MS, [0.0])


class PaperTriangle(AbstractStimulus):
    """7 + (7/8.5)·|mod(t, 8.5) − 8.5/2|: between 7 and 10.5, period 8.5 ms."""

    def __call__(self, t):
        f = PAPER_PERIOD_MS
        return 7.0 + (7.0 / f) * jnp.abs(jnp.mod(t, f) - f / 2)


def paper_waveforms() -> dict[str, AbstractStimulus]:
    """The five input currents of the paper's Fig. 3 script (spec §3.1), by name."""
    return {
        "const": Constant(9.0),
        "sine": Sine(I0=11.5, A=-19.0, period=2 * math.pi / 1.2),
        "square": PaperSquare(),
        "sawtooth": PaperSawtooth(),
        "triangle": PaperTriangle(),
    }


