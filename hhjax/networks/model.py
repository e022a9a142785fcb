"""Two-task networks: a spiking (or ANN) hidden layer → Linear(features, 50) → one Linear(50,
10) head per task (He et al.'s trunk, spec §4.2), with a spike-count or membrane readout,
and an optional variational information bottleneck (spec §4.7)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .layers import HHLayer, LIFLayer, PaperHHLayer, SLIF2HHLayer, SpikingLayer

MODELS = ("lif", "hh", "hh-paper", "slif2hh", "slif2hh-joint", "4lif", "ann")
READOUTS = ("count", "membrane", "voltage")


def make_layer(name: str, n_in: int, hidden: int, *, key, steps: int = 15, surrogate: str | None = None,
               width: float | None = None, **options) -> SpikingLayer | eqx.nn.Linear:
    """The hidden layer of model `name` (see `MODELS`): "4lif" is LIF at 4 × `hidden`;
    "ann" a Linear layer (ReLU applied by the network). `surrogate`/`width` override the
    layer's default surrogate gradient."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if hidden < 1 or steps < 1:
        raise ValueError(f"hidden and steps must be >= 1, got hidden={hidden}, steps={steps}")
    kw = dict(options)
    if surrogate is not None:
        kw["surrogate"] = surrogate
    if width is not None:
        kw["width"] = width
    if name == "lif":
        return LIFLayer(n_in, hidden, key=key, steps=steps, **kw)
    if name == "4lif":
        return LIFLayer(n_in, 4 * hidden, key=key, steps=steps, **kw)
    if name == "hh":
        return HHLayer(n_in, hidden, key=key, steps=steps, **kw)
    if name == "hh-paper":
        return PaperHHLayer(n_in, hidden, key=key, steps=steps, **kw)
    if name == "slif2hh":
        return SLIF2HHLayer(n_in, hidden, key=key, steps=steps, rule="per_neuron", **kw)
    if name == "slif2hh-joint":
        return SLIF2HHLayer(n_in, hidden, key=key, steps=steps, rule="joint", **kw)
    if kw:
        raise ValueError(f"the ann model takes no layer options, got {sorted(kw)}")
    return eqx.nn.Linear(n_in, hidden, key=key)


class MultiTaskNet(eqx.Module):
    """hidden layer(s) → readout → Linear(features, `trunk`) → heads (one per task);
    `trunk=0`: the heads read the readout directly (the 784–128–10 network).

    `hidden` is a width or a tuple of widths: stacked layers, each driven by the spikes of
    the one below at every time step (ANN: Linear + ReLU layers).

    `readout="count"`: the time-mean spike count of every hidden neuron; `"membrane"`: a
    non-spiking leaky integrator z_t = decay·z_{t−1} + W s_t read at the last step instead
    of the trunk Linear on counts; `"voltage"`: the time-mean of the hidden neurons' own
    membrane potentials (graded, sub-threshold information included). With `bottleneck=K` the trunk outputs 2K numbers (μ and
    σ = softplus(· − 5)) and z = μ + σ·ε feeds the heads (the VIB of spec §4.7).
    """

    layers: tuple
    trunk: eqx.nn.Linear | eqx.nn.Identity
    heads: tuple
    readout: str = eqx.field(static=True)
    readout_decay: float = eqx.field(static=True)
    bottleneck: int = eqx.field(static=True)

    def __init__(self, name: str, n_in: int, hidden: int | tuple = 128, *, key, n_classes=(10, 10), trunk: int = 50,
                 steps: int = 15, readout: str = "count", readout_decay: float = 0.8, bottleneck: int = 0,
                 **layer_options):
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; choose from {', '.join(READOUTS)}")
        if bottleneck < 0:
            raise ValueError(f"bottleneck must be >= 0, got {bottleneck}")
        widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if not widths:
            raise ValueError("hidden must name at least one layer width")
        k1, k2, *kh = jax.random.split(key, 2 + len(n_classes))
        layers, fan_in = [], n_in
        layer_keys = [k1] if len(widths) == 1 else list(jax.random.split(k1, len(widths)))
        for width, k in zip(widths, layer_keys):
            layers.append(make_layer(name, fan_in, width, key=k, steps=steps, **layer_options))
            fan_in = layers[-1].out_features
        self.layers = tuple(layers)
        features = fan_in
        if trunk < 0 or (trunk == 0 and bottleneck):
            raise ValueError(f"trunk must be >= 1 (or 0, heads on the readout, without a bottleneck), got {trunk}")
        width = 2 * bottleneck if bottleneck else trunk
        # trunk = 0: the heads read the hidden layer directly (e.g. 784–128–10)
        self.trunk = eqx.nn.Linear(features, width, key=k2) if trunk else eqx.nn.Identity()
        head_in = bottleneck if bottleneck else (trunk or features)
        self.heads = tuple(eqx.nn.Linear(head_in, c, key=k) for c, k in zip(n_classes, kh))
        self.readout, self.readout_decay, self.bottleneck = readout, readout_decay, bottleneck

    @property
    def hidden(self):
        """The top hidden layer."""
        return self.layers[-1]

    def encode(self, x):
        """The trunk output for one sample x (n_in,) and the top layer's spikes (steps, features)."""
        if isinstance(self.hidden, eqx.nn.Linear):
            h = x
            for layer in self.layers:
                h = jax.nn.relu(layer(h))
            return self.trunk(h), h[None]
        h = x
        for layer in self.layers:
            spikes, membrane = layer(h)
            h = spikes
        if self.readout == "count":
            return self.trunk(self.hidden.count_features(spikes)), spikes
        if self.readout == "voltage":
            return self.trunk(jnp.mean(membrane, axis=0)), spikes

        def integrate(z, s):
            return self.readout_decay * z + self.trunk(s), None

        width = self.trunk.out_features if isinstance(self.trunk, eqx.nn.Linear) else spikes.shape[-1]
        z, _ = jax.lax.scan(integrate, jnp.zeros(width, spikes.dtype), spikes)
        return z, spikes

    def __call__(self, x, key=None):
        """Logits per task for one sample; with a bottleneck also (μ, σ). `key` draws ε
        (None: z = μ, for evaluation)."""
        out, _ = self.encode(x)
        if not self.bottleneck:
            return tuple(head(out) for head in self.heads), None
        mu, raw = out[: self.bottleneck], out[self.bottleneck:]
        sigma = jax.nn.softplus(raw - 5.0)
        z = mu if key is None else mu + sigma * jax.random.normal(key, mu.shape, mu.dtype)
        return tuple(head(z) for head in self.heads), (mu, sigma)
