"""SAC core (issue 25, first part): the replay buffer, the squashed-Gaussian log-density,
the actors' shapes, and SAC solving a 1-D problem with a known optimal policy."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hhjax import rl
from hhjax.rl.environments.base import Step
from hhjax.rl.loop import LoopConfig, evaluate, train_sac


def test_replay_buffer_keeps_what_it_is_given_and_overwrites_the_oldest():
    buf = rl.ReplayBuffer.empty(4, (2, 3), 1)
    for i in range(6):  # six into four rows: rows hold transitions 4, 5, 2, 3
        buf = buf.add(jnp.full((2, 3), i), jnp.asarray([i / 10]), float(i), jnp.full((2, 3), i + 1), i % 2)
    assert int(buf.size) == 4 and int(buf.position) == 2
    np.testing.assert_array_equal(np.asarray(buf.reward), [4, 5, 2, 3])
    np.testing.assert_array_equal(np.asarray(buf.obs[:, 0, 0]), [4, 5, 2, 3])
    np.testing.assert_array_equal(np.asarray(buf.next_obs[:, 1, 2]), [5, 6, 3, 4])
    np.testing.assert_allclose(np.asarray(buf.action[:, 0]), [0.4, 0.5, 0.2, 0.3])
    np.testing.assert_array_equal(np.asarray(buf.done), [0, 1, 0, 1])
    sample = buf.sample(jax.random.PRNGKey(0), 64)
    assert set(np.asarray(sample["reward"]).astype(int)) <= {2, 3, 4, 5}
    np.testing.assert_array_equal(np.asarray(sample["obs"][:, 0, 0]), np.asarray(sample["reward"]))
    part = rl.ReplayBuffer.empty(10, (1,), 1).add(jnp.ones(1), jnp.ones(1), 7.0, jnp.ones(1), 0)
    assert np.all(np.asarray(part.sample(jax.random.PRNGKey(1), 32)["reward"]) == 7.0)  # only filled rows


def test_squashed_gaussian_log_density_is_the_change_of_variables_and_integrates_to_one():
    from scipy import integrate, stats

    mean, log_std = jnp.asarray([0.3, -1.2]), jnp.asarray([-0.5, 0.4])
    a, logp = rl.squashed_gaussian(mean, log_std, jax.random.PRNGKey(3))
    u = np.arctanh(np.asarray(a, np.float64))
    direct = np.sum(stats.norm.logpdf(u, np.asarray(mean), np.exp(np.asarray(log_std))) - np.log(1 - np.tanh(u) ** 2))
    assert float(logp) == pytest.approx(direct, rel=1e-6, abs=1e-6)
    assert np.all(np.abs(np.asarray(a)) < 1)

    def density(x, m=0.7, s=0.8):  # one dimension, p(a) from the module's log-density at u = atanh(a)
        u = np.arctanh(x)
        _, lp = rl.squashed_gaussian(jnp.asarray([m]), jnp.asarray([np.log(s)]), jax.random.PRNGKey(0))
        return float(np.exp(stats.norm.logpdf(u, m, s) - np.log(1 - x**2)))

    total, _ = integrate.quad(density, -1 + 1e-12, 1 - 1e-12, limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", [n if n in ("ann", "hh") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in rl.ACTORS])
def test_actors_map_a_window_of_states_to_a_bounded_gaussian(name):
    for window, repeat in ((1, 15), (5, 3)):  # the default input and the paper's
        actor = rl.make_actor(name, 9, 2, key=jax.random.PRNGKey(0), hidden=8, head_hidden=16, window=window,
                              repeat=repeat)
        mean, log_std = actor(jnp.ones((window, 9)))
        assert mean.shape == (2,) and log_std.shape == (2,)
        assert np.all(np.asarray(log_std) <= 2.0) and np.all(np.asarray(log_std) >= -20.0)
        with pytest.raises(ValueError, match="windows"):
            actor(jnp.ones(9))
        with pytest.raises(ValueError, match="windows"):
            actor(jnp.ones((window + 1, 9)))


class PointToTarget:
    """x' = clip(x + 0.2·a, −1, 1), reward −|x' − 0.5|, 20 steps from x0 ~ U(−1, 1); one copy
    (the interface of `hhjax.rl.environments.base.Environment`)."""

    task = SimpleNamespace(name="point", state_dim=1)
    num_envs, action_dim = 1, 1

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)
        return self._start()

    def _start(self):
        self.x, self.t = float(self.rng.uniform(-1, 1)), 0
        return np.asarray([[self.x]], np.float32)

    def step(self, a):
        self.x, self.t = float(np.clip(self.x + 0.2 * float(np.asarray(a).ravel()[0]), -1, 1)), self.t + 1
        return Step(np.asarray([[self.x]], np.float32), np.asarray([-abs(self.x - 0.5)]), np.asarray([False]),
                    np.asarray([self.t >= 20]))

    def reset_done(self, done):
        return self._start() if done[0] else np.asarray([[self.x]], np.float32)

    def get_state(self):
        return dict(x=self.x, t=self.t, rng=self.rng.bit_generator.state)

    def set_state(self, saved):
        self.rng = np.random.default_rng()
        self.x, self.t, self.rng.bit_generator.state = saved["x"], saved["t"], saved["rng"]


def _return(env, seed, policy):
    env.reset(seed)
    total, done = 0.0, False
    while not done:
        s = env.step([policy(env.x)])
        total, done = total + float(s.reward[0]), bool(s.truncated[0])
    return total


@pytest.mark.slow
def test_sac_solves_a_problem_with_a_known_optimum():
    env = PointToTarget()
    actor = rl.make_actor("ann", 1, 1, key=jax.random.PRNGKey(0), hidden=32, head_hidden=64)
    out = train_sac(env, actor, rl.SACConfig(critic_hidden=64, auto_alpha=True),
                    LoopConfig(steps=4000, start_steps=500, window=1))
    learned = np.mean(evaluate(out["state"].actor, PointToTarget(), 10, 1))
    seeds = [10_000 + e for e in range(10)]
    optimal = np.mean([_return(env, s, lambda x: np.clip((0.5 - x) / 0.2, -1, 1)) for s in seeds])
    rng = np.random.default_rng(0)
    random = np.mean([_return(env, s, lambda x: rng.uniform(-1, 1)) for s in seeds])
    assert learned >= optimal - 1.0 and optimal - random > 5.0, (learned, optimal, random)


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    """Stop right after the checkpoint at step 60, resume: the same agent as one unbroken run."""
    make = lambda: rl.make_actor("ann", 1, 1, key=jax.random.PRNGKey(0), hidden=8, head_hidden=8, window=2)  # noqa: E731
    config, loop = rl.SACConfig(critic_hidden=8, batch=8), LoopConfig(steps=100, start_steps=30, window=2,
                                                                      checkpoint_every=20)
    whole = train_sac(PointToTarget(), make(), config, loop, seed=3)

    def stop(t):
        if t == 60:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_sac(PointToTarget(), make(), config, loop, seed=3, checkpoint_dir=tmp_path, progress=stop)
    resumed = train_sac(PointToTarget(), make(), config, loop, seed=3, checkpoint_dir=tmp_path, resume=True)
    for a, b in zip(jax.tree.leaves(whole["state"]), jax.tree.leaves(resumed["state"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed["progress"].episode_returns == whole["progress"].episode_returns
    with pytest.raises(ValueError, match="other settings"):
        train_sac(PointToTarget(), make(), config, loop, seed=4, checkpoint_dir=tmp_path, resume=True)
