"""Shared exponentials (`hhjax.backends.shared_exponentials`): the same rates, fewer `exp`s."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax.backends import CPU_TUNING, shared_exponent_plan, split_scalars, tuned_model, with_scalars
from hhjax.synaptic.fixed_step import simulate_steps
from hhjax.synaptic.run import make_plan
from hhjax.synaptic.standard import cobahh


def test_shared_exponent_plan_of_the_classic_rates():
    hh = hj.HodgkinHuxley()
    plan = tuned_model(hh, CPU_TUNING).plan
    bases = {b for b, _, _ in plan}
    assert len(bases) == 2  # k = 80 (serving 20 and 10) and k = 18
    names = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")
    by_name = dict(zip(names, plan))
    assert by_name["alpha_h"][1] == 4 and by_name["alpha_m"][1] == 8
    # Traub–Miles: k = 40 serves 4, 5 and −5 (β_m by a reciprocal power), k = 18 its own
    tm = dict(zip(names, tuned_model(hj.traub_miles(), CPU_TUNING).plan))
    assert {b for b, _, _ in tm.values()} == {2, 5}
    assert tm["beta_m"][:2] == (5, -8) and tm["alpha_m"][1] == 10 and tm["beta_h"][1] == 8
    # traced slopes (e.g. fitted) get no plan
    plans = []
    jax.jit(lambda k: plans.append(shared_exponent_plan([hj.models.rates.Exponential(1.0, 0.0, k)])) or k)(3.0)
    assert plans == [None]


@pytest.mark.parametrize("model", [hj.HodgkinHuxley(), hj.HodgkinHuxley.shifted(), hj.traub_miles()],
                         ids=["standard", "shifted", "traub-miles"])
def test_shared_rates_equal_direct_rates(model):
    fast = tuned_model(model, CPU_TUNING)
    assert fast.plan is not None
    shift = float(model.V_rest) + 65.0
    V = jnp.concatenate([jnp.linspace(-150.0, 100.0, 20_001) + shift,
                         jnp.asarray([-40.0, -55.0, -40.0 + 1e-9, -55.0 - 1e-7, -39.9, -55.1]) + shift])
    slow, quick = model.gate_rates(V), fast.gate_rates(V)
    for gate in slow:
        for a, b in zip(slow[gate], quick[gate]):
            np.testing.assert_allclose(b, a, rtol=2e-13, atol=0)
    V32 = V.astype(jnp.float32)
    quick32 = hj.cast_floats(fast, jnp.float32).gate_rates(V32)
    for gate in slow:
        for a, b in zip(slow[gate], quick32[gate]):
            np.testing.assert_allclose(np.asarray(b, np.float64), a, rtol=2e-5)


def test_shared_rates_have_finite_correct_gradients_at_the_removable_points():
    fast = tuned_model(hj.HodgkinHuxley(), CPU_TUNING)
    for V, name in ((-40.0, "m"), (-55.0, "n")):
        g = jax.grad(lambda v, name=name: fast.gate_rates(v)[name][0])(V)
        direct = jax.grad(lambda v, name=name: hj.HodgkinHuxley().gate_rates(v)[name][0])(V)
        assert np.isfinite(g)
        assert g == pytest.approx(float(direct), rel=1e-10)


@pytest.mark.parametrize("dtype, tol", [("float64", 5e-5), ("float32", 2e-4)])
def test_shared_rates_keep_rk4_on_the_reference(hh_reference, dtype, tol):
    """RK4 at dt = 0.025 ms (shared exponentials, fixed-grid driver) against the SciPy Radau
    spike times, in float64 and float32."""
    protos = [p for p in hh_reference["protocols"] if p["kind"] == "const" and p["n_spikes"] > 0]
    stim = hj.Constant(jnp.asarray([p["params"]["I"] for p in protos]))
    y0 = hj.HodgkinHuxley().initial_state(jnp.full((len(protos),), -65.0))
    sim = hj.simulate(hj.HodgkinHuxley(), stim, t1=200.0, solver="rk4", dt=0.025, dtype=dtype, y0=y0)
    for got, p in zip(sim.spike_list(), protos):
        assert len(got) == p["n_spikes"]
        assert np.max(np.abs(np.asarray(got) - p["spike_times_ms"])) < tol


@pytest.mark.parametrize("name", ["hodgkin-huxley", "traub-miles", pytest.param("wang-buzsaki", marks=pytest.mark.slow),
                                  pytest.param("connor-stevens", marks=pytest.mark.slow)])
def test_library_models_share_exponentials_without_changing_their_rates(name):
    """A channel model's α/β rates with shared exponentials (`tuned_model`) equal the direct
    ones to 1e-13 relative over −100…50 mV (float64), and a solve gives the same spikes."""
    model = hj.library_model(name)
    fast = tuned_model(model, CPU_TUNING)
    assert fast.plan is not None and len({b for b, _, _ in fast.plan}) < len(fast.plan)
    V = jnp.linspace(-100.0, 50.0, 3001)
    direct, shared = jax.vmap(model.rate_values)(V), jax.vmap(fast.rate_values)(V)
    for a, b in zip(jax.tree.leaves(direct), jax.tree.leaves(shared)):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=0)
    stim = hj.Constant(jnp.asarray([5.0, 15.0, 30.0]))
    runs = [hj.simulate(model, stim, t1=100.0, solver="rk4", dt=0.01, dtype="float64", tuning=t)
            for t in (CPU_TUNING, CPU_TUNING.replace(shared_exponentials=False))]
    np.testing.assert_array_equal(runs[0].spike_counts, runs[1].spike_counts)
    np.testing.assert_allclose(runs[0].spike_times, runs[1].spike_times, rtol=0, atol=1e-9)


def test_a_network_step_evaluates_each_rate_once():
    """Exponential Euler needs the vector field and the decay rates at the same V; XLA must
    merge the two evaluations of the shared-exponential rates (an optimization barrier
    once kept them apart: every linoid divided twice). Per Traub–Miles neuron and step:
    2 shared exponentials + 4 for the step factors of V, m, h, n; 5 divisions in the rates
    (3 linoids, 1 sigmoid, 1 reciprocal power), 4 in the step factors, 1 placing the spike."""
    n = 100
    net, state = cobahh(n, dtype="float32")
    tuning = CPU_TUNING.replace(network_paired_from_neurons=None)
    plan = make_plan(net, 0.1, 0.0, tuning=tuning)
    carry = plan.initial_carry(state, {"neurons": 10})
    dynamic, scalars = split_scalars(plan, tuning)
    hlo = jax.jit(lambda p, c: simulate_steps(with_scalars(p, scalars), c, 1, 3)).lower(dynamic, carry).compile()
    ops = re.findall(rf"= f32\[{n}\]\{{0\}} (exponential|divide)\(", hlo.as_text())
    assert ops.count("exponential") == 6 and ops.count("divide") == 10
