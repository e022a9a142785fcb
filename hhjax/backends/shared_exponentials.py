"""Shared exponentials: HH-type rates evaluated with fewer exponentials.

With slopes k = 80, 20, 10 and 18 mV, exp(−(V+65)/80) raised to the 4th and 8th powers
serves α_h, α_m, β_h and α_n, so a classic HH step needs 2 exponentials instead of 6.
Within 2e-13 relative of the direct rates in float64 and 2e-5 in float32 (tested; RK4
spike times on the reference unchanged). A speed choice (`Tuning.shared_exponentials`),
kept out of the models: `tuned_model` swaps each `HodgkinHuxley` inside a model for a
`SharedExponentialHH` with the same parameters.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..models.conductance.neuron import ConductanceNeuron
from ..models.hh import RATE_NAMES, HodgkinHuxley
from ..models.rates import AbstractRate, ConstantRate
from .tuning import Tuning


def _concrete_scalar(x) -> float | None:
    if isinstance(x, jax.core.Tracer) or jnp.ndim(x) != 0:
        return None
    return float(np.asarray(x))


def shared_exponent_plan(rates, max_power: int = 16) -> tuple | None:
    """Which rates can share one exponential: rate i with slope k_i can use
    exp(u_b)^n·exp((v_i − v_b)/k_i) when n = k_b/k_i is a whole number, 1 ≤ |n| ≤
    `max_power`; a negative n costs a division instead of an exponential (the classic HH
    rates: k = 80 serves 20 and 10, so six exponentials become two; Traub–Miles: k = 40
    serves 5, −5 and 4).

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
            if 1 <= abs(round(n)) <= max_power and abs(n - round(n)) < 1e-12 * abs(n):
                vi, vb = _concrete_scalar(rates[i].v_half), _concrete_scalar(rates[b].v_half)
                scale = None if vi is None or vb is None else float(np.exp((vi - vb) / ks[i]))
                plan[i] = (b, int(round(n)), scale)
                break
        else:
            bases.append(i)
            plan[i] = (i, 1, 1.0)
    return tuple(plan)


def _power(x, n: int):
    """x**n (n ≠ 0) by explicit squaring and multiplication, and one division for n < 0
    (XLA rewrites pow(exp(u), n) back into exp(n·u), which would undo the sharing)."""
    if n < 0:
        return 1 / _power(x, -n)
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
    # its own exponential. Selecting exp(u) where V == V (NaN elsewhere: the same value as
    # exp(u) for every V) hides the exponential from that rewrite and, unlike an
    # optimization barrier, lets XLA merge this evaluation with another of the same rates
    # (the vector field's and the decay rates' for exponential Euler).
    V = jnp.asarray(V)
    exps = {i: jnp.where(V == V, jnp.exp(rates[i].exponent(V)), jnp.nan)
            for i, (b, _, _) in enumerate(plan) if b == i}
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


class SharedExponentialHH(HodgkinHuxley):
    """A `HodgkinHuxley` whose rates share exponentials by `plan` (from
    `shared_exponent_plan`, made from the rates' concrete slopes and half-activation
    voltages): the same dynamics, fewer `exp`s. The plan belongs to these rates — build
    it with `tuned_model`, and edit the original model, not this one."""

    plan: tuple = eqx.field(static=True, default=None)

    def gate_rates(self, V):
        rates = [getattr(self, name) for name in RATE_NAMES]
        am, bm, ah, bh, an, bn = shared_rates(rates, self.plan, V)
        return {"m": (am, bm), "h": (ah, bh), "n": (an, bn)}


def _with_shared_exponentials(hh: HodgkinHuxley):
    if type(hh) is not HodgkinHuxley:  # a subclass may define its own rates
        return hh
    plan = shared_exponent_plan([getattr(hh, name) for name in RATE_NAMES])
    if plan is None:
        return hh
    fields = {f: getattr(hh, f) for f in hh.__dataclass_fields__}
    return SharedExponentialHH(**fields, plan=plan)


class SharedExponentialConductance(ConductanceNeuron):
    """A `ConductanceNeuron` whose gates' α/β rates (those of the classic families) share
    exponentials by `plan`, over `keys` ("channel.gate"): the same dynamics, fewer `exp`s."""

    plan: tuple = eqx.field(static=True, default=None)
    keys: tuple = eqx.field(static=True, default=None)

    def __init__(self, source: ConductanceNeuron, plan: tuple, keys: tuple):
        super().__init__(source.channels, source.C, V_rest=source.V_rest, threshold=source.threshold,
                         celsius=source.celsius)
        self.plan, self.keys = plan, keys

    def rate_values(self, V):
        gates = dict(self.rate_gates())
        rates = [f for key in self.keys for f in (gates[key].alpha, gates[key].beta)]
        values = shared_rates(rates, self.plan, V)
        out = {key: (values[2 * i], values[2 * i + 1]) for i, key in enumerate(self.keys)}
        for key, gate in gates.items():  # rates outside the plan (other families)
            if key not in out:
                out[key] = gate.rates(V)
        return out


def _conductance_with_shared_exponentials(model: ConductanceNeuron):
    keys = tuple(key for key, gate in model.rate_gates()
                 if isinstance(gate.alpha, AbstractRate) and isinstance(gate.beta, AbstractRate))
    gates = dict(model.rate_gates())
    plan = shared_exponent_plan([f for key in keys for f in (gates[key].alpha, gates[key].beta)]) if keys else None
    if plan is None or len({b for b, _, _ in plan}) == len(plan):  # nothing shared
        return model
    return SharedExponentialConductance(model, plan, keys)


def tuned_model(model, tuning: Tuning):
    """`model` with each `HodgkinHuxley` and `ConductanceNeuron` inside it (itself,
    tv-LIF2HH's, a tv-LIF decomposition's, a coupled population's) evaluating its rates with
    shared exponentials, where `tuning` asks for them and the slopes allow a plan;
    otherwise `model` itself."""
    if not tuning.shared_exponentials:
        return model

    def is_tunable(x):
        return type(x) in (HodgkinHuxley, ConductanceNeuron)

    def tune(x):
        if type(x) is HodgkinHuxley:
            return _with_shared_exponentials(x)
        if type(x) is ConductanceNeuron:
            return _conductance_with_shared_exponentials(x)
        return x

    return jax.tree.map(tune, model, is_leaf=is_tunable)
