"""The two MuJoCo tasks of the paper's RL experiment (spec §4.4), as gymnasium's v5 defines
them: the model file, the frame skip and episode length, how episodes start and end, the
observation and the standard reward. Both backends read their definitions from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """One control task. `reset_noise`: the scale of the random initial state (uniform on
    ±scale for positions; velocities uniform (`velocity_noise="uniform"`) or normal with this
    s.d. (`"normal"`)). `cart_bound`: |x| scale of the paper's shaped reward."""

    name: str
    gym_id: str
    xml_file: str
    state_dim: int
    max_steps: int
    reset_noise: float
    velocity_noise: str
    cart_bound: float
    best_return: float  # the most an episode can earn with the standard reward (about)
    default_steps: int  # training steps of `hhjax rl` (double pendulum: enough for the ANN and HH actors, docs/rl.md)


INVERTED_PENDULUM = Task("inverted-pendulum", "InvertedPendulum-v5", "inverted_pendulum.xml", 4, 1000, 0.01,
                         "uniform", 1.0, 1000.0, 20_000)
INVERTED_DOUBLE_PENDULUM = Task("inverted-double-pendulum", "InvertedDoublePendulum-v5",
                                "inverted_double_pendulum.xml", 9, 1000, 0.1, "normal", 2.0, 9360.0, 40_000)
TASKS = {t.name: t for t in (INVERTED_PENDULUM, INVERTED_DOUBLE_PENDULUM)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown environment {name!r}; choose from {', '.join(TASKS)}")
    return TASKS[name]


def model_path(task: Task) -> str:
    """The MuJoCo model file gymnasium ships for `task`."""
    import os

    import gymnasium

    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", task.xml_file)
