"""SAC actors with one spiking layer (spec §4.4): the last `window` states, each held for
`repeat` steps, drive an hhjax layer (LIF, 4×LIF, HH, s-LIF2HH) whose spike-count readout
feeds two 2-layer ReLU heads (mean, log σ clamped to [−20, 2]). The ANN actor is the authors'
binarised one: Linear → ReLU → binarise (> 0.5, straight-through) on the last state.

Default input: the latest state for 15 steps (window 1 × 15), the information the ANN actor
has. The paper's 5 states × 3 steps (`window=5, repeat=3`) sums spikes over the whole window,
so the latest state drives only a fifth of the count: on the inverted double pendulum that
input stops every spiking actor from learning to balance in the budget where the ANN does
(docs/rl.md)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..networks.layers import SpikingLayer, trainable_filter
from ..networks.model import make_layer
from ..networks.surrogates import spike_function

ACTORS = ("ann", "lif", "4lif", "hh", "slif2hh")


class Actor(eqx.Module):
    """obs (window, d) → (mean, log σ) of the pre-squash Gaussian, each (action_dim,)."""

    encoder: eqx.Module
    mean_head: eqx.nn.MLP
    log_std_head: eqx.nn.MLP
    name: str = eqx.field(static=True)
    window: int = eqx.field(static=True)
    repeat: int = eqx.field(static=True)

    def features(self, obs):
        if obs.ndim != 2 or obs.shape[0] != self.window:
            raise ValueError(f"actor observations are windows ({self.window} states, state), got shape {obs.shape}")
        if self.name == "ann":
            binarise = spike_function("rectangular", 0.5)
            return binarise(jax.nn.relu(self.encoder(obs[-1])) - 0.5)
        steps = jnp.repeat(obs, self.repeat, axis=0)  # each state held for `repeat` steps
        spikes, _ = self.encoder(steps)
        return self.encoder.count_features(spikes)

    def __call__(self, obs):
        f = self.features(obs)
        return self.mean_head(f), jnp.clip(self.log_std_head(f), -20.0, 2.0)


def make_actor(name: str, state_dim: int, action_dim: int, *, key, hidden: int = 128, window: int = 1,
               repeat: int = 15, head_hidden: int = 256, **layer_options) -> Actor:
    """Actor `name` (see `ACTORS`): `hidden` units (4lif: 4×), heads of `head_hidden`."""
    if name not in ACTORS:
        raise ValueError(f"unknown actor {name!r}; choose from {', '.join(ACTORS)}")
    if window < 1 or repeat < 1:
        raise ValueError(f"need window >= 1 and repeat >= 1, got {window}, {repeat}")
    k1, k2, k3 = jax.random.split(key, 3)
    if name == "ann":
        encoder = eqx.nn.Linear(state_dim, hidden, key=k1)
        features = hidden
    else:
        encoder = make_layer(name, state_dim, hidden, key=k1, steps=window * repeat, **layer_options)
        features = encoder.out_features
    head = lambda k: eqx.nn.MLP(features, action_dim, head_hidden, 2, activation=jax.nn.relu, key=k)  # noqa: E731
    return Actor(encoder, head(k2), head(k3), name, window, repeat)


def actor_filter(actor: Actor):
    """Trainable leaves of `actor` (a spiking encoder's neuron parameters stay fixed)."""
    spec = jax.tree.map(eqx.is_inexact_array, actor)
    if isinstance(actor.encoder, SpikingLayer):
        spec = eqx.tree_at(lambda a: a.encoder, spec, trainable_filter(actor.encoder))
    return spec
