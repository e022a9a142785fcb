"""The fixed-step network engine: propagation strategies agree, delays and synapse kernels
are right, the monitors and benchmark builders do what they say."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import hhjax as hj
from hhjax import synaptic as sy


def small_coba(n=400, seed=2, delays=True):
    net, state = sy.coba(n, seed=seed, p=0.2)  # (the in-degree of the 4,000-neuron network)
    if delays:  # heterogeneous delays 0–2 ms on the excitatory projections
        rng = np.random.default_rng(seed)
        projections = dict(net.projections)
        for key in ("exc",):
            proj = projections[key]
            pre, post = proj.connectivity.pairs()
            conn = sy.from_arrays(pre, post, proj.connectivity.n_pre, proj.connectivity.n_post,
                                  weight=float(proj.connectivity.weights), delay=0.1 * rng.integers(0, 21, pre.size))
            projections[key] = sy.Projection(proj.pre, proj.post, conn, proj.synapse)
        net = sy.Network(net.populations, projections)
    return net, state


@pytest.mark.parametrize("propagation", [sy.EventDriven(chunk=1), sy.EventDriven(chunk=7), sy.AllSynapses()])
def test_propagation_strategies_give_the_same_spikes(propagation):
    net, state = small_coba()
    ref = sy.run_network(net, 200.0, initial=state)
    run = sy.run_network(net, 200.0, initial=state, propagation=propagation)
    assert ref.n_spikes > 200
    for k in ref.spikes:
        np.testing.assert_array_equal(run.spikes[k].index, ref.spikes[k].index)
        np.testing.assert_allclose(run.spikes[k].time, ref.spikes[k].time, rtol=0, atol=1e-9)


def test_delay_reaches_the_target_exactly_delay_steps_later():
    """A driven LIF excites a silent one through a delta synapse with a 1.3 ms delay: the
    target's V jumps in the step that starts 1.3 ms after the step in which the spike fell."""
    lif = hj.LIF(tau=10.0, V_rest=-65.0, V_reset=-65.0, V_th=-50.0, R=10.0, t_ref=2.0)
    net = sy.Network({"a": sy.Population(lif, 1, stimulus=2.0), "b": sy.Population(lif, 1)},
                     {"ab": sy.Projection("a", "b", sy.one_to_one(1, weight=5.0, delay=1.3), sy.Delta())})
    dt = 0.1
    run = sy.run_network(net, 40.0, dt=dt, monitors=sy.Monitors(states={"b": [0]}))
    t_spike = run.spikes["a"].time[0]
    times, states = run.samples["b"]
    jump = times[np.argmax(np.asarray(states.V)[:, 0] > -64.0)]  # the end of the step with the kick
    spike_step_end = math.ceil(t_spike / dt - 1e-9) * dt
    assert abs(jump - (spike_step_end + 1.3 + dt)) < 1e-9


@pytest.mark.parametrize("synapse", [sy.Exponential(4.0), sy.Alpha(3.0), sy.DualExponential(1.0, 6.0)])
def test_synapse_kernel_peaks_at_the_weight(synapse):
    """One spike of weight w: the drive peaks at w (solved here with SciPy from the kick)."""
    w = 0.7
    s0 = np.asarray(synapse.kick()) * w
    sol = solve_ivp(lambda t, s: np.asarray(synapse.derivative(jnp.asarray(s)[:, None]))[:, 0], (0, 40), s0,
                    dense_output=True, rtol=1e-11, atol=1e-12)
    t = np.linspace(0, 40, 40001)
    g = np.asarray(synapse.conductance(jnp.asarray(sol.sol(t))))
    assert abs(g.max() - w) < 1e-6
    expected_peak = {sy.Exponential: 0.0, sy.Alpha: getattr(synapse, "tau", 0.0),
                     sy.DualExponential: 1.0 * 6.0 / 5.0 * math.log(6.0)}[type(synapse)]
    assert abs(t[g.argmax()] - expected_peak) < 2e-3


def test_synaptic_events_and_rates_counted_independently():
    net, state = small_coba(delays=False)
    run = sy.run_network(net, 100.0, initial=state)
    events = 0
    for proj in net.projections.values():
        pre, _ = proj.connectivity.pairs()
        fan_out = np.bincount(pre, minlength=proj.connectivity.n_pre)
        events += fan_out[run.spikes[proj.pre].index].sum()
    assert run.synaptic_events() == events
    total = sum(len(s.index) for s in run.spikes.values())
    assert math.isclose(run.rate_hz(), total / 400 / 0.1)
    assert sum(c.sum() for c in run.counts.values()) == total


