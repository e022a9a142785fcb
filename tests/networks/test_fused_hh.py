"""The fused HH layer: forward equal to the unfused layer and to the core engine, gradients
of the hand-written and recomputing backward passes equal to autodiff, the surrogate on
the excitation threshold, and the input encoding that keeps HH on its rising f–I branch."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax import networks as hn
from hhjax.networks.adjoints import MEMBRANE, RECOMPUTED, choose_adjoint
from hhjax.networks.fused_hh import excitation_threshold, fused_run, unfused_run
from hhjax.integrate.solvers import ExponentialEuler

KEY = jax.random.PRNGKey(0)


def _layer_inputs(layer, steps, n, dtype, seed=2):
    """A model, its resting state and a time-varying current (steps, n) that makes some
    neurons fire, some not, some fire twice."""
    model = jax.lax.stop_gradient(layer.neuron)
    model = jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, model)
    base = jnp.linspace(-2.0, 35.0, n, dtype=dtype)
    wobble = 3.0 * jnp.sin(jnp.arange(steps, dtype=dtype))[:, None] * jax.random.uniform(
        jax.random.PRNGKey(seed), (1, n), dtype)
    currents = base[None, :] + wobble
    y0 = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a, dtype), (n,)), model.initial_state())
    return model, y0, currents


def _loss(run, model, y0, currents):
    spikes, membrane = run(model, y0, currents)
    weights = jnp.arange(1.0, spikes.shape[0] + 1, dtype=spikes.dtype)[:, None]
    return jnp.sum(weights * spikes) + jnp.sum(jnp.sin(membrane))


@pytest.mark.parametrize("gradient, substeps", [pytest.param("membrane", 1, marks=pytest.mark.slow), ("membrane", 4),
                                                ("full", 1),
                                                pytest.param("full", 4, marks=pytest.mark.slow)])
def test_fused_equals_unfused_forward_and_gradients_float64(gradient, substeps):
    layer = hn.HHLayer(3, 9, key=KEY, steps=12, substeps=substeps, gradient=gradient)
    rule = layer.step_rule()
    model, y0, currents = _layer_inputs(layer, 12, 9, jnp.float64)

    def fused(m, y, c):
        return fused_run((m, y, c), rule)

    def unfused(m, y, c):
        return unfused_run(rule, m, y, c)

    s1, v1 = fused(model, y0, currents)
    s2, v2 = unfused(model, y0, currents)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-13)
    assert 0 < float(s1.sum()) < s1.size  # some steps with a spike, some without
    g1 = jax.grad(lambda y, c: _loss(fused, model, y, c), argnums=(0, 1))(y0, currents)
    g2 = jax.grad(lambda y, c: _loss(unfused, model, y, c), argnums=(0, 1))(y0, currents)
    for a, b in [(g1[1], g2[1]), (g1[0].V, g2[0].V)]:
        assert float(jnp.max(jnp.abs(b))) > 0
        assert float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b))) <= 1e-5
    if gradient == "full":  # the gates' cotangents too
        for name in ("m", "h", "n"):
            a, b = getattr(g1[0], name), getattr(g2[0], name)
            assert float(jnp.max(jnp.abs(a - b))) <= 1e-5 * float(jnp.max(jnp.abs(b)) + 1e-30)


@pytest.mark.slow
def test_gradients_with_respect_to_the_neuron_parameters_use_the_general_pass():
    layer = hn.HHLayer(3, 6, key=KEY, steps=5, substeps=2)
    rule = layer.step_rule()
    model, y0, currents = _layer_inputs(layer, 5, 6, jnp.float64)
    assert choose_adjoint(rule, jax.tree.map(lambda _: False, model)) is MEMBRANE
    assert choose_adjoint(rule, jax.tree.map(lambda _: True, model)) is RECOMPUTED

    def loss(m, run):
        return _loss(run, m, y0, currents)

    g1 = eqx.filter_grad(loss)(model, lambda m, y, c: fused_run((m, y, c), rule))
    g2 = eqx.filter_grad(loss)(model, lambda m, y, c: unfused_run(rule, m, y, c))
    for name in ("g_Na", "g_K", "E_L"):
        a, b = float(getattr(g1, name)), float(getattr(g2, name))
        assert b != 0 and abs(a - b) <= 1e-5 * abs(b)


def test_fused_forward_float32_matches_float64():
    """float32 is enough for the layer: the spike trains equal float64's except where a
    current sits within rounding of a count transition (at most one neuron of 16 here,
    by one spike); elsewhere V agrees within 0.2 mV."""
    layer = hn.HHLayer(3, 16, key=KEY, steps=15)
    rule = layer.step_rule()
    m64, y64, c64 = _layer_inputs(layer, 15, 16, jnp.float64)
    m32, y32, _ = _layer_inputs(layer, 15, 16, jnp.float32)
    c32 = c64.astype(jnp.float32)  # the same inputs, rounded
    s64, v64 = fused_run((m64, y64, c64), rule)
    s32, v32 = fused_run((m32, y32, c32), rule)
    assert v32.dtype == jnp.float32
    same = np.all(np.asarray(s32) == np.asarray(s64), axis=0)
    assert same.sum() >= 15
    assert np.abs(np.asarray(s32).sum(0) - np.asarray(s64).sum(0)).max() <= 1
    np.testing.assert_allclose(np.asarray(v32)[:, same], np.asarray(v64)[:, same], atol=2e-3)
    g32 = jax.grad(lambda c: _loss(lambda m, y, cc: fused_run((m, y, cc), rule), m32, y32, c))(c32)
    assert np.all(np.isfinite(np.asarray(g32))) and float(jnp.max(jnp.abs(g32))) > 0


@pytest.mark.slow
def test_layer_gradients_fused_equal_unfused_through_the_input_weights():
    x = jax.random.uniform(jax.random.PRNGKey(3), (12,))
    grads = []
    for fused in (True, False):
        layer = hn.HHLayer(12, 7, key=KEY, steps=6, fused=fused)
        grads.append(eqx.filter_grad(lambda l: jnp.sum(l(x)[0]) + jnp.sum(l(x)[1] ** 2))(layer).linear.weight)
    scale = float(jnp.max(jnp.abs(grads[1])))
    assert scale > 0 and float(jnp.max(jnp.abs(grads[0] - grads[1]))) <= 1e-5 * scale


# --- the read-out and the encoding --------------------------------------------------------

def test_excitation_threshold_separates_firing_from_rest_in_the_core_engine():
    """Started at the threshold found (gates at rest, no input) the squid axon fires; 1 mV
    below it does not — checked with `hj.simulate` at a fine step, an independent run."""
    hh = hj.HodgkinHuxley()
    theta = excitation_threshold(hh, ExponentialEuler(), 0.5, 0.0)
    assert -62.0 < theta < -50.0
    rest = hh.initial_state()
    for v0, fires in [(theta + 1.0, True), (theta - 1.5, False)]:
        y0 = eqx.tree_at(lambda s: s.V, rest, jnp.asarray(v0))
        sim = hj.simulate(hh, hj.Constant(0.0), t1=15.0, y0=y0, solver="rk4", dt=0.01, save_every=0.5)
        assert (int(sim.spike_counts) > 0) == fires


def test_surrogate_is_centred_on_the_excitation_threshold():
    layer = hn.HHLayer(3, 4, key=KEY)
    r = layer.step_rule().readout
    v = jnp.linspace(-90.0, 40.0, 261)

    def spike_of(v_after):
        return 1 - hn.surrogates.no_crossing_yet(jnp.ones_like(v_after), jnp.full_like(v_after, -70.0), v_after, r)

    slope = jax.vmap(jax.grad(spike_of))(v)
    assert abs(float(v[jnp.argmax(slope)]) - layer.centre) <= 0.5
    np.testing.assert_array_equal(spike_of(v), (v > layer.threshold).astype(v.dtype))  # forward exact


def test_squid_axon_f_i_curve_falls_in_depolarisation_block_and_the_encoding_stays_below():
    """The reason for the bounded encoding: over the layer's 30 ms at 0.5 ms steps, the
    squid axon fires fewer spikes at 80 µA/cm² than at 30; the sigmoid encoding keeps
    every current below `input_scale` = 40."""
    sim = hj.simulate(hj.HodgkinHuxley(), hj.Constant(jnp.asarray([30.0, 80.0])), t1=30.0, solver="expeuler",
                      dt=0.5, save_every=2.0)
    assert sim.spike_counts[1] < sim.spike_counts[0]
    layer = hn.HHLayer(4, 3, key=KEY)
    x = jnp.asarray([1e3, 1e3, 1e3, 1e3])
    _, v = layer(x)  # absurdly strong input: the current saturates at input_scale
    assert np.all(np.isfinite(np.asarray(v)))


def test_rheobase_of_the_window_agrees_with_the_core_engine():
    """The sigmoid encoding maps z = 0 to the current at which the squid axon starts to
    fire within the 30 ms window; `hj.simulate` (RK4, 0.01 ms) fires at it and not 1 µA/cm²
    below (the layer's 0.5 ms exponential Euler raises the rheobase by less than that)."""
    layer = hn.HHLayer(4, 3, key=KEY)
    i_rh = layer.input_scale * float(jax.nn.sigmoid(layer.offset))
    assert 1.0 < i_rh < 8.0
    sim = hj.simulate(hj.HodgkinHuxley(), hj.Constant(jnp.asarray([i_rh - 1.0, i_rh])), t1=30.0,
                      solver="rk4", dt=0.01, save_every=1.0)
    assert list(np.asarray(sim.spike_counts) > 0) == [False, True]


def test_hh_layer_fed_the_default_inputs_fires_and_counts_vary():
    """The read-out fix: with the default layer and the default data, most neurons fire, and
    their counts depend on the image (z = 0 sits at the rheobase)."""
    data = hn.two_digit_dataset(n_train=64, n_test=8)
    net = hn.MultiTaskNet("hh", data.n_inputs, 64, key=jax.random.PRNGKey(1))
    spikes, _ = jax.vmap(net.hidden)(jnp.asarray(data.x_train, net.trunk.weight.dtype))
    counts = np.asarray(spikes.sum(axis=1))
    assert (counts > 0).mean() > 0.5
    assert (counts.std(axis=0) > 0).mean() > 0.3  # a neuron's count differs between images
    assert np.asarray(net.hidden.count_features(spikes[0])).max() >= 1  # spikes per window, not per step


def test_bad_hh_layer_options_get_clear_errors():
    with pytest.raises(ValueError, match="unknown HH layer encoding 'log'"):
        hn.HHLayer(3, 2, key=KEY, encoding="log")
    with pytest.raises(ValueError, match="unknown HH layer gradient 'exact'"):
        hn.HHLayer(3, 2, key=KEY, gradient="exact")
    with pytest.raises(ValueError, match="kernel must be an odd size"):
        hn.HHLayer(3, 2, key=KEY, kernel=2)
    with pytest.raises(ValueError, match="raise the layer's input_scale"):
        hn.HHLayer(3, 2, key=KEY, input_scale=1.0)
    with pytest.raises(ValueError, match="does not fire from any potential"):
        hn.HHLayer(3, 2, key=KEY, threshold=80.0)
