"""Benchmark-suite machinery: operation counts, shared exponentials, the fixed-grid driver,
sharded populations, the suite itself and the peers (when installed)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax import costs
from hhjax.backends import CPU_TUNING, shared_exponent_plan, tuned_model

from conftest import ROOT

# --- the paper's FLOP rule (spec §4.5) ------------------------------------------------


@pytest.mark.parametrize("neuron, mul, add", [
    ("lif", 10_001_920, 9_994_190),
    ("hh", 10_155_520, 10_094_030),
    ("slif2hh", 30_077_440, 30_046_670),
    ("4lif", 40_007_680, 39_976_910),
])
def test_paper_fc_flops_match_the_spec_table(neuron, mul, add):
    c = costs.paper_fc_flops(neuron)
    assert (c.mul, c.add) == (mul, add)


def test_paper_fc_flops_rejects_unknown_neuron():
    with pytest.raises(ValueError, match="unknown neuron 'izhikevich'"):
        costs.paper_fc_flops("izhikevich")


def test_compiled_step_counts_exponentials():
    n = 256
    hh = hj.HodgkinHuxley()
    y = hh.initial_state(jnp.full((n,), -65.0))
    I = jnp.linspace(0.0, 20.0, n)
    shared = costs.compiled_step_ops(hh, y, I)
    assert shared["transcendentals"] == pytest.approx(2.0, abs=0.05)  # two exponentials serve six rates
    # a slope that is not a concrete scalar (per neuron) keeps the direct six
    per_neuron = hj.HodgkinHuxley(beta_n=hj.models.rates.Exponential(0.125, -65.0, jnp.full((n,), 80.0)))
    direct = costs.compiled_step_ops(per_neuron, y, I)
    assert direct["transcendentals"] == pytest.approx(6.0, abs=0.05)
    lif = hj.LIF()
    ly = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,)), lif.initial_state())
    lif_ops = costs.compiled_step_ops(lif, ly, I)
    assert lif_ops["transcendentals"] == 0
    assert 0 < lif_ops["flops"] < shared["flops"]


# --- shared exponentials --------------------------------------------------------------


def test_shared_exponent_plan_of_the_classic_rates():
    hh = hj.HodgkinHuxley()
    plan = tuned_model(hh, CPU_TUNING).plan
    bases = {b for b, _, _ in plan}
    assert len(bases) == 2  # k = 80 (serving 20 and 10) and k = 18
    names = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")
    by_name = dict(zip(names, plan))
    assert by_name["alpha_h"][1] == 4 and by_name["alpha_m"][1] == 8
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


# --- the fixed-grid driver is the diffrax solve ---------------------------------------


@pytest.fixture(params=["spike by spike", "in blocks", "in blocks, paired steps"])
def forward_loop(request):
    """A `Tuning` that runs a test with each of the forward loops: small populations record
    spike by spike, large ones step in blocks, the largest two steps per iteration; the
    blocked variants lower the size limits so that every population takes them."""
    blocked = 1 if request.param != "spike by spike" else 10**12
    paired = 1 if request.param.endswith("paired steps") else None
    return hj.tuning_for().replace(blocked_from_neurons=blocked, paired_from_neurons=paired)


@pytest.mark.parametrize("model, stim, solver, dt", [
    (hj.HodgkinHuxley(), hj.Step(0.0, 10.0, 5.0), "euler", 0.01),
    (hj.HodgkinHuxley(), hj.Sine(5.0, 8.0, 20.0), "rk4", 0.025),
    (hj.LIF(), hj.Constant(jnp.asarray([1.6, 2.5, 3.9])), "euler", 0.01),
    # a 2-D population whose neurons fire on different steps, some on the same step
    (hj.HodgkinHuxley(), hj.Constant(jnp.asarray([[0.0, 7.0, 7.0], [12.0, 20.0, 40.0]])), "euler", 0.01),
    # a LIF that fires every few steps (no refractory period), next to a silent one
    (hj.LIF(t_ref=0.0), hj.Constant(jnp.asarray([50.0, 0.0])), "heun", 0.05),
    # RK4's dense output on a population that locates its crossings in batches
    (hj.HodgkinHuxley(), hj.Constant(jnp.concatenate([jnp.full(1_000, 10.0), jnp.linspace(0.0, 30.0, 50)])),
     "rk4", 0.025),
], ids=["hh-euler", "hh-rk4", "lif-euler", "hh-2d-euler", "lif-fast-heun", "hh-rk4-batches"])
def test_fixed_grid_driver_equals_diffeqsolve(model, stim, solver, dt, forward_loop):
    """Spikes only uses hhjax's own loop over the diffrax solver's steps (either forward
    loop); `progress=True` goes through `diffrax.diffeqsolve`. Same steps, same answer.
    (In blocks, the fast-firing LIF crosses twice within most blocks: every such block is
    redone at half the length.)"""
    grid = hj.simulate(model, stim, t1=60.0, solver=solver, dt=dt, tuning=forward_loop, path="fixed_step")
    via_diffrax = hj.simulate(model, stim, t1=60.0, solver=solver, dt=dt, progress=True)
    np.testing.assert_array_equal(grid.spike_counts, via_diffrax.spike_counts)
    np.testing.assert_allclose(grid.spike_times, via_diffrax.spike_times, rtol=0, atol=1e-11)
    for a, b in zip(jax.tree.leaves(grid.y_final), jax.tree.leaves(via_diffrax.y_final)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert int(grid.stats["num_steps"]) == int(via_diffrax.stats["num_steps"])


@pytest.mark.parametrize("model, stim, solver, dt, save_every", [
    (hj.HodgkinHuxley(), hj.Step(0.0, 10.0, 5.0), "euler", 0.01, 0.1),
    (hj.HodgkinHuxley(), hj.Sine(5.0, 8.0, 20.0), "rk4", 0.025, 0.5),
    # resets; a last sample before t1 (60 ms is not a multiple of 0.7 ms)
    (hj.LIF(), hj.Constant(jnp.asarray([1.6, 2.5, 3.9])), "euler", 0.01, 0.7),
    # pulse edges split grid steps (at 5, 7, 20, 22, ... ms), and samples fall on them
    (hj.HodgkinHuxley(), hj.PulseTrain(15.0, 2.0, 15.0, start=5.0), "euler", 0.01, 0.5),
], ids=["hh-euler", "hh-rk4", "lif-euler", "hh-pulses-euler"])
def test_saving_on_the_grid_equals_diffeqsolve(model, stim, solver, dt, save_every, forward_loop):
    """Samples every `save_every` ms that fall on the fixed grid are kept by hhjax's own
    forward loop (from one sample to the next); `progress=True` saves them with
    `diffrax.diffeqsolve` (interpolating at the same times). Same samples, same spikes."""
    own = hj.simulate(model, stim, t1=60.0, solver=solver, dt=dt, save_every=save_every, tuning=forward_loop,
                      path="fixed_step")
    assert hj.execution_path(model, stim, t1=60.0, solver=solver, dt=dt, save_every=save_every) == "fixed_step"
    via_diffrax = hj.simulate(model, stim, t1=60.0, solver=solver, dt=dt, save_every=save_every, progress=True)
    n_samples = int(np.floor(60.0 / save_every + 1e-9)) + 1
    assert own.V.shape[0] == n_samples
    np.testing.assert_allclose(own.V[0], np.broadcast_to(model.voltage(model.initial_state()), own.V[0].shape),
                               rtol=0, atol=1e-6)
    np.testing.assert_array_equal(own.ts, via_diffrax.ts)
    np.testing.assert_allclose(own.V, via_diffrax.V, rtol=0, atol=1e-9)
    for a, b in zip(jax.tree.leaves(own.ys), jax.tree.leaves(via_diffrax.ys)):
        # (LIF's t_free is −inf before a first spike: the sample is the state itself,
        # diffrax's interpolation of −inf gives NaN)
        known = np.isfinite(b)
        np.testing.assert_allclose(np.asarray(a)[known], np.asarray(b)[known], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(own.spike_counts, via_diffrax.spike_counts)
    assert int(own.spike_counts.sum()) > 0
    np.testing.assert_allclose(own.spike_times, via_diffrax.spike_times, rtol=0, atol=1e-11)
    for a, b in zip(jax.tree.leaves(own.y_final), jax.tree.leaves(via_diffrax.y_final)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def testsave_steps_on_grid():
    """Which samples the own loop keeps: the grid index of each save time, or None when
    one falls between grid points."""
    from hhjax.integrate.grid import fixed_step_grid, save_steps_on_grid
    np.testing.assert_array_equal(save_steps_on_grid(0.0, 10.0, 1000, None, np.arange(0.0, 10.01, 0.5)),
                                  np.arange(0, 1001, 50))
    assert save_steps_on_grid(0.0, 10.0, 1000, None, np.asarray([0.0, 0.015])) is None
    # a jump at 2.5 ms splits grid point 250 into two points just before and after it
    table = np.asarray(fixed_step_grid(0.0, 10.0, 0.01, np.asarray([2.5]), np.dtype("float64")))
    assert len(table) == 1002
    k = save_steps_on_grid(0.0, 10.0, 1000, table, np.asarray([0.0, 2.0, 2.5, 3.0, 10.0]))
    assert list(k[[0, 1, 3, 4]]) == [0, 200, 301, 1001] and k[2] in (250, 251)
    np.testing.assert_allclose(table[k], [0.0, 2.0, 2.5, 3.0, 10.0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("model, stim, solver, kw", [
    (hj.HodgkinHuxley(), hj.Constant(jnp.linspace(0.0, 20.0, 6)), "tsit5", {}),
    # jumps: the controller steps onto each pulse edge (made_jump → Tsit5 recomputes f0)
    (hj.HodgkinHuxley(), hj.PulseTrain(10.0, 2.0, 15.0), "dopri5", dict(dt=0.05)),
    # resets at sub-step crossings, a refractory period, steps rejected around them
    (hj.LIF(), hj.Constant(jnp.asarray([5.0, 20.0, 50.0])), "tsit5", {}),
    (hj.tvlif2hh(), hj.Sine(5.0, 8.0, 20.0), "bosh3", dict(rtol=1e-5, atol=1e-7)),
    (hj.HodgkinHuxley(), hj.Constant(10.0), "tsit5", dict(dtype="float32", rtol=1e-5, atol=1e-6)),
    # a population that locates its crossings in batches (`_LOCATE_BATCH` neurons each),
    # 1,000 identical neurons crossing on the same steps (16 batches on one step)
    (hj.HodgkinHuxley(), hj.Constant(jnp.concatenate([jnp.full(1_000, 10.0), jnp.linspace(0.0, 30.0, 50)])),
     "tsit5", {}),
], ids=["hh-tsit5", "hh-pulses-dopri5", "lif-tsit5", "tvlif2hh-bosh3", "hh-tsit5-float32", "hh-tsit5-batches"])
def test_adaptive_loop_equals_diffeqsolve(model, stim, solver, kw):
    """An adaptive spikes-only call runs hhjax's own loop (`adaptive_steps`);
    `progress=True` goes through `diffrax.diffeqsolve`. The same accepted and rejected
    steps, the same spikes (located on the solver's dense output) and final state."""
    own = hj.simulate(model, stim, t1=80.0, solver=solver, path="adaptive", **kw)
    via_diffrax = hj.simulate(model, stim, t1=80.0, solver=solver, path="diffrax", **kw)
    for key in ("num_steps", "num_accepted_steps", "num_rejected_steps"):
        assert int(own.stats[key]) == int(via_diffrax.stats[key]), key
    assert int(own.stats["num_rejected_steps"]) > 0  # the comparison covers rejections
    assert int(own.spike_counts.sum()) > 0
    np.testing.assert_array_equal(own.spike_counts, via_diffrax.spike_counts)
    tol = 1e-11 if own.spike_times.dtype == jnp.float64 else 1e-4
    np.testing.assert_allclose(own.spike_times, via_diffrax.spike_times, rtol=0, atol=tol)
    for a, b in zip(jax.tree.leaves(own.y_final), jax.tree.leaves(via_diffrax.y_final)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("model, stim, kw", [
    (hj.HodgkinHuxley(), hj.Constant(jnp.linspace(2.0, 30.0, 7)), dict(save_every=0.1)),
    # jumps (pulse edges) the controller steps onto; samples on the edges
    (hj.HodgkinHuxley(), hj.PulseTrain(15.0, 2.0, 15.0, start=5.0), dict(solver="dopri5", save_every=0.5)),
    # resets: samples from the reset-aware (linear) dense output; a last sample before t1
    (hj.LIF(), hj.Constant(jnp.asarray([5.0, 20.0, 50.0])), dict(save_every=0.7)),
    (hj.HodgkinHuxley(), hj.Constant(10.0), dict(dtype="float32", rtol=1e-5, atol=1e-6, save_every=0.3)),
], ids=["hh-tsit5", "hh-pulses-dopri5", "lif-tsit5", "hh-tsit5-float32"])
def test_adaptive_saving_equals_diffeqsolve(model, stim, kw):
    """Samples every `save_every` ms in an adaptive call come from hhjax's own loop (the
    dense output of the accepted step holding each); `progress=True` saves them with
    `diffrax.diffeqsolve`. The same steps, samples, spikes."""
    own = hj.simulate(model, stim, t1=60.0, path="adaptive", **kw)
    assert hj.execution_path(model, stim, t1=60.0, **kw) == "adaptive"
    via_diffrax = hj.simulate(model, stim, t1=60.0, progress=True, **kw)
    assert own.V.shape[0] == int(np.floor(60.0 / kw["save_every"] + 1e-9)) + 1
    # the first sample is the initial state itself (an independent check: with XLA's
    # `xla_cpu_copy_insertion_use_region_analysis`, jaxlib 0.10.2 miscompiled both paths
    # alike here, and the LIF's first sample read a later state)
    np.testing.assert_allclose(own.V[0], np.broadcast_to(model.voltage(model.initial_state()), own.V[0].shape),
                               rtol=0, atol=1e-6)
    np.testing.assert_array_equal(own.ts, via_diffrax.ts)
    for key in ("num_steps", "num_accepted_steps", "num_rejected_steps"):
        assert int(own.stats[key]) == int(via_diffrax.stats[key]), key
    tol = 1e-11 if own.V.dtype == jnp.float64 else 1e-4
    for a, b in zip(jax.tree.leaves(own.ys), jax.tree.leaves(via_diffrax.ys)):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))  # (LIF's t_free before a spike)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert not np.any(np.isnan(own.V))
    np.testing.assert_array_equal(own.spike_counts, via_diffrax.spike_counts)
    np.testing.assert_allclose(own.spike_times, via_diffrax.spike_times, rtol=0, atol=tol)


