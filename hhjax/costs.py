"""Operation counts: per neuron-step for the models, and the paper's network FLOP rule.

Two kinds of count, kept apart on purpose:

- `PAPER_NEURON_OPS` and `paper_fc_flops` follow He et al.'s counting rule (spec §4.5):
  dense synaptic MUL/ADD per time step for the first layer, the output Linear once, plus
  a fixed MUL/ADD count per neuron per step (LIF 3/3, HH 23/16, s-LIF2HH unit 15/14). Task
  heads and biases are ignored; spike sparsity is not exploited.
- `compiled_step_ops` asks XLA how many floating-point operations and transcendentals
  (exp, log, ...) one forward-Euler step of hhjax's own implementation performs per neuron:
  the count of the program that actually runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from .backends import tuned_model, tuning_for

# MUL, ADD per neuron (per s-LIF2HH unit of four neurons) per time step, spec §4.5.
PAPER_NEURON_OPS = {"lif": (3, 3), "hh": (23, 16), "slif2hh": (15, 14)}


@dataclass(frozen=True)
class FlopCount:
    mul: int
    add: int

    @property
    def total(self) -> int:
        return self.mul + self.add


# per layer kind: neuron ops, input projections per unit, neurons read out per unit, width factor
_LAYER_KINDS = {"lif": ("lif", 1, 1, 1), "hh": ("hh", 1, 1, 1), "slif2hh": ("slif2hh", 3, 4, 1),
                "4lif": ("lif", 1, 1, 4)}


def _layer_kind(neuron: str) -> tuple:
    """(MUL, ADD per unit-step, projections per unit, neurons read out per unit, width factor)."""
    if neuron not in _LAYER_KINDS:
        raise ValueError(f"unknown neuron {neuron!r}; choose from {sorted(_LAYER_KINDS)}")
    ops, projections, readout, width = _LAYER_KINDS[neuron]
    return (*PAPER_NEURON_OPS[ops], projections, readout, width)


def paper_fc_flops(neuron: str, hidden: int = 512, n_in: int = 1296, steps: int = 15,
                   n_out: int = 50) -> FlopCount:
    """FLOPs of the paper's fully connected two-task network under its counting rule.

    `neuron`: "lif", "hh", "slif2hh" (each hidden unit is four neurons fed by three input
    projections, read out 4× wide) or "4lif" (LIF at 4× `hidden`). `n_in` inputs (36×36),
    `steps` time steps, an output Linear to `n_out` once.
    With the defaults: LIF 10.00192 M MUL, HH 10.15552 M MUL.
    """
    n_mul, n_add, projections, readout_per_unit, width = _layer_kind(neuron)
    units = hidden * width
    readout = units * readout_per_unit
    mul = projections * steps * n_in * units + readout * n_out + steps * n_mul * units
    add = projections * steps * (n_in - 1) * units + (readout - 1) * n_out + steps * n_add * units
    return FlopCount(mul=mul, add=add)


def paper_conv_flops(neuron: str, image: int = 36, channels: int = 10, steps: int = 15, n_out: int = 50,
                     kernel: int = 3) -> FlopCount:
    """FLOPs of the paper's two-layer convolutional network under its counting rule: per
    time step, each convolution output costs c_in·k² MUL and c_in·k² − 1 ADD, each neuron
    (s-LIF2HH: each unit) its `PAPER_NEURON_OPS`; the readout Linear once; pooling free.
    Layer 1 sees the `image`×`image` input, layer 2 the pooled (image/2)² maps; readout
    of the (image/4)² maps. `neuron`: "lif", "hh", "slif2hh" (three convolutions per
    layer, readout of all four neurons' maps) or "4lif" (4× `channels`).
    With the defaults: LIF 6.89310 M MUL / 6.65005 M ADD (spec §4.5)."""
    n_mul, n_add, convs, maps, width = _layer_kind(neuron)
    c = channels * width
    mul = add = 0
    for c_in, side in ((1, image), (c, image // 2)):
        outputs = c * side * side
        mul += steps * (convs * outputs * c_in * kernel**2 + n_mul * outputs)
        add += steps * (convs * outputs * (c_in * kernel**2 - 1) + n_add * outputs)
    features = maps * c * (image // 4) ** 2
    return FlopCount(mul=mul + features * n_out, add=add + (features - 1) * n_out)


def compiled_step_ops(model, y0, current, dt: float = 0.01, prepare: bool = True) -> dict:
    """XLA's cost analysis of one forward-Euler step of `model` on the population in `y0`
    (batched state, `current` of the population's shape), divided by the population size:
    {"flops": ..., "transcendentals": ...} per neuron-step. With `prepare` (default) the
    model is as `simulate` runs it (`backends.tuned_model`); False counts it as given."""
    if prepare:
        model = tuned_model(model, tuning_for())
    n = jnp.size(model.voltage(y0))

    def step(y, current, model):
        return jax.tree.map(lambda a, b: a + dt * b, y, model.dynamics(0.0, y, current))

    cost = jax.jit(step).lower(y0, current, model).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return {k: float(cost.get(k, 0.0)) / n for k in ("flops", "transcendentals")}


def discrete_step_ops(model, y0, inputs) -> dict:
    """As `compiled_step_ops` for a discrete-time model (`model.step(y, inputs)`)."""
    n = jnp.size(model.voltage(y0))
    cost = jax.jit(lambda y, x, m: m.step(y, x)).lower(y0, inputs, model).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return {k: float(cost.get(k, 0.0)) / n for k in ("flops", "transcendentals")}
