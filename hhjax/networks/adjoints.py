"""The backward passes of the fused HH layer (`fused_hh.fused_run`) — each with the
forward pass that keeps what it needs (its checkpoint policy) — and the one place that
chooses between them.

- `MEMBRANE` — hand-written, for `gradient="membrane"` with exponential Euler and a frozen
  neuron. With the gates held fixed, a sub-step of length h is the tv-LIF update
  V' = V + h·f·φ1(−λh) with λ = g_s/C, so dV'/dV = e^(−λh) and dV'/dI = h·φ1(−λh)/C
  (exact for ohmic currents, as every hhjax channel is). The forward pass keeps, per
  sub-step and neuron, e^(−λh), h·φ1(−λh)/C and the surrogate slope (3 numbers); the
  backward pass recomputes nothing: two multiply-adds per sub-step.
- `RECOMPUTED` — general (any solver, the "full" gradient through the gates, gradients of
  the neuron's own parameters): the forward pass keeps the state at the start of each
  network step; the backward pass recomputes that step's sub-steps and pulls the
  cotangents back through them by `jax.vjp`, one sub-step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from ..integrate.solvers import ExponentialEuler


@dataclass(frozen=True)
class Adjoint:
    """A backward pass: `forward(rule, model, y0, currents) -> ((spikes, membrane), kept)`
    and `backward(rule, perturbed_model, model, y0, kept, currents, g_spikes, g_membrane)
    -> (dL/d(neuron leaves), dL/dy0, dL/dcurrents)`."""

    name: str
    forward: Callable
    backward: Callable


def choose_adjoint(rule, perturbed_model) -> Adjoint:
    """The backward pass for `rule` when the neuron's leaves `perturbed_model` (bools)
    are (or are not) differentiated."""
    neuron_frozen = not any(jax.tree.leaves(perturbed_model))
    if rule.gradient == "membrane" and isinstance(rule.solver, ExponentialEuler) and neuron_frozen:
        return MEMBRANE
    return RECOMPUTED


def _membrane_forward(rule, model, y0, currents):
    def body(y, current):
        (y1, s, v), decays, responses, slopes = rule.recorded_network_step(model, y, current)
        return y1, (s, v, decays, responses, slopes)

    _, (s, v, decays, responses, slopes) = jax.lax.scan(body, y0, currents)
    return (s, v), (decays, responses, slopes)


def _membrane_backward(rule, perturbed_model, model, y0, kept, currents, g_spikes, g_membrane):
    del perturbed_model
    decays, responses, slopes = kept
    k = rule.substeps

    def back(g_v_next, xs):  # a = dL/dV_j, from the step's end back to its start
        e, b, d, gs, gv = xs
        a = g_v_next + gv / 100.0 + gs * d[k - 1]
        g_current = jnp.zeros_like(gs)
        for j in reversed(range(k)):
            g_current = g_current + a * b[j]
            a = a * e[j]
            if j > 0:
                a = a + gs * d[j - 1]
        return a, g_current

    g_v0, g_currents = jax.lax.scan(back, jnp.zeros_like(currents[0]),
                                    (decays, responses, slopes, g_spikes, g_membrane), reverse=True)
    g_y0 = eqx.tree_at(lambda s: s.V, jax.tree.map(jnp.zeros_like, y0), g_v0)  # gates: held fixed
    return eqx.filter(model, lambda _: False), g_y0, g_currents


def _recomputed_forward(rule, model, y0, currents):
    def body(y, current):
        y1, s, v = rule.network_step(model, y, current)
        return y1, (s, v, y)

    _, (s, v, starts) = jax.lax.scan(body, y0, currents)
    return (s, v), starts


def _recomputed_backward(rule, perturbed_model, model, y0, starts, currents, g_spikes, g_membrane):
    # differentiate only what is perturbed: a parameter gradient is a sum over neurons per
    # sub-step, wasted work (and a costly reduction) for a frozen neuron
    varied, frozen = eqx.partition(model, perturbed_model)

    def substep(varied, carry, current):
        return rule.substep(eqx.combine(varied, frozen), carry, current)

    def back(carry, xs):
        g_y, g_model = carry
        y, current, gs, gv = xs

        def forward(c, _):  # this network step's sub-step states, stacked
            return substep(varied, c, current), c

        last, carries = jax.lax.scan(forward, (y, jnp.ones_like(current)), None, length=rule.substeps)
        _, pull = jax.vjp(lambda v, c: rule.outputs(eqx.combine(v, frozen), c), varied, last)
        g_v, g_carry = pull((g_y, gs, gv))

        # back through the sub-steps, one vjp per iteration of a loop (unrolled, XLA fuses
        # the whole chain of cotangents and recomputes shared terms many times over)
        def backward(acc, c):
            g_carry, g_model, g_current = acc
            _, pull = jax.vjp(substep, varied, c, current)
            g_v, g_carry, g_i = pull(g_carry)
            return (g_carry, jax.tree.map(jnp.add, g_model, g_v), g_current + g_i), None

        acc = (g_carry, jax.tree.map(jnp.add, g_model, g_v), jnp.zeros_like(current))
        (g_carry, g_model, g_current), _ = jax.lax.scan(backward, acc, carries, reverse=True)
        return (g_carry[0], g_model), g_current

    y_end = jax.tree.map(jnp.zeros_like, y0)
    (g_y0, g_varied), g_currents = jax.lax.scan(back, (y_end, jax.tree.map(jnp.zeros_like, varied)),
                                                (starts, currents, g_spikes, g_membrane), reverse=True)
    return g_varied, g_y0, g_currents


MEMBRANE = Adjoint("membrane", _membrane_forward, _membrane_backward)
RECOMPUTED = Adjoint("recomputed", _recomputed_forward, _recomputed_backward)
