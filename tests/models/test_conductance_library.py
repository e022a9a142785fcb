"""The channel library against independent references: each model's equations written out
again here in NumPy (from the papers, not from the library's code) and solved with SciPy's
DOP853 at rtol = atol = 1e-12 (spikes located by SciPy's event root finding); hhjax's
adaptive float64 solve must give the same steady firing periods (1e-3 ms) and spike times on
a time-varying stimulus (1e-4 ms)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import jax.numpy as jnp

import hhjax as hj


def _lin(rate, v, k, V):  # rate·(V − v)/(1 − exp(−(V − v)/k)), series at the removable point
    x = (V - v) / k
    return rate * k * (x / -np.expm1(-x) if abs(x) > 1e-9 else 1 + x / 2)


def wang_buzsaki_rhs(t, y, I):
    V, h, n = y
    am, bm = _lin(0.1, -35, 10, V), 4 * np.exp(-(V + 60) / 18)
    m = am / (am + bm)
    ah, bh = 0.07 * np.exp(-(V + 58) / 20), 1 / (1 + np.exp(-(V + 28) / 10))
    an, bn = _lin(0.01, -34, 10, V), 0.125 * np.exp(-(V + 44) / 80)
    dV = I(t) - 35 * m**3 * h * (V - 55) - 9 * n**4 * (V + 90) - 0.1 * (V + 65)
    return [dV, 5 * (ah * (1 - h) - bh * h), 5 * (an * (1 - n) - bn * n)]


def traub_miles_rhs(t, y, I, VT=-63.0):
    V, m, h, n = y
    am = 0.32 * (13 - V + VT) / (np.exp((13 - V + VT) / 4) - 1)
    bm = 0.28 * (V - VT - 40) / (np.exp((V - VT - 40) / 5) - 1)
    ah, bh = 0.128 * np.exp((17 - V + VT) / 18), 4 / (1 + np.exp((40 - V + VT) / 5))
    an = 0.032 * (15 - V + VT) / (np.exp((15 - V + VT) / 5) - 1)
    bn = 0.5 * np.exp((10 - V + VT) / 40)
    dV = I(t) + 0.05 * (-60 - V) - 100 * m**3 * h * (V - 50) - 30 * n**4 * (V + 90)
    return [dV, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]


def pospischil_rhs(t, y, I, rs=True):
    VT, gL, gNa, gK, gM = (-56.2, 0.1, 50, 5, 0.07) if rs else (-63.0, 0.15, 50, 10, 0.0)
    V, m, h, n = y[:4]
    u = V - VT
    am = -0.32 * (u - 13) / (np.exp(-(u - 13) / 4) - 1)
    bm = 0.28 * (u - 40) / (np.exp((u - 40) / 5) - 1)
    ah, bh = 0.128 * np.exp(-(u - 17) / 18), 4 / (1 + np.exp(-(u - 40) / 5))
    an = -0.032 * (u - 15) / (np.exp(-(u - 15) / 5) - 1)
    bn = 0.5 * np.exp(-(u - 10) / 40)
    p = y[4] if rs else 0.0
    dV = I(t) - gL * (V + 70) - gNa * m**3 * h * (V - 50) - gK * n**4 * (V + 90) - gM * p * (V + 90)
    out = [dV, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]
    if rs:
        p_inf = 1 / (1 + np.exp(-(V + 35) / 10))
        tau_p = 1000 / (3.3 * np.exp((V + 35) / 20) + np.exp(-(V + 35) / 20))
        out.append((p_inf - p) / tau_p)
    return out


def connor_stevens_rhs(t, y, I):
    V, m, h, n, a, b = y
    am, bm = _lin(0.38, -29.7, 10, V), 15.2 * np.exp(-0.0556 * (V + 54.7))
    ah, bh = 0.266 * np.exp(-0.05 * (V + 48)), 3.8 / (1 + np.exp(-0.1 * (V + 18)))
    an, bn = _lin(0.02, -45.7, 10, V), 0.25 * np.exp(-0.0125 * (V + 55.7))
    a_inf = (0.0761 * np.exp(0.0314 * (V + 94.22)) / (1 + np.exp(0.0346 * (V + 1.17)))) ** (1 / 3)
    tau_a = 0.3632 + 1.158 / (1 + np.exp(0.0497 * (V + 55.96)))
    b_inf = (1 / (1 + np.exp(0.0688 * (V + 53.3)))) ** 4
    tau_b = 1.24 + 2.678 / (1 + np.exp(0.0624 * (V + 50)))
    dV = (I(t) - 120 * m**3 * h * (V - 55) - 20 * n**4 * (V + 72) - 47.7 * a**3 * b * (V + 75) - 0.3 * (V + 17))
    return [dV, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n,
            (a_inf - a) / tau_a, (b_inf - b) / tau_b]


def morris_lecar_rhs(t, y, I):
    V, w = y
    m = 0.5 * (1 + np.tanh((V + 1.2) / 18))
    w_inf = 0.5 * (1 + np.tanh((V - 2) / 30))
    tau_w = 1 / np.cosh((V - 2) / 60)
    dV = (I(t) - 4.4 * m * (V - 120) - 8 * w * (V + 84) - 2 * (V + 60)) / 20
    return [dV, 0.04 * (w_inf - w) / tau_w]


REFERENCES = {  # name: (right-hand side, state order in the library's ConductanceState, drives µA/cm²)
    "wang-buzsaki": (wang_buzsaki_rhs, ["na.h", "k.n"], [0.5, 1.0, 3.0]),
    "traub-miles": (traub_miles_rhs, ["na.m", "na.h", "k.n"], [1.0, 3.0, 8.0]),
    "pospischil-rs": (lambda t, y, I: pospischil_rhs(t, y, I, True), ["na.m", "na.h", "k.n", "m_current.p"],
                      [3.0, 4.0, 8.0]),
    "pospischil-fs": (lambda t, y, I: pospischil_rhs(t, y, I, False), ["na.m", "na.h", "k.n"], [2.0, 4.0, 8.0]),
    "connor-stevens": (connor_stevens_rhs, ["na.m", "na.h", "k.n", "a.a", "a.b"], [10.0, 15.0, 30.0]),
    "morris-lecar": (morris_lecar_rhs, ["k.w"], [120.0, 150.0, 200.0]),
}


def _reference_spikes(rhs, y0, I, t1, threshold):
    """DOP853 (rtol = atol = 1e-12) with upward crossings of `threshold` located by SciPy's events."""
    def event(t, y, *args):
        return y[0] - threshold

    event.direction = 1
    sol = solve_ivp(rhs, (0.0, t1), y0, method="DOP853", rtol=1e-12, atol=1e-12, events=event, args=(I,))
    assert sol.status == 0
    return sol.t_events[0]


