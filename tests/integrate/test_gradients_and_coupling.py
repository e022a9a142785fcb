"""Threshold coupling, s-LIF2HH rules, gradients through the solve, progress meter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj

HH = hj.HodgkinHuxley()


def test_threshold_coupling_drives_the_postsynaptic_neuron():
    stim = hj.Constant(jnp.array([10.0, 0.0]))
    y0 = HH.initial_state(jnp.full((2,), -65.0))
    coupled = hj.ThresholdCoupled(HH, jnp.array([[0.0, 60.0], [0.0, 0.0]]))
    silent = hj.ThresholdCoupled(HH, jnp.zeros((2, 2)))
    kw = dict(t1=100.0, solver="euler", dt=0.01, dtype="float64", y0=y0)
    pre, post = hj.simulate(coupled, stim, **kw).spike_list()
    assert len(post) == len(pre) >= 6
    lag = np.asarray(post) - np.asarray(pre)
    assert np.all((lag > 0) & (lag < 3.0))
    assert hj.simulate(silent, stim, **kw).spike_list()[1] == []


def _per_neuron_rule_by_hand(x, steps, decay=0.5, th=2.0, w=(1.0, 1.0, 1.0), bias=0.0):
    u = [0.0] * 4
    s = [0.0] * 4
    out = []
    for k in range(steps):
        old = list(u)
        for i in range(3):
            u[i] = decay * old[i] * (1 - s[i]) + x
        u[3] = decay * old[3] * (1 - s[3]) + sum(wi * ui for wi, ui in zip(w, old[:3])) + bias
        s = [1.0 if ui > th else 0.0 for ui in u]
        if s[3]:
            out.append(float(k))
    return out


@pytest.mark.parametrize("x", [0.6, 1.0, 1.2])
def test_slif2hh_per_neuron_rule(x):
    model = hj.SLIF2HH.pytorch(w1=0.5, w2=0.3, w3=0.9)
    sim = hj.simulate(model, x, t1=30.0)
    assert sim.spike_list() == _per_neuron_rule_by_hand(x, 30, w=(0.5, 0.3, 0.9))


def test_slif2hh_joint_rule_first_spike_analytic():
    # u_n = x(1 - 0.9^n)/0.1 first exceeds 70 at n* (1-based); stamped at (n* - 1) ms.
    for x in (8.0, 9.0, 12.0):
        n = next(k for k in range(1, 200) if x * (1 - 0.9**k) / 0.1 > 70.0)
        sim = hj.simulate(hj.SLIF2HH(), x, t1=40.0, dtype="float64")
        assert sim.spike_list()[0] == float(n - 1)


def _joint_rule_by_hand(x, steps, dt=1.0, reset=0.0, th=70.0):
    """The MATLAB unit (spec §3.1) at step dt: u ← u + dt(−0.1 u + x) for neurons 1–3,
    u4 ← u4 + dt(−0.1 u4) + u1 + u2 + u3 (updated values); all four reset when all
    four exceed θ. Spikes stamped at k·dt for the k-th step (0-based)."""
    u = [0.0] * 4
    out = []
    for k in range(steps):
        for i in range(3):
            u[i] = u[i] + dt * (-0.1 * u[i] + x)
        u[3] = u[3] + dt * (-0.1 * u[3]) + u[0] + u[1] + u[2]
        if all(ui > th for ui in u):
            out.append(k * dt)
            u = [reset] * 4
    return out


@pytest.mark.parametrize("dt,reset", [(1.0, 0.0), (1.0, -40.0), (0.25, -15.0)])
def test_slif2hh_joint_rule_with_reset_and_finer_step(dt, reset):
    model = hj.SLIF2HH.matlab(dt, reset=reset)
    got = hj.simulate(model, 9.0, t1=80.0, dtype="float64").spike_list()
    want = _joint_rule_by_hand(9.0, int(round(80.0 / dt)), dt, reset)
    assert len(want) >= 3
    np.testing.assert_allclose(got, want, atol=1e-9)
    if reset < 0:  # an after-hyperpolarisation: later intervals longer than the latency
        assert want[1] - want[0] > want[0] + dt


def test_slif2hh_reset_at_rest_is_the_authors_unit():
    for rule in ("joint", "per_neuron"):
        base = hj.SLIF2HH(rule=rule, threshold=5.0, decay=0.8)
        explicit = hj.SLIF2HH(rule=rule, threshold=5.0, decay=0.8, reset=0.0)
        a = hj.simulate(base, 1.3, t1=60.0, dtype="float64")
        b = hj.simulate(explicit, 1.3, t1=60.0, dtype="float64")
        assert len(a.spike_list()) >= 3
        assert a.spike_list() == b.spike_list()


def test_gradient_through_the_solve_matches_finite_differences():
    def loss(params):
        g_K, E_L = params
        sim = hj.simulate(hj.HodgkinHuxley(g_K=g_K, E_L=E_L), 10.0, t1=15.0, solver="rk4", dt=0.025,
                          dtype="float64", save_every=0.5)
        return jnp.mean((sim.V + 60.0) ** 2)

    p = jnp.array([36.0, -54.387])
    g = jax.grad(loss)(p)
    for i in range(2):
        e = jnp.zeros(2).at[i].set(1e-5)
        fd = (loss(p + e) - loss(p - e)) / 2e-5
        assert float(g[i]) == pytest.approx(float(fd), rel=1e-5)


@pytest.mark.parametrize("save_every", [None, pytest.param(0.1, marks=pytest.mark.slow)],
                         ids=["own-grid-loop", "diffeqsolve-saving"])
def test_default_gradient_stores_every_step_only_while_cheap(save_every):
    """Reverse mode with the default adjoint keeps every step (memory linear in the step
    count) while that fits `Tuning.store_every_step_bytes`, and O(√steps) checkpoints
    beyond it; the gradient is the same as with a handful of checkpoints either way."""
    import diffrax as dfx

    g_k = jnp.linspace(30.0, 40.0, 16)

    def compiled(steps, adjoint=None, tuning=None):
        def loss(g):
            sim = hj.simulate(hj.HodgkinHuxley(g_K=g), hj.Step(0.0, 10.0, 2.0), t1=steps * 0.02, solver="euler",
                              dt=0.02, dtype="float64", max_spikes=4, adjoint=adjoint, save_every=save_every,
                              tuning=tuning)
            return jnp.sum(sim.y_final.V) if save_every is None else jnp.mean(sim.V)

        c = jax.jit(jax.value_and_grad(loss)).lower(g_k).compile()
        return c.memory_analysis().temp_size_in_bytes, np.asarray(c(g_k)[1])

    stored = [compiled(steps) for steps in (500, 2000)]
    few = compiled(2000, dfx.RecursiveCheckpointAdjoint(checkpoints=8))
    np.testing.assert_allclose(stored[1][1], few[1], rtol=1e-11)
    no_budget = hj.tuning_for().replace(store_every_step_bytes=0)
    sqrt = [compiled(steps, tuning=no_budget) for steps in (500, 2000)]
    np.testing.assert_allclose(sqrt[1][1], few[1], rtol=1e-11)
    kept = [a[0] - b[0] for a, b in zip(stored, sqrt)]  # what storing every step adds
    assert kept[1] > 3 * kept[0] > 0  # 4x the steps, ~4x the memory
    assert sqrt[1][0] < stored[1][0] / 2
    if save_every is None:  # (a saved trace grows with the steps either way)
        assert sqrt[1][0] < 2.5 * sqrt[0][0]  # O(√steps): √4 = 2
    # the rule itself: every step while n copies of the carry fit, else None (√steps)
    carry = (jnp.zeros(100, jnp.float64),)
    from hhjax.integrate.loops.checkpointed import default_checkpoints
    assert default_checkpoints(50, carry, 800 * 50) == 50
    assert default_checkpoints(51, carry, 800 * 50) is None


def test_reverse_mode_leaves_the_step_time_table_alone():
    """A current step at 5 ms splits the grid, whose step times then come from a table of
    every step time (2,002 here). Its times are concrete, so reverse mode must not
    accumulate a cotangent for it: that was a table-sized add at every step of the
    checkpointed backward pass (O(steps²); 10,000 steps took 15 s instead of 3.5 ms). No
    array op of the lowered gradient program may produce a table-sized float array."""
    import re

    import diffrax as dfx

    def loss(g):
        sim = hj.simulate(hj.HodgkinHuxley(g_K=g), hj.Step(0.0, 10.0, 5.0), t1=20.0, solver="euler", dt=0.01,
                          max_spikes=0, adjoint=dfx.RecursiveCheckpointAdjoint(checkpoints=8), dtype="float64")
        return jnp.sum(sim.y_final.V)

    text = jax.jit(jax.grad(loss)).lower(jnp.full(3, 36.0)).as_text()
    table = [line for line in text.splitlines() if "tensor<2002xf64>" in line]
    assert table  # the forward pass reads the table (the check below would be empty otherwise)
    producing = [line.strip() for line in table
                 if re.search(r"= stablehlo\.(add|dynamic_update_slice|broadcast_in_dim|pad|scatter)\b", line)]
    assert not producing, producing[:3]
    g = jax.grad(loss)(jnp.full(3, 36.0))
    e = 1e-5
    fd = (loss(jnp.full(3, 36.0 + e)) - loss(jnp.full(3, 36.0 - e))) / (2 * e)
    assert float(jnp.sum(g)) == pytest.approx(float(fd), rel=1e-5)


def test_reverse_mode_leaves_undifferentiated_stimulus_arrays_alone():
    """A sampled current (1,237 samples) that is not differentiated must not get a cotangent
    at every backward step (a 1,237-element add per step: N = 1, 10,000 steps, 10,001
    samples ran 323 ms instead of 7.6 ms through √ checkpoints); differentiated, its
    gradient matches central differences."""
    import re

    import diffrax as dfx

    t = np.linspace(0.0, 20.0, 1237)
    adjoint = dfx.RecursiveCheckpointAdjoint(checkpoints=8)

    def v_end(g_K, values):
        sim = hj.simulate(hj.HodgkinHuxley(g_K=g_K), hj.Sampled(jnp.asarray(t), values), t1=20.0, solver="euler",
                          dt=0.01, max_spikes=0, adjoint=adjoint, dtype="float64")
        return jnp.sum(sim.y_final.V)

    values = jnp.asarray(10.0 * (t > 5.0))
    text = jax.jit(jax.grad(v_end)).lower(jnp.full(2, 36.0), values).as_text()
    sized = [line for line in text.splitlines() if "tensor<1237xf64>" in line]
    assert sized
    producing = [line.strip() for line in sized
                 if re.search(r"= stablehlo\.(add|dynamic_update_slice|broadcast_in_dim|pad|scatter)\b", line)]
    assert not producing, producing[:3]
    g = jax.grad(v_end, argnums=1)(jnp.full(2, 36.0), values)
    k, e = 700, 1e-4  # a sample at ~11.3 ms
    bump = jnp.zeros_like(values).at[k].set(e)
    fd = (v_end(jnp.full(2, 36.0), values + bump) - v_end(jnp.full(2, 36.0), values - bump)) / (2 * e)
    assert float(g[k]) == pytest.approx(float(fd), rel=1e-5)
    assert float(jnp.max(jnp.abs(g))) > 0


@pytest.mark.slow
def test_direct_adjoint_gives_the_same_gradient():
    import diffrax as dfx

    def loss(g_K, adjoint):
        sim = hj.simulate(hj.HodgkinHuxley(g_K=g_K), 10.0, t1=5.0, solver="rk4", dt=0.05, dtype="float64",
                          adjoint=adjoint)
        return sim.y_final.V

    a = jax.grad(loss)(36.0, None)
    b = jax.grad(loss)(36.0, dfx.DirectAdjoint())
    assert float(a) == pytest.approx(float(b), rel=1e-10)


@pytest.mark.slow
def test_gradient_finite_at_the_singular_voltage():
    def v_end(V0):
        y0 = HH.steady_state(V0)
        return hj.simulate(HH, 0.0, t1=1.0, solver="rk4", dt=0.05, dtype="float32", y0=y0).y_final.V

    g = jax.grad(v_end)(jnp.asarray(-40.0, jnp.float32))
    assert np.isfinite(float(g))


def test_progress_meter(capfd):
    hj.simulate(HH, 10.0, t1=20.0, solver="euler", dt=0.01, progress=True)
    assert "100.00%" in capfd.readouterr().err


@pytest.mark.parametrize("solver", ["expeuler", "rk4"])
def test_gradient_of_a_spike_time(solver):
    """d(first LIF spike)/dI against the exact derivative of −τ ln((V∞ − θ)/(V∞ − V_rest))."""

    def first_spike(I):
        sim = hj.simulate(hj.LIF(), hj.Constant(I), t1=40.0, solver=solver, dt=0.1, dtype="float64")
        return sim.spike_times[0]

    I = 2.0
    v_inf, tau, R = -65.0 + 10.0 * I, 10.0, 10.0
    exact = -tau * R * (1 / (v_inf + 50.0) - 1 / (v_inf + 65.0))
    g = jax.grad(first_spike)(I)
    assert float(g) == pytest.approx(exact, rel=1e-4 if solver == "rk4" else 1e-8)


def test_gradient_of_hh_spike_time_matches_finite_differences():
    def second_spike(g_K):
        sim = hj.simulate(hj.HodgkinHuxley(g_K=g_K), 10.0, t1=30.0, solver="rk4", dt=0.02, dtype="float64")
        return sim.spike_times[1]

    g = jax.grad(second_spike)(36.0)
    fd = (second_spike(36.0 + 1e-4) - second_spike(36.0 - 1e-4)) / 2e-4
    assert float(g) == pytest.approx(float(fd), rel=1e-4)
