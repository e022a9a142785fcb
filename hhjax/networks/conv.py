"""The paper's convolutional two-task networks (spec §4.2, Fig. 4c): two spiking
convolution layers (3×3, 'same' padding), each followed by 2×2 average pooling of its
spikes, → spike-count readout → Linear(·, `trunk`) → one head per task.

| name      | layers                                                              |
|-----------|---------------------------------------------------------------------|
| `lif`     | LIF neurons on every pixel of `channels` = (10, 10) feature maps    |
| `4lif`    | the same with 4× the channels (40, 40)                               |
| `hh`      | Hodgkin–Huxley neurons (the fused `HHLayer`) on every pixel          |
| `slif2hh` | s-LIF2HH units: three convolutions per layer feed neurons 1–3; the   |
|           | next layer convolves the sum of the four neurons' spike maps (the    |
|           | authors apply each convolution to each map and sum: the same up to   |
|           | the bias); the readout takes all four maps                           |
| `cnn`     | one step: Conv → ReLU → binarise (> 0.5, straight-through window 0.5) |
|           | → average pool, twice                                               |

Parameter counts at 36×36 inputs equal the spec's (tests), except s-LIF2HH: one 3→1
connection per layer (+4) where the authors share one across both layers.
"""

from __future__ import annotations

import equinox as eqx
import jax

from .layers import HHLayer, LIFLayer, SLIF2HHLayer
from .surrogates import spike_function

CONV_MODELS = ("lif", "4lif", "hh", "slif2hh", "cnn")


def average_pool(x, size: int = 2):
    """Average over non-overlapping `size`×`size` windows of the last two axes."""
    *lead, h, w = x.shape
    if h % size or w % size:
        raise ValueError(f"feature maps {h}×{w} are not divisible by the pooling size {size}")
    return x.reshape(*lead, h // size, size, w // size, size).mean(axis=(-3, -1))


def _conv_layer(name, c_in, c_out, key, steps, options):
    if name in ("lif", "4lif"):
        return LIFLayer(c_in, c_out, key=key, steps=steps, kernel=3, **options)
    if name == "hh":
        return HHLayer(c_in, c_out, key=key, steps=steps, kernel=3, **options)
    # the authors' conv s-LIF2HH settings (spec §3.2): decay 0.2, θ 0.3, window 0.4
    options = dict(dict(decay=0.2, threshold=0.3, width=0.4), **options)
    return SLIF2HHLayer(c_in, c_out, key=key, steps=steps, kernel=3, **options)


class ConvMultiTaskNet(eqx.Module):
    """Two-layer convolutional network of model `name` (see `CONV_MODELS`) for images of
    `image_shape` (H, W), one channel; H and W divisible by 4."""

    layers: tuple
    trunk: eqx.nn.Linear
    heads: tuple
    name: str = eqx.field(static=True)
    image_shape: tuple = eqx.field(static=True)
    bottleneck: int = eqx.field(static=True)

    def __init__(self, name: str, image_shape, *, key, channels=(10, 10), n_classes=(10, 10), trunk: int = 50,
                 steps: int = 15, **layer_options):
        if name not in CONV_MODELS:
            raise ValueError(f"unknown conv model {name!r}; choose from {', '.join(CONV_MODELS)}")
        h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(f"image sides must be divisible by 4 (two 2×2 poolings), got {image_shape}")
        widths = tuple(4 * c for c in channels) if name == "4lif" else tuple(channels)
        k1, k2, k3, *kh = jax.random.split(key, 3 + len(n_classes))
        if name == "cnn":
            if layer_options:
                raise ValueError(f"the cnn model takes no layer options, got {sorted(layer_options)}")
            layers = (eqx.nn.Conv2d(1, widths[0], 3, padding=1, key=k1),
                      eqx.nn.Conv2d(widths[0], widths[1], 3, padding=1, key=k2))
        else:
            layers = (_conv_layer(name, 1, widths[0], k1, steps, layer_options),
                      _conv_layer(name, widths[0], widths[1], k2, steps, layer_options))
        self.layers = layers
        maps = 4 if name == "slif2hh" else 1
        features = maps * widths[1] * (h // 4) * (w // 4)
        self.trunk = eqx.nn.Linear(features, trunk, key=k3)
        self.heads = tuple(eqx.nn.Linear(trunk, c, key=k) for c, k in zip(n_classes, kh))
        self.name, self.image_shape, self.bottleneck = name, tuple(image_shape), 0

    @property
    def hidden(self):
        """The top hidden layer."""
        return self.layers[-1]

    def _merge_unit_maps(self, spikes):
        """s-LIF2HH: (steps, 4c, H, W) → the sum of the four neurons' maps (steps, c, H, W)."""
        t, c4, h, w = spikes.shape
        return spikes.reshape(t, 4, c4 // 4, h, w).sum(axis=1)

    def encode(self, x):
        """Trunk output for one flattened image x (H·W,) and the top layer's pooled spikes."""
        image = x.reshape((1,) + self.image_shape)
        if self.name == "cnn":
            binarise = spike_function("rectangular", 0.5)
            h = image
            for conv in self.layers:
                h = average_pool(binarise(jax.nn.relu(conv(h)) - 0.5))
            return self.trunk(h.ravel()), h[None]
        h = image
        for i, layer in enumerate(self.layers):
            spikes, _ = layer(h)
            pooled = average_pool(spikes)
            h = self._merge_unit_maps(pooled) if (self.name == "slif2hh" and i == 0) else pooled
        features = self.hidden.count_features(pooled)
        return self.trunk(features.ravel()), pooled

    def __call__(self, x, key=None):
        """Logits per task for one sample (and None: no bottleneck)."""
        out, _ = self.encode(x)
        return tuple(head(out) for head in self.heads), None
