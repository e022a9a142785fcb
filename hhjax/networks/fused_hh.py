"""The HH layer's time loop as one fused function with a hand-written backward pass.

`fused_run` is the whole loop (a `lax.scan` over network steps; each network step is
`substeps` steps of the same solver step `hhjax.simulate` takes, then the spike read-out)
as one `equinox.filter_custom_vjp`. Which backward pass runs — and so what the forward
pass keeps (the checkpoint policy) — is chosen in `adjoints.choose_adjoint`:

- `MEMBRANE` (the default layer): hand-written; keeps three numbers per neuron and
  sub-step (the membrane's decay and input response, and the surrogate slope) and
  recomputes nothing;
- `RECOMPUTED` (other solvers, the gradient through the gates, the neuron's own
  parameters): keeps the state at the start of every network step (T states) and
  recomputes one network step at a time in the backward pass, one `jax.vjp` per sub-step.

Either way memory is O(T·k) numbers per neuron, not every sub-step's intermediates (what
autodiff through the nested loops keeps). `unfused_run` is the same loop under plain
autodiff: the reference the tests hold `fused_run` to (values and gradients to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from .._numerics import x_over_one_minus_given_exp
from ..integrate.terms import model_term
from .adjoints import choose_adjoint
from .surrogates import CrossingSurrogate, no_crossing_yet, surrogate_derivative


@dataclass(frozen=True)
class StepRule:
    """How one network step advances a conductance neuron: `substeps` steps of `solver`
    of `h` ms each; the spike is an upward crossing of the read-out's threshold at any
    sub-step (`readout`: a `CrossingSurrogate`, which also defines the surrogate
    gradient); the membrane output is (V − V_rest)/100 with the model's V_rest.

    `gradient`: "membrane" (default) lets gradients flow through V only — the gates, and
    so the membrane's conductances, are held fixed in the backward pass, which sees the
    membrane as the tv-LIF it is over each sub-step (V' = E + (V − E)·e^(−g h/C)); "full"
    differentiates through the gates too (exact derivative of the discrete dynamics, but
    through a spike the gate sensitivities are large and of either sign)."""

    solver: object
    h: float
    readout: CrossingSurrogate
    gradient: str = "membrane"

    def __post_init__(self):
        if self.gradient not in ("membrane", "full"):
            raise ValueError(f"unknown gradient {self.gradient!r}; choose membrane or full")

    @property
    def substeps(self) -> int:
        return self.readout.substeps

    def substep(self, model, carry, current):
        """One solver step: (y, quiet) → (y', quiet'), quiet = 1 until V crosses."""
        y, quiet = carry
        if self.gradient == "membrane":
            y = eqx.tree_at(lambda s: s.V, jax.lax.stop_gradient(y), y.V)
        term = model_term(model, self.solver)
        t = jnp.zeros((), current.dtype)  # the dynamics are autonomous
        y1, *_ = self.solver.step(term, t, t + self.h, y, current, None, False)
        return y1, no_crossing_yet(quiet, y.V, y1.V, self.readout)

    def network_step(self, model, y, current):
        """(state after the step, spike in the step (n,), membrane output (n,))."""
        carry = (y, jnp.ones_like(current))
        for _ in range(self.substeps):  # unrolled: a few sub-steps, cheaper than a while loop on CPU
            carry = self.substep(model, carry, current)
        return self.outputs(model, carry)

    def recorded_network_step(self, model, y, current):
        """`network_step` that also returns, for every sub-step j (each (k, n)), what the
        membrane adjoint needs: the decay e^(−λh) of V over it (λ = g_s/C, 1/ms), the
        response h·φ1(−λh)/C of V to the input current, and the surrogate slope
        D(V_j − centre)/k of the spike read-out."""
        carry, decays, responses, slopes = (y, jnp.ones_like(current)), [], [], []
        t = jnp.zeros((), current.dtype)
        r = self.readout
        for _ in range(self.substeps):
            lam_h = model.decay_rates(t, carry[0], current).V * self.h
            decay = jnp.exp(-lam_h)
            decays.append(decay)
            responses.append(self.h / (model.C * x_over_one_minus_given_exp(lam_h, decay)))  # (the same exp)
            carry = self.substep(model, carry, current)
            slopes.append(surrogate_derivative(r.kind, carry[0].V - r.centre, r.width) / r.substeps)
        return self.outputs(model, carry), jnp.stack(decays), jnp.stack(responses), jnp.stack(slopes)

    @staticmethod
    def outputs(model, carry):
        y, quiet = carry
        return y, 1 - quiet, (y.V - model.V_rest) / 100.0


def _first_firing(model, solver, h: float, threshold: float, duration: float, y0, currents, grid):
    """grid[i] of the first of a batch of neurons (start `y0`, constant `currents`, both
    over the grid) that crosses `threshold` within `duration` ms, or None."""
    rule = StepRule(solver, h, CrossingSurrogate(threshold, threshold, "rectangular", 1.0, 1))
    steps = max(1, int(round(duration / h)))
    spikes, _ = unfused_run(rule, model, y0, jnp.broadcast_to(currents, (steps,) + grid.shape))
    fired = jax.device_get(jnp.any(spikes > 0, axis=0))
    return float(grid[fired.argmax()]) if fired.any() else None


def _rest_on(model, grid):
    """The resting state, one copy per grid point."""
    return jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a, grid.dtype), grid.shape), model.initial_state())


def excitation_threshold(model, solver, h: float, threshold: float, duration: float = 15.0,
                         resolution: float = 0.25) -> float:
    """The excitation threshold (mV) of `model` as integrated by `solver` at step `h`
    (ms): the lowest membrane potential from which the neuron, at rest otherwise and
    without input, fires (crosses `threshold`) within `duration` ms. Found on a grid of
    `resolution` mV between the resting potential and `threshold`."""
    v_rest = float(model.voltage(model.initial_state()))
    grid = jnp.arange(v_rest, threshold, resolution)
    y0 = eqx.tree_at(lambda s: s.V, _rest_on(model, grid), grid)
    found = _first_firing(model, solver, h, threshold, duration, y0, jnp.zeros_like(grid), grid)
    if found is None:
        raise ValueError(f"the neuron does not fire from any potential below {threshold} mV: "
                         "is the detection threshold above its spike peak?")
    return found


def rheobase(model, solver, h: float, threshold: float, duration: float, max_current: float,
             resolution: float = 0.1) -> float:
    """The smallest constant current (µA/cm², on a grid of `resolution` up to `max_current`)
    that makes `model`, starting at rest and integrated by `solver` at step `h` ms, fire
    (cross `threshold` mV) within `duration` ms."""
    grid = jnp.arange(0.0, max_current, resolution)
    found = _first_firing(model, solver, h, threshold, duration, _rest_on(model, grid), grid, grid)
    if found is None:
        raise ValueError(f"the neuron does not fire within {duration} ms for any current below {max_current} "
                         "µA/cm²: raise the layer's input_scale or its window (steps × step_ms)")
    return found


def unfused_run(rule: StepRule, model, y0, currents):
    """The reference: a scan of `rule.network_step`, differentiated by autodiff."""

    def body(y, current):
        y, s, v = rule.network_step(model, y, current)
        return y, (s, v)

    _, (s, v) = jax.lax.scan(body, y0, currents)
    return s, v


@eqx.filter_custom_vjp
def fused_run(inputs, rule: StepRule):
    """(spikes, membrane), each (T, n), for `inputs = (model, y0, currents)` with
    currents (T, n); gradients by the backward pass `adjoints.choose_adjoint` picks."""
    model, y0, currents = inputs
    return unfused_run(rule, model, y0, currents)


@fused_run.def_fwd
def _fused_fwd(perturbed, inputs, rule):
    model, y0, currents = inputs
    return choose_adjoint(rule, perturbed[0]).forward(rule, model, y0, currents)


@fused_run.def_bwd
def _fused_bwd(kept, grads, perturbed, inputs, rule):
    model, y0, currents = inputs
    g_spikes, g_membrane = (jnp.zeros_like(currents) if g is None else g for g in grads)
    adjoint = choose_adjoint(rule, perturbed[0])
    g_model, g_y0, g_currents = adjoint.backward(rule, perturbed[0], model, y0, kept, currents, g_spikes,
                                                 g_membrane)
    g_y0 = jax.tree.map(lambda p, g: g if p else None, perturbed[1], g_y0)
    return g_model, g_y0, (g_currents if perturbed[2] else None)
