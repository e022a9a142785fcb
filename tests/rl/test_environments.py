"""The RL environments: gymnasium/MuJoCo and MJX give the same trajectories, a saved
environment state continues exactly, the paper's shaped reward and the noise options."""

import numpy as np
import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

from hhjax.rl.environments.base import make_environment  # noqa: E402
from hhjax.rl.environments.tasks import INVERTED_DOUBLE_PENDULUM, INVERTED_PENDULUM  # noqa: E402
from hhjax.rl.rewards import LearningSignal, shaped_reward  # noqa: E402


@pytest.mark.parametrize("name", ["inverted-pendulum", "inverted-double-pendulum"])
def test_mujoco_environment_scales_actions_ends_episodes_and_restores_its_state_exactly(name):
    env = make_environment(name)
    first = env.reset(5)
    assert first.shape == (1, env.task.state_dim)
    np.testing.assert_array_equal(first, make_environment(name).reset(5))  # seeded
    rng = np.random.default_rng(0)
    for _ in range(3):
        env.step(rng.uniform(-0.2, 0.2, (1, 1)))
    saved = env.get_state()
    actions = rng.uniform(-1, 1, (30, 1, 1))

    def roll(e):
        out = []
        for a in actions:
            s = e.step(a)
            out.append(np.concatenate([s.state[0], s.reward, s.terminated, s.truncated]).astype(np.float64))
            if s.terminated[0]:
                out.append(e.reset_done(s.terminated)[0])
        return np.concatenate(out)

    expected = roll(env)
    other = make_environment(name)
    other.set_state(saved)
    np.testing.assert_array_equal(roll(other), expected)
    # random actions topple the poles: the episode ends (terminated) and restarts near upright
    e = make_environment(name)
    e.reset(1)
    for t in range(1000):
        s = e.step(np.ones((1, 1)))
        if s.terminated[0]:
            break
    assert s.terminated[0] and t < 200
    restart = e.reset_done(s.terminated)
    assert np.max(np.abs(restart[0, :1])) < 0.2
    with pytest.raises(ValueError, match="backend"):
        make_environment(name, "brax")
    with pytest.raises(ValueError, match="environment"):
        make_environment("cartpole")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inverted-pendulum", "inverted-double-pendulum"])
def test_mjx_environment_follows_the_mujoco_trajectory(name):
    pytest.importorskip("mujoco.mjx")
    gym_env, mjx_env = make_environment(name), make_environment(name, "mjx", 3)
    gym_env.reset(3)
    mjx_env.reset(0)
    physics = gym_env._env.data  # start copy 0 of the batch where gymnasium's episode starts
    mjx_env.place(0, np.array(physics.qpos), np.array(physics.qvel))
    rng = np.random.default_rng(0)
    for t in range(200):
        a = rng.uniform(-0.3, 0.3, (3, 1))
        g, m = gym_env.step(a[:1]), mjx_env.step(a)
        np.testing.assert_allclose(np.asarray(m.state[0]), g.state[0], atol=2e-5, rtol=1e-5)
        assert float(m.reward[0]) == pytest.approx(float(g.reward[0]), abs=2e-5)
        assert bool(m.terminated[0]) == bool(g.terminated[0])
        if g.terminated[0]:
            break
    assert g.terminated[0], "the random policy should topple the pole within 200 steps"
    restarted = np.asarray(mjx_env.reset_done(np.asarray([True, False, False])))
    assert restarted.shape == (3, mjx_env.task.state_dim)
    np.testing.assert_array_equal(restarted[1:], np.asarray(m.state[1:]))  # only copy 0 restarts


def test_paper_shaped_reward_by_hand():
    idp, ip = INVERTED_DOUBLE_PENDULUM, INVERTED_PENDULUM
    upright = np.asarray([[0.0, 0.0, 0.0, 1.0, 1.0, 0, 0, 0, 0]])
    assert shaped_reward(idp, upright, [False])[0] == pytest.approx(15.0)
    assert shaped_reward(idp, upright, [True])[0] == pytest.approx(5.0)
    # x = 1 (half the bound 2): 5 − 10·0.5 = 0; θ1 = 0.2: 5 − 10·0.2/0.418; θ2 = 0.05: 5 − 10·0.5 = 0
    s = np.asarray([[1.0, np.sin(0.2), np.sin(0.05), np.cos(0.2), np.cos(0.05), 0, 0, 0, 0]])
    assert shaped_reward(idp, s, [False])[0] == pytest.approx(0.0 + 5 - 10 * 0.2 / 0.418 + 0.0)
    assert shaped_reward(idp, s, [False], authors=True)[0] == pytest.approx(5 - 10 * np.sin(0.2) / 0.418
                                                                          + 5 - 10 * np.sin(0.05) / 0.1)
    beyond = np.asarray([[3.0, np.sin(0.5), np.sin(0.2), np.cos(0.5), np.cos(0.2), 0, 0, 0, 0]])
    assert shaped_reward(idp, beyond, [False])[0] == pytest.approx(-15.0)
    # the pendulum: obs (x, θ, ẋ, θ̇); the authors' unpacking reads ẋ where θ should be
    s = np.asarray([[0.5, 0.1, 0.3, 0.0]])
    assert shaped_reward(ip, s, [False])[0] == pytest.approx(0.0 + 5 - 10 * 0.1 / 0.418)
    assert shaped_reward(ip, s, [False], authors=True)[0] == pytest.approx(0.0 + 5 - 10 * 0.3 / 0.418)


def test_noise_options_have_the_papers_spread_and_leave_the_standard_reward_alone():
    rng = np.random.default_rng(0)
    plain = LearningSignal()
    state = np.zeros((20_000, 9), np.float32)
    assert plain.observe(state, rng) is state
    np.testing.assert_array_equal(plain.learning_reward(INVERTED_DOUBLE_PENDULUM, np.ones(3), state[:3], np.zeros(3), rng),
                                  np.ones(3))
    noisy = LearningSignal(state_noise=0.002, reward_noise=0.1)
    seen = noisy.observe(state, rng)
    assert seen.dtype == np.float32 and np.std(seen) == pytest.approx(0.002, rel=0.02)
    r = noisy.learning_reward(INVERTED_DOUBLE_PENDULUM, np.full(20_000, 9.0), state, np.zeros(20_000), rng)
    assert np.mean(r) == pytest.approx(9.0, abs=0.005) and np.std(r) == pytest.approx(0.1, rel=0.03)
    with pytest.raises(ValueError, match="reward"):
        LearningSignal("shaped")
    with pytest.raises(ValueError, match=">= 0"):
        LearningSignal(state_noise=-1.0)
