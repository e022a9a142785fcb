"""The execution paths give the same answer as `diffrax.diffeqsolve` (same steps, same spikes),
with every loop shape a `Tuning` can choose."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj


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


def test_save_steps_on_grid():
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


# --- the planner ------------------------------------------------------------------------


@pytest.mark.parametrize("model, options, expected", [
    (hj.HodgkinHuxley(), dict(solver="euler", dt=0.01), "fixed_step"),
    (hj.HodgkinHuxley(), dict(solver="rk4", dt=0.025, save_every="step"), "fixed_step"),
    (hj.HodgkinHuxley(), dict(solver="rk4", dt=0.025, save_every=0.0125), "diffrax"),  # samples off the grid
    (hj.HodgkinHuxley(), dict(), "adaptive"),
    (hj.HodgkinHuxley(), dict(save_every=0.5), "adaptive"),
    (hj.HodgkinHuxley(), dict(save_every="step"), "diffrax"),
    (hj.HodgkinHuxley(), dict(solver="euler", dt=0.01, progress=True), "diffrax"),
    (hj.HodgkinHuxley(), dict(solver="implicit_euler", dt=0.01), "diffrax"),
    (hj.LIF(), dict(solver="heun", dt=0.05), "fixed_step"),
    (hj.SLIF2HH(), dict(), "discrete"),
], ids=["euler", "rk4-every-step", "rk4-off-grid", "tsit5", "tsit5-samples", "tsit5-every-step", "progress",
        "implicit", "lif-heun", "slif2hh"])
def test_the_planner_picks_the_documented_path(model, options, expected):
    """`execution_path` names the path the planner's table (hhjax/integrate/plan.py) gives."""
    assert hj.execution_path(model, hj.Constant(10.0), t1=20.0, **options) == expected


def test_a_traced_adaptive_call_runs_on_diffrax():
    """Under `jit`/`grad` the own adaptive loop (not differentiable) gives way to diffeqsolve,
    and the spikes are those of the concrete call."""
    hh = hj.HodgkinHuxley()
    concrete = hj.simulate(hh, hj.Constant(10.0), t1=30.0, dtype="float64")
    traced = jax.jit(lambda I: hj.simulate(hh, hj.Constant(I), t1=30.0, dtype="float64").spike_times)(10.0)
    np.testing.assert_allclose(traced, concrete.spike_times, rtol=0, atol=1e-9)


@pytest.mark.parametrize("model, options, path, reason", [
    (hj.HodgkinHuxley(), dict(solver="euler", dt=0.01), "adaptive", "fixed steps"),
    (hj.HodgkinHuxley(), dict(), "fixed_step", "adaptive"),
    (hj.HodgkinHuxley(), dict(solver="euler", dt=0.01, progress=True), "fixed_step", "progress bar"),
    (hj.HodgkinHuxley(), dict(solver="euler", dt=0.01), "discrete", "continuous"),
    (hj.SLIF2HH(), dict(), "diffrax", "discrete"),
    (hj.HodgkinHuxley(), dict(), "fastest", "unknown execution path"),
], ids=["adaptive-for-fixed", "fixed-for-adaptive", "fixed-with-progress", "discrete-for-hh", "diffrax-for-slif2hh",
        "unknown"])
def test_asking_for_a_path_that_cannot_run_the_call_says_why(model, options, path, reason):
    with pytest.raises(ValueError, match=reason):
        hj.simulate(model, hj.Constant(10.0), t1=20.0, path=path, **options)


@pytest.mark.parametrize("path", ["fixed_step", "diffrax"])
def test_every_path_that_takes_a_call_gives_its_answer(path):
    """The same fixed-step call on either path that takes it: the same spikes and state."""
    stim = hj.Constant(jnp.asarray([0.0, 8.0, 15.0]))
    ref = hj.simulate(hj.HodgkinHuxley(), stim, t1=40.0, solver="rk4", dt=0.025, dtype="float64")
    got = hj.simulate(hj.HodgkinHuxley(), stim, t1=40.0, solver="rk4", dt=0.025, dtype="float64", path=path)
    np.testing.assert_array_equal(got.spike_counts, ref.spike_counts)
    np.testing.assert_allclose(got.spike_times, ref.spike_times, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.y_final.V, ref.y_final.V, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("solver, dt", [("rk4", 0.025), ("euler", 0.01)])
def test_the_tuning_changes_speed_not_results(solver, dt):
    """The CPU's tuning (shared exponentials, RK4 stages in memory, paired steps, packed
    scalars, 512-bit vectors) and the plain one give the same spikes on a population that
    takes every CPU-specific shape, within rounding (the shared exponentials round
    differently)."""
    from hhjax.backends import CPU_TUNING, PLAIN_TUNING

    stim = hj.Constant(jnp.linspace(0.0, 25.0, 10_000))
    runs = [hj.simulate(hj.HodgkinHuxley(), stim, t1=30.0, solver=solver, dt=dt, dtype="float64", tuning=t)
            for t in (CPU_TUNING.replace(cpu_vector_bits=512), PLAIN_TUNING.replace(pack_loop_scalars=False))]
    np.testing.assert_array_equal(runs[0].spike_counts, runs[1].spike_counts)
    assert int(runs[0].spike_counts.sum()) > 1000
    np.testing.assert_allclose(runs[0].spike_times, runs[1].spike_times, rtol=0, atol=1e-9)


def test_a_tuning_is_checked():
    with pytest.raises(ValueError, match="discrete_block_steps"):
        hj.Tuning(discrete_block_steps=64)
    with pytest.raises(ValueError, match="blocked_from_neurons"):
        hj.Tuning(blocked_from_neurons=0)
    with pytest.raises(ValueError, match="cpu_vector_bits"):
        hj.Tuning(cpu_vector_bits=300)
    assert hj.tuning_for("gpu") == hj.backends.PLAIN_TUNING
    cpu = hj.tuning_for("cpu")
    assert cpu.replace(cpu_vector_bits=None) == hj.backends.CPU_TUNING
    assert cpu.loop_compiler_options in (None, {"xla_cpu_prefer_vector_width": 512})


def test_host_simd_width_is_read_from_the_cpu_flags():
    """On Linux the width follows /proc/cpuinfo's flags: AVX-512F → 512, AVX → 256."""
    import pathlib
    import platform

    from hhjax.backends.host_cpu import host_simd_bits

    bits = host_simd_bits()
    assert bits in (None, 128, 256, 512)
    info = pathlib.Path("/proc/cpuinfo")
    if platform.machine() in ("x86_64", "AMD64") and info.exists():
        words = set(info.read_text().split())
        assert bits == (512 if "avx512f" in words else 256 if "avx" in words else 128)
