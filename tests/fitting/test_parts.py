"""Fitting building blocks: bijections, parameter spaces, traces, losses, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax import fitting as hf
from hhjax.parameters import get_param, set_params


@pytest.fixture(scope="module")
def short_trace():
    """Two protocols (sub-threshold step, spiking step), 30 ms at 0.01 ms, float64."""
    stimuli = {"step3": hj.Step(0.0, 3.0, 2.0), "step10": hj.Step(0.0, 10.0, 2.0)}
    return hf.synthetic_traces(hj.HodgkinHuxley(), stimuli, t1=30.0, sample_dt=0.01)


def test_bijections_round_trip_and_bounds():
    for bij, x in ((hf.Positive(), 3.5), (hf.Positive(-1.0), -0.28), (hf.Bounded(-200.0, 200.0), -77.0),
                   (hf.Bounded(0.0, 1.0), 0.9), (hf.Identity(), -4.0)):
        np.testing.assert_allclose(bij.forward(bij.inverse(jnp.asarray(x))), x, rtol=1e-12)
    u = jnp.linspace(-40.0, 40.0, 101)
    assert np.all(np.asarray(hf.Positive().forward(u)) > 0)
    y = np.asarray(hf.Bounded(-200.0, 200.0).forward(u))
    assert np.all((y >= -200.0) & (y <= 200.0))
    with pytest.raises(ValueError, match="must be positive"):
        hf.Positive().check("g_Na", np.asarray(-1.0))
    with pytest.raises(ValueError, match="outside its bounds"):
        hf.Bounded(0.0, 1.0).check("decay", np.asarray(1.5))


def test_parameter_space_names_defaults_and_errors():
    hh = hj.HodgkinHuxley()
    space = hf.ParameterSpace.of(hh, "g_Na,E_K,alpha_m.v_half,beta_m.k")
    assert isinstance(space.bijections["g_Na"], hf.Positive)
    assert isinstance(space.bijections["E_K"], hf.Bounded)
    theta = space.to_unconstrained(space.values())
    model = space.model(theta)
    for n in space.names:
        np.testing.assert_allclose(get_param(model, n), get_param(hh, n), rtol=1e-12)
    # tv-LIF2HH: names reach into its HH parameter set
    tv = hj.tvlif2hh(hh)
    assert hf.ParameterSpace.of(tv, ["g_K", "alpha_n.rate"]).names == ("hh.g_K", "hh.alpha_n.rate")
    with pytest.raises(ValueError, match="unknown parameter 'g_Ca'"):
        hf.ParameterSpace.of(hh, ["g_Ca"])
    with pytest.raises(ValueError, match="named twice"):
        hf.ParameterSpace.of(hh, ["g_K", "g_K"])
    with pytest.raises(ValueError, match="not a number"):
        hf.ParameterSpace.of(hh, ["alpha_m"])
    starts = space.perturbed_starts(jax.random.PRNGKey(0), 64, 0.5)
    vals = jax.vmap(space.to_values)(starts)
    ratio = np.asarray(vals["g_Na"]) / 120.0
    assert ratio.min() >= 0.5 - 1e-12 and ratio.max() <= 1.5 + 1e-12 and ratio.std() > 0.1


def test_trace_file_round_trip_and_bad_targets(tmp_path, short_trace):
    path = tmp_path / "t.npz"
    hf.save_trace(path, short_trace, {"model": "hh"})
    back = hf.load_trace(path)
    np.testing.assert_array_equal(np.asarray(back.V), np.asarray(short_trace.V))
    assert back.dt == pytest.approx(0.01)
    t = np.arange(10) * 0.1
    with pytest.raises(ValueError, match="V has shape"):
        hf.make_trace(t, np.zeros(10), np.zeros(9))
    with pytest.raises(ValueError, match="NaN"):
        hf.make_trace(t, np.zeros(10), np.where(t > 0.5, np.nan, 0.0))
    with pytest.raises(ValueError, match="uniformly spaced"):
        hf.make_trace(t**2, np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="missing array"):
        np.savez(tmp_path / "bad.npz", t=t, V=np.zeros(10))
        hf.load_trace(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="share one time grid"):
        hf.stack_traces([hf.make_trace(t, np.zeros(10), np.zeros(10)),
                         hf.make_trace(t[:8], np.zeros(8), np.zeros(8))])


@pytest.mark.slow
def test_teacher_forced_gates_match_simulated_gates(short_trace):
    """Gates driven by the observed V equal the gates of the simulation that made V."""
    hh = hj.HodgkinHuxley()
    stimuli = {"step10": hj.Step(0.0, 10.0, 2.0)}
    sim = hj.simulate(hh, stimuli["step10"], t1=30.0, solver="tsit5", rtol=1e-10, atol=1e-10, save_every=0.01)
    V = jnp.asarray(sim.V)[None]
    for parallel in (False, True):
        g = hf.teacher_forced_gates(hh, V, 0.01, parallel=parallel)
        for x in ("m", "h", "n"):
            np.testing.assert_allclose(np.asarray(getattr(g, x))[0], np.asarray(getattr(sim.ys, x)), atol=2e-4)


def _perturbations(hh):
    return [set_params(hh, {n: get_param(hh, n) * f}) for n in ("g_Na", "g_K", "C", "E_K") for f in (0.97, 1.03)]


@pytest.mark.parametrize("loss", ["equation", "equation-robust", "equation-projected", "shooting", "mse"])
def test_each_trace_loss_is_minimal_at_the_true_parameters(short_trace, loss):
    hh = hj.HodgkinHuxley()
    if loss == "equation":
        f = lambda m: hf.equation_error(m, short_trace)  # noqa: E731
    elif loss == "equation-robust":
        f = lambda m: hf.equation_error(m, short_trace, 0.5, robust_mV=3.0)  # noqa: E731
    elif loss == "equation-projected":
        f = lambda m: hf.equation_error(m, short_trace, project=True)  # noqa: E731
    elif loss == "shooting":
        f = lambda m: hf.shooting_loss(m, short_trace, 2.0)  # noqa: E731
    else:
        f = lambda m: hf.voltage_mse(m, short_trace)  # noqa: E731
    others = _perturbations(hh)
    if loss == "equation-projected":  # membrane parameters are solved for: perturb the gates instead
        others = [set_params(hh, {n: get_param(hh, n) * fac}) for n in ("alpha_m.rate", "beta_n.k", "alpha_h.rate")
                  for fac in (0.97, 1.03)]
    at_truth = float(f(hh))
    worse = [float(f(m)) for m in others]
    assert at_truth < 0.2 * min(worse), (at_truth, worse)


@pytest.mark.slow
def test_spike_losses_minimal_at_true_parameters(short_trace):
    hh = hj.HodgkinHuxley()
    target = hf.pad_spike_times(hf.spike_times_from_trace(short_trace, 0.0))
    assert np.sum(~np.isnan(target)) >= 2

    def spikes(m):
        sim = hf.simulate_trace(m, short_trace, solver="tsit5", rtol=1e-9, atol=1e-9)
        return sim.spike_times, sim

    t_true, sim_true = spikes(hh)
    others = [spikes(m) for m in _perturbations(hh)]
    # (the trace's sampled step starts half a sample early: true spikes sit 0.005 ms off)
    for f in (lambda a: hf.spike_timing_loss(a, target, 30.0), lambda a: jnp.sum(hf.van_rossum_distance(a, target, 2.0) ** 2)):
        assert float(f(t_true)) < 0.2 * min(float(f(o[0])) for o in others)
    ts = short_trace.t
    want = hf.summary_statistics(jnp.asarray(target), jnp.sum(~jnp.isnan(jnp.asarray(target)), -1),
                                 ts, short_trace.V, stimulus_onset=2.0)

    def summary(s):
        return hf.summary_statistics(s.spike_times, s.spike_counts, s.ts, s.V.T, stimulus_onset=2.0)

    at_truth = float(hf.summary_loss(summary(sim_true), want))
    assert at_truth < 1e-4
    assert all(float(hf.summary_loss(summary(o[1]), want)) > 10 * at_truth + 1e-6 for o in others)


def test_van_rossum_closed_form_matches_numerical_integral():
    tau = 3.0
    a = jnp.asarray([5.0, 12.0, 20.5, np.nan])
    b = jnp.asarray([6.0, 19.0, np.nan, np.nan])
    t = np.arange(0.0, 80.0, 0.001)

    def filtered(x):
        x = np.asarray(x)[~np.isnan(np.asarray(x))]
        return sum(np.where(t >= s, np.exp(-(t - s) / tau), 0.0) for s in x)

    numeric = np.sqrt(np.trapezoid((filtered(a) - filtered(b)) ** 2, t) / tau)
    assert float(hf.van_rossum_distance(a, b, tau)) == pytest.approx(numeric, rel=1e-3)
    assert float(hf.van_rossum_distance(a, a, tau)) < 1e-10
    one = hf.van_rossum_distance(jnp.asarray([5.0]), jnp.asarray([np.nan]), tau)
    assert float(one) == pytest.approx(np.sqrt(0.5))
    g = jax.grad(lambda x: hf.van_rossum_distance(x, b, tau))(a)
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.slow
def test_gradient_through_the_solve_matches_finite_differences(short_trace):
    """jax.grad of the voltage MSE through the solve (checkpointed adjoint), float64, against
    central differences, for three parameters. Forward Euler: RK4's gradient compiles in
    ~30 s here and is checked in test_networks_and_gradients."""
    trace = short_trace.window(0.0, 15.0)
    space = hf.ParameterSpace.of(hj.HodgkinHuxley(), ["g_Na", "g_K", "E_L"])
    values = {"g_Na": jnp.asarray(115.0), "g_K": jnp.asarray(38.0), "E_L": jnp.asarray(-55.0)}
    theta = space.to_unconstrained(values)

    def loss(th):
        return hf.voltage_mse(space.model(th), trace, solver="euler")

    grad = jax.grad(loss)(theta)
    # the same inside jit (trace arrays closed over become staged values there)
    jitted = jax.jit(jax.value_and_grad(loss))(theta)
    assert float(jitted[0]) == pytest.approx(float(loss(theta)), rel=1e-12)
    np.testing.assert_allclose(jitted[1]["g_K"], grad["g_K"], rtol=1e-10)
    for n in space.names:
        h = 1e-5
        up = {**theta, n: theta[n] + h}
        down = {**theta, n: theta[n] - h}
        fd = (float(loss(up)) - float(loss(down))) / (2 * h)
        assert float(grad[n]) == pytest.approx(fd, rel=1e-5, abs=1e-8), n


def test_membrane_least_squares_recovers_a_non_unit_capacitance():
    """Variable projection returns C, ḡ and E themselves (here with C = 1.5 µF/cm²)."""
    true = hj.HodgkinHuxley(C=1.5, g_K=30.0, E_L=-60.0)
    trace = hf.synthetic_traces(true, {"s": hj.Step(0.0, 15.0, 2.0)}, t1=20.0, sample_dt=0.01)
    fitted = hf.losses.membrane_least_squares(hj.HodgkinHuxley(), trace)
    for n, want in (("C", 1.5), ("g_Na", 120.0), ("g_K", 30.0), ("g_L", 0.3), ("E_Na", 50.0), ("E_K", -77.0),
                    ("E_L", -60.0)):
        assert float(get_param(fitted, n)) == pytest.approx(want, rel=5e-3), n
