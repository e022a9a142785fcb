"""Spiking layers as equinox modules: a learned input projection driving a population of
hhjax neuron models for `steps` time steps of a static input (the image is fed unchanged
at every step, as in He et al.).

Every layer steps the *same* model code the core engine simulates — `DiscreteLIF.step`,
`SLIF2HH.step`, or the diffrax solver step that `simulate` uses for `HodgkinHuxley` — so a
layer's forward pass is the engine's simulation of the same input current (tested). Only
the spike function differs: in training it is a Heaviside with a surrogate gradient.

Each layer maps one sample x (n_in,) to (spikes, membrane), both (steps, features);
batch with `jax.vmap`. Neuron parameters are fixed (`trainable_filter` leaves them out of
training and the layers stop their gradients), except the s-LIF2HH 3→1 weights, which the
authors train.
"""

from __future__ import annotations

import dataclasses

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..backends import tuned_model, tuning_for
from ..integrate.terms import model_term
from ..integrate.solvers import RK4, ExponentialEuler
from ..models import SLIF2HH, DiscreteLIF, HHState, HodgkinHuxley
from ..models.rates import ConstantRate
from .fused_hh import StepRule, excitation_threshold, fused_run, rheobase, unfused_run
from .surrogates import CrossingSurrogate, spike_function


def _floats_as_arrays(module):
    """The module with every Python float as a JAX array (so `trainable_filter` and
    `stop_gradient` see it; the neuron stays fixed through those, not through this)."""
    return jax.tree.map(lambda x: jnp.asarray(x) if isinstance(x, float) else x, module)


def _fixed(neuron):
    """The neuron with gradients stopped (its parameters are not trained)."""
    return jax.lax.stop_gradient(neuron)


def _linear(n_in, n_out, key, scale=1.0, kernel=None):
    """Linear(n_in, n_out), or with `kernel` a 2-D convolution of `n_in` → `n_out`
    channels, kernel × kernel, 'same' padding (odd kernels)."""
    if kernel is not None:
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be an odd size >= 1, got {kernel}")
        return eqx.nn.Conv2d(n_in, n_out, kernel, padding=kernel // 2, key=key)
    lin = eqx.nn.Linear(n_in, n_out, key=key)
    if scale != 1.0:
        lin = eqx.tree_at(lambda m: (m.weight, m.bias), lin, (lin.weight * scale, lin.bias * scale))
    return lin


def _input_ndim(projection) -> int:
    """Dimensions of one input of `projection`: 1 (Linear) or channels + spatial (Conv)."""
    return 1 if isinstance(projection, eqx.nn.Linear) else projection.num_spatial_dims + 1


class SpikingLayer(eqx.Module):
    """Base: `__call__(x) -> (spikes, membrane)`, each (steps, *neurons): neurons
    (features,) behind a Linear projection, (channels, H, W) behind a convolution
    (`kernel=`). `x` is a static input — (n_in,) or (channels, H, W) — fed unchanged at
    every step, or a time series with a leading steps axis, e.g. the spikes of the layer
    below, so that layers stack."""

    steps: int = eqx.field(static=True)

    def _per_step(self, projection, x):
        """`projection` applied to the input of every step: (steps, *neurons)."""
        nd = _input_ndim(projection)
        if x.ndim == nd:
            out = projection(x)
            return jnp.broadcast_to(out, (self.steps,) + out.shape)
        if x.ndim != nd + 1 or x.shape[0] != self.steps:
            raise ValueError(f"input must have {nd} dimension(s) (static) or {nd + 1} with {self.steps} steps "
                             f"first, got shape {x.shape}")
        return jax.vmap(projection)(x)

    def count_features(self, spikes):
        """The spike-count readout of `spikes` (steps, features): spikes per step. A
        discrete neuron can fire at every step, so this spans [0, 1]."""
        return jnp.mean(spikes, axis=0)

    @property
    def out_features(self) -> int:
        """Features (or channels) per time step (layers with one input projection: its width)."""
        lin = self.linear
        return lin.out_features if isinstance(lin, eqx.nn.Linear) else lin.out_channels


class LIFLayer(SpikingLayer):
    """Discrete LIF (spec §3.4): u ← decay·u·(1 − s) + W x, s = H(u − θ); defaults decay
    0.2, θ 0.3, rectangular surrogate of half-width 0.5 (the authors' fc settings)."""

    linear: eqx.nn.Linear
    neuron: DiscreteLIF
    surrogate: str = eqx.field(static=True)
    width: float = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key, steps: int = 15, decay: float = 0.2, threshold: float = 0.3,
                 surrogate: str = "rectangular", width: float = 0.5, kernel: int | None = None):
        spike_function(surrogate, width)  # validate
        self.linear = _linear(n_in, n_out, key, kernel=kernel)
        self.neuron = _floats_as_arrays(DiscreteLIF(decay=decay, threshold=threshold))
        self.steps, self.surrogate, self.width = steps, surrogate, width

    def __call__(self, x):
        currents = self._per_step(self.linear, x)
        spike = spike_function(self.surrogate, self.width)
        neuron = _fixed(self.neuron)

        def body(y, current):
            y, s = neuron.step(y, current, spike_fn=spike)
            return y, (s, y.u)

        y0 = neuron.initial_state(currents.shape[1:])
        y0 = jax.tree.map(lambda a: a.astype(currents.dtype), y0)
        _, (s, u) = jax.lax.scan(body, y0, currents)
        return s, u


