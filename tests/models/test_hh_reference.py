"""HH (−65 mV convention) against the independent SciPy Radau reference."""

import jax.numpy as jnp
import numpy as np
import pytest
from _helpers import all_reference_stimuli, max_spike_error

import hhjax as hj


def _run(reference, **kw):
    stim = all_reference_stimuli(reference)
    n = len(reference["protocols"])
    y0 = hj.HodgkinHuxley().initial_state(jnp.full((n,), -65.0))
    return hj.simulate(hj.HodgkinHuxley(), stim, t1=200.0, y0=y0, **kw)


@pytest.mark.parametrize("solver", ["tsit5", "dopri8"])
def test_adaptive_float64_matches_reference(hh_reference, solver):
    sim = _run(hh_reference, solver=solver, rtol=1e-10, atol=1e-10, dtype="float64", save_every=0.1)
    V = np.asarray(sim.V)
    for i, p in enumerate(hh_reference["protocols"]):
        assert max_spike_error(sim.spike_list()[i], p) < 1e-4
        assert np.max(np.abs(V[:, i] - np.asarray(p["V_mV"]))) < 1e-2


@pytest.mark.parametrize("dtype, tol", [("float64", 2e-3), ("float32", 5e-3)])
def test_rk4_fixed_step(hh_reference, dtype, tol):
    sim = _run(hh_reference, solver="rk4", dt=0.05, dtype=dtype)
    errs = [max_spike_error(sim.spike_list()[i], p) for i, p in enumerate(hh_reference["protocols"])]
    assert max(errs) < tol


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_euler_counts(hh_reference, dtype):
    sim = _run(hh_reference, solver="euler", dt=0.01, dtype=dtype)
    for i, p in enumerate(hh_reference["protocols"]):
        assert len(sim.spike_list()[i]) == p["n_spikes"], p["name"]
        # first-order error: a few hundredths of a ms, well under 1 ms
        assert max_spike_error(sim.spike_list()[i], p) < 0.7


def _first_spikes_error(reference, solver, dt):
    p = next(q for q in reference["protocols"] if q["name"] == "const_10")
    sim = hj.simulate(hj.HodgkinHuxley(), 10.0, t1=50.0, solver=solver, dt=dt, dtype="float64")
    got = np.asarray(sim.spike_list())
    ref = np.asarray(p["spike_times_ms"])[: got.size]
    assert got.size == 4
    return float(np.max(np.abs(got - ref)))


@pytest.mark.parametrize("solver, dts, order", [
    ("euler", (0.01, 0.005, 0.0025), 1.0),
    ("rk4", (0.05, 0.025, 0.0125), 4.0),
    pytest.param("heun", (0.02, 0.01, 0.005), 2.0, marks=pytest.mark.slow),
])
def test_convergence_order(hh_reference, solver, dts, order):
    errs = [_first_spikes_error(hh_reference, solver, dt) for dt in dts]
    slopes = np.diff(np.log(errs)) / np.diff(np.log(dts))
    assert np.all(np.abs(slopes - order) < 0.3), (errs, slopes)


def test_expeuler_converges_first_order(hh_reference):
    errs = [_first_spikes_error(hh_reference, "expeuler", dt) for dt in (0.01, 0.005)]
    assert errs[1] < errs[0] and abs(np.log2(errs[0] / errs[1]) - 1.0) < 0.3


def test_kvaerno5_stiff_solver(hh_reference):
    p = next(q for q in hh_reference["protocols"] if q["name"] == "step_0_to_10_at_50")
    sim = hj.simulate(hj.HodgkinHuxley(), hj.Step(0.0, 10.0, 50.0), t1=200.0, solver="kvaerno5",
                      rtol=1e-8, atol=1e-8, dtype="float64")
    assert max_spike_error(sim.spike_list(), p) < 1e-4
