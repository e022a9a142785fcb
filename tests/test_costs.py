"""Operation counts: the paper's FLOP rule and XLA's count of a compiled step."""

import jax
import jax.numpy as jnp
import pytest

import hhjax as hj
from hhjax import costs


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