class HHLayer(SpikingLayer):
    """Hodgkin–Huxley neurons with the real voltage-dependent rates (default model: the
    squid axon, rest −65 mV; `neuron` may be any conductance model, e.g.
    `hj.library_model("wang-buzsaki")`), trained from their spikes.

    Input: the projection z = W x + b is encoded as a current held over each of `steps`
    network steps of `step_ms` ms — `encoding="sigmoid"` (default)
    I = `input_scale`·σ(z + `offset`), within (0, input_scale) µA/cm², the offset putting
    z = 0 at the rheobase of the window (`fused_hh.rheobase`, 2.9 µA/cm² for the squid axon
    over 30 ms), where the spike count starts to depend on the input; or "linear"
    I = input_scale·z. The HH f–I curve is not
    monotonic: above ≈ 40 µA/cm² the squid axon goes into depolarisation block and fires
    *fewer* spikes, where a surrogate gradient still says "more current, more spikes"; the
    bounded encoding keeps every neuron on the rising branch.

    Dynamics: `substeps` steps of the core engine's `solver` per network step ("expeuler",
    stable at 0.5 ms; "rk4"; "euler"). Defaults 2 ms × 15 steps = a 30 ms window (an HH
    neuron fires 0–3 spikes in it), 4 exponential-Euler sub-steps of 0.5 ms.

    Spikes: an upward crossing of `threshold` (mV; default the model's) at any sub-step.
    Surrogate gradient `surrogate` of `width` mV centred at `centre` — by default the
    neuron's excitation threshold (`fused_hh.excitation_threshold`, −57 mV for the squid
    axon), not the detection level the upstroke crosses (see `no_crossing_yet`).
    `gradient="membrane"` (default) differentiates through V only, gates held fixed
    (`fused_hh.StepRule`). The readout is the spike count per window.

    `fused=True` (default) runs `fused_hh.fused_run` (hand-written backward pass, see
    `adjoints`); `fused=False` the same steps under plain autodiff (the reference). The
    membrane output is (V − V_rest)/100.
    """

    linear: eqx.nn.Linear | eqx.nn.Conv2d
    neuron: eqx.Module  # HodgkinHuxley or any ConductanceNeuron
    input_scale: float = eqx.field(static=True)
    encoding: str = eqx.field(static=True)
    step_ms: float = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    solver: str = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    surrogate: str = eqx.field(static=True)
    width: float = eqx.field(static=True)
    centre: float = eqx.field(static=True)
    offset: float = eqx.field(static=True)
    gradient: str = eqx.field(static=True)
    fused: bool = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key, steps: int = 15, step_ms: float = 2.0, substeps: int = 4,
                 solver: str = "expeuler", neuron=None, threshold: float | None = None,
                 surrogate: str = "fast-sigmoid", width: float = 10.0, centre: float | None = None,
                 input_scale: float = 40.0, encoding: str = "sigmoid", gradient: str = "membrane",
                 fused: bool = True, kernel: int | None = None):
        spike_function(surrogate, width)
        if solver not in ("expeuler", "rk4", "euler"):
            raise ValueError(f"unknown HH layer solver {solver!r}; choose expeuler, rk4 or euler")
        if encoding not in ("sigmoid", "linear"):
            raise ValueError(f"unknown HH layer encoding {encoding!r}; choose sigmoid or linear")
        if gradient not in ("membrane", "full"):
            raise ValueError(f"unknown HH layer gradient {gradient!r}; choose membrane or full")
        if substeps < 1 or not step_ms > 0:
            raise ValueError(f"need substeps >= 1 and step_ms > 0, got {substeps}, {step_ms}")
        neuron = HodgkinHuxley() if neuron is None else neuron
        self.linear = _linear(n_in, n_out, key, kernel=kernel)
        self.input_scale, self.encoding = float(input_scale), encoding
        self.neuron = _floats_as_arrays(tuned_model(neuron, tuning_for()))
        self.steps, self.step_ms, self.substeps, self.solver = steps, step_ms, substeps, solver
        self.threshold = float(neuron.default_threshold()) if threshold is None else float(threshold)
        self.surrogate, self.width, self.gradient, self.fused = surrogate, width, gradient, bool(fused)
        if centre is None:
            centre = excitation_threshold(self.neuron, self._solver(), step_ms / substeps, self.threshold)
        self.centre = float(centre)
        self.offset = 0.0
        if encoding == "sigmoid":  # z = 0 ↦ the rheobase of the window
            i_rh = rheobase(self.neuron, self._solver(), step_ms / substeps, self.threshold, steps * step_ms,
                            input_scale)
            share = min(max(i_rh / input_scale, 0.01), 0.99)  # a neuron firing at I = 0: the low end
            self.offset = float(np.log(share / (1 - share)))

    def _solver(self):
        return {"expeuler": ExponentialEuler, "rk4": RK4, "euler": dfx.Euler}[self.solver]()

    def count_features(self, spikes):
        """The spike-count readout: spikes per window. An HH neuron fires a few spikes at
        most in a window of tens of ms (refractoriness), so its count is already of order 1;
        spikes per step (the discrete layers' readout) would shrink it by the number of
        steps, and with it the trunk's input and learning speed."""
        return jnp.sum(spikes, axis=0)

    def step_rule(self) -> StepRule:
        """How one network step advances the neurons (solver, sub-steps, spike read-out)."""
        readout = CrossingSurrogate(self.threshold, self.centre, self.surrogate, self.width, self.substeps)
        return StepRule(self._solver(), self.step_ms / self.substeps, readout, self.gradient)

    def __call__(self, x):
        drive = self._per_step(self.linear, x)
        if self.encoding == "sigmoid":
            drive = jax.nn.sigmoid(drive + self.offset)
        currents = self.input_scale * drive
        model = _fixed(self.neuron)
        y0 = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a, currents.dtype), currents.shape[1:]),
                          model.initial_state())
        if self.fused:
            return fused_run((model, y0, currents), self.step_rule())
        return unfused_run(self.step_rule(), model, y0, currents)


