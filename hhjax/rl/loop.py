"""The SAC training loop: environments step on the host (or as their own JAX computation),
the replay buffer and the update live on the device, each a jitted call.

The actor sees a window of the last `window` states (zeros before an episode's first);
with several environment copies (`num_envs`), each copy has its window, and one update is
made per environment step. The whole loop state (networks, optimisers, replay buffer,
random streams, environment physics) is checkpointed atomically, so a killed run resumes
where it stopped.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import time
from dataclasses import asdict, dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..fitting.loop import fingerprint as settings_fingerprint
from .environments.base import as_numpy_done
from .replay import ReplayBuffer
from .rewards import LearningSignal
from .sac import SACConfig, SACState, act, init_sac, sac_update

CHECKPOINT_FILE = "sac_checkpoint.eqx"


@dataclass(frozen=True)
class LoopConfig:
    """Environment steps (all copies together), uniform-random start steps (spec: 2,000),
    replay capacity, actor window, evaluations (every `eval_every` steps, 0: none, of
    `eval_episodes` deterministic episodes) and checkpoints (every `checkpoint_every` steps)."""

    steps: int = 100_000
    start_steps: int = 2_000
    capacity: int = 1_000_000
    window: int = 1
    eval_every: int = 0
    eval_episodes: int = 10
    checkpoint_every: int = 10_000

    def __post_init__(self):
        if self.steps < 1 or self.start_steps < 0 or self.capacity < 1 or self.window < 1:
            raise ValueError(f"need steps >= 1, start_steps >= 0, capacity >= 1, window >= 1; got {asdict(self)}")
        if self.eval_every < 0 or self.eval_episodes < 1 or self.checkpoint_every < 1:
            raise ValueError(f"need eval_every >= 0, eval_episodes >= 1, checkpoint_every >= 1; got {asdict(self)}")


class StateWindows:
    """The last `window` states of each of n copies, (n, window, d), zero before an episode."""

    def __init__(self, n: int, window: int, state_dim: int, dtype=np.float32):
        self.buffer = np.zeros((n, window, state_dim), dtype)

    def push(self, state):
        """Append `state` (n, d) to every copy's window; returns the windows."""
        self.buffer = np.roll(self.buffer, -1, axis=1)
        self.buffer[:, -1] = np.asarray(state, self.buffer.dtype)
        return self.buffer.copy()

    def restart(self, rows, state):
        """Start the windows of `rows` (n,) bool over: zeros, then their `state` (n, d)."""
        rows = np.asarray(rows, bool)
        self.buffer[rows] = 0.0
        self.buffer[rows, -1] = np.asarray(state, self.buffer.dtype)[rows]
        return self.buffer.copy()


def _policy_actions(actor, obs, key, deterministic=False):
    keys = jax.random.split(key, obs.shape[0])
    return jax.vmap(act, (None, 0, 0, None))(actor, obs, keys, deterministic)


_act = eqx.filter_jit(_policy_actions)


@eqx.filter_jit(donate="all-except-first")
def _add(transitions, buffer: ReplayBuffer) -> ReplayBuffer:
    """`buffer.extend(*transitions)` with the buffer donated: written in place, not copied
    (it can hold a million transitions)."""
    return buffer.extend(*transitions)


@eqx.filter_jit
def _learn(state: SACState, buffer: ReplayBuffer, key, config: SACConfig, count: int):
    """`count` updates, each on a fresh batch sampled from `buffer`, in one compiled call."""

    def one(state, k):
        k_sample, k_update = jax.random.split(k)
        return sac_update(state, buffer.sample(k_sample, config.batch), k_update, config)

    if count == 1:
        return one(state, key)
    arrays, static = eqx.partition(state, eqx.is_array)  # the scan carries arrays only

    def scanned(arrays, k):
        new, metrics = one(eqx.combine(arrays, static), k)
        return eqx.filter(new, eqx.is_array), metrics

    arrays, metrics = jax.lax.scan(scanned, arrays, jax.random.split(key, count))
    return eqx.combine(arrays, static), jax.tree.map(lambda m: m[-1], metrics)


def _dtype(actor):
    """The actor's floating dtype (observations and actions are cast to it)."""
    return np.dtype(next(x.dtype for x in jax.tree.leaves(actor) if eqx.is_inexact_array(x)))


