"""A replay buffer as a pytree of fixed-size arrays (a ring): `add` and `sample` are pure
and jittable; nothing is allocated after construction."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp


class ReplayBuffer(eqx.Module):
    """Transitions (obs, action, reward, next_obs, done) in a ring of `capacity` rows.
    `obs` may be any shape (e.g. a window of states)."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array
    position: jax.Array  # next row to write
    size: jax.Array  # rows filled

    @classmethod
    def empty(cls, capacity: int, obs_shape, action_dim: int, dtype=jnp.float32) -> "ReplayBuffer":
        if capacity < 1 or action_dim < 1:
            raise ValueError(f"need capacity >= 1 and action_dim >= 1, got {capacity}, {action_dim}")
        obs_shape = tuple(obs_shape)
        return cls(jnp.zeros((capacity,) + obs_shape, dtype), jnp.zeros((capacity, action_dim), dtype),
                   jnp.zeros((capacity,), dtype), jnp.zeros((capacity,) + obs_shape, dtype),
                   jnp.zeros((capacity,), dtype), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    @property
    def capacity(self) -> int:
        return self.reward.shape[0]

    def add(self, obs, action, reward, next_obs, done) -> "ReplayBuffer":
        """The buffer with one transition written over the oldest row once full."""
        i = self.position
        put = lambda store, value: store.at[i].set(jnp.asarray(value, store.dtype))  # noqa: E731
        return ReplayBuffer(put(self.obs, obs), put(self.action, action), put(self.reward, reward),
                            put(self.next_obs, next_obs), put(self.done, done), (i + 1) % self.capacity,
                            jnp.minimum(self.size + 1, self.capacity))

    def extend(self, obs, action, reward, next_obs, done) -> "ReplayBuffer":
        """The buffer with a batch of transitions (leading axis n <= capacity) written in order."""
        n = reward.shape[0]
        if n > self.capacity:
            raise ValueError(f"a batch of {n} transitions does not fit a buffer of {self.capacity}")
        rows = (self.position + jnp.arange(n, dtype=self.position.dtype)) % self.capacity
        put = lambda store, value: store.at[rows].set(jnp.asarray(value, store.dtype))  # noqa: E731
        return ReplayBuffer(put(self.obs, obs), put(self.action, action), put(self.reward, reward),
                            put(self.next_obs, next_obs), put(self.done, done), (self.position + n) % self.capacity,
                            jnp.minimum(self.size + n, self.capacity))

    def sample(self, key, batch: int) -> dict:
        """`batch` transitions drawn uniformly (with replacement) from the filled rows."""
        rows = jax.random.randint(key, (batch,), 0, jnp.maximum(self.size, 1))
        return dict(obs=self.obs[rows], action=self.action[rows], reward=self.reward[rows],
                    next_obs=self.next_obs[rows], done=self.done[rows])
