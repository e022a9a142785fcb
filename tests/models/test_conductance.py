"""`ConductanceNeuron`, its gates and channels, and its tv-LIF decomposition."""

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax.models.conductance import Boltzmann, SteadyStateGate
from hhjax.models.rates import Exponential, Linoid


def test_hh_from_channels_equals_the_hand_written_hh():
    """The squid HH built from channels gives HodgkinHuxley's trace to rounding (RK4, fixed
    grid) and its spike times (adaptive), from the same state (gates at x∞(−65 mV))."""
    hh, ch = hj.HodgkinHuxley(), hj.library_model("hodgkin-huxley")
    y0 = ch.steady_state(jnp.asarray(-65.0))
    stim = hj.Sine(8.0, 6.0, 23.0)
    a = hj.simulate(hh, stim, t1=80.0, solver="rk4", dt=0.01, dtype="float64", save_every="step")
    b = hj.simulate(ch, stim, t1=80.0, solver="rk4", dt=0.01, dtype="float64", save_every="step", y0=y0)
    np.testing.assert_allclose(b.V, a.V, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.ys.gates["k.n"], a.ys.n, rtol=0, atol=1e-12)
    sa = hj.simulate(hh, stim, t1=80.0, dtype="float64", rtol=1e-10, atol=1e-10)
    sb = hj.simulate(ch, stim, t1=80.0, dtype="float64", rtol=1e-10, atol=1e-10, y0=y0)
    assert sa.spike_list() and len(sa.spike_list()) == len(sb.spike_list())
    np.testing.assert_allclose(sb.spike_list(), sa.spike_list(), rtol=0, atol=1e-6)


# two library models in the default suite (the squid axon and Traub–Miles), every one in the slow step
@pytest.mark.parametrize("name", [n if n in ("hodgkin-huxley", "traub-miles") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in hj.LIBRARY])
def test_tvlif_decomposition_equals_its_model(name):
    """`tvlif_decompose(model)` — gate units and a membrane unit, simulating its own gates —
    gives the model's spike times within 1e-6 ms (adaptive float64) on a random stimulus
    (seeded), and the same trace to rounding on a fixed step."""
    model = hj.library_model(name)
    net = hj.tvlif_decompose(model)
    # crc32, not hash(): str hashes change with every process (PYTHONHASHSEED)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    # the squid axon fires repetitively only above about 6 µA/cm², and the sine dips below that at 8
    scale = {"morris-lecar": 150.0, "connor-stevens": 20.0, "hodgkin-huxley": 11.0}.get(name, 8.0)
    stim = hj.Sum((hj.Constant(scale * rng.uniform(0.8, 1.2)),
                   hj.Sine(0.0, scale * rng.uniform(0.2, 0.5), rng.uniform(15.0, 40.0))))
    a = hj.simulate(model, stim, t1=150.0, dtype="float64", rtol=1e-11, atol=1e-11)
    b = hj.simulate(net, stim, t1=150.0, dtype="float64", rtol=1e-11, atol=1e-11)
    assert len(a.spike_list()) >= 2 and len(a.spike_list()) == len(b.spike_list())
    np.testing.assert_allclose(b.spike_list(), a.spike_list(), rtol=0, atol=1e-6)
    fa = hj.simulate(model, stim, t1=60.0, solver="rk4", dt=0.01, dtype="float64", save_every="step")
    fb = hj.simulate(net, stim, t1=60.0, solver="rk4", dt=0.01, dtype="float64", save_every="step")
    np.testing.assert_allclose(fb.V, fa.V, rtol=1e-10, atol=1e-9)


def test_decomposition_reports_its_units():
    wb = hj.tvlif_decompose(hj.library_model("wang-buzsaki"))
    kinds = {u["name"]: u["kind"] for u in wb.units()}
    assert kinds == {"na.h": "gate tv-LIF", "k.n": "gate tv-LIF", "na.m": "algebraic gate (instantaneous)",
                     "V": "membrane tv-LIF"}


def test_wang_buzsaki_fires_near_60_hz_at_one_microamp():
    """Wang & Buzsáki (1996): about 60 Hz at 1 µA/cm² (steady rate over the last 400 ms)."""
    sim = hj.simulate(hj.library_model("wang-buzsaki"), 1.0, t1=600.0, dtype="float64")
    spikes = np.asarray(sim.spike_list())
    rate = 1000.0 / np.mean(np.diff(spikes[spikes > 200.0]))
    assert 50.0 < rate < 70.0, rate


def test_every_library_model_starts_at_rest():
    """With no input and y0 left out each model sits at its resting steady state: the
    derivative of every state variable vanishes there. Traub–Miles with its published leak
    (E_L −60 mV, ḡ_L 0.05) has no equilibrium — its steady-state current is inward from −80
    to −40 mV, so it fires without input — and starts from x∞(V_rest) instead."""
    for name in hj.LIBRARY:
        model = hj.library_model(name)
        y = model.initial_state()
        if name == "traub-miles":
            V = jnp.linspace(-80.0, -40.0, 81)
            assert float(jnp.max(jax.vmap(lambda v: model.ionic_current(model.steady_state(v)))(V))) < 0
            assert float(y.V) == float(model.V_rest)
            assert hj.simulate(model, None, t1=300.0, dtype="float64").spike_counts > 0
            continue
        d = model.vector_field(0.0, y, 0.0)
        for leaf in jax.tree.leaves(d):
            assert abs(float(leaf)) < 1e-9, name


def test_populations_of_a_library_model_with_per_neuron_parameters():
    model = hj.library_model("traub-miles", g_K=jnp.asarray([20.0, 30.0, 40.0]))
    sim = hj.simulate(model, 5.0, t1=100.0, solver="rk4", dt=0.01, dtype="float64")
    counts = np.asarray(sim.spike_counts)
    assert counts.shape == (3,) and counts[0] > counts[2] > 0