class PaperHHLayer(SpikingLayer):
    """The authors' deep-learning "HH" layer, reproduced for comparison (spec §3.3): the
    1952-convention HH membrane (E_Na/E_K/E_L = 115/−12/10.6 mV) with each rate α_x, β_x
    a **constant** coe·U(0, 1) per neuron (not voltage-dependent), all state starting at 0,
    one forward-Euler step of dt = 0.01 per network step, no reset, spike = H(V − 0.2)
    with a rectangular surrogate of half-width 0.3, input weights ×0.01 at init. With
    these settings the gates stay below ~1e-3 and the layer is a leaky integrator without
    reset. Stepped by the core engine's Euler step of `HodgkinHuxley` with constant rates."""

    linear: eqx.nn.Linear
    neuron: HodgkinHuxley
    dt: float = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    surrogate: str = eqx.field(static=True)
    width: float = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key, steps: int = 15, dt: float = 0.01, threshold: float = 0.2,
                 coe: float = 0.01, surrogate: str = "rectangular", width: float = 0.3, weight_scale: float = 0.01):
        spike_function(surrogate, width)
        wkey, rkey = jax.random.split(key)
        self.linear = _linear(n_in, n_out, wkey, scale=weight_scale)
        rates = coe * jax.random.uniform(rkey, (6, n_out))
        const = [ConstantRate(r) for r in rates]
        names = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")
        neuron = HodgkinHuxley.shifted(E_L=10.6, **dict(zip(names, const)))
        self.neuron = _floats_as_arrays(neuron)
        self.steps, self.dt, self.threshold, self.surrogate, self.width = steps, dt, threshold, surrogate, width

    def __call__(self, x):
        currents = self._per_step(self.linear, x)
        spike = spike_function(self.surrogate, self.width)
        solver = dfx.Euler()
        term = model_term(_fixed(self.neuron), solver)
        z = jnp.zeros(currents.shape[1:], currents.dtype)
        y0 = HHState(V=z, m=z, h=z, n=z)

        def step(carry, current):
            y, t = carry
            y, *_ = solver.step(term, t, t + self.dt, y, current, None, False)
            return (y, t + self.dt), (spike(y.V - self.threshold), y.V)

        _, (s, v) = jax.lax.scan(step, (y0, jnp.zeros((), currents.dtype)), currents)
        return s, v


