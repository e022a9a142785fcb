"""The caches of `simulate`: reused only for the same unchanged objects, never leaking tracers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj


def test_prepared_inputs_are_reused_only_for_the_same_unchanged_objects():
    """Repeated calls reuse the preparation of the same model/stimulus object; a new
    object (even an edited copy) and a NumPy array changed in place are seen afresh."""
    model, current = hj.HodgkinHuxley(), np.full(3, 10.0)
    stim = hj.Constant(jnp.asarray([0.0, 10.0, 20.0]))

    def counts(model, stim):
        return np.asarray(hj.simulate(model, stim, t1=50.0, solver="euler", dt=0.01).spike_counts)

    first = counts(model, stim)
    assert np.array_equal(counts(model, stim), first)
    edited = counts(eqx.tree_at(lambda m: m.g_Na, model, 60.0), stim)  # a new object: prepared afresh
    assert np.array_equal(edited, counts(hj.HodgkinHuxley(g_Na=60.0), stim))
    assert not np.array_equal(edited, first) and first[0] == 0 and first[2] > first[1] > 0
    numpy_stim = hj.Constant(current)
    before = counts(model, numpy_stim)
    current[:] = 0.0  # in place: the stimulus object is the same, its values are not
    assert before.sum() > 0 and counts(model, numpy_stim).sum() == 0
    # the same objects with another interval, step or dtype: another call, not the cached one
    shorter = hj.simulate(model, stim, t1=20.0, solver="euler", dt=0.01)
    assert float(shorter.t1) == 20.0 and np.all(np.asarray(shorter.spike_counts) <= first)
    assert hj.simulate(model, stim, t1=50.0, solver="euler", dt=0.01, dtype="float32").y_final.V.dtype == jnp.float32
    for _ in range(2):  # a failing call fails again when repeated
        with pytest.raises(hj.SimulationError, match="unstable"):
            hj.simulate(model, stim, t1=20.0, solver="euler", dt=0.5)


def _slif2hh_counts_by_hand(currents, steps, decay=0.9, threshold=70.0):
    """The joint-reset s-LIF2HH unit (rest 0, unit weights and gain) stepped in NumPy."""
    u = np.zeros((4, len(currents)))
    counts = np.zeros(len(currents), int)
    for _ in range(steps):
        u[:3] = decay * u[:3] + currents
        u[3] = decay * u[3] + u[:3].sum(0)
        fire = np.all(u > threshold, axis=0)
        counts += fire
        u[:, fire] = 0.0
    return counts


def test_repeated_discrete_calls_reuse_only_the_same_unchanged_objects():
    """A discrete model's repeated `simulate` call runs its bound program: the same spike
    counts as a NumPy stepping of the unit; a new model object, a NumPy current changed in
    place and other options are seen afresh; a failing call fails again when repeated; a
    call under `jit` gives the concrete call's counts."""
    model, current = hj.SLIF2HH(), np.array([0.0, 8.0, 20.0])

    def counts(model, stim, **kw):
        return np.asarray(hj.simulate(model, stim, t1=60.0, dtype="float64", **kw).spike_counts)

    stim = hj.Constant(jnp.asarray(current))
    first = counts(model, stim)
    np.testing.assert_array_equal(first, _slif2hh_counts_by_hand(current, 60))
    assert first[0] == 0 and first[2] > first[1] > 0
    np.testing.assert_array_equal(counts(model, stim), first)
    higher = counts(hj.SLIF2HH(threshold=100.0), stim)  # a new object: prepared afresh
    np.testing.assert_array_equal(higher, _slif2hh_counts_by_hand(current, 60, threshold=100.0))
    assert np.all(higher <= first) and higher.sum() < first.sum()
    numpy_stim = hj.Constant(current.copy())
    assert counts(model, numpy_stim).sum() > 0
    numpy_stim.current[:] = 0.0  # in place: the same object, other values
    assert counts(model, numpy_stim).sum() == 0
    shorter = hj.simulate(model, stim, t1=20.0, dtype="float64")
    assert float(shorter.t1) == 20.0 and np.all(np.asarray(shorter.spike_counts) <= first)
    counts_only = hj.simulate(model, stim, t1=60.0, dtype="float64", max_spikes=0)  # no times kept
    np.testing.assert_array_equal(np.asarray(counts_only.spike_counts), first)
    assert counts_only.spike_times.shape == (3, 0)
    nan_stim = hj.Constant(jnp.asarray([1.0, jnp.nan]))
    for _ in range(2):
        with pytest.raises(hj.SimulationError, match="max_spikes"):
            counts(model, stim, max_spikes=2)
        with pytest.raises(ValueError, match="NaN"):
            counts(model, nan_stim)
    jitted = jax.jit(lambda I: hj.simulate(model, hj.Constant(I), t1=60.0, dtype="float64").spike_counts)
    np.testing.assert_array_equal(np.asarray(jitted(jnp.asarray(current))), first)


def test_a_model_reused_across_jitted_callers_leaks_no_tracers():
    """Preparing a model or a whole call while `jit` traces the caller must not cache the
    traced result: the same model and stimulus objects in a second jitted function (and
    then outside jit) still work and give the same spikes."""
    model, stim = hj.HodgkinHuxley(), hj.Constant(jnp.asarray([0.0, 10.0]))

    def counts(current):
        return hj.simulate(model, stim if current is None else hj.Constant(current), t1=30.0,
                           solver="euler", dt=0.01).spike_counts

    first = jax.jit(lambda c: counts(c))(jnp.asarray([0.0, 10.0]))
    second = jax.jit(lambda c: counts(c) + 0 * c.astype(jnp.int32))(jnp.asarray([0.0, 10.0]))
    inside = jax.jit(lambda: counts(None))()  # the stimulus object itself, under a trace
    outside = counts(None)
    for got in (second, inside, outside):
        assert np.array_equal(np.asarray(got), np.asarray(first))
    assert int(first[0]) == 0 and int(first[1]) >= 1