def evaluate(actor, env, episodes: int, window: int, *, signal: LearningSignal = LearningSignal(),
             seed: int = 10_000) -> list[float]:
    """Standard-reward return of each of `episodes` episodes under the deterministic policy
    (tanh of the mean), `env.num_envs` at a time; state noise as in `signal`."""
    rng = np.random.default_rng(seed)
    returns: list[float] = []
    key = jax.random.PRNGKey(0)
    for round_ in range((episodes + env.num_envs - 1) // env.num_envs):
        n = env.num_envs
        windows = StateWindows(n, window, env.task.state_dim, _dtype(actor))
        obs = windows.restart(np.ones(n, bool), signal.observe(np.asarray(env.reset(seed + round_)), rng))
        total, running = np.zeros(n), np.ones(n, bool)
        while running.any():
            a = _act(actor, jnp.asarray(obs), key, True)
            step = env.step(a)
            total += np.where(running, np.asarray(step.reward, np.float64), 0.0)
            running &= ~as_numpy_done(step)
            obs = windows.push(signal.observe(np.asarray(step.state), rng))
        returns.extend(total.tolist())
    return returns[:episodes]


@dataclass
class Progress:
    """The host side of a run: counters, curves, random streams (checkpointed with it)."""

    t: int = 0  # environment steps so far
    wall_s: float = 0.0
    episode_returns: list = field(default_factory=list)  # (step, standard return, learning return)
    evaluations: list = field(default_factory=list)  # (step, mean, sd)
    metrics: list = field(default_factory=list)  # (step, {name: value})


def save_checkpoint(directory, device_state, host: dict) -> None:
    """Write the device pytree and the host state to one file atomically (temporary file,
    fsync, rename): a kill at any moment leaves the previous checkpoint whole."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (CHECKPOINT_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        eqx.tree_serialise_leaves(fh, jax.device_get(device_state))
        pickle.dump(host, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / CHECKPOINT_FILE)


def load_checkpoint(directory, like, fingerprint: str):
    """(device state, host state) saved in `directory`, or None when there is none; an error
    naming the directory when it belongs to a run with other settings."""
    path = pathlib.Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return None
    with open(path, "rb") as fh:
        device_state = eqx.tree_deserialise_leaves(fh, like)
        host = pickle.load(fh)
    if host.get("fingerprint") != fingerprint:
        raise ValueError(f"the checkpoint in {directory} belongs to a run with other settings; use another "
                         f"checkpoint directory or start without resuming")
    return device_state, host


def train_sac(env, actor, config: SACConfig, loop: LoopConfig, *, seed: int = 0,
              signal: LearningSignal = LearningSignal(), eval_env=None, checkpoint_dir=None, resume: bool = False,
              fingerprint: str = "", progress=None, log=None) -> dict:
    """Train `actor` with SAC on `env` (see `environments.base.Environment`) for `loop.steps`
    environment steps. Evaluations run on `eval_env` (a separate copy, so training episodes
    are not disturbed). Returns the final `SACState` and the curves (`Progress` fields)."""
    if eval_env is None and loop.eval_every:
        raise ValueError("evaluations during training need eval_env (another copy of the environment)")
    n, task = env.num_envs, env.task
    action_dim = env.action_dim
    if getattr(actor, "window", loop.window) != loop.window:
        raise ValueError(f"the actor reads windows of {actor.window} states but the loop keeps {loop.window}")
    dtype = _dtype(actor)
    key, k_init = jax.random.split(jax.random.PRNGKey(seed))
    state = init_sac(actor, task.state_dim, action_dim, config, key=k_init)
    capacity = max(min(loop.capacity, loop.steps), n)
    buffer = ReplayBuffer.empty(capacity, (loop.window, task.state_dim), action_dim, dtype)
    rng = np.random.default_rng(seed)
    windows = StateWindows(n, loop.window, task.state_dim, dtype)
    record = Progress()
    fingerprint = settings_fingerprint(fingerprint, asdict(config), asdict(loop), asdict(signal), seed, n, task.name)
    restored = load_checkpoint(checkpoint_dir, (state, buffer, key), fingerprint) if (resume and checkpoint_dir) else None
    if restored is not None:
        (state, buffer, key), host = restored
        rng.bit_generator.state = host["rng"]
        windows.buffer = host["windows"]
        env.set_state(host["env"])
        record = host["progress"]
        running_return, running_learning = host["running"]
        obs = windows.buffer.copy()
        if log:
            log(f"resumed from step {record.t} ({checkpoint_dir})")
    else:
        obs = windows.restart(np.ones(n, bool), signal.observe(np.asarray(env.reset(seed)), rng))
        running_return, running_learning = np.zeros(n), np.zeros(n)

    def checkpoint():
        host = dict(fingerprint=fingerprint, rng=rng.bit_generator.state, windows=windows.buffer.copy(),
                    env=env.get_state(), progress=record, running=(running_return, running_learning))
        save_checkpoint(checkpoint_dir, (state, buffer, key), host)

    started = time.perf_counter()
    wall_before = record.wall_s
    while record.t < loop.steps:
        key, k_act, k_learn = jax.random.split(key, 3)
        if record.t < loop.start_steps:
            action = rng.uniform(-1.0, 1.0, (n, action_dim)).astype(dtype)
        else:
            action = _act(state.actor, jnp.asarray(obs), k_act)
        step = env.step(action)
        terminated, done = np.asarray(step.terminated), as_numpy_done(step)
        true_state = np.asarray(step.state)
        learning_reward = signal.learning_reward(task, step.reward, true_state, terminated, rng)
        next_obs = windows.push(signal.observe(true_state, rng))
        buffer = _add((jnp.asarray(obs), jnp.asarray(action, dtype), jnp.asarray(learning_reward, dtype),
                       jnp.asarray(next_obs), jnp.asarray(terminated, dtype)), buffer)
        running_return += np.asarray(step.reward, np.float64)
        running_learning += learning_reward
        record.t += n
        obs = next_obs
        if done.any():
            for i in np.flatnonzero(done):
                record.episode_returns.append((record.t, float(running_return[i]), float(running_learning[i])))
            running_return[done], running_learning[done] = 0.0, 0.0
            obs = windows.restart(done, signal.observe(np.asarray(env.reset_done(done)), rng))
        if record.t > loop.start_steps:
            state, metrics = _learn(state, buffer, k_learn, config, n)
            if record.t % 1000 < n:
                record.metrics.append((record.t, {k: float(v) for k, v in metrics.items()}))
        if loop.eval_every and record.t % loop.eval_every < n:
            returns = evaluate(state.actor, eval_env, loop.eval_episodes, loop.window, signal=signal)
            record.evaluations.append((record.t, float(np.mean(returns)), float(np.std(returns))))
            if log:
                log(f"step {record.t}: evaluation return {record.evaluations[-1][1]:.1f}")
        record.wall_s = wall_before + time.perf_counter() - started
        if checkpoint_dir and (record.t % loop.checkpoint_every < n or record.t >= loop.steps):
            checkpoint()
        if progress is not None:
            progress(record.t)
    return dict(state=state, progress=record, steps_per_second=record.t / max(record.wall_s, 1e-9))
