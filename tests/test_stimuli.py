"""Stimuli: analytic values, determinism, per-neuron use and text specs."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hhjax as hj

T = np.linspace(0.0, 80.0, 16001)


def test_waveforms_match_their_formulas():
    t = jnp.asarray(T)
    np.testing.assert_allclose(hj.Constant(3.0)(t), 3.0)
    np.testing.assert_allclose(hj.Step(1.0, 4.0, 20.0)(t), np.where(T < 20.0, 1.0, 4.0))
    np.testing.assert_allclose(hj.Ramp(2.0, 0.5, 10.0)(t), 2.0 + 0.5 * np.maximum(T - 10.0, 0.0))
    np.testing.assert_allclose(hj.Sine(1.0, 2.0, 8.0, 0.3)(t), 1.0 + 2.0 * np.sin(2 * np.pi * T / 8.0 + 0.3), atol=1e-12)
    sq = np.asarray(hj.Square(-1.0, 5.0, 10.0)(t))
    assert np.all(sq[(T % 10.0) < 4.999] == -1.0) and np.all(sq[(T % 10.0) > 5.001] == 5.0)
    saw = np.asarray(hj.Sawtooth(0.0, 10.0, 4.0)(t))
    np.testing.assert_allclose(saw, 10.0 * (T % 4.0) / 4.0, atol=1e-9)
    tri = np.asarray(hj.Triangle(0.0, 10.0, 4.0)(t))
    np.testing.assert_allclose(tri, 10.0 * (1 - np.abs(2 * (T % 4.0) / 4.0 - 1)), atol=1e-9)
    pulses = np.asarray(hj.PulseTrain(amplitude=5.0, width=1.0, period=10.0, start=2.0, n_pulses=3)(t))
    on = ((T - 2.0) % 10.0 < 1.0) & (T >= 2.0) & (T < 32.0)
    np.testing.assert_allclose(pulses, np.where(on, 5.0, 0.0))


def test_paper_waveforms_exactly_as_in_the_script():
    w = hj.paper_waveforms()
    t = jnp.asarray(T)
    f = 8.5
    np.testing.assert_allclose(w["const"](t), 9.0)
    np.testing.assert_allclose(w["sine"](t), 11.5 - 19 * np.sin(1.2 * T), atol=1e-9)
    np.testing.assert_allclose(w["square"](t), 9 - 15.5 * np.sign(np.mod(np.floor(T), f) - 3.751))
    np.testing.assert_allclose(w["sawtooth"](t), 6.5 + (11 / f) * (np.mod(T, f) + f / 2), atol=1e-9)
    np.testing.assert_allclose(w["triangle"](t), 7 + (7 / f) * np.abs(np.mod(T, f) - f / 2), atol=1e-9)


def test_ornstein_uhlenbeck_statistics_and_seeding():
    ou = hj.ornstein_uhlenbeck(jr.PRNGKey(0), mean=5.0, sigma=2.0, tau=4.0, t1=20000.0, dt=0.5)
    x = np.asarray(ou.values)
    assert abs(x.mean() - 5.0) < 0.15 and abs(x.std() - 2.0) < 0.1
    lag = 8  # 4 ms = one time constant
    r = np.corrcoef(x[:-lag], x[lag:])[0, 1]
    assert abs(r - math.exp(-1.0)) < 0.05
    again = hj.ornstein_uhlenbeck(jr.PRNGKey(0), mean=5.0, sigma=2.0, tau=4.0, t1=20000.0, dt=0.5)
    other = hj.ornstein_uhlenbeck(jr.PRNGKey(1), mean=5.0, sigma=2.0, tau=4.0, t1=20000.0, dt=0.5)
    np.testing.assert_array_equal(x, np.asarray(again.values))
    assert not np.allclose(x, np.asarray(other.values))
    pop = hj.ornstein_uhlenbeck(jr.PRNGKey(0), mean=0.0, sigma=1.0, tau=2.0, t1=10.0, shape=(3,))
    assert pop(jnp.asarray(1.3)).shape == (3,)


def test_sampled_interpolates_and_holds_ends():
    s = hj.Sampled(jnp.array([0.0, 1.0, 3.0]), jnp.array([0.0, 2.0, -2.0]))
    np.testing.assert_allclose(s(jnp.array([-1.0, 0.5, 2.0, 3.0, 9.0])), [0.0, 1.0, 0.0, -2.0, -2.0])
    per = hj.Sampled(jnp.array([0.0, 1.0]), jnp.array([[0.0, 1.0], [10.0, 30.0]]))
    np.testing.assert_allclose(per(jnp.asarray(0.25)), [0.25, 15.0])
    np.testing.assert_allclose(per(jnp.array([0.5, 0.75])), [0.5, 25.0])  # one time per neuron
    with pytest.raises(ValueError, match="strictly increasing"):
        hj.Sampled(jnp.array([0.0, 0.0]), jnp.array([1.0, 2.0]))


def test_stacked_is_per_neuron_and_jittable():
    st = hj.Stacked((hj.Constant(1.0), hj.Sine(0.0, 1.0, 4.0), hj.Step(0.0, 2.0, 1.0)))
    out = jax.jit(st)(jnp.asarray(1.0))
    np.testing.assert_allclose(out, [1.0, 1.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(st(jnp.array([0.0, 1.0, 0.5])), [1.0, 1.0, 0.0], atol=1e-12)
    assert st.discontinuities(0.0, 5.0) == [1.0]


def test_discontinuities_are_listed():
    assert hj.Square(0.0, 1.0, 10.0).discontinuities(0.0, 25.0) == [5.0, 10.0, 15.0, 20.0]
    assert hj.Step(0.0, 1.0, 3.0).discontinuities(0.0, 10.0) == [3.0]
    assert hj.Sawtooth(0.0, 1.0, 4.0).discontinuities(0.0, 10.0) == [4.0, 8.0]
    per_neuron = hj.Square(0.0, 1.0, jnp.array([4.0, 6.0]))
    assert per_neuron.discontinuities(0.0, 10.0) == [2.0, 3.0, 4.0, 6.0, 8.0, 9.0]
    pulses = hj.PulseTrain(amplitude=1.0, width=1.0, period=10.0, start=3.0, n_pulses=2)
    assert pulses.discontinuities(0.0, 40.0) == [3.0, 4.0, 13.0, 14.0]
    assert hj.PulseTrain(1.0, 2.0, 5.0, start=1.0).discontinuities(0.0, 12.0) == [1.0, 3.0, 6.0, 8.0, 11.0]


@pytest.mark.parametrize("spec, t, value", [
    ("const:7", 3.0, 7.0),
    ("step:0,10,50", 49.0, 0.0),
    ("step:0,10,50", 50.0, 10.0),
    ("sine:5,2,40", 10.0, 7.0),
    ("square:1,4,10", 2.0, 1.0),
    ("square:1,4,10", 7.0, 4.0),
    ("ramp:1,0.5", 4.0, 3.0),
    ("paper:const", 1.0, 9.0),
])
def test_parse_stimulus(spec, t, value):
    assert float(hj.parse_stimulus(spec)(jnp.asarray(t))) == pytest.approx(value, abs=1e-12)


def test_step_averages_are_exact_for_piecewise_linear_input():
    avg = hj.step_averages(hj.Ramp(0.0, 2.0), jnp.asarray(0.0), 1.0, 4)
    np.testing.assert_allclose(avg, [1.0, 3.0, 5.0, 7.0], atol=1e-9)


def test_moved_names_still_work_with_a_deprecation_warning():
    from hhjax import stimuli

    with pytest.warns(DeprecationWarning, match="moved to hhjax.specs"):
        assert float(stimuli.parse_stimulus("const:3")(0.0)) == 3.0
    with pytest.warns(DeprecationWarning, match="hhjax.paper.waveforms"):
        assert set(stimuli.paper_waveforms()) == set(hj.paper_waveforms())
    with pytest.warns(DeprecationWarning, match="tuned_model"):
        fast = hj.HodgkinHuxley().prepare_for_solve()
    assert fast.plan is not None