class SLIF2HHLayer(SpikingLayer):
    """s-LIF2HH units (spec §3.2): three input projections a_k = W_k x + b_k feed neurons
    1–3, neuron 4 integrates w·(u1, u2, u3) + c (one 3→1 connection shared by all units,
    trained). `rule="per_neuron"` (the authors' PyTorch layer; decay 0.5, θ 2) or "joint"
    (the MATLAB unit: all four reset together when all cross). The readout takes all four
    neurons' spikes (threshold indicators for "joint"), so features = 4 × units."""

    projections: tuple
    neuron: SLIF2HH
    surrogate: str = eqx.field(static=True)
    width: float = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key, steps: int = 15, rule: str = "per_neuron", decay: float = 0.5,
                 threshold: float = 2.0, surrogate: str = "rectangular", width: float = 0.4,
                 kernel: int | None = None):
        spike_function(surrogate, width)
        keys = jax.random.split(key, 4)
        self.projections = tuple(_linear(n_in, n_out, k, kernel=kernel) for k in keys[:3])
        w = jnp.abs(jax.random.uniform(keys[3], (4,), minval=-1 / np.sqrt(3), maxval=1 / np.sqrt(3)))
        base = _floats_as_arrays(SLIF2HH(decay=decay, threshold=threshold, rule=rule, rest=0.0, gain=1.0))
        # the 3→1 weights and bias are trained (JAX arrays), the rest frozen (NumPy)
        self.neuron = dataclasses.replace(base, w1=w[0], w2=w[1], w3=w[2], bias=jnp.zeros(()))
        self.steps, self.surrogate, self.width = steps, surrogate, width

    @property
    def out_features(self):
        p = self.projections[0]
        return 4 * (p.out_features if isinstance(p, eqx.nn.Linear) else p.out_channels)

    def __call__(self, x):
        inputs = tuple(self._per_step(p, x) for p in self.projections)
        spike = spike_function(self.surrogate, self.width)
        fixed = _fixed(self.neuron)
        neuron = dataclasses.replace(fixed, w1=self.neuron.w1, w2=self.neuron.w2, w3=self.neuron.w3,
                                     bias=self.neuron.bias)  # the 3→1 connection is trained

        def body(y, xs):
            y, _ = neuron.step(y, xs, spike_fn=spike)
            return y, (jnp.concatenate(y.indicators), jnp.concatenate((y.u1, y.u2, y.u3, y.u4)))

        y0 = jax.tree.map(lambda a: a.astype(inputs[0].dtype), self.neuron.initial_state(inputs[0].shape[1:]))
        _, (s, u) = jax.lax.scan(body, y0, inputs)
        return s, u


def trainable_filter(module):
    """A filter spec (pytree of bools) for `equinox.partition`: every float array except the
    neuron parameters of spiking layers (but including the s-LIF2HH 3→1 weights)."""
    spec = jax.tree.map(eqx.is_inexact_array, module)
    layers = module.layers if hasattr(module, "layers") else (module,)
    for i, layer in enumerate(layers):
        if not isinstance(layer, SpikingLayer):
            continue

        def at(m, i=i):
            return m.layers[i] if hasattr(m, "layers") else m

        spec = eqx.tree_at(lambda m: at(m).neuron, spec, replace_fn=lambda n: jax.tree.map(lambda _: False, n))
        if isinstance(layer, SLIF2HHLayer):
            spec = eqx.tree_at(lambda m: (at(m).neuron.w1, at(m).neuron.w2, at(m).neuron.w3, at(m).neuron.bias),
                               spec, (True, True, True, True))
    return spec


def count_trainable(module) -> int:
    """Number of trainable scalars (see `trainable_filter`)."""
    return int(sum(x.size for x in jax.tree.leaves(eqx.filter(module, trainable_filter(module)))))

