"""Gradients through networks: exact (located spike times, adaptive path) against central
finite differences in float64, and surrogate gradients on the fixed-step path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax import synaptic as sy

T1 = 80.0


def network(w_exc, g_K):
    """A Traub–Miles neuron driving two others through exponential conductances."""
    driver = sy.Population(hj.library_model("traub-miles"), 1, stimulus=2.0)
    targets = sy.Population(hj.library_model("traub-miles", g_K=g_K), 2, stimulus=-1.0)
    conn = sy.from_arrays(np.array([0, 0]), np.array([0, 1]), 1, 2, weight=jnp.stack([w_exc, 0.5 * w_exc]),
                          delay=np.array([1.0, 2.0]))
    return sy.Network({"drv": driver, "tgt": targets}, {"e": sy.Projection("drv", "tgt", conn,
                                                                          sy.Exponential(3.0, 0.0))})


def rate_loss(w_exc, g_K):
    """A smooth rate of the target population: the mean over its neurons of (spikes − 1) /
    (last − first spike time), i.e. the inverse mean ISI (Hz)."""
    net = network(w_exc, g_K)
    c = sy.event_solve(net, net.initial_state(), 0.0, T1, rtol=1e-11, atol=1e-11, max_steps=6000)
    t, n = c.spike_times["tgt"], c.spike_count["tgt"]
    first = t[:, 0]
    last = jnp.take_along_axis(t, (n - 1)[:, None], axis=1)[:, 0]
    return jnp.mean((n - 1).astype(t.dtype) / (last - first)) * 1e3, n


@pytest.mark.slow  # (~25 s: compiling the differentiated adaptive loop)
def test_rate_gradient_matches_finite_differences():
    w, gk = jnp.asarray(0.3), jnp.asarray(30.0)
    (loss, counts), grads = jax.value_and_grad(rate_loss, argnums=(0, 1), has_aux=True)(w, gk)
    assert np.all(np.asarray(counts) >= 2)
    for i, (x, h) in enumerate(((w, 1e-5), (gk, 1e-3))):
        args_p, args_m = [w, gk], [w, gk]
        args_p[i], args_m[i] = x + h, x - h
        (lp, n_p), (lm, n_m) = rate_loss(*args_p), rate_loss(*args_m)
        assert np.array_equal(n_p, counts) and np.array_equal(n_m, counts)
        fd = (lp - lm) / (2 * h)
        assert abs(float(grads[i]) - float(fd)) <= 1e-3 * abs(float(fd)), (i, grads[i], fd)
        assert abs(float(fd)) > 1e-3  # the loss depends on this parameter


def test_surrogate_gradient_through_a_fixed_step_network():
    """A rate loss of a fixed-step network (Poisson sources → LIF through exponential
    conductances, with the same seeded input in every call) differentiated with respect to
    the input weight: finite, and excitation raises the rate (a positive derivative). The
    forward value equals the event-driven run's rate."""
    lif = hj.LIF(tau=20.0, V_rest=-60.0, V_reset=-60.0, V_th=-50.0, R=20.0, t_ref=2.0)

    pre, post = sy.fixed_in_degree(200, 50, 20, seed=1).pairs()

    def build(w):
        conn = sy.from_arrays(pre, post, 200, 50, weight=jnp.broadcast_to(w, (1000,)))
        return sy.Network({"src": sy.PoissonSource(200, 40.0), "lif": sy.Population(lif, 50)},
                          {"in": sy.Projection("src", "lif", conn, sy.Exponential(5.0, 0.0))})

    def loss(w):
        _, counts = sy.differentiable_run(build(w), 200.0, dt=0.1, seed=7)
        return jnp.sum(counts["lif"]) / 50 / 0.2

    value, grad = jax.jit(jax.value_and_grad(loss))(jnp.asarray(0.008))
    assert np.isfinite(float(grad)) and float(grad) > 0
    run = sy.run_network(build(jnp.asarray(0.008)), 200.0, dt=0.1, seed=7)
    assert run.rate_hz(["lif"]) > 1
    np.testing.assert_allclose(float(value), run.rate_hz(["lif"]), rtol=1e-12)


@pytest.mark.slow
def test_simultaneous_spikes_keep_the_exact_spike_time_derivative():
    """Two identical neurons fire together: the derivative of their spike time with respect
    to a shared conductance is that of one neuron alone (not the sum over the pair)."""

    def first_spike(g_K, n):
        net = sy.Network({"p": sy.Population(hj.library_model("traub-miles", g_K=g_K), n, stimulus=2.0)})
        c = sy.event_solve(net, net.initial_state(), 0.0, 12.0, max_steps=1500)
        return c.spike_times["p"][0, 0]

    one = jax.grad(first_spike)(jnp.asarray(30.0), 1)
    two = jax.grad(first_spike)(jnp.asarray(30.0), 2)
    fd = (first_spike(jnp.asarray(30.0 + 1e-3), 1) - first_spike(jnp.asarray(30.0 - 1e-3), 1)) / 2e-3
    assert abs(float(one) - float(fd)) <= 1e-3 * abs(float(fd))
    assert abs(float(two) - float(one)) <= 1e-9 * abs(float(one))