T1 = 400.0  # ms: at least four spikes at every drive


def _start(model, keys):
    y = model.initial_state()
    return [float(y.V)] + [float(y.gates[k]) for k in keys]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REFERENCES))
def test_library_model_fires_like_its_reference(name):
    """Steady firing periods at three constant drives within 1e-3 ms of Radau on the
    separately written equations, from the same resting state."""
    rhs, keys, drives = REFERENCES[name]
    model = hj.library_model(name)
    sim = hj.simulate(model, hj.Constant(jnp.asarray(drives)), t1=T1, dtype="float64", rtol=1e-11, atol=1e-11,
                      max_spikes=2048)
    y0 = _start(model, keys)
    for i, drive in enumerate(drives):
        ref = _reference_spikes(rhs, y0, lambda t, d=drive: d, T1, float(model.threshold))
        got = np.asarray(sim.spike_times[i][: int(sim.spike_counts[i])])
        assert len(ref) >= 4, (name, drive, len(ref))
        assert len(got) == len(ref), (name, drive, len(got), len(ref))
        period_ref, period_got = np.diff(ref)[-3:], np.diff(got)[-3:]
        np.testing.assert_allclose(period_got, period_ref, rtol=0, atol=1e-3)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_library_model_spike_times_on_a_time_varying_stimulus(name):
    rhs, keys, drives = REFERENCES[name]
    model = hj.library_model(name)
    base, amp = drives[1], 0.6 * drives[1]
    stim = hj.Sine(base, amp, 37.0)
    sim = hj.simulate(model, stim, t1=300.0, dtype="float64", rtol=1e-11, atol=1e-11)
    ref = _reference_spikes(rhs, _start(model, keys), lambda t: base + amp * np.sin(2 * np.pi * t / 37.0), 300.0,
                            float(model.threshold))
    got = np.asarray(sim.spike_list())
    assert len(got) == len(ref) and len(ref) >= 3
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
