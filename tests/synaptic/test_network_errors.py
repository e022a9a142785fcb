"""Bad network input fails early with an error that names the problem."""

import numpy as np
import pytest

import hhjax as hj
from hhjax import synaptic as sy


def lif_net(conn, synapse=None, sizes=(3, 3)):
    pops = {"a": sy.Population(hj.LIF(), sizes[0]), "b": sy.Population(hj.LIF(), sizes[1])}
    return sy.Network(pops, {"ab": sy.Projection("a", "b", conn, synapse or sy.Exponential(5.0, 0.0))})


def test_population_size_mismatch():
    with pytest.raises(ValueError, match="size mismatch"):
        lif_net(sy.one_to_one(4))
    with pytest.raises(ValueError, match="size mismatch"):
        sy.Population(hj.LIF(tau=np.ones(5)), 4)
    with pytest.raises(ValueError, match="size mismatch"):
        sy.Population(hj.LIF(), 4, stimulus=np.ones(3))


def test_probability_outside_unit_interval():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"probability must lie in \[0, 1\]"):
            sy.fixed_probability(10, 10, p)


def test_bad_weights():
    with pytest.raises(ValueError, match="NaN"):
        lif_net(sy.one_to_one(3, weight=np.nan))
    with pytest.raises(ValueError, match="conductance weights must be ≥ 0"):
        lif_net(sy.one_to_one(3, weight=-1.0))
    lif_net(sy.one_to_one(3, weight=-1.0), sy.Exponential(5.0))  # current-based: inhibitory is fine


def test_bad_delays():
    with pytest.raises(ValueError, match="delays must be finite and ≥ 0"):
        lif_net(sy.one_to_one(3, delay=-0.5))
    net = lif_net(sy.one_to_one(3, delay=0.25))
    with pytest.raises(ValueError, match="not a multiple of dt"):
        sy.run_network(net, 10.0, dt=0.1)


def test_bad_times_and_names():
    net = lif_net(sy.one_to_one(3))
    with pytest.raises(ValueError, match="t1"):
        sy.run_network(net, -1.0)
    with pytest.raises(ValueError, match="dt must be > 0"):
        sy.run_network(net, 10.0, dt=-0.1)
    with pytest.raises(ValueError, match="unknown solver"):
        sy.run_network(net, 10.0, solver="nope")
    with pytest.raises(ValueError, match="implicit"):
        sy.run_network(net, 10.0, solver="kvaerno5")
    with pytest.raises(ValueError, match="unknown pre population 'x'"):
        sy.Network({"a": sy.Population(hj.LIF(), 3)}, {"p": sy.Projection("x", "a", sy.one_to_one(3),
                                                                         sy.Exponential())})
    with pytest.raises(ValueError, match="tau_rise"):
        sy.DualExponential(5.0, 1.0)


def test_memory_estimated_before_allocating():
    with pytest.raises(sy.NetworkMemoryError, match="GiB"):
        sy.fixed_in_degree(10**6, 10**8, 1000)
    with pytest.raises(sy.NetworkMemoryError):
        sy.fixed_probability(10**6, 10**6, 0.5)


def test_adaptive_path_refuses_poisson_sources():
    net = sy.Network({"src": sy.PoissonSource(3, 10.0), "a": sy.Population(hj.LIF(), 3)},
                     {"p": sy.Projection("src", "a", sy.one_to_one(3), sy.Exponential())})
    with pytest.raises(ValueError, match="deterministic"):
        sy.run_adaptive(net, 10.0)