def test_poisson_source_fires_at_its_rate():
    lif = hj.LIF()
    net = sy.Network({"src": sy.PoissonSource(2000, 20.0), "n": sy.Population(lif, 10)},
                     {"in": sy.Projection("src", "n", sy.fixed_in_degree(2000, 10, 50, weight=0.01, seed=1),
                                          sy.Exponential(5.0, 0.0))})
    run = sy.run_network(net, 1000.0, seed=4)
    expected = 2000 * 20.0
    assert abs(run.spikes["src"].count - expected) < 5 * math.sqrt(expected)


def test_connectivity_rules():
    c = sy.fixed_probability(1000, 800, 0.05, seed=3)
    pre, post = c.pairs()
    assert abs(len(pre) - 0.05 * 1000 * 800) < 5 * math.sqrt(0.05 * 0.95 * 1000 * 800)
    c = sy.fixed_in_degree(500, 300, 17, seed=3)
    pre, post = c.pairs()
    assert np.all(np.bincount(post, minlength=300) == 17)
    c = sy.fixed_probability(50, 50, 1.0, allow_self=False)
    pre, post = c.pairs()
    assert len(pre) == 50 * 49 and not np.any(pre == post)
    w = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(sy.dense(3, 4, weight=w).dense_weights(), w)


@pytest.mark.slow  # (~12 s)
def test_cobahh_float32_and_float64_agree_statistically():
    """The network is chaotic, so single spikes diverge between precisions; its rate and
    CV(ISI) must not (float32 is enough for network statistics)."""
    out = {}
    for dtype in (jnp.float32, jnp.float64):
        net, state = sy.cobahh(800, seed=5, p=0.1, dtype=dtype)  # (in-degree 80 as at 4,000)
        run = sy.run_network(net, 500.0, initial=state)
        out[dtype] = (run.rate_hz(), run.cv_isi())
    (r32, c32), (r64, c64) = out[jnp.float32], out[jnp.float64]
    assert r64 > 5 and abs(r32 - r64) < 0.2 * r64 and abs(c32 - c64) < 0.2 * c64  # (seed spread ≈ 10 %)


@pytest.mark.parametrize("solver", ["expeuler", "rk4"])
def test_float32_steps_are_dt_late_in_a_run(solver):
    """Every step advances by exactly dt: float32 spike times of a regularly firing HH
    neuron, counted from the run's start, agree with float64 at t0 = 0 and at t0 = 5 s.
    (A step of (t + dt) − t in float32 is off by up to an ulp of t, 5 % of dt = 0.01 ms at
    5 s: spikes then drift by milliseconds.)"""
    net = sy.Network({"p": sy.Population(hj.HodgkinHuxley(), 1, stimulus=10.0)})

    def times(t0, dtype):
        run = sy.run_network(net, t0 + 150.0, t0=t0, dt=0.01, solver=solver, dtype=dtype)
        return np.asarray(run.spikes["p"].time, np.float64) - t0

    ref = times(0.0, jnp.float64)
    assert len(ref) >= 8
    for t0, tol in ((0.0, 1e-3), (5000.0, 5e-3)):  # (float32 resolves t = 5 s to 5e-4 ms)
        got = times(t0, jnp.float32)
        assert len(got) == len(ref)
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


def test_monitor_overflow_warns_and_counts():
    net, state = small_coba(delays=False)
    with pytest.warns(RuntimeWarning, match="capacity"):
        run = sy.run_network(net, 100.0, initial=state, monitors=sy.Monitors(max_spikes=10))
    assert run.spikes["neurons"].lost > 0 and len(run.spikes["neurons"].index) == 10


def test_discrete_population_steps_as_simulate_does():
    """An s-LIF2HH population in a network (driving Traub–Miles neurons) spikes exactly as
    `simulate` steps it alone, and its spikes reach the targets."""
    s = hj.SLIF2HH()
    currents = np.linspace(5.0, 15.0, 5)
    net = sy.Network({"s": sy.Population(s, 5, stimulus=currents),
                      "tm": sy.Population(hj.library_model("traub-miles"), 3, stimulus=-1.0)},
                     {"st": sy.Projection("s", "tm", sy.dense(5, 3, weight=0.1), sy.Exponential(3.0, 0.0))})
    run = sy.run_network(net, 100.0, dt=1.0)
    alone = hj.simulate(s, hj.Constant(currents), t1=100.0).spike_list()
    per = run.spikes["s"].per_neuron()
    assert sum(len(a) for a in alone) > 10
    for got, want in zip(per, alone):
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert run.spikes["tm"].count > 0
    with pytest.raises(ValueError, match="discrete model stepping every 1.0 ms"):
        sy.run_network(net, 100.0, dt=0.5)


