"""Populations: one vectorised solve equals simulating every neuron alone."""

import jax
import jax.numpy as jnp
import numpy as np

import hhjax as hj

HH = hj.HodgkinHuxley()


def test_1000_neurons_match_each_neuron_alone():
    currents = jnp.linspace(0.0, 20.0, 1000)
    kw = dict(t1=100.0, solver="rk4", dt=0.05, dtype="float64", max_spikes=32)
    pop = hj.simulate(HH, hj.Constant(currents), **kw)
    assert pop.spike_counts.shape == (1000,)

    # every neuron alone: a scalar solve, run one neuron at a time (lax.map is sequential)
    def alone(I):
        s = hj.simulate(HH, hj.Constant(I), **kw)
        return s.spike_times, s.spike_counts

    times, counts = jax.lax.map(alone, currents)
    np.testing.assert_array_equal(np.asarray(counts), np.asarray(pop.spike_counts))
    np.testing.assert_allclose(np.asarray(times), np.asarray(pop.spike_times), atol=1e-9, equal_nan=True)
    assert int(pop.spike_counts.sum()) > 3000  # most of the population fires repeatedly

    # and a few truly separate calls of the public API
    for i in (0, 137, 640, 999):
        alone_i = hj.simulate(HH, float(currents[i]), **kw)
        np.testing.assert_allclose(alone_i.spike_list(), pop.spike_list()[i], atol=1e-9)


def test_per_neuron_parameters_and_stimuli():
    g_K = jnp.array([30.0, 36.0, 42.0])
    model = hj.HodgkinHuxley(g_K=g_K)
    stim = hj.Stacked((hj.Constant(10.0), hj.Sine(5.0, 5.0, 20.0), hj.Step(0.0, 15.0, 20.0)))
    pop = hj.simulate(model, stim, t1=60.0, solver="rk4", dt=0.025, dtype="float64")
    singles = [
        hj.simulate(hj.HodgkinHuxley(g_K=float(g_K[i])), s, t1=60.0, solver="rk4", dt=0.025, dtype="float64")
        for i, s in enumerate(stim.stimuli)
    ]
    for i, s in enumerate(singles):
        np.testing.assert_allclose(pop.spike_list()[i], s.spike_list(), atol=1e-9)


def test_spikes_only_memory_is_independent_of_steps():
    """Saving spikes only keeps O(N) state: the outputs' size does not grow with t1."""
    sizes = []
    for t1 in (50.0, 400.0):
        sim = hj.simulate(HH, hj.Constant(jnp.linspace(0.0, 20.0, 64)), t1=t1, solver="euler", dt=0.05,
                          dtype="float32", max_spikes=64)
        assert sim.ys is None and sim.V is None
        sizes.append(sum(x.size for x in jax.tree.leaves(sim) if hasattr(x, "size")))
    assert sizes[0] == sizes[1]


def test_subsampled_and_full_traces():
    sub = hj.simulate(HH, 10.0, t1=20.0, solver="euler", dt=0.01, dtype="float64", save_every=0.5)
    full = hj.simulate(HH, 10.0, t1=20.0, solver="euler", dt=0.01, dtype="float64", save_every="step")
    assert sub.V.shape == (41,) and full.V.shape == (2000,)
    np.testing.assert_allclose(np.asarray(sub.ts), np.arange(41) * 0.5, atol=1e-12)
    # the subsampled trace is the full trace at every 50th step
    np.testing.assert_allclose(np.asarray(sub.V[1:]), np.asarray(full.V[49::50]), atol=1e-9)


def test_vmap_over_simulate_for_multi_start():
    def first_spike(g_Na):
        sim = hj.simulate(hj.HodgkinHuxley(g_Na=g_Na), 10.0, t1=10.0, solver="rk4", dt=0.05, dtype="float64")
        return sim.spike_times[0]

    vals = jax.vmap(first_spike)(jnp.array([100.0, 120.0, 140.0]))
    singles = [first_spike(g) for g in (100.0, 120.0, 140.0)]
    np.testing.assert_allclose(np.asarray(vals), np.asarray(singles), atol=1e-12)
    assert vals[0] > vals[1] > vals[2]  # more sodium, earlier spike
