"""A new model in a few lines gets simulation, populations and gradients for free."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

import hhjax as hj


class FitzHughNagumo(hj.AbstractNeuron):
    """dv/dt = v − v³/3 − w + I, dw/dt = (v + a − b·w)/tau (dimensionless)."""

    a: float = 0.7
    b: float = 0.8
    tau: float = 12.5

    def initial_state(self):
        return dict(v=jnp.asarray(-1.2), w=jnp.asarray(-0.6))

    def dynamics(self, t, y, current):
        v, w = y["v"], y["w"]
        return dict(v=v - v**3 / 3 - w + current, w=(v + self.a - self.b * w) / self.tau)

    def voltage(self, y):
        return y["v"]


def test_user_defined_model_against_scipy():
    sim = hj.simulate(FitzHughNagumo(), 0.5, t1=200.0, solver="tsit5", rtol=1e-10, atol=1e-10,
                      dtype="float64", threshold=1.0)

    def f(t, y):
        v, w = y
        return [v - v**3 / 3 - w + 0.5, (v + 0.7 - 0.8 * w) / 12.5]

    def up(t, y):
        return y[0] - 1.0

    up.direction = 1
    ref = solve_ivp(f, (0, 200), [-1.2, -0.6], rtol=1e-12, atol=1e-12, events=up, method="DOP853")
    assert len(ref.t_events[0]) >= 4
    np.testing.assert_allclose(sim.spike_list(), ref.t_events[0], atol=1e-6)


def test_user_model_population_and_gradient():
    model = FitzHughNagumo(a=jnp.array([0.6, 0.7, 0.8]))
    pop = hj.simulate(model, 0.5, t1=100.0, solver="rk4", dt=0.05, dtype="float64")
    assert pop.spike_counts.shape == (3,)

    def final_v(a):
        return hj.simulate(FitzHughNagumo(a=a), 0.5, t1=20.0, solver="rk4", dt=0.05, dtype="float64").y_final["v"]

    g = jax.grad(final_v)(0.7)
    fd = (final_v(0.7 + 1e-6) - final_v(0.7 - 1e-6)) / 2e-6
    assert np.isfinite(float(g)) and abs(float(g) - float(fd)) < 1e-5 * max(1.0, abs(float(fd)))


def _traub_miles_numpy(t, y, I):
    V, m, h, n = y
    vt = -63.0
    x = lambda u: u / -np.expm1(-u)  # noqa: E731
    am = 0.32 * 4 * x((V - vt - 13) / 4)
    bm = 0.28 * (V - vt - 40) / np.expm1((V - vt - 40) / 5)
    ah = 0.128 * np.exp(-(V - vt - 17) / 18)
    bh = 4 / (1 + np.exp(-(V - vt - 40) / 5))
    an = 0.032 * 5 * x((V - vt - 15) / 5)
    bn = 0.5 * np.exp(-(V - vt - 10) / 40)
    Iion = 100 * m**3 * h * (V - 50) + 30 * n**4 * (V + 90) + 0.05 * (V + 65)
    return [I - Iion, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]


def test_traub_miles_variant_against_independent_numpy_model():
    tm = hj.traub_miles()
    y0 = tm.initial_state()
    sim = hj.simulate(tm, 2.0, t1=100.0, solver="dopri8", rtol=1e-11, atol=1e-11, dtype="float64")

    def up(t, y, I):
        return y[0]

    up.direction = 1
    ref = solve_ivp(_traub_miles_numpy, (0, 100), [float(y0.V), float(y0.m), float(y0.h), float(y0.n)],
                    args=(2.0,), method="DOP853", rtol=1e-12, atol=1e-12, events=up)
    assert len(ref.t_events[0]) >= 3
    np.testing.assert_allclose(sim.spike_list(), ref.t_events[0], atol=1e-5)
