"""The environment interface of the SAC loop, and the one place that picks a backend.

An environment is a batch of `num_envs` copies of one task. Actions are in [−1, 1] (the
environment scales them to its actuator range). Episodes that end are not restarted by
`step`: the loop calls `reset_done`, so it can store the final state of each episode.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

BACKENDS = ("mujoco", "mjx")


class Step(NamedTuple):
    """What one step of a batch of environments returns (each with leading axis num_envs)."""

    state: Any  # (n, state_dim)
    reward: Any  # (n,) the task's standard reward
    terminated: Any  # (n,) bool: the episode failed (fell over)
    truncated: Any  # (n,) bool: the time limit was reached


class Environment(Protocol):
    task: Any  # tasks.Task
    num_envs: int

    def reset(self, seed: int): ...  # (n, state_dim): start every copy (seeded)

    def step(self, action) -> Step: ...  # action (n, action_dim) in [−1, 1]

    def reset_done(self, done):  # (n, state_dim): restart the copies where `done`
        ...

    def get_state(self) -> dict: ...  # everything needed to continue exactly (for checkpoints)

    def set_state(self, saved: dict) -> None: ...


def make_environment(name: str, backend: str = "mujoco", num_envs: int = 1) -> Environment:
    """Task `name` ("inverted-pendulum", "inverted-double-pendulum") on `backend`: "mujoco"
    (gymnasium + MuJoCo on the host, one copy; the default: fast on a CPU) or "mjx"
    (MuJoCo XLA, `num_envs` copies stepped together as one JAX computation: for accelerators)."""
    from .tasks import get_task

    task = get_task(name)
    if backend == "mujoco":
        if num_envs != 1:
            raise ValueError(f"the mujoco backend steps one environment (got num_envs={num_envs}); use --backend mjx "
                             f"for batches")
        from .gym_backend import GymEnvironment

        return GymEnvironment(task)
    if backend == "mjx":
        if num_envs < 1:
            raise ValueError(f"need num_envs >= 1, got {num_envs}")
        from .mjx_backend import MJXEnvironment

        return MJXEnvironment(task, num_envs)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def as_numpy_done(step: Step) -> np.ndarray:
    """(n,) bool: the copies whose episode ended in `step`."""
    return np.logical_or(np.asarray(step.terminated), np.asarray(step.truncated))
