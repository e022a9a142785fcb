"""Sending spikes into the delay buffers: one chunk of spiking rows against a NumPy sum
over the synapses; buffers that count spikes (`SpikeCounts`) deliver what buffers of summed
weights (`WeightSums`) deliver, in an integer type that holds every target's in-degree."""

import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax import synaptic as sy
from hhjax.backends import tuning_for
from hhjax.synaptic.delay_buffers import SpikeCounts, WeightSums, buffer_kind_for, count_dtype
from hhjax.synaptic.propagation import Outgoing

COUNTS = tuning_for().replace(network_count_buffers_from_entries=1)
SUMS = tuning_for().replace(network_count_buffers_from_entries=None)


def coba_with_delays(n=400, seed=2):
    """COBA with heterogeneous delays 0–2 ms on the excitatory projection (a 21-slot buffer)."""
    net, state = sy.coba(n, seed=seed, p=0.2, dtype="float64")
    proj = net.projections["exc"]
    pre, post = proj.connectivity.pairs()
    delay = 0.1 * np.random.default_rng(seed).integers(0, 21, pre.size)
    conn = sy.from_arrays(pre, post, n, n, weight=float(proj.connectivity.weights), delay=delay)
    projections = {**net.projections, "exc": sy.Projection("neurons", "neurons", conn, proj.synapse)}
    return sy.Network(net.populations, projections), state


@pytest.mark.parametrize("weights, delays, kind", [("per synapse", "per synapse", WeightSums()),
                                                   ("one", "one", SpikeCounts("int8")),
                                                   ("one", "per synapse", SpikeCounts("int16"))])
def test_a_chunk_of_spikes_lands_in_the_right_slots(weights, delays, kind):
    """`Outgoing.add_spikes` of a chunk of spiking rows (ascending, padded) equals the sum
    over their synapses of weight (or 1) into slot (base + delay) % depth at the target;
    a chunk of padding only leaves the buffer as it was."""
    rng = np.random.default_rng(0)
    n_pre, n_post, depth, base = 90, 70, 5, 13
    pre, post = rng.integers(10, n_pre, 1500), rng.integers(0, n_post, 1500)
    w = rng.uniform(0.1, 2.0, pre.size) if weights == "per synapse" else 0.75
    d = rng.integers(0, depth, pre.size) if delays == "per synapse" else 3
    conn = sy.from_arrays(pre, post, n_pre, n_post, weight=w, delay=np.asarray(d, float))
    out = Outgoing(conn, jnp.asarray(conn.delays, jnp.int32), depth, kind)
    spiking = np.array([12, 13, 40, 41, 77, 89])
    rows = conn.rows_of(jnp.asarray(np.concatenate([spiking, np.full(4, n_pre)])))
    empty = out.empty_buffer(jnp.float64)
    assert empty.dtype == kind.dtype(jnp.float64)
    start = empty + jnp.asarray(rng.integers(0, 3, empty.size), empty.dtype)  # (spikes sent before)
    got = np.asarray(out.add_spikes(start, rows, base), float)
    want = np.array(start, float).reshape(depth, n_post)
    unit = np.broadcast_to(1.0 if isinstance(kind, SpikeCounts) else w, pre.shape)
    for k in np.flatnonzero(np.isin(pre, spiking)):
        want[(base + np.broadcast_to(d, pre.shape)[k]) % depth, post[k]] += unit[k]
    np.testing.assert_allclose(got, want.ravel(), rtol=1e-12)
    padding = conn.rows_of(jnp.full(10, n_pre))
    np.testing.assert_array_equal(np.asarray(out.add_spikes(start, padding, base)), np.asarray(start))


def test_spike_counts_give_the_run_of_weight_sums():
    net, state = coba_with_delays()
    monitors = sy.Monitors(states={"neurons": [0, 5, 9]})
    counted, summed = (sy.run_network(net, 150.0, initial=state, monitors=monitors, tuning=t) for t in (COUNTS, SUMS))
    assert {k: b.dtype for k, b in counted.final.buffers.items()} == {"exc": jnp.int8, "inh": jnp.int8}
    assert all(jnp.issubdtype(b.dtype, jnp.floating) for b in summed.final.buffers.values())
    assert summed.n_spikes > 300
    np.testing.assert_array_equal(counted.spikes["neurons"].index, summed.spikes["neurons"].index)
    np.testing.assert_allclose(counted.spikes["neurons"].time, summed.spikes["neurons"].time, rtol=0, atol=1e-9)
    np.testing.assert_allclose(counted.samples["neurons"][1].V, summed.samples["neurons"][1].V, rtol=0, atol=1e-8)


@pytest.mark.parametrize("k, integer", [(127, "int8"), (128, "int16")])
def test_count_type_holds_all_synapses_of_a_target_at_once(k, integer):
    """k sources that spike every step, all onto one LIF neuron through delta synapses of
    0.25 mV: k spikes arrive at once in every step after the first. The count type is the
    narrowest that holds k, and V follows the weight-sum run (an int8 count of 128 would
    wrap around to −128)."""
    lif = hj.LIF(tau=10.0, V_rest=-65.0, V_reset=-65.0, V_th=1e4, R=10.0, t_ref=2.0)
    net = sy.Network({"src": sy.PoissonSource(k, 1e4), "n": sy.Population(lif, 1)},
                     {"in": sy.Projection("src", "n", sy.dense(k, 1, weight=0.25), sy.Delta())})
    assert net.projections["in"].connectivity.max_in_degree == k
    monitors = sy.Monitors(spikes=False, states={"n": [0]})
    counted, summed = (sy.run_network(net, 1.0, monitors=monitors, dtype="float64", tuning=t) for t in (COUNTS, SUMS))
    assert counted.final.buffers["in"].dtype == jnp.dtype(integer)
    V = np.asarray(counted.samples["n"][1].V)[:, 0]
    np.testing.assert_allclose(V, np.asarray(summed.samples["n"][1].V)[:, 0], rtol=1e-12)
    assert V[1] - V[0] > 0.9 * 0.25 * k  # (the kick of step 2, less some leak)


def test_the_buffer_kind_is_chosen_where_counts_are_possible():
    scalar = sy.fixed_probability(50, 40, 0.3, weight=0.5, seed=1)
    per_synapse = sy.from_arrays(*scalar.pairs(), 50, 40, weight=np.full(scalar.n_synapses, 0.5))
    in_degree = int(np.bincount(scalar.pairs()[1], minlength=40).max())
    assert scalar.max_in_degree == in_degree
    assert buffer_kind_for(scalar, 1, True, COUNTS) == SpikeCounts("int8")
    assert buffer_kind_for(scalar, 1, False, COUNTS) == WeightSums()  # (AllSynapses sends surrogate values)
    assert buffer_kind_for(per_synapse, 1, True, COUNTS) == WeightSums()
    assert buffer_kind_for(scalar, 1, True, SUMS) == WeightSums()
    assert buffer_kind_for(scalar, 2, True, COUNTS.replace(network_count_buffers_from_entries=80)) == SpikeCounts("int8")
    assert buffer_kind_for(scalar, 1, True, COUNTS.replace(network_count_buffers_from_entries=80)) == WeightSums()
    assert [count_dtype(d) for d in (0, 127, 128, 32767, 32768)] == ["int8", "int8", "int16", "int16", None]
