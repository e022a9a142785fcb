"""How the fixed-step network loop iterates over a block of steps — two named loop shapes,
chosen in `step_loop_for` from the backend's `Tuning`:

- `SingleSteps`: one step per iteration (a `lax.scan`).
- `PairedSteps`: two steps per iteration, the second inside a conditional (taken unless the
  block ends after the first). XLA's CPU copy insertion copies every state variable of a
  loop of single steps on every step (each is overwritten in place while other kernels
  still read its old value); with the pair, the first step writes fresh buffers
  (measurements: `Tuning.network_paired_from_neurons`).

Both return the same carry and per-step spike counts; only the speed differs.

— and when a step's spikes are sent into the delay buffers, two named orders, chosen in
`sending_for` from the `Tuning`:

- `SendAtStepEnd`: at the end of the step that found them.
- `SendAtNextStep`: at the start of the next step, before its delivery (the spikes wait in
  the carry's outboxes, across blocks too; `flush` sends the last step's at the end of the
  run). Nothing else in that step waits for them until the delivery, so XLA's CPU runtime
  can propagate on one core while the other advances what does not depend on the synaptic
  input — the gates of conductance-based neurons (measurements:
  `Tuning.network_send_ahead_from_neurons`).

Both send at the same step number, so the buffers, spikes and states are the same.
"""

from __future__ import annotations

import dataclasses

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


class SendAtStepEnd(eqx.Module):
    """A step's spikes are sent at the end of that step."""

    def initial_outboxes(self, plan, dtype) -> dict:
        return {}

    def step(self, plan, carry):
        carry, outboxes, counts = plan.advance(carry)
        return plan.send(carry, outboxes, carry.step), counts

    def flush(self, plan, carry):
        return carry


class SendAtNextStep(eqx.Module):
    """A step's spikes wait in the carry and are sent at the start of the next step."""

    def initial_outboxes(self, plan, dtype) -> dict:
        return plan.empty_outboxes(dtype)

    def step(self, plan, carry):
        carry = plan.send(carry, carry.outboxes, carry.step)
        carry, outboxes, counts = plan.advance(carry)
        return dataclasses.replace(carry, outboxes=outboxes), counts

    def flush(self, plan, carry):
        carry = plan.send(carry, carry.outboxes, carry.step)
        return dataclasses.replace(carry, outboxes=jax.tree.map(jnp.zeros_like, carry.outboxes))


def sending_for(n_neurons: int, tuning: Tuning):
    """When a network of `n_neurons` sends its spikes under `tuning` (at the next step from
    `tuning.network_send_ahead_from_neurons` neurons on, where it was measured to win)."""
    threshold = tuning.network_send_ahead_from_neurons
    if threshold is not None and n_neurons >= threshold:
        return SendAtNextStep()
    return SendAtStepEnd()
