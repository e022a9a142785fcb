"""Hand-written baselines the suite measures `simulate` against."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def textbook_hh_derivatives(V, m, h, n, current):
    """The squid HH right-hand side as usually written: six exp/expm1, three divisions."""
    am = 0.1 * (V + 40) / (-jnp.expm1(-(V + 40) / 10))
    bm = 4 * jnp.exp(-(V + 65) / 18)
    ah = 0.07 * jnp.exp(-(V + 65) / 20)
    bh = 1 / (1 + jnp.exp(-(V + 35) / 10))
    an = 0.01 * (V + 55) / (-jnp.expm1(-(V + 55) / 10))
    bn = 0.125 * jnp.exp(-(V + 65) / 80)
    dV = current - 120 * m**3 * h * (V - 50) - 36 * n**4 * (V + 77) - 0.3 * (V + 54.387)
    return dV, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n


def textbook_hh_scan(steps: int, dt: float):
    """A jitted forward-Euler `lax.scan` of the textbook HH (constants inlined, no spike
    detection, final state only): (V, m, h, n, current) -> final (V, m, h, n)."""

    @jax.jit
    def run(V, m, h, n, current):
        def body(state, _):
            d = textbook_hh_derivatives(*state, current)
            return tuple(x + dt * dx for x, dx in zip(state, d)), None

        return jax.lax.scan(body, (V, m, h, n), None, length=steps)[0]

    return run


def vector_field_scan(steps: int, dt: float):
    """A jitted forward-Euler `lax.scan` of a model's own `vector_field` (what `simulate`
    steps, without diffrax and without spike detection): (model, y0, stimulus) -> y."""

    @jax.jit
    def run(model, y, stimulus):
        dtype = jnp.result_type(*jax.tree.leaves(y))
        h = jnp.asarray(dt, dtype)

        def body(y, k):
            f = model.vector_field(k * h, y, stimulus)
            return jax.tree.map(lambda u, du: (u + h * du).astype(dtype), y, f), None

        return jax.lax.scan(body, y, jnp.arange(steps, dtype=dtype))[0]

    return run
