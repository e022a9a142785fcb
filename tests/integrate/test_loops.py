"""The loops' numerics: the controllers' norm, gradients through fixed grids, unstable steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj


def test_rms_norm_of_all_is_the_rms_of_every_element():
    """The adaptive controllers' norm: the RMS of all leaves as one vector (diffrax's default
    `rms_norm`, here summed as one array), against NumPy."""
    from hhjax.integrate.loops.adaptive import rms_norm_of_all
    rng = np.random.default_rng(0)
    tree = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=7), "c": np.float64(2.5)}
    flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])
    np.testing.assert_allclose(rms_norm_of_all(jax.tree.map(jnp.asarray, tree)), np.sqrt(np.mean(flat**2)), rtol=1e-12)
    assert float(rms_norm_of_all(jnp.zeros(5))) == 0.0


def test_gradient_through_jit_matches_the_exact_spike_time_derivative():
    """`simulate` runs a branch-free forward loop when evaluated and differentiates the
    checkpointed loop; grad of a jitted call (where `simulate` only sees jit tracers) must
    still be the derivative of −τ ln((V∞ − θ)/(V∞ − V_rest)) for a LIF (exponential Euler is
    exact for it)."""

    def first_spike(I):
        return hj.simulate(hj.LIF(), hj.Constant(I), t1=40.0, solver="expeuler", dt=0.1, dtype="float64").spike_times[0]

    I = 2.0
    v_inf, tau, R = -65.0 + 10.0 * I, 10.0, 10.0
    exact = -tau * R * (1 / (v_inf + 50.0) - 1 / (v_inf + 65.0))
    assert float(jax.grad(jax.jit(first_spike))(I)) == pytest.approx(exact, rel=1e-8)
    assert float(jax.jit(jax.grad(first_spike))(I)) == pytest.approx(exact, rel=1e-8)
    value = first_spike(I)  # the forward loop itself: the exact first crossing
    assert float(value) == pytest.approx(tau * np.log((v_inf + 65.0) / (v_inf + 50.0)), abs=1e-9)


@pytest.mark.slow
def test_fixed_grid_gradient_matches_finite_differences():
    def final_v(g):
        return hj.simulate(hj.HodgkinHuxley(g_K=g), hj.Step(0.0, 10.0, 2.0), t1=15.0, solver="rk4",
                           dt=0.025).y_final.V

    g = jax.grad(final_v)(36.0)
    eps = 1e-5
    fd = (final_v(36.0 + eps) - final_v(36.0 - eps)) / (2 * eps)
    assert float(g) == pytest.approx(float(fd), rel=1e-6)


def test_unstable_step_is_reported():
    with pytest.raises(hj.SimulationError, match="NaN/inf before t1.*dt = 0.5 ms is unstable"):
        hj.simulate(hj.HodgkinHuxley(), 10.0, t1=20.0, solver="euler", dt=0.5)
