"""tv-LIF2HH ≡ HH: the four-tv-LIF wiring and the gate form reproduce HH."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hhjax as hj

HH = hj.HodgkinHuxley()


def _stimuli():
    return hj.Stacked((
        hj.Constant(10.0),
        hj.Step(0.0, 15.0, 40.0),
        hj.Sine(I0=6.0, A=8.0, period=25.0),
        hj.Square(I_low=0.0, I_high=20.0, period=30.0),
        hj.ornstein_uhlenbeck(jr.PRNGKey(3), mean=8.0, sigma=4.0, tau=5.0, t1=200.0, dt=0.05),
    ))


def _pair(form, **kw):
    stim = _stimuli()
    start = HH.initial_state(jnp.full((5,), -65.0))
    tv = hj.tvlif2hh(HH, form)
    y_tv = tv.from_hh_state(start) if form == "channels" else start
    a = hj.simulate(HH, stim, t1=200.0, y0=start, dtype="float64", **kw)
    b = hj.simulate(tv, stim, t1=200.0, y0=y_tv, dtype="float64", **kw)
    return a, b


@pytest.mark.parametrize("form", ["channels", "gates"])
@pytest.mark.parametrize("solver, dt", [("euler", 0.01), ("rk4", 0.025)])
def test_fixed_step_runge_kutta_agrees_to_rounding(form, solver, dt):
    a, b = _pair(form, solver=solver, dt=dt, save_every="step")
    assert a.V.shape == b.V.shape and a.V.shape[1] == 5
    assert float(jnp.max(jnp.abs(a.V - b.V))) <= 1e-7
    assert [len(s) for s in a.spike_list()] == [len(s) for s in b.spike_list()]
    assert sum(len(s) for s in a.spike_list()) > 20  # the protocols really spike


def test_adaptive_spike_times_agree():
    a, b = _pair("channels", solver="tsit5", rtol=1e-10, atol=1e-10)
    for sa, sb in zip(a.spike_list(), b.spike_list()):
        assert len(sa) == len(sb)
        assert np.max(np.abs(np.asarray(sa) - np.asarray(sb)), initial=0.0) < 1e-6


def test_tvlif2hh_is_self_contained_and_uses_its_own_gates():
    """Perturbing the tv-LIF gate neurons changes V: the conductances are not borrowed."""
    tv = hj.tvlif2hh(HH)
    y = tv.initial_state()
    base = hj.simulate(tv, 10.0, t1=30.0, solver="rk4", dt=0.02, y0=y, dtype="float64")
    y2 = hj.TVLIF2HHState(**{**vars(y), "n": y.n + 0.1})
    moved = hj.simulate(tv, 10.0, t1=30.0, solver="rk4", dt=0.02, y0=y2, dtype="float64")
    assert abs(base.spike_list()[0] - moved.spike_list()[0]) > 0.05


def test_tvlif2hh_from_any_hh_parameter_set():
    """Built from the shifted convention and from Traub–Miles, it still equals its HH."""
    for hh in (hj.HodgkinHuxley.shifted(), hj.traub_miles()):
        tv = hj.tvlif2hh(hh)
        a = hj.simulate(hh, 12.0, t1=60.0, solver="rk4", dt=0.01, dtype="float64", save_every="step")
        b = hj.simulate(tv, 12.0, t1=60.0, solver="rk4", dt=0.01, dtype="float64", save_every="step")
        assert len(a.spike_list()) >= 2
        assert float(jnp.max(jnp.abs(a.V - b.V))) <= 1e-7


@pytest.mark.slow
def test_float32_equivalence_within_single_precision():
    stim = hj.Constant(10.0)
    a = hj.simulate(HH, stim, t1=100.0, solver="rk4", dt=0.025, dtype="float32", save_every=0.5)
    b = hj.simulate(hj.tvlif2hh(HH), stim, t1=100.0, solver="rk4", dt=0.025, dtype="float32", save_every=0.5)
    assert a.V.dtype == jnp.float32 and b.V.dtype == jnp.float32
    np.testing.assert_allclose(a.spike_list(), b.spike_list(), atol=2e-3)


def test_where_float32_is_not_enough(hh_reference):
    """float32 suffices for HH spike timing with fixed steps, but not for the tv-LIF2HH
    identity (F and the channel neurons cancel large terms) nor for tight tolerances."""
    ref = next(p for p in hh_reference["protocols"] if p["name"] == "const_10")
    tv = hj.tvlif2hh(HH)
    dv = {}
    for dtype in ("float32", "float64"):
        a = hj.simulate(HH, 10.0, t1=200.0, solver="rk4", dt=0.025, dtype=dtype, save_every=0.1)
        b = hj.simulate(tv, 10.0, t1=200.0, solver="rk4", dt=0.025, dtype=dtype, save_every=0.1)
        assert np.max(np.abs(np.asarray(a.spike_list()) - ref["spike_times_ms"])) < 1e-4
        dv[dtype] = float(np.max(np.abs(np.asarray(a.V, np.float64) - np.asarray(b.V, np.float64))))
    assert dv["float64"] < 1e-7
    assert 1e-3 < dv["float32"] < 1.0  # rounding-limited, ~1e6x the float64 gap
    with pytest.raises(ValueError, match="below what float32 resolves"):
        hj.simulate(HH, 10.0, t1=20.0, solver="tsit5", rtol=1e-10, atol=1e-10, dtype="float32")


def test_shipped_fitted_slif2hh_keeps_hh_spike_counts_on_all_five_waveforms():
    """The s-LIF2HH parameters shipped with hhjax (one set for all five paper waveforms)
    reproduce the HH chain's spike count on every waveform — the hand-set values miss three
    of them — with a normalised timing error below 0.3 (HH at dt 0.001 ms as reference)."""
    from hhjax.paper import hh_chain_spikes, slif2hh_chain_spikes
    from hhjax.paper.fitted import fitted_slif2hh

    waves = list(hj.paper_waveforms().values())
    hh, _ = hh_chain_spikes(waves, dt=0.001)
    unit, weight, record = fitted_slif2hh()
    fitted = slif2hh_chain_spikes(waves, model=unit, weight=weight)
    hand_set = slif2hh_chain_spikes(waves)
    assert [len(s) for s in fitted] == [len(s) for s in hh]
    assert sum(len(a) != len(b) for a, b in zip(hand_set, hh)) >= 2
    for ref, got in zip(hh, fitted):
        assert hj.paper.compare_spike_trains(ref, got).normalised_error < 0.3
    assert record["waveforms"] == list(hj.paper_waveforms())
