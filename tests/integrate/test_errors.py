"""Bad input gets a clear, specific error."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

import hhjax as hj

HH = hj.HodgkinHuxley()


@pytest.mark.parametrize("dt", [0.0, -0.01, float("nan"), float("inf")])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be a positive"):
        hj.simulate(HH, 10.0, t1=10.0, dt=dt, solver="euler")


@pytest.mark.parametrize("t0, t1", [(0.0, 0.0), (10.0, 5.0)])
def test_t1_not_after_t0(t0, t1):
    with pytest.raises(ValueError, match="t1 must be greater than t0"):
        hj.simulate(HH, 10.0, t0=t0, t1=t1, dt=0.01, solver="euler")


def test_nan_inf_in_parameters_and_stimuli():
    with pytest.raises(ValueError, match="model parameters contains NaN or inf.*g_K"):
        hj.simulate(hj.HodgkinHuxley(g_K=float("nan")), 10.0, t1=10.0, dt=0.01, solver="euler")
    with pytest.raises(ValueError, match="model parameters contains NaN or inf"):
        hj.simulate(hj.HodgkinHuxley(g_Na=jnp.array([120.0, jnp.inf])), 10.0, t1=10.0, dt=0.01, solver="euler")
    with pytest.raises(ValueError, match="stimulus contains NaN or inf"):
        hj.simulate(HH, hj.Constant(float("nan")), t1=10.0, dt=0.01, solver="euler")
    with pytest.raises(ValueError, match="stimulus contains NaN or inf"):
        hj.simulate(HH, hj.Sampled(jnp.array([0.0, 1.0]), jnp.array([0.0, jnp.nan])), t1=10.0, dt=0.01, solver="euler")
    with pytest.raises(ValueError, match="stimulus returns NaN or inf"):
        hj.simulate(HH, lambda t: jnp.log(t - 1.0), t1=10.0, dt=0.01, solver="euler")
    with pytest.raises(ValueError, match="stimulus returns NaN or inf"):  # the adaptive loop stops at once
        hj.simulate(HH, lambda t: jnp.log(t - 1.0), t1=10.0, solver="tsit5")
    with pytest.raises(ValueError, match="initial state y0 contains NaN"):
        hj.simulate(HH, 1.0, t1=10.0, dt=0.01, solver="euler", y0=hj.HHState(jnp.nan, 0.1, 0.5, 0.3))


def test_mismatched_population_shapes():
    with pytest.raises(ValueError, match="mismatched population shapes"):
        hj.simulate(hj.HodgkinHuxley(g_K=jnp.full((3,), 36.0)), hj.Constant(jnp.ones(4)), t1=5.0, dt=0.01, solver="euler")
    with pytest.raises(ValueError, match="coupling weights must be a square"):
        hj.ThresholdCoupled(HH, jnp.ones((2, 3)))


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown solver 'rk5'"):
        hj.simulate(HH, 10.0, t1=5.0, dt=0.01, solver="rk5")
    with pytest.raises(ValueError, match="unknown stimulus kind 'zigzag'"):
        hj.parse_stimulus("zigzag:1,2")
    with pytest.raises(ValueError, match="must be numbers"):
        hj.parse_stimulus("const:ten")
    with pytest.raises(ValueError, match="takes I_off,I_on,t_on"):
        hj.parse_stimulus("step:1")
    with pytest.raises(TypeError, match="model must be a hhjax neuron model"):
        hj.simulate("hh", 10.0, t1=5.0, dt=0.01)
    with pytest.raises(ValueError, match="unknown dtype|dtype must be"):
        hj.simulate(HH, 10.0, t1=5.0, dt=0.01, solver="euler", dtype="float16")
    with pytest.raises(ValueError, match="unknown s-LIF2HH rule"):
        hj.SLIF2HH(rule="sometimes")
    with pytest.raises(ValueError, match="unknown tv-LIF2HH form"):
        hj.tvlif2hh(HH, form="wires")


def test_fixed_step_solver_needs_dt_and_rk4_is_not_adaptive():
    with pytest.raises(ValueError, match="uses fixed steps: pass dt"):
        hj.simulate(HH, 10.0, t1=5.0, solver="euler")
    with pytest.raises(ValueError, match="cannot be used adaptively"):
        hj.simulate(HH, 10.0, t1=5.0, solver="rk4", adaptive=True)


def test_adaptive_step_limit():
    with pytest.raises(hj.SimulationError, match=r"step limit \(max_steps = 50\)"):
        hj.simulate(HH, 10.0, t1=200.0, solver="tsit5", max_steps=50)


def test_adaptive_step_limit_inside_jit_raises_at_run_time():
    f = jax.jit(lambda I: hj.simulate(HH, hj.Constant(I), t1=200.0, solver="tsit5", max_steps=50).spike_counts)
    with pytest.raises(Exception, match="maximum number of solver steps"):
        jax.block_until_ready(f(10.0))


def test_unstable_step_is_reported():
    with pytest.raises(hj.SimulationError, match="unstable for solver 'euler'"):
        hj.simulate(HH, 10.0, t1=50.0, dt=0.5, solver="euler")


def test_spike_buffer_overflow():
    with pytest.raises(hj.SimulationError, match="more than max_spikes = 3"):
        hj.simulate(HH, 10.0, t1=100.0, dt=0.05, solver="rk4", max_spikes=3)


def test_expeuler_needs_decay_rates():
    class NoDecay(hj.AbstractNeuron):
        def dynamics(self, t, y, current):
            return -y + current

        def initial_state(self):
            return jnp.zeros(())

        def voltage(self, y):
            return y

    with pytest.raises(ValueError, match="does not define decay_rates"):
        hj.simulate(NoDecay(), 1.0, t1=1.0, dt=0.1, solver="expeuler")


def test_float64_without_x64_is_a_clear_error():
    code = ("import hhjax as hj\n"
            "try:\n    hj.simulate(hj.HodgkinHuxley(), 1.0, t1=1.0, dt=0.1, solver='euler', dtype='float64')\n"
            "except ValueError as e:\n    print('OK', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "OK float64 needs 64-bit JAX" in out.stdout, out.stderr
