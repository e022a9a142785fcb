"""Recovery targets of the fitting issue at CI size (the full-size runs are in
benchmarks/fit_recovery.py): HH membrane parameters, tv-LIF gate functions, s-LIF2HH."""

import jax
import numpy as np
import pytest

import hhjax as hj
from hhjax import fitting as hf
from hhjax.fitting.recovery import closed_loop_spikes, gate_recovery, membrane_recovery, membrane_values
from hhjax.fitting.losses import membrane_least_squares
from hhjax.fitting.slif2hh import fit_slif2hh
from hhjax.paper.simplified import compare_spike_trains, hh_chain_spikes, slif2hh_chain_spikes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def traces():
    protocols = hf.default_protocols(40.0)
    stimuli = {k: protocols[k] for k in ("step10", "noise")}
    return hf.synthetic_traces(hj.HodgkinHuxley(), stimuli, t1=40.0, sample_dt=0.01)


def test_hh_membrane_parameters_recovered_within_one_percent(traces):
    """Noise-free: every parameter within 1 % in at least 9 of 10 initialisations of
    ±50 % random starts (4 vmapped starts each here; the issue allows 16)."""
    res = membrane_recovery(hj.HodgkinHuxley(), traces, initialisations=10, starts=4, steps=60,
                            key=jax.random.PRNGKey(11))
    worst = res["relative_error"].max(axis=1)
    assert np.sum(worst < 0.01) >= 9, dict(zip(res["names"], res["relative_error"].max(axis=0)))


def test_hh_membrane_parameters_from_noisy_traces():
    """1 mV Gaussian noise on V: all seven membrane parameters within 5 % in every one of
    3 initialisations of ±50 % random starts (robust equation error: Cauchy scale 3 mV,
    1 ms windows; 4 protocols × 200 ms sampled every 0.02 ms)."""
    clean = hf.synthetic_traces(hj.HodgkinHuxley(), hf.default_protocols(200.0), t1=200.0, sample_dt=0.02)
    noisy = clean.with_noise(jax.random.PRNGKey(7), 1.0)
    res = membrane_recovery(hj.HodgkinHuxley(), noisy, initialisations=3, starts=4, steps=60,
                            key=jax.random.PRNGKey(3), window_ms=1.0, robust_mV=3.0)
    err = dict(zip(res["names"], res["relative_error"].max(axis=0)))
    assert np.all(res["relative_error"] < 0.05), err


def test_plain_least_squares_misses_the_target_on_the_same_noisy_data():
    """The reason for `robust_mV`: on the same noisy data, the least-squares optimum of
    the teacher-forced loss misses the 5 % target (solved directly: it is linear)."""
    hh = hj.HodgkinHuxley()
    clean = hf.synthetic_traces(hh, hf.default_protocols(200.0), t1=200.0, sample_dt=0.02)
    noisy = clean.with_noise(jax.random.PRNGKey(7), 1.0)
    plain, true = membrane_values(membrane_least_squares(hh, noisy, window_ms=1.0)), membrane_values(hh)
    worst = max(abs(plain[n] / true[n] - 1) for n in true)
    assert worst > 0.05, plain


def test_tvlif_gate_functions_recovered_and_closed_loop_spikes_match():
    hh = hj.HodgkinHuxley()
    trace = hf.synthetic_traces(hh, t1=60.0, sample_dt=0.01)
    fitted, res = gate_recovery(hh, trace, starts=4, steps=150, key=jax.random.PRNGKey(2))
    errors = hf.gate_curve_errors(fitted, hh, hf.visited_voltages(trace))
    for x, e in errors.items():
        assert e["tau_rel"] < 0.05 and e["x_inf_abs"] < 0.02, (x, e)
    # closed loop on a protocol not used in fitting: a 15 µA/cm² step (40 ms here; the
    # benchmark runs 80 ms with a longer fit)
    got, want = closed_loop_spikes([hj.tvlif2hh(fitted), hj.tvlif2hh(hh)], hj.Step(0.0, 15.0, 10.0), t1=40.0)
    assert got.size == want.size >= 2
    assert np.max(np.abs(got - want)) < 0.1


def test_slif2hh_fit_gets_every_spike_count_right():
    waves = hj.paper_waveforms()
    names = list(waves)
    targets, _ = hh_chain_spikes([waves[n] for n in names], dt=0.001)
    hand_set = slif2hh_chain_spikes([waves[n] for n in names])
    for n, target, before in zip(names, targets, hand_set):
        fit = fit_slif2hh([waves[n]], [target], key=jax.random.PRNGKey(0), iterations=20)
        after = fit.comparison[0]
        assert after.n_test == after.n_reference == len(target), n
        old = compare_spike_trains(target, before)
        if old.normalised_error is not None:
            assert after.normalised_error <= old.normalised_error + 1e-12
        np.testing.assert_allclose(after.normalised_error,
                                   compare_spike_trains(target, slif2hh_chain_spikes([waves[n]], model=fit.model.unit,
                                                                                     weight=fit.model.weight)[0]).normalised_error)


def test_slif2hh_fit_on_a_finer_step_meets_the_timing_target():
    # spec §3.1 target: the right count and normalised timing error < 0.05 on all five
    # waveforms; on the authors' 1 ms grid the square wave stays near 0.09, at 0.25 ms all pass
    waves = hj.paper_waveforms()
    names = list(waves)
    targets, _ = hh_chain_spikes([waves[n] for n in names], dt=0.001)
    base = hj.SLIF2HH.matlab(0.25)
    for n, target in zip(names, targets):
        fit = fit_slif2hh([waves[n]], [target], base=base, key=jax.random.PRNGKey(0), iterations=40)
        # judged independently of the fit: the exact chain rerun, HH spike times from the fine HH run
        spikes = slif2hh_chain_spikes([waves[n]], model=fit.model.unit, weight=fit.model.weight)[0]
        result = compare_spike_trains(target, spikes)
        assert result.n_test == len(target), n
        assert result.normalised_error < 0.05, (n, result)
