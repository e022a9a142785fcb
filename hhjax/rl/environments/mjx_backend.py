"""The accelerator backend: the same tasks in MuJoCo XLA (MJX), `num_envs` copies stepped
together as one jitted, vmapped JAX computation. Observation, reward, termination and the
random start follow gymnasium's v5 definitions (`tasks.py`); on a CPU this is far slower
than the mujoco backend, on a GPU it steps thousands of copies at once."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .base import Step
from .tasks import INVERTED_DOUBLE_PENDULUM, Task, model_path


class _Copies(eqx.Module):
    """The batch's state: MJX data, steps into the episode, each copy's random key."""

    data: object
    elapsed: jax.Array
    key: jax.Array


def _mjx_conventions(fn):
    """`fn` traced under JAX's default promotion rules, which MJX's own code relies on, even
    when the caller runs with strict dtype or rank promotion."""

    def traced(*args):
        with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
            return fn(*args)

    return traced


class MJXEnvironment:
    def __init__(self, task: Task, num_envs: int):
        try:
            import gymnasium
            import mujoco
            from mujoco import mjx
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError("the mjx backend needs mujoco-mjx and gymnasium: pip install 'hhjax[mjx]'") from err
        self.task, self.num_envs = task, int(num_envs)
        spec_env = gymnasium.make(task.gym_id, disable_env_checker=True).unwrapped
        self.frame_skip = int(spec_env.frame_skip)
        host_model = mujoco.MjModel.from_xml_path(model_path(task))
        self._model = mjx.put_model(host_model)
        self._data0 = mjx.make_data(self._model)
        self._init_qpos = jnp.asarray(host_model.qpos0)
        self.action_dim = int(host_model.nu)
        self._low = jnp.asarray(spec_env.action_space.low, jnp.float32)
        self._high = jnp.asarray(spec_env.action_space.high, jnp.float32)
        self._mjx = mjx
        self._copies = None
        self._reset_all = jax.jit(_mjx_conventions(jax.vmap(self._start)))
        self._step = jax.jit(_mjx_conventions(self._step_all))
        self._restart = jax.jit(_mjx_conventions(self._restart_where))
        self._forward_all = jax.jit(_mjx_conventions(jax.vmap(lambda d: mjx.forward(self._model, d))))
        self._observe_all = jax.jit(jax.vmap(lambda c: self._observe(c.data)))

    # --- one copy ------------------------------------------------------------------
    def _observe(self, d):
        if self.task is INVERTED_DOUBLE_PENDULUM:
            return jnp.concatenate([d.qpos[:1], jnp.sin(d.qpos[1:]), jnp.cos(d.qpos[1:]), jnp.clip(d.qvel, -10, 10),
                                    jnp.clip(d.qfrc_constraint, -10, 10)[:1]])
        return jnp.concatenate([d.qpos, d.qvel])

    def _start(self, key):
        kp, kv, key = jax.random.split(key, 3)
        s, nq, nv = self.task.reset_noise, self._model.nq, self._model.nv
        qpos = self._init_qpos + jax.random.uniform(kp, (nq,), minval=-s, maxval=s)
        if self.task.velocity_noise == "normal":
            qvel = s * jax.random.normal(kv, (nv,))
        else:
            qvel = jax.random.uniform(kv, (nv,), minval=-s, maxval=s)
        d = self._mjx.forward(self._model, self._data0.replace(qpos=qpos, qvel=qvel))
        return _Copies(d, jnp.zeros((), jnp.int32), key)

    def _advance(self, copy: _Copies, action):
        u = self._low + 0.5 * (jnp.clip(action, -1, 1) + 1) * (self._high - self._low)
        d = copy.data.replace(ctrl=u.astype(copy.data.ctrl.dtype))
        d = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: self._mjx.step(self._model, d), d)
        state = self._observe(d)
        if self.task is INVERTED_DOUBLE_PENDULUM:
            x, y = d.site_xpos[0, 0], d.site_xpos[0, 2]
            terminated = y <= 1
            v1, v2 = d.qvel[1], d.qvel[2]
            reward = jnp.where(terminated, 0.0, 10.0) - (0.01 * x**2 + (y - 2) ** 2) - (1e-3 * v1**2 + 5e-3 * v2**2)
        else:
            terminated = jnp.logical_or(~jnp.all(jnp.isfinite(state)), jnp.abs(state[1]) > 0.2)
            reward = jnp.where(terminated, 0.0, 1.0)
        elapsed = copy.elapsed + 1
        truncated = jnp.logical_and(elapsed >= self.task.max_steps, ~terminated)
        return _Copies(d, elapsed, copy.key), Step(state, reward, terminated, truncated)

    # --- the batch -------------------------------------------------------------------
    def _step_all(self, copies, action):
        return jax.vmap(self._advance)(copies, action)

    def _restart_where(self, copies, done):
        keys = jax.vmap(lambda k: jax.random.split(k)[0])(copies.key)
        fresh = jax.vmap(self._start)(keys)
        pick = lambda new, old: jnp.where(done.reshape(done.shape + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
        copies = jax.tree.map(pick, fresh, copies)
        return copies, jax.vmap(lambda c: self._observe(c.data))(copies)

    def reset(self, seed: int):
        self._copies = self._reset_all(jax.random.split(jax.random.PRNGKey(int(seed)), self.num_envs))
        return self._observe_all(self._copies)

    def step(self, action) -> Step:
        if self._copies is None:
            raise RuntimeError("call reset(seed) before step")
        self._copies, out = self._step(self._copies, jnp.asarray(action, jnp.float32).reshape(self.num_envs, -1))
        return out

    def reset_done(self, done):
        self._copies, state = self._restart(self._copies, jnp.asarray(done))
        return state

    def place(self, copy: int, qpos, qvel):
        """Put copy `copy` at the joint positions and velocities given (e.g. another backend's
        start); returns the batch's states."""
        c = self._copies
        data = c.data.replace(qpos=c.data.qpos.at[copy].set(jnp.asarray(qpos, c.data.qpos.dtype)),
                              qvel=c.data.qvel.at[copy].set(jnp.asarray(qvel, c.data.qvel.dtype)))
        self._copies = _Copies(self._forward_all(data), c.elapsed, c.key)
        return self._observe_all(self._copies)

    def get_state(self) -> dict:
        return dict(leaves=[np.asarray(x) for x in jax.tree.leaves(self._copies)])

    def set_state(self, saved: dict) -> None:
        like = self._reset_all(jax.random.split(jax.random.PRNGKey(0), self.num_envs))
        self._copies = jax.tree.unflatten(jax.tree.structure(like), [jnp.asarray(x) for x in saved["leaves"]])
