"""The default backend: gymnasium's MuJoCo environment, stepped on the host (tens of µs per
step on a CPU: far cheaper than a jitted, unbatched JAX physics step there)."""

from __future__ import annotations

import numpy as np

from .base import Step
from .tasks import Task


class GymEnvironment:
    """One copy of `task` (num_envs = 1) through gymnasium; the time limit is counted here."""

    num_envs = 1

    def __init__(self, task: Task):
        try:
            import gymnasium
            import mujoco
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError("the mujoco backend needs gymnasium and mujoco: pip install 'hhjax[rl]'") from err
        self.task = task
        self._mujoco = mujoco
        self._env = gymnasium.make(task.gym_id, disable_env_checker=True).unwrapped
        space = self._env.action_space
        self.action_dim = int(space.shape[0])
        self._low, self._high = space.low.astype(np.float64), space.high.astype(np.float64)
        self._elapsed = 0
        self._seeded = False

    def _scale(self, action):
        a = np.clip(np.asarray(action, np.float64).reshape(self.action_dim), -1.0, 1.0)
        return self._low + 0.5 * (a + 1.0) * (self._high - self._low)

    def reset(self, seed: int):
        state, _ = self._env.reset(seed=int(seed))
        self._elapsed, self._seeded = 0, True
        return state[None]

    def step(self, action) -> Step:
        if not self._seeded:
            raise RuntimeError("call reset(seed) before step")
        state, reward, terminated, _, _ = self._env.step(self._scale(np.asarray(action)[0]))
        self._elapsed += 1
        truncated = self._elapsed >= self.task.max_steps and not terminated
        return Step(state[None], np.asarray([reward], np.float64), np.asarray([terminated]), np.asarray([truncated]))

    def reset_done(self, done):
        """Restart the episode if it ended (the environment's own random stream, no new seed)."""
        if bool(np.asarray(done)[0]):
            state, _ = self._env.reset()
            self._elapsed = 0
            return state[None]
        return self._env._get_obs()[None]

    def get_state(self) -> dict:
        mj, env = self._mujoco, self._env
        physics = np.empty(mj.mj_stateSize(env.model, mj.mjtState.mjSTATE_INTEGRATION))
        mj.mj_getState(env.model, env.data, physics, mj.mjtState.mjSTATE_INTEGRATION)
        return dict(physics=physics, elapsed=self._elapsed, rng=env.np_random.bit_generator.state)

    def set_state(self, saved: dict) -> None:
        mj, env = self._mujoco, self._env
        env.reset(seed=0)  # creates the random stream, then overwritten
        mj.mj_setState(env.model, env.data, np.asarray(saved["physics"]), mj.mjtState.mjSTATE_INTEGRATION)
        env.np_random.bit_generator.state = saved["rng"]
        self._elapsed, self._seeded = int(saved["elapsed"]), True
