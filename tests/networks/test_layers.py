"""Spiking-network layers, data, training pieces and the experiment commands (issue 5)."""

import json
import pickle
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj
from hhjax import networks as hn
from hhjax.networks.experiments import paper_flops, parse_model_spec
from hhjax.networks.surrogates import SURROGATES
from hhjax.networks.train import _loss

from conftest import ROOT

KEY = jax.random.PRNGKey(0)


# --- surrogates ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", SURROGATES)
def test_surrogate_forward_is_heaviside_and_gradient_is_finite_nonzero(kind):
    f = hn.spike_function(kind, 0.5)
    x = jnp.asarray([-1.0, -0.1, 0.0, 0.1, 1.0])
    np.testing.assert_array_equal(f(x), [0, 0, 0, 1, 1])
    g = jax.vmap(jax.grad(f))(x)
    assert np.all(np.isfinite(g))
    assert g[1] > 0 and g[3] > 0  # inside the window
    assert g[2] == pytest.approx(float(jnp.max(g)))  # largest at the threshold


def test_surrogate_choices_are_checked():
    with pytest.raises(ValueError, match="unknown surrogate 'tanh'"):
        hn.spike_function("tanh")
    with pytest.raises(ValueError, match="width must be > 0"):
        hn.spike_function("sigmoid", 0.0)


# --- one dynamics: layers = the engine's simulation --------------------------------------

def test_lif_layer_is_the_engines_discrete_lif():
    layer = hn.LIFLayer(12, 5, key=KEY, steps=15)
    x = jax.random.uniform(jax.random.PRNGKey(1), (12,))
    spikes, u = layer(x)
    current = layer.linear(x)
    sim = hj.simulate(hj.DiscreteLIF(decay=0.2, threshold=0.3), hj.Constant(current), t1=15.0, save_every=1.0)
    np.testing.assert_allclose(u, sim.V, rtol=1e-12, atol=1e-12)
    for i in range(5):
        times = np.nonzero(np.asarray(spikes[:, i]))[0].astype(float)
        np.testing.assert_allclose(sim.spike_list()[i], times)


def test_hh_layer_is_the_engines_hh_simulation():
    """Forward pass = `simulate` of the encoded current: 15 steps of 2 ms, exponential
    Euler at 0.5 ms (the layer's defaults)."""
    layer = hn.HHLayer(10, 6, key=KEY, steps=15)
    x = 4 * jax.random.uniform(jax.random.PRNGKey(2), (10,)) - 2
    spikes, v = layer(x)
    current = layer.input_scale * jax.nn.sigmoid(layer.linear(x) + layer.offset)
    sim = hj.simulate(hj.HodgkinHuxley(), hj.Constant(current), t1=30.0, solver="expeuler", dt=0.5, save_every=2.0)
    V = np.asarray(sim.V)[1:]  # the layer reports the end of each 2 ms step
    np.testing.assert_allclose(v * 100.0 - 65.0, V, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.asarray(spikes).sum(0), sim.spike_counts)
    assert sim.spike_counts.sum() > 0  # the test input does make spikes


def test_paper_hh_layer_is_hh_with_constant_rates_and_a_leaky_integrator():
    layer = hn.PaperHHLayer(10, 4, key=KEY, steps=15)
    x = jax.random.uniform(jax.random.PRNGKey(3), (10,))
    _, v = layer(x)
    current = layer.linear(x)
    z = jnp.zeros(4)
    sim = hj.simulate(layer.neuron, hj.Constant(current), t1=0.15, solver="euler", dt=0.01,
                      y0=hj.HHState(V=z, m=z, h=z, n=z), save_every="step", threshold=0.2)
    np.testing.assert_allclose(v, sim.V, rtol=1e-10, atol=1e-12)
    # the rates are constants: the gates stay tiny and V follows v ← (1 − 0.3 dt) v + dt (I + 3.18) (spec §3.3)
    assert float(jnp.max(sim.ys.m)) < 15 * 0.01 * 0.01 + 1e-12
    vv = np.zeros(4)
    for _ in range(15):
        vv = (1 - 0.3 * 0.01) * vv + 0.01 * (np.asarray(current) + 0.3 * 10.6)
    np.testing.assert_allclose(v[-1], vv, rtol=1e-3)


def test_slif2hh_layer_is_the_engines_slif2hh_unit():
    layer = hn.SLIF2HHLayer(8, 3, key=KEY, steps=15, rule="per_neuron")
    same = layer.projections[0]
    layer = eqx.tree_at(lambda l: l.projections, layer, (same, same, same))  # equal inputs → one stimulus
    x = 3 * jax.random.uniform(jax.random.PRNGKey(4), (8,))
    spikes, u = layer(x)
    n = layer.neuron
    model = hj.SLIF2HH(decay=n.decay, threshold=n.threshold, w1=n.w1, w2=n.w2, w3=n.w3, bias=n.bias,
                       rule="per_neuron")
    sim = hj.simulate(model, hj.Constant(same(x)), t1=15.0, save_every=1.0)
    np.testing.assert_allclose(u[:, 9:], sim.V, rtol=1e-12, atol=1e-12)  # neuron 4 of each unit
    np.testing.assert_array_equal(np.asarray(spikes[:, 9:]).sum(0), sim.spike_counts)


