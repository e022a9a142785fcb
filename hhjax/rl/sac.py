"""Soft actor-critic (Haarnoja et al. 2018) in JAX/optax: twin Q critics with Polyak-averaged
targets, a tanh-squashed Gaussian actor, fixed or automatically tuned temperature α.

Observations for the actor may be a window of states (W, d); the critics see the last state
(the authors' critic reads the last state of the window, spec §4.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from .actors import Actor, actor_filter


@dataclass(frozen=True)
class SACConfig:
    """SAC settings (defaults: spec §4.4 — γ 0.99, τ 0.005, Adam 3e-4, batch 64, α 0.2 fixed;
    `auto_alpha` tunes α towards entropy `target_entropy`, default −|A|)."""

    gamma: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4
    batch: int = 64
    alpha: float = 0.2
    auto_alpha: bool = False
    critic_hidden: int = 256
    target_entropy: float | None = None  # default −action_dim

    def __post_init__(self):
        if not 0 <= self.gamma <= 1 or not 0 < self.tau <= 1:
            raise ValueError(f"need 0 <= gamma <= 1 and 0 < tau <= 1, got {self.gamma}, {self.tau}")
        if not self.lr > 0 or self.batch < 1 or not self.alpha > 0:
            raise ValueError(f"need lr > 0, batch >= 1, alpha > 0, got {self.lr}, {self.batch}, {self.alpha}")


def critic_view(obs):
    """What the critics see of an observation: the last state of a window, else itself."""
    return obs[-1] if obs.ndim == 2 else obs


class TwinQ(eqx.Module):
    """Two independent Q(s, a) MLPs (two hidden ReLU layers)."""

    q1: eqx.nn.MLP
    q2: eqx.nn.MLP

    def __init__(self, obs_dim: int, action_dim: int, hidden: int, *, key):
        k1, k2 = jax.random.split(key)
        make = lambda k: eqx.nn.MLP(obs_dim + action_dim, "scalar", hidden, 2, activation=jax.nn.relu, key=k)  # noqa: E731
        self.q1, self.q2 = make(k1), make(k2)

    def __call__(self, obs, action):
        x = jnp.concatenate([critic_view(obs), action])
        return self.q1(x), self.q2(x)


def squashed_gaussian(mean, log_std, key):
    """(a = tanh(u), log π(a)) with u ~ N(mean, exp(log_std)²): the density of u corrected by
    log |da/du| = log(1 − tanh²u) = 2(log 2 − u − softplus(−2u)) (the stable form)."""
    std = jnp.exp(log_std)
    u = mean + std * jax.random.normal(key, mean.shape, mean.dtype)
    log_normal = -0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi)
    log_jacobian = 2 * (jnp.log(2.0) - u - jax.nn.softplus(-2 * u))
    return jnp.tanh(u), jnp.sum(log_normal - log_jacobian)


class SACState(eqx.Module):
    actor: Actor
    critic: TwinQ
    target_critic: TwinQ
    log_alpha: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState
    updates: jax.Array


def _optimizer(config):
    return optax.adam(config.lr)


def init_sac(actor: Actor, obs_dim: int, action_dim: int, config: SACConfig, *, key) -> SACState:
    """Critics, targets (copies), temperature and optimiser states for `actor`."""
    critic = TwinQ(obs_dim, action_dim, config.critic_hidden, key=key)
    opt = _optimizer(config)
    dtype = next(x.dtype for x in jax.tree.leaves(actor) if eqx.is_inexact_array(x))
    log_alpha = jnp.log(jnp.asarray(config.alpha, dtype))
    return SACState(actor, critic, critic, log_alpha, opt.init(eqx.filter(actor, actor_filter(actor))),
                    opt.init(eqx.filter(critic, eqx.is_inexact_array)), opt.init(log_alpha),
                    jnp.zeros((), jnp.int32))


def act(actor: Actor, obs, key, deterministic: bool = False):
    """An action for one observation: a sample of the squashed Gaussian, or tanh(mean)."""
    mean, log_std = actor(obs)
    if deterministic:
        return jnp.tanh(mean)
    return squashed_gaussian(mean, log_std, key)[0]


def _policy(actor, obs, key):
    mean, log_std = actor(obs)
    return squashed_gaussian(mean, log_std, key)


@eqx.filter_jit
def sac_update(state: SACState, batch: dict, key, config: SACConfig):
    """One SAC update on `batch` (from `ReplayBuffer.sample`): critics, actor, α, targets.
    Returns (new state, metrics)."""
    # optax mixes Python floats with integer step counts: trace under standard promotion
    # even when the caller runs JAX with strict promotion
    with jax.numpy_dtype_promotion("standard"):
        return _update(state, batch, key, config)


def _update(state, batch, key, config):
    opt = _optimizer(config)
    n = batch["reward"].shape[0]
    k_next, k_now = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha)
    action_dim = batch["action"].shape[-1]
    target_entropy = -float(action_dim) if config.target_entropy is None else config.target_entropy

    next_a, next_logp = jax.vmap(_policy, (None, 0, 0))(state.actor, batch["next_obs"], jax.random.split(k_next, n))
    tq1, tq2 = jax.vmap(state.target_critic)(batch["next_obs"], next_a)
    soft = jnp.minimum(tq1, tq2) - alpha * next_logp
    target = jax.lax.stop_gradient(batch["reward"] + config.gamma * (1 - batch["done"]) * soft)

    def critic_loss(critic):
        q1, q2 = jax.vmap(critic)(batch["obs"], batch["action"])
        return jnp.mean((q1 - target) ** 2) + jnp.mean((q2 - target) ** 2)

    c_params, c_static = eqx.partition(state.critic, eqx.is_inexact_array)
    c_loss, c_grads = jax.value_and_grad(lambda p: critic_loss(eqx.combine(p, c_static)))(c_params)
    c_updates, critic_opt = opt.update(c_grads, state.critic_opt, c_params)
    critic = eqx.combine(eqx.apply_updates(c_params, c_updates), c_static)

    def actor_loss(actor):
        a, logp = jax.vmap(_policy, (None, 0, 0))(actor, batch["obs"], jax.random.split(k_now, n))
        q1, q2 = jax.vmap(critic)(batch["obs"], a)
        return jnp.mean(alpha * logp - jnp.minimum(q1, q2)), logp

    a_params, a_static = eqx.partition(state.actor, actor_filter(state.actor))
    (a_loss, logp), a_grads = jax.value_and_grad(lambda p: actor_loss(eqx.combine(p, a_static)), has_aux=True)(a_params)
    a_updates, actor_opt = opt.update(a_grads, state.actor_opt, a_params)
    actor = eqx.combine(eqx.apply_updates(a_params, a_updates), a_static)

    log_alpha, alpha_opt = state.log_alpha, state.alpha_opt
    if config.auto_alpha:
        entropy_gap = jax.lax.stop_gradient(jnp.mean(logp) + target_entropy)
        g = -entropy_gap  # d/dlogα of −logα·(E log π + H̄)
        step, alpha_opt = opt.update(g, state.alpha_opt, state.log_alpha)
        log_alpha = state.log_alpha + step

    target_critic = jax.tree.map(
        lambda t, c: (1 - config.tau) * t + config.tau * c if eqx.is_inexact_array(t) else t,
        state.target_critic, critic)
    metrics = dict(critic_loss=c_loss, actor_loss=a_loss, alpha=jnp.exp(log_alpha), entropy=-jnp.mean(logp))
    return SACState(actor, critic, target_critic, log_alpha, actor_opt, critic_opt, alpha_opt,
                    state.updates + 1), metrics
