"""How the fixed-step network loop iterates over a block of steps — two named loop shapes,
chosen in `step_loop_for` from the backend's `Tuning`:

- `SingleSteps`: one step per iteration (a `lax.scan`).
- `PairedSteps`: two steps per iteration, the second inside a conditional (taken unless the
  block ends after the first). XLA's CPU copy insertion copies every state variable of a
  loop of single steps on every step (each is overwritten in place while other kernels
  still read its old value); with the pair, the first step writes fresh buffers
  (measurements: `Tuning.network_paired_from_neurons`).

Both return the same carry and per-step spike counts; only the speed differs.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..backends import Tuning


class SingleSteps(eqx.Module):
    """One step per loop iteration."""

    def run(self, step, carry, length: int):
        """`length` applications of `step(carry) → (carry, counts)`; counts stacked per step."""
        return jax.lax.scan(lambda c, _: step(c), carry, None, length=length)


class PairedSteps(eqx.Module):
    """Two steps per loop iteration, the second inside a conditional."""

    def run(self, step, carry, length: int):
        end = carry.step + length

        def pair(c, _):
            c, first = step(c)
            c, second = jax.lax.cond(c.step < end, lambda c: step(c),
                                     lambda c: (c, jax.tree.map(jnp.zeros_like, first)), c)
            return c, jax.tree.map(lambda a, b: jnp.stack([a, b]), first, second)

        carry, counts = jax.lax.scan(pair, carry, None, length=(length + 1) // 2)
        return carry, jax.tree.map(lambda v: v.reshape((-1,) + v.shape[2:])[:length], counts)


def step_loop_for(n_neurons: int, tuning: Tuning):
    """The loop shape for a network of `n_neurons` under `tuning` (paired from
    `tuning.network_paired_from_neurons` neurons on, where it was measured to win)."""
    if tuning.network_paired_from_neurons is not None and n_neurons >= tuning.network_paired_from_neurons:
        return PairedSteps()
    return SingleSteps()
