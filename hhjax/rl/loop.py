"""The SAC training loop: the environment steps on the host, the update is one jitted call.

An environment here is anything with `reset(seed) -> state` and `step(action) ->
(state, reward, terminated, truncated)` (NumPy arrays; `envs.GymEnvironment` wraps
gymnasium). The actor sees a window of the last `window` states (zeros before the first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .replay import ReplayBuffer
from .sac import SACConfig, SACState, act, init_sac, sac_update


@dataclass(frozen=True)
class LoopConfig:
    steps: int = 10_000
    start_steps: int = 2_000  # uniform-random actions before the policy acts
    capacity: int = 1_000_000
    window: int = 5
    eval_every: int = 0  # env steps between evaluations (0: none)
    eval_episodes: int = 10


class StateWindow:
    """The last `window` states (window, d), zero-padded at the start of an episode."""

    def __init__(self, window: int, state_dim: int, dtype=np.float32):
        self.buffer = np.zeros((window, state_dim), dtype)

    def reset(self, state):
        self.buffer[:] = 0.0
        return self.push(state)

    def push(self, state):
        self.buffer = np.roll(self.buffer, -1, axis=0)
        self.buffer[-1] = state
        return self.buffer.copy()


_act = eqx.filter_jit(act)


@eqx.filter_jit(donate="all-except-first")
def _add(transition, buffer: ReplayBuffer) -> ReplayBuffer:
    """`buffer.add(*transition)` with the buffer donated: written in place, not copied (it
    can hold a million transitions)."""
    return buffer.add(*transition)


@eqx.filter_jit
def _learn(state: SACState, buffer: ReplayBuffer, key, config: SACConfig):
    """Sample a batch and update, in one compiled call."""
    k_sample, k_update = jax.random.split(key)
    return sac_update(state, buffer.sample(k_sample, config.batch), k_update, config)


def _dtype(actor):
    """The actor's floating dtype (observations and actions are cast to it)."""
    return np.dtype(next(x.dtype for x in jax.tree.leaves(actor) if eqx.is_inexact_array(x)))


def evaluate(actor, env, episodes: int, window: int, seed: int = 10_000) -> list[float]:
    """Undiscounted return of each of `episodes` episodes with the deterministic policy."""
    returns = []
    for e in range(episodes):
        w = StateWindow(window, env.state_dim, _dtype(actor))
        obs, done, total = w.reset(env.reset(seed + e)), False, 0.0
        while not done:
            a = np.asarray(_act(actor, jnp.asarray(obs), jax.random.PRNGKey(0), True))
            state, r, term, trunc = env.step(a)
            total += float(r)
            obs, done = w.push(state), term or trunc
        returns.append(total)
    return returns


def train_sac(env, actor, config: SACConfig, loop: LoopConfig, *, seed: int = 0, state: SACState | None = None,
              progress=None, log=None) -> dict:
    """Train `actor` on `env`; returns the final state, per-episode returns and evaluations."""
    key = jax.random.PRNGKey(seed)
    key, k_init = jax.random.split(key)
    if state is None:
        state = init_sac(actor, env.state_dim, env.action_dim, config, key=k_init)
    dtype = _dtype(actor)
    buffer = ReplayBuffer.empty(min(loop.capacity, loop.steps), (loop.window, env.state_dim), env.action_dim, dtype)
    rng = np.random.default_rng(seed)
    w = StateWindow(loop.window, env.state_dim, dtype)
    obs, episode_return, episode = w.reset(env.reset(seed)), 0.0, 0
    returns, evaluations = [], []
    start = time.perf_counter()
    for t in range(loop.steps):
        key, k_act, k_learn = jax.random.split(key, 3)
        if t < loop.start_steps:
            a = rng.uniform(-1.0, 1.0, env.action_dim).astype(dtype)
        else:
            a = np.asarray(_act(state.actor, jnp.asarray(obs), k_act))
        s, r, term, trunc = env.step(a)
        next_obs = w.push(s)
        transition = (jnp.asarray(obs), jnp.asarray(a), jnp.asarray(r, dtype), jnp.asarray(next_obs),
                      jnp.asarray(float(term), dtype))  # arrays: filter_jit would make floats static
        buffer = _add(transition, buffer)
        obs, episode_return = next_obs, episode_return + float(r)
        if term or trunc:
            returns.append(episode_return)
            episode += 1
            obs, episode_return = w.reset(env.reset(seed + episode)), 0.0
        if t >= loop.start_steps:
            state, _ = _learn(state, buffer, k_learn, config)
        if loop.eval_every and (t + 1) % loop.eval_every == 0:
            evaluations.append((t + 1, float(np.mean(evaluate(state.actor, env, loop.eval_episodes, loop.window)))))
            if log:
                log(f"step {t + 1}: evaluation return {evaluations[-1][1]:.1f}")
        if progress is not None:
            progress(t + 1)
    return dict(state=state, episode_returns=returns, evaluations=evaluations,
                steps_per_second=loop.steps / (time.perf_counter() - start))
