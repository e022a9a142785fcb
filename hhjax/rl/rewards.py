"""What the agent learns from: the task's standard reward or the paper's shaped reward,
optionally with Gaussian noise on the reward and on the states the agent sees (Fig. 4i).

Evaluation always scores the standard reward; only learning sees the shaped or noisy one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .environments.tasks import INVERTED_DOUBLE_PENDULUM, Task

REWARDS = ("env", "paper", "paper-authors")


@dataclass(frozen=True)
class LearningSignal:
    """`reward`: "env" (the task's own), "paper" (the shaped reward of spec §4.4, with the
    angles read from the observation correctly) or "paper-authors" (the same with the
    authors' observation unpacking: on the inverted pendulum its θ term reads the cart
    velocity). `state_noise`, `reward_noise`: s.d. of N(0, 1) noise added to each state the
    agent sees and to each reward it learns from (the paper's 0.002 and 0.1)."""

    reward: str = "env"
    state_noise: float = 0.0
    reward_noise: float = 0.0

    def __post_init__(self):
        if self.reward not in REWARDS:
            raise ValueError(f"unknown reward {self.reward!r}; choose from {', '.join(REWARDS)}")
        if not (self.state_noise >= 0 and self.reward_noise >= 0):
            raise ValueError(f"noise levels must be >= 0, got state {self.state_noise}, reward {self.reward_noise}")

    def learning_reward(self, task: Task, env_reward, state, terminated, rng: np.random.Generator):
        """(n,) the reward stored for learning, from the standard reward, the new state (n, d)
        (noise-free) and whether the episode failed."""
        r = np.asarray(env_reward, np.float64)
        if self.reward != "env":
            r = shaped_reward(task, np.asarray(state), np.asarray(terminated), authors=self.reward == "paper-authors")
        if self.reward_noise:
            r = r + self.reward_noise * rng.standard_normal(r.shape)
        return r

    def observe(self, state, rng: np.random.Generator):
        """The state (n, d) as the agent sees it."""
        if not self.state_noise:
            return state
        state = np.asarray(state)
        return state + (self.state_noise * rng.standard_normal(state.shape)).astype(state.dtype)


def _term(value, bound, n=-10.0):
    """n·|value|/bound + 5, or −5 beyond the bound (spec §4.4, N = −10)."""
    return np.where(np.abs(value) > bound, -5.0, n * np.abs(value) / bound + 5.0)


def shaped_reward(task: Task, state, terminated, authors: bool = False):
    """The paper's shaped reward of states (n, d): cart position, pole angle(s), −10 on failure."""
    state = np.asarray(state, np.float64)
    x = state[:, 0]
    if task is INVERTED_DOUBLE_PENDULUM:  # observation: x, sin θ1, sin θ2, cos θ1, cos θ2, ...
        if authors:  # sines in the angle slots (close to the angles near upright)
            theta, gap = state[:, 1], state[:, 2]
        else:
            theta, gap = np.arctan2(state[:, 1], state[:, 3]), np.arctan2(state[:, 2], state[:, 4])
        r = _term(x, task.cart_bound) + _term(theta, 0.418) + _term(gap, 0.1)
    else:  # observation: x, θ, ẋ, θ̇ (the authors unpack x, ẋ, θ, θ̇: their θ is the cart velocity)
        theta = state[:, 2] if authors else state[:, 1]
        r = _term(x, task.cart_bound) + _term(theta, 0.418)
    return r - 10.0 * np.asarray(terminated, np.float64)
