"""Training and evaluation of the two-task networks (optax; one jitted update per batch).

Loss: the sum of the tasks' cross-entropies (+ β·KL with a bottleneck: the VIB objective,
actually optimised — the authors' code only logs it). Noise for the robustness tests:
`fixed` adds one pattern A·N(0, 1), drawn once from the seed, to every train and test image
(the authors' test); `fresh` adds a new draw per test image (the stronger test).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .data import MultiTaskData
from .layers import count_trainable, trainable_filter
from .conv import ConvMultiTaskNet
from .model import MultiTaskNet


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run (stored with its results)."""

    model: str = "hh"
    architecture: str = "fc"  # "fc" (MultiTaskNet) or "conv" (ConvMultiTaskNet, spec Fig. 4c)
    hidden: int = 128
    trunk: int = 50  # width of the Linear after the readout; 0: heads on the readout (784–128–10)
    steps: int = 15
    epochs: int = 8
    batch: int = 128
    lr: float = 4e-3
    weight_decay: float = 0.0
    seed: int = 0
    readout: str = "count"
    surrogate: str | None = None
    width: float | None = None
    bottleneck: int = 0
    beta: float = 1e-3
    noise: float = 0.0  # A of the fixed pattern added to train and test images (data units)
    layer_options: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("hidden", "steps", "epochs", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.architecture not in ("fc", "conv"):
            raise ValueError(f"unknown architecture {self.architecture!r}; choose fc or conv")
        if self.architecture == "conv" and (self.readout != "count" or self.bottleneck):
            raise ValueError("conv networks have the spike-count readout only (no membrane/voltage readout, "
                             "no bottleneck)")
        if self.noise < 0 or self.beta < 0 or self.weight_decay < 0:
            raise ValueError("noise, beta and weight_decay must be >= 0")


def build(config: TrainConfig, data: MultiTaskData) -> MultiTaskNet | ConvMultiTaskNet:
    n_classes = tuple(int(np.max(np.concatenate([data.y_train[:, k], data.y_test[:, k]]))) + 1
                      for k in range(data.n_tasks))
    if config.architecture == "conv":
        options = dict(config.layer_options)
        if config.surrogate is not None:
            options["surrogate"] = config.surrogate
        if config.width is not None:
            options["width"] = config.width
        if len(data.image_shape) != 2:
            raise ValueError(f"conv networks need 2-D images, the data has image shape {data.image_shape}")
        return ConvMultiTaskNet(config.model, data.image_shape, key=jax.random.PRNGKey(config.seed),
                                n_classes=n_classes, steps=config.steps, **options)
    return MultiTaskNet(config.model, data.n_inputs, config.hidden, key=jax.random.PRNGKey(config.seed),
                        n_classes=n_classes, trunk=config.trunk, steps=config.steps, readout=config.readout,
                        bottleneck=config.bottleneck, surrogate=config.surrogate, width=config.width,
                        **config.layer_options)


def model_dtype(model):
    """The floating dtype of `model`'s parameters (float32, or float64 under x64)."""
    return next(leaf.dtype for leaf in jax.tree.leaves(model) if eqx.is_inexact_array(leaf))


def _width(layer) -> int:
    """Features (Linear, spiking layers) or channels (convolutions) of `layer`."""
    return int(layer.out_channels if isinstance(layer, eqx.nn.Conv2d) else layer.out_features)


def fixed_pattern(config: TrainConfig, n_inputs: int) -> np.ndarray:
    """The robustness test's single noise pattern A·N(0, 1) (drawn from the seed)."""
    rng = np.random.default_rng(10_000 + config.seed)
    return (config.noise * rng.standard_normal(n_inputs)).astype(np.float32)


def _kl_to_standard_normal(mu, sigma):
    """KL(N(μ, σ²) ‖ N(0, I)) in nats, summed over the last axis."""
    return 0.5 * jnp.sum(mu**2 + sigma**2 - 1 - 2 * jnp.log(sigma), axis=-1)


def _loss(model, x, y, key, beta):
    keys = jax.random.split(key, x.shape[0])
    logits, stats = jax.vmap(model)(x, keys if model.bottleneck else None)
    ce = sum(optax.softmax_cross_entropy_with_integer_labels(lg, y[:, k]).mean() for k, lg in enumerate(logits))
    if not model.bottleneck:
        return ce, ce
    mu, sigma = stats
    kl = _kl_to_standard_normal(mu, sigma).mean()
    return ce + beta * kl, ce


def make_optimizer(config: TrainConfig):
    opt = optax.adam(config.lr)
    if config.weight_decay:
        opt = optax.chain(optax.add_decayed_weights(config.weight_decay), opt)
    return opt


def make_step(optimizer, beta: float):
    @eqx.filter_jit
    def step(params, static, opt_state, x, y, key):
        def loss_fn(p):
            return _loss(eqx.combine(p, static), x, y, key, beta)

        # optax mixes Python floats with int counters: trace it under standard promotion
        # even when the caller runs JAX with strict promotion
        with jax.numpy_dtype_promotion("standard"):
            (loss, ce), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return eqx.apply_updates(params, updates), opt_state, loss, ce

    return step


@eqx.filter_jit
def _predict(model, x):
    logits, _ = jax.vmap(model)(x, None)
    return jnp.stack([jnp.argmax(lg, -1) for lg in logits], axis=-1)


def _padded_batches(x, batch: int, dtype):
    """(batch of `x` zero-padded to `batch` rows as a `dtype` array, number of real rows):
    every batch has one shape, so the evaluation compiles once."""
    for i in range(0, x.shape[0], batch):
        xb = np.asarray(x[i:i + batch])
        rows = xb.shape[0]
        if rows < batch:
            xb = np.concatenate([xb, np.zeros((batch - rows,) + xb.shape[1:], xb.dtype)])
        yield jnp.asarray(xb, dtype), rows


def accuracy(model, x, y, batch: int = 500) -> np.ndarray:
    """Accuracy per task on (x, y), in batches (padded to one compiled shape)."""
    preds = [np.asarray(_predict(model, xb))[:rows]
             for xb, rows in _padded_batches(x, batch, model_dtype(model))]
    return (np.concatenate(preds) == y).mean(axis=0)


@eqx.filter_jit
def _vib_stats(model, x, y):
    """Per sample: KL(q(z|x) ‖ N(0, I)) (nats) and each task's cross-entropy."""
    logits, (mu, sigma) = jax.vmap(model)(x, None)
    kl = _kl_to_standard_normal(mu, sigma)
    ces = [optax.softmax_cross_entropy_with_integer_labels(lg, y[:, k]) for k, lg in enumerate(logits)]
    return kl, jnp.stack(ces, -1)


def information(model, x, y, batch: int = 500) -> dict:
    """VIB estimates on (x, y) in bits per sample: I(Z;X) ≤ E KL(q(z|x) ‖ N(0, I))/ln 2, and
    per task I(Z;Y_k) ≥ log2(classes) − CE_k/ln 2 (each task its own log2 term; their sum)."""
    if not model.bottleneck:
        raise ValueError("information estimates need a bottleneck (train with bottleneck=K)")
    kls, ces = [], []
    for (xb, rows), (yb, _) in zip(_padded_batches(x, batch, model_dtype(model)),
                                   _padded_batches(y, batch, np.asarray(y).dtype)):
        kl, ce = _vib_stats(model, xb, yb)
        kls.append(np.asarray(kl)[:rows]), ces.append(np.asarray(ce)[:rows])
    kl, ce = np.concatenate(kls), np.concatenate(ces)
    classes = [h.out_features for h in model.heads]
    izy = [math.log2(c) - ce[:, k].mean() / math.log(2) for k, c in enumerate(classes)]
    return dict(I_ZX_bits=float(kl.mean() / math.log(2)), I_ZY_bits_per_task=[float(v) for v in izy],
                I_ZY_bits=float(sum(izy)))


def train(config: TrainConfig, data: MultiTaskData, progress: bool = True, eval_noise=(), log=None) -> dict:
    """Train one network; returns accuracies (per task, per epoch and final), optional
    accuracy under fresh test noise at each level in `eval_noise`, cost numbers and the
    trained model (under "model", not JSON)."""
    model = build(config, data)
    params, static = eqx.partition(model, trainable_filter(model))
    optimizer = make_optimizer(config)
    opt_state = optimizer.init(params)
    step = make_step(optimizer, config.beta)
    pattern = fixed_pattern(config, data.n_inputs) if config.noise else 0.0
    dtype = np.dtype(model_dtype(model))  # float32, or float64 under jax_enable_x64
    x_train = (data.x_train + pattern).astype(dtype)
    x_test = (data.x_test + pattern).astype(dtype)
    rng = np.random.default_rng(config.seed)
    key = jax.random.PRNGKey(config.seed + 1)
    n = x_train.shape[0]
    per_epoch = n // config.batch
    history, step_times = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.epochs * per_epoch, desc=f"{config.model} seed {config.seed}", leave=False)
    for epoch in range(config.epochs):
        order = rng.permutation(n)
        for b in range(per_epoch):
            idx = order[b * config.batch:(b + 1) * config.batch]
            key, sub = jax.random.split(key)
            t = time.perf_counter()
            params, opt_state, loss, ce = step(params, static, opt_state, jnp.asarray(x_train[idx]),
                                               jnp.asarray(data.y_train[idx]), sub)
            loss = float(loss)
            step_times.append(time.perf_counter() - t)
            if not math.isfinite(loss):
                raise FloatingPointError(f"{config.model}: loss became {loss} at epoch {epoch}, batch {b}; "
                                         "lower the learning rate")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
        acc = accuracy(eqx.combine(params, static), x_test, data.y_test)
        history.append([float(a) for a in acc])
        if log:
            log(f"{config.model} seed {config.seed} epoch {epoch + 1}: test accuracy {', '.join(f'{a:.3f}' for a in acc)}")
    if bar is not None:
        bar.close()
    model = eqx.combine(params, static)
    result = dict(config=asdict(config), data=data.name, accuracy=history[-1], accuracy_history=history,
                  params=count_trainable(model), hidden_features=_width(model.hidden),
                  seconds_per_step=float(np.median(step_times[1:])) if len(step_times) > 1 else float(step_times[0]),
                  first_step_s=float(step_times[0]))
    if eval_noise:
        noisy = {}
        for level in eval_noise:
            draw = np.random.default_rng(20_000 + config.seed).standard_normal(x_test.shape).astype(np.float32)
            noisy[str(level)] = [float(a) for a in accuracy(model, (x_test + level * draw).astype(dtype), data.y_test)]
        result["accuracy_fresh_noise"] = noisy
    if config.bottleneck:
        result["information"] = information(model, x_test, data.y_test)
    result["model"] = model
    return result