def test_rms_norm_of_all_is_the_rms_of_every_element():
    """The adaptive controllers' norm: the RMS of all leaves as one vector (diffrax's default
    `rms_norm`, here summed as one array), against NumPy."""
    from hhjax.integrate.loops.adaptive import rms_norm_of_all
    rng = np.random.default_rng(0)
    tree = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=7), "c": np.float64(2.5)}
    flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])
    np.testing.assert_allclose(rms_norm_of_all(jax.tree.map(jnp.asarray, tree)), np.sqrt(np.mean(flat**2)), rtol=1e-12)
    assert float(rms_norm_of_all(jnp.zeros(5))) == 0.0


def test_compile_options_fall_back_where_unknown():
    """`JitWithOptions`: an option this jaxlib does not know gives the plain compilation
    (the same result, remembered); an error of the function itself still surfaces."""
    from hhjax.backends.compiled import JitWithOptions
    f = JitWithOptions(lambda x: 2 * x + 1, {"xla_no_such_option_in_any_jaxlib": True})
    np.testing.assert_array_equal(f(jnp.arange(3.0)), [1.0, 3.0, 5.0])
    assert f.tuned is None
    bad = JitWithOptions(lambda x: x @ jnp.ones((4, 2)), {"xla_no_such_option_in_any_jaxlib": True})
    with pytest.raises(TypeError, match="dot_general"):
        bad(jnp.ones((3, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_large_population_in_blocks_records_every_spike(dtype):
    """1,200 HH neurons (the blocked loop) at 0–150 µA/cm², the strongest firing every few
    ms, several together on one step, against `diffrax.diffeqsolve`; and the same run with
    the population cut into pieces small enough to record spike by spike."""
    stim = hj.Constant(jnp.linspace(0.0, 150.0, 1200))
    kw = dict(t1=40.0, solver="euler", dt=0.01, dtype=dtype, max_spikes=16)
    blocked = hj.simulate(hj.HodgkinHuxley(), stim, **kw)
    via_diffrax = hj.simulate(hj.HodgkinHuxley(), stim, progress=True, **kw)
    pieces = [hj.simulate(hj.HodgkinHuxley(), hj.Constant(stim.current[i:i + 400]), **kw) for i in (0, 400, 800)]
    counts = np.asarray(blocked.spike_counts)
    assert counts.max() >= 5 and (counts == 0).sum() > 0
    first_steps = np.floor(np.asarray(blocked.spike_times)[counts > 0, 0] / 0.01)
    assert len(np.unique(first_steps)) < len(first_steps)  # some neurons cross on the same step
    # diffeqsolve forms the step times its own way: in float32 the near-threshold neurons'
    # crossings move by up to ~5e-4 ms (float32's own error against float64 is ~8e-4 here)
    for other_counts, other_times, f32_tol in [
        (via_diffrax.spike_counts, via_diffrax.spike_times, 2e-3),
        (np.concatenate([p.spike_counts for p in pieces]), np.concatenate([p.spike_times for p in pieces]), 1e-5),
    ]:
        np.testing.assert_array_equal(counts, other_counts)
        np.testing.assert_array_equal(np.isnan(blocked.spike_times), np.isnan(other_times))
        np.testing.assert_allclose(blocked.spike_times, other_times, rtol=0, atol=f32_tol if dtype == "float32" else 1e-11)


@pytest.mark.parametrize("model, top_current", [(hj.SLIF2HH(), 40.0), (hj.SLIF2HH.pytorch(w1=0.5, w2=0.3, w3=0.9), 40.0),
                                                (hj.SLIF2HH.matlab(0.1, reset=-5.0), 400.0)],
                         ids=["joint", "per_neuron", "joint_dt0.1"])
def test_a_large_discrete_population_records_in_blocks_every_spike(model, top_current):
    """1,200 s-LIF2HH units record once per 32-step block (bit-packed spikes, one scatter
    per spike of the busiest unit): the same spike times as the population cut into pieces
    that keep their voltage trace, which records every step — over two blocks and a partial
    one, with units firing on most steps (many passes per block) and units that never fire."""
    stim = hj.Constant(jnp.linspace(0.0, top_current, 1200))
    kw = dict(t1=75 * model.dt, dtype="float64", max_spikes=80)
    blocked = hj.simulate(model, stim, **kw)
    pieces = [hj.simulate(model, hj.Constant(stim.current[i:i + 400]), save_every=model.dt, **kw)
              for i in (0, 400, 800)]
    assert all(p.V is not None for p in pieces)  # the per-step recording path
    counts = np.asarray(blocked.spike_counts)
    assert (counts == 0).sum() > 0 and counts.max() >= 12
    np.testing.assert_array_equal(counts, np.concatenate([p.spike_counts for p in pieces]))
    np.testing.assert_array_equal(np.asarray(blocked.spike_times), np.concatenate([p.spike_times for p in pieces]))


def test_gradient_through_jit_matches_the_exact_spike_time_derivative():
    """`simulate` runs a branch-free forward loop when evaluated and differentiates the
    checkpointed loop; grad of a jitted call (where `simulate` only sees jit tracers) must
    still be the derivative of −τ ln((V∞ − θ)/(V∞ − V_rest)) for a LIF (exponential Euler is
    exact for it)."""

    def first_spike(I):
        return hj.simulate(hj.LIF(), hj.Constant(I), t1=40.0, solver="expeuler", dt=0.1, dtype="float64").spike_times[0]

    I = 2.0
    v_inf, tau, R = -65.0 + 10.0 * I, 10.0, 10.0
    exact = -tau * R * (1 / (v_inf + 50.0) - 1 / (v_inf + 65.0))
    assert float(jax.grad(jax.jit(first_spike))(I)) == pytest.approx(exact, rel=1e-8)
    assert float(jax.jit(jax.grad(first_spike))(I)) == pytest.approx(exact, rel=1e-8)
    value = first_spike(I)  # the forward loop itself: the exact first crossing
    assert float(value) == pytest.approx(tau * np.log((v_inf + 65.0) / (v_inf + 50.0)), abs=1e-9)


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


def test_a_bound_solve_equals_the_filtered_call_and_shares_its_program():
    """`CompiledSolve.bind`: the same outputs as the `filter_jit`-style call (non-array
    output parts included), one program for every binding of the same structure, a new one
    for a different static part, and the filtered call for traced arguments."""
    from hhjax.backends.compiled import CompiledSolve

    def fn(params, x, scale):
        return {"y": params["a"] * x + params["b"], "n": scale}, x.sum() * scale

    solve = CompiledSolve(fn)
    params = {"a": np.arange(3.0), "b": jnp.ones(3)}
    x = np.linspace(0.0, 1.0, 3)
    bound = solve.bind(params, x, 2)
    got, want = bound(), solve(params, x, 2)
    np.testing.assert_array_equal(got[0]["y"], want[0]["y"])
    assert got[0]["n"] == 2 and float(got[1]) == float(want[1]) == 3.0
    other = solve.bind({"a": np.ones(3), "b": np.zeros(3)}, x, 2)
    np.testing.assert_array_equal(other()[0]["y"], x)
    assert len(solve.programs) == 1
    solve.bind(params, x, 3)
    assert len(solve.programs) == 2
    traced = jax.jit(lambda s: solve.bind(params, x * s, 2)()[1])(2.0)
    assert float(traced) == 6.0 and len(solve.programs) == 2


def test_small_loop_flag_shim_is_deprecated_and_keeps_the_users_flags():
    """`use_small_loop_kernels` (deprecated; the library itself never edits XLA_FLAGS): warns,
    adds the XLA flag to the given environment, keeps the user's other flags and never
    overrides their backend options."""
    from hhjax.backends.xla_flags import SMALL_LOOP_FLAG
    env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
    with pytest.warns(DeprecationWarning, match="XLA_FLAGS"):
        assert hj.use_small_loop_kernels(env)
    assert env["XLA_FLAGS"] == f"--xla_cpu_enable_fast_math=false {SMALL_LOOP_FLAG}"
    with pytest.warns(DeprecationWarning):
        assert not hj.use_small_loop_kernels(env)  # already there
    own = {"XLA_FLAGS": "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=512"}
    with pytest.warns(DeprecationWarning):
        assert not hj.use_small_loop_kernels(own) and own["XLA_FLAGS"].endswith("=512")
    larger = {}
    with pytest.warns(DeprecationWarning):
        assert hj.use_small_loop_kernels(larger, byte_threshold=262_144)
    assert larger["XLA_FLAGS"] == "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=262144"
    with pytest.raises(ValueError, match="byte_threshold"), pytest.warns(DeprecationWarning):
        hj.use_small_loop_kernels({}, byte_threshold=-1)


def test_importing_and_simulating_leaves_global_configuration_alone():
    """hhjax changes no global setting: XLA_FLAGS and jax_enable_x64 are as they were after
    importing it and running a solve, a fit step and the benchmark helpers."""
    code = textwrap.dedent("""
        import os, jax
        before = (os.environ.get("XLA_FLAGS"), jax.config.jax_enable_x64)
        import hhjax as hj
        hj.simulate(hj.HodgkinHuxley(), 10.0, t1=5.0)
        hj.simulate(hj.SLIF2HH(), 10.0, t1=5.0)
        import hhjax.bench.suite, hhjax.cli
        print(before == (os.environ.get("XLA_FLAGS"), jax.config.jax_enable_x64))
    """)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["True"]


def test_small_loop_flag_makes_xla_compile_a_small_loop_as_one_function():
    """In a fresh process started with the small-loop flag, XLA hoists a loop of ~10 KiB per
    iteration into one function (a loop of that size is not hoisted by default)."""
    code = textwrap.dedent("""
        import sys
        import hhjax
        import jax, jax.numpy as jnp
        loop = lambda x: jax.lax.fori_loop(0, 10, lambda i, x: jnp.sin(x) * x + 1.0, x)
        print("small call" if "xla_cpu_small_call" in jax.jit(loop).lower(jnp.ones(1000)).compile().as_text()
              else "kernels")
    """)
    from hhjax.backends.xla_flags import SMALL_LOOP_FLAG
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    flags = {"flag": {"XLA_FLAGS": SMALL_LOOP_FLAG}, "default": {}}
    out = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True,
                                env={**env, **flags[mode]}).stdout.split() for mode in ("flag", "default")}
    assert out == {"flag": ["small", "call"], "default": ["kernels"]}


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


@pytest.mark.slow
def test_fixed_grid_gradient_matches_finite_differences():
    def final_v(g):
        return hj.simulate(hj.HodgkinHuxley(g_K=g), hj.Step(0.0, 10.0, 2.0), t1=15.0, solver="rk4",
                           dt=0.025).y_final.V

    g = jax.grad(final_v)(36.0)
    eps = 1e-5
    fd = (final_v(36.0 + eps) - final_v(36.0 - eps)) / (2 * eps)
    assert float(g) == pytest.approx(float(fd), rel=1e-6)


def test_unstable_step_is_reported():
    with pytest.raises(hj.SimulationError, match="NaN/inf before t1.*dt = 0.5 ms is unstable"):
        hj.simulate(hj.HodgkinHuxley(), 10.0, t1=20.0, solver="euler", dt=0.5)


# --- sharded populations --------------------------------------------------------------


def test_sharded_population_equals_unsharded():
    script = textwrap.dedent("""
        import json, jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, numpy as np, hhjax as hj
        I = jnp.linspace(0.0, 20.0, 64)
        g_K = jnp.linspace(30.0, 40.0, 64)
        def run(I, g_K):
            return hj.simulate(hj.HodgkinHuxley(g_K=g_K), hj.Constant(I), t1=40.0, solver="rk4", dt=0.025)
        plain = run(I, g_K)
        Is, gs = hj.shard_population((I, g_K))
        sharded = run(Is, gs)
        print(json.dumps(dict(devices=len(jax.devices()), input_devices=len(Is.sharding.device_set),
                              out_devices=len(sharded.spike_times.sharding.device_set),
                              same_counts=bool(np.array_equal(plain.spike_counts, sharded.spike_counts)),
                              max_dt=float(np.nanmax(np.abs(np.asarray(plain.spike_times) - np.asarray(sharded.spike_times)))),
                              max_dv=float(np.max(np.abs(plain.y_final.V - sharded.y_final.V))))))
        try:
            hj.shard_population(jnp.zeros(10))
        except ValueError as e:
            print("ERROR", e)
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    res = json.loads(lines[-2])
    assert res["devices"] == 4 and res["input_devices"] == 4 and res["out_devices"] == 4
    assert res["same_counts"] and res["max_dt"] < 1e-12 and res["max_dv"] < 1e-10
    assert "10 neurons does not split evenly over 4 devices" in lines[-1]


def test_host_device_flag_shim_is_deprecated_and_keeps_the_users_count():
    """`use_host_devices` (deprecated): warns, adds the device count to the given
    environment, keeps the user's other flags and their own count, rejects a bad count."""
    with pytest.warns(DeprecationWarning):
        env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
        assert hj.use_host_devices(3, env)
        assert env["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=3"
        own = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
        assert not hj.use_host_devices(2, own) and own["XLA_FLAGS"].endswith("=8")
        cores = {}
        assert hj.use_host_devices(environ=cores)
        assert int(cores["XLA_FLAGS"].rsplit("=", 1)[1]) == len(os.sched_getaffinity(0))
        with pytest.raises(ValueError, match="positive integer"):
            hj.use_host_devices(0, {})


def test_sharding_section_splits_populations_over_host_devices():
    """In a fresh process with 3 host devices (XLA_FLAGS), the bench's sharding
    section runs HH and tv-LIF2HH split over all three (sizes rounded to a multiple of 3)
    with the spike counts of the unsplit population."""
    code = textwrap.dedent("""
        import json, hhjax as hj
        from hhjax.bench.suite import Settings, sharding
        s = Settings(hh_ns=(1, 100), dtypes=("float32",), work=2e4, min_steps=2000, max_steps=2000, repeats=1)
        print(json.dumps(sharding(s, log=lambda *_: None)))
    """)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=3"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == 3 and res["same_counts"]
    assert [(r["model"], r["N"]) for r in res["rows"]] == [("hh", 99), ("tvlif2hh", 99)]
    assert all(r["same_counts"] and r["split_over"] == 3 and r["sharded_per_s"] > 0 for r in res["rows"])


def test_cli_bench_host_devices_option_sets_the_device_count(tmp_path):
    """`hhjax bench --host-devices 2` starts JAX with two CPU devices (recorded in the
    result's environment); a count below 2 is an error."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cmd = [sys.executable, "-m", "hhjax.cli", "bench", "--only", "ops", "--plot", ""]
    out = subprocess.run(cmd + ["--host-devices", "2", "--out", str(tmp_path / "b.json")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    environment = json.loads((tmp_path / "b.json").read_text())["environment"]
    assert environment["n_devices"] == 2 and "--xla_force_host_platform_device_count=2" in environment["XLA_FLAGS"]
    bad = subprocess.run(cmd + ["--host-devices", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "--host-devices must be >= 2" in bad.stderr


# --- the suite ------------------------------------------------------------------------


@pytest.mark.slow
def test_suite_sections_run_and_report(tmp_path):
    from hhjax.bench.suite import Settings, run_suite

    s = Settings(hh_ns=(1, 100), other_ns=(100,), dtypes=("float32",), work=2e4, min_steps=200, max_steps=400,
                 repeats=1, memory_steps=(1000, 10_000), memory_n=1000, gradient_n=4, gradient_steps=(100,),
                 accuracy_cases=(("rk4", (("dt", 0.05),)), ("euler", (("dt", 0.01),))))
    lines = []
    res = run_suite(s, sections=("throughput", "memory", "accuracy", "gradient", "ops"),
                    out=str(tmp_path / "b.json"), plots=str(tmp_path / "b.png"), log=lines.append)
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["environment"]["jax"] == jax.__version__ and "XLA_FLAGS" in saved["environment"]
    assert (tmp_path / "b.png").stat().st_size > 10_000
    rows = res["throughput"]
    assert {r["model"] for r in rows} == {"hh", "tvlif2hh", "lif", "slif2hh"}
    assert all(r["per_s"] > 0 and "ratio_vs_textbook_scan" in r for r in rows if r["model"] == "hh")
    spikes = [r for r in res["memory"] if r["record"] == "spikes"]
    assert spikes[0]["total_MiB"] == pytest.approx(spikes[1]["total_MiB"], rel=0.01)  # O(N), not O(N·steps)
    every = [r for r in res["memory"] if r["record"] == "every step"][0]
    assert every["total_MiB"] > 3 * spikes[0]["total_MiB"]
    acc = {r["solver"]: r for r in res["accuracy"]}
    assert acc["rk4"]["counts_ok"] and acc["rk4"]["max_err_ms"] < 1e-3 and acc["rk4"]["pareto"]
    assert res["ops"]["paper_fc_network"]["hh"]["mul"] == 10_155_520
    assert any(line.startswith("[throughput] hh") for line in lines)


def test_suite_rejects_unknown_section():
    from hhjax.bench.suite import run_suite

    with pytest.raises(ValueError, match="unknown benchmark section"):
        run_suite(sections=("throughput", "speed"), out=None, plots=None)


def test_cli_bench_bad_arguments(capsys):
    from hhjax.cli import main

    assert main(["bench", "--only", "nonsense", "--out", "", "--plot", ""]) == 2
    assert "unknown benchmark section" in capsys.readouterr().err
    assert main(["bench", "--peers", "nest", "--out", "", "--plot", ""]) == 2
    assert "unknown peer" in capsys.readouterr().err
    if not any(d.platform == "gpu" for d in jax.devices()):
        assert main(["bench", "--device", "gpu", "--out", "", "--plot", ""]) == 2
        assert "no GPU" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_bench_quick_runs(tmp_path):
    """The quick suite end to end (CI's slow step), with whichever peers are installed:
    those present must agree with hhjax on spike times."""
    out = subprocess.run([sys.executable, "-m", "hhjax.cli", "bench", "--out", str(tmp_path / "bench.json"),
                          "--plot", str(tmp_path / "bench.png")], cwd=ROOT, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "bench.json").read_text())
    for section in ("throughput", "compile", "memory", "accuracy", "gradient", "ops", "sharding", "peers"):
        assert section in res
    for name, peer in res["peers"].items():
        assert "skipped" in peer or peer["agree"], (name, peer)
    assert any(r["default"] and r["pareto"] for r in res["accuracy"])
    # cold compile and the first call in a new process with a warm persistent cache, per case
    assert all(r["compile_s"] > 0 and r["first_call_warm_cache_s"] > 0 for r in res["compile"])


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler")
def test_c_kernel_agrees_with_hhjax():
    """The hand-written C kernel (built here with OpenMP): the same spikes as hhjax in its
    recording run, and its vectorised, threaded counting run counts the same spikes."""
    from hhjax.bench.c_kernel import _library, run_c_kernel
    from hhjax.bench.peers import PeerUnavailable
    from hhjax.bench.suite import Settings, peers

    try:
        _library()
    except PeerUnavailable as e:  # e.g. a compiler without OpenMP
        pytest.skip(str(e))
    res = peers(Settings(dtypes=("float64",), peer_ns=()), names=["c-kernel"], log=lambda s: None)["c-kernel"]
    assert res["agree"] and res["max_dt_ms"] < 1e-9, res
    currents = np.linspace(0.0, 20.0, 37)
    recorded = run_c_kernel(currents, 4000, 0.01, "float64", record=True)
    counted = run_c_kernel(currents, 4000, 0.01, "float64", record=False, threads=2)
    assert counted.spike_counts == recorded.spike_counts and sum(counted.spike_counts) > 0


@pytest.mark.parametrize("name", ["brainpy", "jaxley", "brian2-cpp", "neuron"])
def test_installed_peer_agrees_with_hhjax(name):
    module = {"brainpy": "brainpy", "jaxley": "jaxley", "brian2-cpp": "brian2", "neuron": "neuron"}[name]
    pytest.importorskip(module)
    from hhjax.bench.suite import Settings, peers

    res = peers(Settings(dtypes=("float64",), peer_ns=()), names=[name], log=lambda s: None)[name]
    assert res["agree"], res
