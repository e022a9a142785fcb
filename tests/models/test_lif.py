"""LIF and tv-LIF: resets at the crossing time, refractory periods, against exact results."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import hhjax as hj


def lif_analytic(I, t1, tau=10.0, R=10.0, V_rest=-65.0, V_reset=-65.0, V_th=-50.0, t_ref=2.0):
    """Exact spike times of a LIF with constant input."""
    V_inf = V_rest + R * I
    if V_inf <= V_th:
        return []
    t_first = -tau * math.log((V_inf - V_th) / (V_inf - V_rest))
    period = t_ref - tau * math.log((V_inf - V_th) / (V_inf - V_reset))
    out, t = [], t_first
    while t < t1:
        out.append(t)
        t += period
    return out


@pytest.mark.parametrize("solver, dt, tol", [
    ("expeuler", 0.1, 1e-9),   # exact for constant input
    ("rk4", 0.1, 1e-6),
    ("tsit5", None, 1e-6),
    ("euler", 0.01, 0.1),  # first order; I = 1.6 sits just above rheobase
])
def test_lif_constant_input_matches_exact(solver, dt, tol):
    currents = jnp.array([1.0, 1.6, 2.0, 3.5, 8.0])
    sim = hj.simulate(hj.LIF(), hj.Constant(currents), t1=200.0, solver=solver, dt=dt, dtype="float64",
                      rtol=1e-10, atol=1e-10)
    for I, got in zip(currents, sim.spike_list()):
        ref = lif_analytic(float(I), 200.0)
        assert len(got) == len(ref), (float(I), got, ref)
        if ref:
            assert np.max(np.abs(np.asarray(got) - ref)) < tol


def test_reset_happens_at_crossing_not_at_step_end():
    """With a coarse step the state after a spike is the exact post-reset solution, which
    requires the reset at the located crossing time, not at the end of the step."""
    model = hj.LIF(t_ref=0.0)
    I = 2.0
    sim = hj.simulate(model, I, t1=15.0, solver="expeuler", dt=1.0, dtype="float64")
    (t_spike,) = sim.spike_list()
    V_inf = -65.0 + 10.0 * I
    expected = V_inf + (-65.0 - V_inf) * math.exp(-(15.0 - t_spike) / 10.0)
    assert float(sim.y_final.V) == pytest.approx(expected, abs=1e-9)


def test_refractory_period_holds_the_reset_voltage():
    sim = hj.simulate(hj.LIF(t_ref=5.0), 3.0, t1=30.0, solver="rk4", dt=0.05, dtype="float64", save_every=0.05)
    t_spike = sim.spike_list()[0]
    ts, V = np.asarray(sim.ts), np.asarray(sim.V)
    during = (ts > t_spike + 0.06) & (ts < t_spike + 4.94)
    assert during.sum() > 90
    np.testing.assert_allclose(V[during], -65.0, atol=1e-12)
    after = ts > t_spike + 5.1
    assert np.all(V[after][:5] > -65.0)


def _tvlif_reference(t1, I, t_ref):
    """SciPy solution of the tv-LIF with events, restarting after each reset."""
    def tau(t):
        return 10.0 + 3.0 * np.sin(2 * np.pi * t / 50.0)

    def rest(t):
        return -65.0 + 5.0 * np.sin(2 * np.pi * t / 30.0)

    def f(t, v):
        return (-(v - rest(t)) + 10.0 * I) / tau(t)

    def hit(t, v):
        return v[0] + 50.0

    hit.terminal, hit.direction = True, 1
    t, v, spikes = 0.0, -65.0, []
    while t < t1:
        sol = solve_ivp(f, (t, t1), [v], events=hit, rtol=1e-11, atol=1e-11, method="DOP853")
        if sol.t_events[0].size == 0:
            break
        ts = float(sol.t_events[0][0])
        spikes.append(ts)
        t, v = ts + t_ref, -70.0
    return spikes


def test_tvlif_time_varying_parameters_against_scipy():
    model = hj.TVLIF(
        tau=hj.Sine(I0=10.0, A=3.0, period=50.0),
        rest=hj.Sine(I0=-65.0, A=5.0, period=30.0),
        gain=10.0, V_reset=-70.0, V_th=-50.0, t_ref=1.5, V0=-65.0,
    )
    sim = hj.simulate(model, 2.2, t1=150.0, solver="tsit5", rtol=1e-10, atol=1e-10, dtype="float64")
    ref = _tvlif_reference(150.0, 2.2, 1.5)
    assert len(ref) >= 5
    np.testing.assert_allclose(sim.spike_list(), ref, atol=1e-6)


def test_tvlif_with_constant_functions_is_lif():
    lif = hj.LIF()
    tv = hj.TVLIF(tau=10.0, rest=-65.0, gain=10.0, V_reset=-65.0, V_th=-50.0, t_ref=2.0, V0=-65.0)
    a = hj.simulate(lif, 2.5, t1=100.0, solver="rk4", dt=0.05, dtype="float64")
    b = hj.simulate(tv, 2.5, t1=100.0, solver="rk4", dt=0.05, dtype="float64")
    np.testing.assert_allclose(a.spike_list(), b.spike_list(), atol=1e-12)


def test_lif_float32():
    sim = hj.simulate(hj.LIF(), 2.0, t1=100.0, solver="expeuler", dt=0.1, dtype="float32")
    assert sim.spike_times.dtype == jnp.float32
    np.testing.assert_allclose(sim.spike_list(), lif_analytic(2.0, 100.0), atol=5e-4)


def _euler_lif_spikes(I, dt, t1, tau=10.0, R=10.0, rest=-65.0, reset=-65.0, th=-50.0, t_ref=2.0):
    """Forward-Euler LIF spike times by hand (NumPy, float64): each crossing on the line
    between the step's end points, the reset there, refractory until t + t_ref, then Euler
    from the end of the refractory period to the step's end (one step of the shorter length)."""
    V, t, free, spikes = rest, 0.0, 0.0, []
    while t < t1 - 1e-12:
        t_next = t + dt
        start = min(max(free, t), t_next)
        h = t_next - start
        V1 = V + h * (-(V - rest) + R * I) / tau
        if V < th <= V1 and h > 0:
            tc = start + h * (th - V) / (V1 - V)
            spikes.append(tc)
            free = tc + t_ref
            s2 = min(max(free, tc), t_next)
            V1 = reset + (t_next - s2) * (-(reset - rest) + R * I) / tau
        V, t = V1, t_next
    return np.asarray(spikes)


@pytest.mark.parametrize("dt", [0.1, 0.25])
def test_euler_lif_crossings_and_their_derivative_match_a_hand_written_euler(dt):
    """Resets at the crossing of the step's line (closed form for linear interpolants):
    spike times of a population against a hand-written Euler, and the derivative of the
    first spike time against a central difference of that hand-written Euler."""
    currents = np.array([1.6, 2.5, 3.9, 6.0])
    sim = hj.simulate(hj.LIF(), hj.Constant(jnp.asarray(currents)), t1=100.0, solver="euler", dt=dt,
                      dtype="float64", max_spikes=64)
    for got, I in zip(sim.spike_list(), currents):
        want = _euler_lif_spikes(I, dt, 100.0)
        assert len(got) == len(want) >= 3
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)

    def first(I):
        return hj.simulate(hj.LIF(), hj.Constant(I), t1=40.0, solver="euler", dt=dt, dtype="float64").spike_times[0]

    eps = 1e-6
    fd = (_euler_lif_spikes(2.5 + eps, dt, 40.0)[0] - _euler_lif_spikes(2.5 - eps, dt, 40.0)[0]) / (2 * eps)
    assert float(jax.grad(first)(2.5)) == pytest.approx(fd, rel=1e-6)