@pytest.mark.parametrize("name", ["lif", "hh", "hh-paper", "slif2hh", "slif2hh-joint", "4lif"])
def test_surrogate_gradients_reach_the_input_weights(name):
    net = hn.MultiTaskNet(name, 20, 8, key=KEY, steps=6)
    # inputs strong enough to bring membranes into the surrogate windows (a rectangular
    # window far from threshold passes no gradient, by design)
    x = 5 * jax.random.uniform(jax.random.PRNGKey(5), (4, 20))
    y = jnp.asarray([[1, 2], [3, 4], [5, 6], [7, 8]])
    params, static = eqx.partition(net, hn.layers.trainable_filter(net))
    grads = jax.grad(lambda p: _loss(eqx.combine(p, static), x, y, KEY, 0.0)[0])(params)
    leaves = jax.tree.leaves(grads.hidden)
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert sum(float(jnp.sum(jnp.abs(g))) for g in leaves) > 0


def test_neuron_parameters_are_not_trained_but_slif2hh_weights_are():
    hh = hn.MultiTaskNet("hh", 20, 8, key=KEY)
    spec = hn.layers.trainable_filter(hh)
    assert not any(jax.tree.leaves(spec.hidden.neuron))
    s = hn.MultiTaskNet("slif2hh", 20, 8, key=KEY)
    spec = hn.layers.trainable_filter(s)
    assert spec.hidden.neuron.w1 and spec.hidden.neuron.bias and not spec.hidden.neuron.decay


# --- sizes and FLOPs of the paper's networks --------------------------------------------

@pytest.mark.parametrize("name, params", [
    ("lif", 690_734), ("hh", 690_734), ("slif2hh", 2_095_666), ("4lif", 2_759_726), ("ann", 690_734),
])
def test_trainable_parameters_match_the_paper(name, params):
    net = hn.MultiTaskNet(name, 1296, 512, key=KEY)
    assert hn.count_trainable(net) == params


@pytest.mark.parametrize("name, mul", [("lif", 10_001_920), ("hh", 10_155_520), ("slif2hh", 30_077_440),
                                       ("4lif", 40_007_680)])
def test_paper_flops_of_the_fc_networks(name, mul):
    assert paper_flops(name, 1296, 512, 15)["mul"] == mul


# --- data ---------------------------------------------------------------------------------

def test_two_digit_dataset_shapes_labels_and_determinism():
    a = hn.two_digit_dataset(n_train=300, n_test=100, seed=3)
    b = hn.two_digit_dataset(n_train=300, n_test=100, seed=3)
    c = hn.two_digit_dataset(n_train=300, n_test=100, seed=4)
    assert a.x_train.shape == (300, 576) and a.y_train.shape == (300, 2) and a.x_test.shape == (100, 576)
    assert a.x_train.dtype == np.float32 and 0 <= a.x_train.min() and a.x_train.max() <= 1
    assert set(np.unique(a.y_train)) <= set(range(10)) and len(np.unique(a.y_train[:, 0])) == 10
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    img = a.x_train[0].reshape(24, 24)
    assert img[:8, :8].sum() > 0 and img[16:, 16:].sum() > 0  # one digit top-left, one bottom-right
    with pytest.raises(ValueError, match="canvas must be at least 16"):
        hn.two_digit_dataset(canvas=12)


def test_pickle_loader_reads_the_authors_format(tmp_path):
    rng = np.random.default_rng(0)
    content = (255 * rng.random((20, 36, 36)), rng.integers(0, 10, (20, 2)),
               255 * rng.random((8, 36, 36)), rng.integers(0, 10, (8, 2)))
    path = tmp_path / "multi.pickle"
    with open(path, "wb") as f:
        pickle.dump(content, f)
    d = hn.load_multitask_pickle(path)
    assert d.x_train.shape == (20, 1296) and d.y_test.shape == (8, 2) and d.image_shape == (36, 36)
    assert d.x_train.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(d.y_train, content[1])
    bad = tmp_path / "bad.pickle"
    with open(bad, "wb") as f:
        pickle.dump({"x": 1}, f)
    with pytest.raises(ValueError, match="expected a 4-tuple"):
        hn.load_multitask_pickle(bad)
    (tmp_path / "junk.pickle").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable pickle"):
        hn.load_multitask_pickle(tmp_path / "junk.pickle")


# --- configuration errors -------------------------------------------------------------------