@pytest.mark.parametrize("n", [1, 31, 33, 1000, 4097])
def test_spike_count_finds_the_spiking_neurons_in_order(n):
    from hhjax.synaptic.propagation import SpikeCount

    rng = np.random.default_rng(n)
    for p in (0.0, 0.01, 0.3, 1.0):
        spiked = rng.random(n) < p
        expected = np.nonzero(spiked)[0]
        count = SpikeCount.of(jnp.asarray(spiked))
        assert int(count.total) == len(expected)
        for start, size in ((0, 5), (3, 8), (0, n + 3)):
            got = np.asarray(count.indices(jnp.int32(start), size))
            want = np.full(size, n)
            part = expected[start:start + size]
            want[: len(part)] = part
            np.testing.assert_array_equal(got, want)
        for lo, hi in ((0, n), (0, n // 2), (n // 3, n), (n // 4, n // 4 + 17)):
            first, last = count.span(lo, min(hi, n))
            assert (int(first), int(last)) == (int(np.sum(expected < lo)), int(np.sum(expected < min(hi, n))))


def test_nth_set_bit_against_a_bit_by_bit_search():
    from hhjax.synaptic.propagation import nth_set_bit

    rng = np.random.default_rng(11)
    words = np.concatenate([rng.integers(0, 2**32, 500, dtype=np.uint64), [2**32 - 1, 1, 2**31, 0x80000001]])
    words = words.astype(np.uint32)
    ranks, expected = [], []
    for w in words:
        bits = [i for i in range(32) if (int(w) >> i) & 1]
        k = int(rng.integers(1, len(bits) + 1))
        ranks.append(k)
        expected.append(bits[k - 1])
    got = nth_set_bit(jnp.asarray(words), jnp.asarray(ranks, jnp.int32))
    np.testing.assert_array_equal(np.asarray(got), expected)
    # every rank of the full word
    full = nth_set_bit(jnp.full((32,), 2**32 - 1, jnp.uint32), jnp.arange(1, 33, dtype=jnp.int32))
    np.testing.assert_array_equal(np.asarray(full), np.arange(32))


def test_connectivity_stores_only_the_rows_of_its_presynaptic_range():
    # a projection from neurons 300–399 of a 1,000-neuron population (as "inh" in the benchmarks)
    rng = np.random.default_rng(5)
    pre = rng.integers(300, 400, 2000)
    post = rng.integers(0, 700, 2000)
    w = rng.random(2000)
    c = sy.from_arrays(pre, post, 1000, 700, weight=w, delay=0.1 * rng.integers(0, 5, 2000))
    assert c.row_range == (int(pre.min()), int(pre.max()) + 1) and c.n_rows <= 100
    got_pre, got_post = c.pairs()
    assert sorted(zip(got_pre.tolist(), got_post.tolist())) == sorted(zip(pre.tolist(), post.tolist()))
    dense = np.zeros((1000, 700))
    np.add.at(dense, (pre, post), w)
    np.testing.assert_allclose(c.dense_weights(), dense, rtol=1e-12)
    np.testing.assert_array_equal(c.fan_out(), np.bincount(pre, minlength=1000))
    rows = np.asarray(c.rows_of(jnp.asarray([0, 299, 300, 399, 400, 1000])))
    np.testing.assert_array_equal(rows, [c.n_rows, c.n_rows, 300 - c.first_row, 399 - c.first_row, c.n_rows,
                                         c.n_rows])
    full = sy.from_arrays(np.concatenate([pre, [0]]), np.concatenate([post, [0]]), 1000, 700)
    assert full.n_rows == int(pre.max()) + 1  # (from row 0: the memory follows the stored rows)


@pytest.mark.parametrize("monitors", [sy.Monitors(), sy.Monitors(states={"neurons": [0, 5]}, sample_every=17)])
def test_paired_and_single_step_loops_give_the_same_run(monitors):
    from hhjax.backends import tuning_for

    net, state = small_coba()
    runs = [sy.run_network(net, 100.3, initial=state, monitors=monitors, block_steps=250,
                           tuning=tuning_for().replace(network_paired_from_neurons=threshold))
            for threshold in (None, 1)]  # (1003 steps: blocks of 250 or 238, odd rests)
    single, paired = runs
    assert single.n_spikes > 30
    assert all(len(c) == 1003 for c in single.counts.values())
    assert_same_run(paired, single)


def assert_same_run(got, want, buffers=False):
    """Two network runs are the same bit for bit: spikes, per-step counts, sampled states
    and the final state (and the final delay buffers if `buffers`)."""
    for k in want.spikes:
        np.testing.assert_array_equal(got.spikes[k].index, want.spikes[k].index)
        np.testing.assert_array_equal(got.spikes[k].time, want.spikes[k].time)
        np.testing.assert_array_equal(got.counts[k], want.counts[k])
    final = (lambda run: (run.final.state, run.final.buffers)) if buffers else (lambda run: run.final.state)
    for a, b in zip(jax.tree.leaves((final(got), got.samples)), jax.tree.leaves((final(want), want.samples))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def poisson_and_delta_network():
    """Poisson input through delta synapses with delays 0–1.5 ms into LIF neurons, coupled
    among themselves by exponential current synapses."""
    lif = hj.LIF(tau=10.0, V_rest=-65.0, V_reset=-65.0, V_th=-50.0, R=10.0, t_ref=2.0)
    rng = np.random.default_rng(3)
    pre, post = rng.integers(0, 300, 3000), rng.integers(0, 60, 3000)
    into = sy.from_arrays(pre, post, 300, 60, weight=1.2, delay=0.1 * rng.integers(0, 16, 3000))
    return sy.Network({"src": sy.PoissonSource(300, 40.0), "n": sy.Population(lif, 60, stimulus=1.2)},
                      {"in": sy.Projection("src", "n", into, sy.Delta()),
                       "rec": sy.Projection("n", "n", sy.fixed_probability(60, 60, 0.1, weight=0.3, seed=1),
                                            sy.Exponential(3.0))}), None


@pytest.mark.parametrize("build, propagation, paired", [("coba with delays", None, 1),
                                                        ("coba with delays", sy.AllSynapses(), None),
                                                        ("poisson and delta", None, 1)])
def test_sending_at_the_step_end_or_the_next_step_gives_the_same_run(build, propagation, paired):
    """`SendAtNextStep` only moves the sending of a step's spikes to the start of the next
    step: spikes, counts, samples, final state and delay buffers equal `SendAtStepEnd`'s,
    across block ends (odd blocks of 251/250 steps) and with delays."""
    from hhjax.backends import tuning_for

    net, state = small_coba() if build == "coba with delays" else poisson_and_delta_network()
    watched = "neurons" if build == "coba with delays" else "n"
    monitors = sy.Monitors(states={watched: [0, 7]}, sample_every=3)
    runs = [sy.run_network(net, 150.3, initial=state, monitors=monitors, block_steps=501, seed=5,
                           propagation=propagation,
                           tuning=tuning_for().replace(network_paired_from_neurons=paired,
                                                       network_send_ahead_from_neurons=ahead))
            for ahead in (None, 1)]
    at_end, ahead = runs
    assert at_end.n_spikes > 100
    assert_same_run(ahead, at_end, buffers=True)


@pytest.mark.parametrize("build", ["cobahh", "coba with delays"])
def test_cpu_tunings_give_the_same_run(build):
    """`Tuning.scalars_as_constants` and `cpu_vector_bits` (CPU defaults) change what XLA
    folds and how wide it vectorises, not the dynamics: the same spikes every way
    (float64), and the per-step counts (taken from the spike count the propagation makes)
    equal the recorded spikes of each step."""
    from hhjax.backends import tuning_for

    net, state = sy.cobahh(300, seed=4, dtype="float64") if build == "cobahh" else small_coba()
    state = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), state)
    tunings = [tuning_for().replace(scalars_as_constants=False, cpu_vector_bits=None),
               tuning_for().replace(scalars_as_constants=True, cpu_vector_bits=None),
               tuning_for().replace(scalars_as_constants=True, cpu_vector_bits=512)]
    runs = [sy.run_network(net, 60.0, initial=state, tuning=t) for t in tunings]
    assert runs[0].n_spikes > 50
    for run in runs[1:]:
        np.testing.assert_array_equal(run.spikes["neurons"].index, runs[0].spikes["neurons"].index)
        np.testing.assert_allclose(run.spikes["neurons"].time, runs[0].spikes["neurons"].time, rtol=0, atol=1e-9)
    for run in runs:
        step = np.floor((np.asarray(run.spikes["neurons"].time) - 1e-9) / 0.1).astype(int)
        np.testing.assert_array_equal(run.counts["neurons"], np.bincount(step, minlength=600))