def test_q10_scales_the_gate_rates():
    """At T = T_ref + 10 °C with q10 = 3, every gate relaxes three times faster."""
    gate = SteadyStateGate(Boltzmann(-35.0, 10.0), lambda V: 50.0 + 0 * V, 1)
    ch = hj.Channel(1.0, -90.0, {"p": gate}, q10=3.0, reference_celsius=20.0)
    warm = hj.ConductanceNeuron({"p": ch, "leak": hj.Channel(0.1, -70.0)}, 1.0, celsius=30.0)
    cold = hj.ConductanceNeuron({"p": ch, "leak": hj.Channel(0.1, -70.0)}, 1.0)
    y = warm.steady_state(-60.0)
    y = hj.ConductanceState(V=y.V, gates={"p.p": y.gates["p.p"] + 0.1})
    ratio = warm.vector_field(0.0, y, 0.0).gates["p.p"] / cold.vector_field(0.0, y, 0.0).gates["p.p"]
    assert float(ratio) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("build, message", [
    (lambda: hj.library_model("hodgkin-huxleyy"), "unknown conductance model"),
    (lambda: hj.library_model("wang-buzsaki", g_Na=-1.0), "non-negative"),
    (lambda: hj.library_model("wang-buzsaki", gNa=3.0), "unexpected keyword"),
    (lambda: hj.RateGate(Linoid(0.1, -40.0, 10.0), Exponential(4.0, -65.0, 18.0), 2.5), "positive integer"),
    (lambda: hj.RateGate(Linoid(0.1, -40.0, 10.0), Exponential(4.0, -65.0, 18.0), 0), "positive integer"),
    (lambda: hj.Channel(1.0, 50.0, {"m": "sigmoid"}), "no rate form"),
    (lambda: hj.ConductanceNeuron({"leak": hj.Channel(0.1, -65.0)}), "membrane capacitance"),
    (lambda: hj.ConductanceNeuron({"leak": hj.Channel(0.1, -65.0)}, 0.0), "positive"),
    (lambda: hj.ConductanceNeuron({}, 1.0), "at least one channel"),
    (lambda: hj.tvlif_decompose(hj.HodgkinHuxley()), "ConductanceNeuron"),
], ids=["unknown-model", "negative-g", "unknown-parameter", "fractional-power", "zero-power", "no-rate-form",
        "no-capacitance", "zero-capacitance", "no-channels", "decompose-non-conductance"])
def test_bad_models_are_named_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_gate_rates_have_finite_gradients_at_their_removable_points():
    """Wang–Buzsáki's α_m and α_n have a 0/0 at −35 and −34 mV: finite values and gradients
    in float32 and float64 there (through the instantaneous m∞ too)."""
    model = hj.library_model("wang-buzsaki")
    for dtype in (jnp.float32, jnp.float64):
        for V in (-35.0, -34.0):
            def current(v):
                return model.ionic_current(model.steady_state(v))

            v = jnp.asarray(V, dtype)
            value, grad = jax.value_and_grad(current)(v)
            assert np.isfinite(float(value)) and np.isfinite(float(grad))
            h = 1e-3 if dtype == jnp.float64 else 1e-1
            fd = (current(v + h) - current(v - h)) / (2 * h)
            assert float(grad) == pytest.approx(float(fd), rel=1e-3 if dtype == jnp.float64 else 2e-2)


@pytest.mark.parametrize("solver, kw", [("expeuler", dict(dt=0.005)), ("implicit_euler", dict(dt=0.005)),
                                        ("kvaerno5", dict()), ("rk4", dict(dt=0.01)), ("dopri8", dict())],
                         ids=["expeuler", "implicit-euler", "kvaerno5", "rk4", "dopri8"])
def test_a_channel_model_runs_on_every_kind_of_solver(solver, kw):
    """Wang–Buzsáki on explicit, exponential and implicit solvers (fixed-step, adaptive and
    diffrax paths): the spike count of a tight Tsit5 reference, and its interspike interval
    within 2 % for the first-order methods at 0.005 ms, 0.1 % for the others."""
    model = hj.library_model("wang-buzsaki")
    ref = hj.simulate(model, 2.0, t1=60.0, dtype="float64", rtol=1e-10, atol=1e-10).spike_list()
    got = hj.simulate(model, 2.0, t1=60.0, dtype="float64", solver=solver, **kw).spike_list()
    assert len(got) == len(ref) >= 3
    first_order = solver in ("expeuler", "implicit_euler")
    np.testing.assert_allclose(np.diff(got), np.diff(ref), rtol=2e-2 if first_order else 1e-3)


def test_the_compiler_applied_to_hh_is_tvlif2hh():
    """`tvlif_decompose` of the squid HH built from channels gives tv-LIF2HH's gate form's
    trace to rounding (RK4, the same start); `tvlif2hh` takes a channel model too."""
    ch = hj.library_model("hodgkin-huxley")
    net = hj.tvlif2hh(ch, form="gates")
    assert isinstance(net, hj.TVLIFNetwork)
    y0 = ch.steady_state(jnp.asarray(-65.0))
    stim = hj.Step(0.0, 12.0, 5.0)
    a = hj.simulate(hj.tvlif2hh(hj.HodgkinHuxley(), form="gates"), stim, t1=50.0, solver="rk4", dt=0.01,
                    dtype="float64", save_every="step")
    b = hj.simulate(net, stim, t1=50.0, solver="rk4", dt=0.01, dtype="float64", save_every="step", y0=y0)
    assert int(a.spike_counts) >= 2
    np.testing.assert_allclose(b.V, a.V, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="gate form only"):
        hj.tvlif2hh(ch)