def test_bad_configurations_get_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'izh'"):
        hn.MultiTaskNet("izh", 10, 4, key=KEY)
    with pytest.raises(ValueError, match="unknown readout 'max'"):
        hn.MultiTaskNet("lif", 10, 4, key=KEY, readout="max")
    with pytest.raises(ValueError, match="hidden and steps must be >= 1"):
        hn.MultiTaskNet("lif", 10, 0, key=KEY)
    with pytest.raises(ValueError, match="unknown HH layer solver"):
        hn.HHLayer(4, 2, key=KEY, solver="tsit5")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        hn.TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown readout 'peak'"):
        parse_model_spec("hh:peak")
    with pytest.raises(ValueError, match="information estimates need a bottleneck"):
        hn.information(hn.MultiTaskNet("lif", 10, 4, key=KEY), np.zeros((2, 10), np.float32), np.zeros((2, 2), int))


def test_cli_train_rejects_unknown_model(capsys):
    from hhjax.cli import main

    assert main(["train", "--model", "izhikevich", "--out", "x.json"]) == 2
    assert "unknown model 'izhikevich'" in capsys.readouterr().err


# --- training pieces ---------------------------------------------------------------------

def test_vib_loss_contains_beta_kl():
    net = hn.MultiTaskNet("lif", 20, 8, key=KEY, bottleneck=4)
    x = jax.random.uniform(KEY, (6, 20))
    y = jnp.zeros((6, 2), jnp.int32)
    l0, ce0 = _loss(net, x, y, KEY, 0.0)
    l1, ce1 = _loss(net, x, y, KEY, 1.0)
    assert float(ce0) == pytest.approx(float(ce1)) and float(l0) == pytest.approx(float(ce0))
    assert float(l1) > float(l0)  # KL > 0 is added


def test_short_training_learns_and_reports():
    data = hn.two_digit_dataset(n_train=1024, n_test=200)
    r = hn.train(hn.TrainConfig(model="lif", hidden=64, epochs=3, bottleneck=8), data, progress=False,
                 eval_noise=(0.2,))
    assert min(r["accuracy"]) > 0.3  # chance is 0.1
    assert r["params"] == hn.count_trainable(r["model"])
    assert set(r["accuracy_fresh_noise"]) == {"0.2"}
    info = r["information"]
    assert info["I_ZX_bits"] > 0 and np.isfinite(info["I_ZY_bits"]) and len(info["I_ZY_bits_per_task"]) == 2


@pytest.mark.slow
def test_cli_compare_quick_and_report(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hhjax.cli", "compare", "--quick", "--no-progress",
                          "--out", str(tmp_path / "c.json"), "--figure", str(tmp_path / "c.png")],
                         cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "c.json").read_text())
    for name, e in res["models"].items():
        assert len(e["accuracy"]["mean"]) == 2 and e["params"] > 0 and e["cost"]["seconds_per_step"] > 0
        assert np.isfinite(e["information"]["I_ZX_bits"])
    rep = subprocess.run([sys.executable, "-m", "hhjax.cli", "report", str(tmp_path / "c.json")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0 and "task 1" in rep.stdout
    assert "hh" in [line.split()[0] for line in rep.stdout.splitlines() if line.strip()]


def test_layers_stack_on_spike_trains():
    net = hn.MultiTaskNet("lif", 20, (16, 8), key=KEY, steps=6)
    assert [layer.linear.in_features for layer in net.layers] == [20, 16]
    (l1, l2), _ = net(5 * jax.random.uniform(KEY, (20,)))
    assert l1.shape == (10,) and l2.shape == (10,)
    spikes, _ = net.layers[0](5 * jax.random.uniform(KEY, (20,)))
    s2, u2 = net.layers[1](spikes)  # a time series input
    assert s2.shape == (6, 8)
    with pytest.raises(ValueError, match=r"input must have 1 dimension\(s\) \(static\) or 2 with 6 steps first"):
        net.layers[1](jnp.zeros((5, 16)))
    s = hn.MultiTaskNet("slif2hh", 20, (4, 3), key=KEY, steps=6)
    assert s.layers[1].projections[0].in_features == 16  # four neurons per unit below
    assert hn.count_trainable(s) > 0


@pytest.mark.parametrize("name", ["wang-buzsaki", "traub-miles"])
def test_an_hh_layer_runs_any_library_model(name):
    """The real-HH layer takes any `ConductanceNeuron` (here from the channel library): it
    fires on default-sized inputs and its surrogate gradients reach the input weights."""
    layer = hn.HHLayer(8, 5, key=jax.random.PRNGKey(0), neuron=hj.library_model(name))
    x = jax.random.uniform(jax.random.PRNGKey(1), (8,))

    def loss(layer):
        s, _ = layer(x)
        return jnp.mean(s)

    value, grads = eqx.filter_value_and_grad(loss)(layer)
    assert float(value) > 0
    g = np.asarray(grads.linear.weight)
    assert np.all(np.isfinite(g)) and np.any(g != 0)
