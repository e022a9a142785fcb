"""Rate functions at their removable singularities, and the tv-LIF identities."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hhjax as hj


def _g(x):
    """x/(1 - e^-x) in float64 numpy (reference away from 0)."""
    return x / -np.expm1(-x)


def _dg(x):
    """Analytic derivative of x/(1 - e^-x), with its Taylor series near 0."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < 1e-3
    xs = np.where(small, 1.0, x)
    e = np.exp(-xs)
    direct = (1 - e - xs * e) / (1 - e) ** 2
    return np.where(small, 0.5 + x / 6 - x**3 / 180, direct)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_exprel_values_and_gradients(dtype):
    xs = np.array([0.0, 1e-12, -1e-9, 1e-6, -1e-4, 5e-3, -9.99e-3, 1e-2, 0.3, -2.0, 7.0])
    vals = hj.x_over_one_minus_exp(jnp.asarray(xs, dtype))
    grads = jax.vmap(jax.grad(hj.x_over_one_minus_exp))(jnp.asarray(xs, dtype))
    ref = np.where(xs == 0, 1.0, _g(np.where(xs == 0, 1.0, xs)))
    rtol = 2e-7 if dtype == jnp.float32 else 1e-14
    np.testing.assert_allclose(np.asarray(vals, np.float64), ref, rtol=4 * rtol)
    np.testing.assert_allclose(np.asarray(grads, np.float64), _dg(xs), rtol=5e-5 if dtype == jnp.float32 else 1e-10)
    assert vals.dtype == dtype and grads.dtype == dtype


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_linoid_from_a_given_exponential(dtype):
    """`x_over_one_minus_given_exp(x, exp(−x))` (the linoid rates with shared exponentials):
    its series below |x| = 0.1 (shorter in float32) within an ulp of x/(1 − e^−x), the closed
    form beyond to the rounding of E over |x|, and the derivative to ~1e-5 (float32) or
    1e-10 (float64) relative."""
    from hhjax._numerics import x_over_one_minus_given_exp

    xs = np.array([0.0, 1e-12, -1e-9, 1e-6, -1e-4, 5e-3, -0.05, 0.0999999, -0.0999999, 0.1, -0.1000001, 0.3,
                   -2.0, 7.0, 25.0, -30.0])
    x = jnp.asarray(xs, dtype)
    xr = np.asarray(x, np.float64)  # (the rounded arguments)
    ref = np.where(xr == 0, 1.0, _g(np.where(xr == 0, 1.0, xr)))
    f = lambda v: x_over_one_minus_given_exp(v, jnp.exp(-v))
    vals, grads = f(x), jax.vmap(jax.grad(f))(x)
    eps = float(jnp.finfo(dtype).eps)
    series = np.abs(xr) < 0.1
    np.testing.assert_allclose(np.asarray(vals, np.float64)[series], ref[series], rtol=eps)
    np.testing.assert_allclose(np.asarray(vals, np.float64)[~series], ref[~series],
                               rtol=4 * eps / np.abs(xr[~series]).min())
    np.testing.assert_allclose(np.asarray(grads, np.float64), _dg(xr), rtol=5e-5 if dtype == jnp.float32 else 1e-10)
    assert vals.dtype == dtype and grads.dtype == dtype


def _phi1_reference(x):
    """(1 − e^−x)/x and its derivative in float64 numpy: Taylor series (to x^14) on
    |x| < 0.05, the closed forms with expm1 beyond."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < 0.05
    xs = np.where(small, 1.0, x)
    terms = [(-1) ** n / math.factorial(n + 1) for n in range(15)]
    value = np.where(small, sum(c * x**n for n, c in enumerate(terms)), -np.expm1(-xs) / xs)
    slope = np.where(small, sum(n * c * x ** (n - 1) for n, c in enumerate(terms) if n),
                     (xs * np.exp(-xs) + np.expm1(-xs)) / xs**2)
    return value, slope


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_phi1_values_and_gradients(dtype):
    """`one_minus_exp_over_x` (exponential Euler's step factor) to ~1 ulp, its derivative to
    a few ulp, on both sides of the series/closed-form boundary at |x| = 1/2 and at 0."""
    from hhjax._numerics import one_minus_exp_over_x

    xs = np.array([0.0, 1e-12, -1e-9, 1e-6, -1e-4, 5e-3, -9.99e-3, 0.1, -0.3, 0.4999999, 0.5, -0.5000001,
                   1.0, -2.0, 7.0, 30.0, -20.0])
    x = jnp.asarray(xs, dtype)
    value, slope = _phi1_reference(np.asarray(x, np.float64))  # (at the rounded arguments)
    eps = float(jnp.finfo(dtype).eps)
    vals = one_minus_exp_over_x(x)
    grads = jax.vmap(jax.grad(one_minus_exp_over_x))(x)
    np.testing.assert_allclose(np.asarray(vals, np.float64), value, rtol=2 * eps)
    np.testing.assert_allclose(np.asarray(grads, np.float64), slope, rtol=8 * eps)
    assert vals.dtype == dtype and grads.dtype == dtype


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_update_factor_is_exact_to_rounding_in_the_update(dtype):
    """`update_factor` (the step factor exponential Euler uses) in the update of a gate,
    x1 = x + h·(α − λx)·φ1(−λh), against the exact solution x∞ + (x − x∞)e^−λh in float64:
    within a few ulp of 1 from λh = 1e-7 to 60 (the closed form's cancellation near its
    cutoff costs ulp·|x∞ − x|, not ulp/λh); its own value within ulp/|x| of φ1 and exactly
    φ1 below the cutoff; its derivative `one_minus_exp_over_x`'s."""
    from hhjax._numerics import one_minus_exp_over_x, update_factor

    eps = float(jnp.finfo(dtype).eps)
    rng = np.random.default_rng(0)
    lam_h = np.concatenate([[0.0], 10.0 ** rng.uniform(-7, np.log10(60), 4000)])
    h = 0.1
    lam = jnp.asarray(lam_h / h, dtype)
    x_inf = jnp.asarray(rng.uniform(0, 1, lam_h.size), dtype)
    x0 = jnp.asarray(rng.uniform(0, 1, lam_h.size), dtype)
    f = lam * (x_inf - x0)  # (α − λx with α = λ·x∞)
    x1 = x0 + jnp.asarray(h, dtype) * f * update_factor(lam * jnp.asarray(h, dtype))
    lam64, f64, x064 = (np.asarray(a, np.float64) for a in (lam, f, x0))
    exact = x064 + f64 * h * _phi1_reference(lam64 * h)[0]
    assert np.max(np.abs(np.asarray(x1, np.float64) - exact)) < 4 * eps
    z = jnp.asarray(lam_h, dtype)
    value, slope = _phi1_reference(np.asarray(z, np.float64))
    got = np.asarray(update_factor(z), np.float64)
    zs = np.maximum(np.asarray(z, np.float64), np.finfo(np.float64).tiny)  # (z = 0: the series, exact)
    np.testing.assert_array_less(np.abs(got - value), 2 * eps * value + 2 * eps / zs)
    below = np.asarray(z) < (1e-3 if dtype == jnp.float32 else 1e-5)
    np.testing.assert_allclose(got[below], value[below], rtol=2 * eps)
    np.testing.assert_array_equal(np.asarray(jax.vmap(jax.grad(update_factor))(z)),
                                  np.asarray(jax.vmap(jax.grad(one_minus_exp_over_x))(z)))
    assert update_factor(z).dtype == dtype


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize(
    "model, rate, v_sing, limit, slope",
    [
        (hj.HodgkinHuxley(), "alpha_m", -40.0, 1.0, 0.05),
        (hj.HodgkinHuxley(), "alpha_n", -55.0, 0.1, 0.005),
        (hj.HodgkinHuxley.shifted(), "alpha_m", 25.0, 1.0, 0.05),
        (hj.HodgkinHuxley.shifted(), "alpha_n", 10.0, 0.1, 0.005),
    ],
)
def test_rates_finite_at_singular_voltage(model, rate, v_sing, limit, slope, dtype):
    fn = getattr(hj.cast_floats(model, dtype), rate)
    V = jnp.asarray(v_sing, dtype)
    assert float(fn(V)) == pytest.approx(limit, rel=1e-6)
    # d/dV [A(V - Vh)/(1 - e^{-(V - Vh)/k})] at V = Vh is A/2.
    assert float(jax.grad(fn)(V)) == pytest.approx(slope, rel=1e-5)
    # the whole HH vector field and its Jacobian stay finite at the singular voltage
    m = hj.cast_floats(model, dtype)
    y = m.steady_state(V)
    f = m.vector_field(jnp.asarray(0.0, dtype), y, jnp.asarray(1.0, dtype))
    jac = jax.jacfwd(lambda V: m.vector_field(jnp.asarray(0.0, dtype), m.steady_state(V), jnp.asarray(1.0, dtype)))(V)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves((f, jac)))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("model", [hj.HodgkinHuxley(), hj.HodgkinHuxley.shifted()], ids=["standard", "shifted"])
def test_gate_identity_alpha_beta_equals_tvlif(model, dtype):
    """α(1−x) − βx = −(x − x∞)/τ for every V, the singular voltages included."""
    m = hj.cast_floats(model, dtype)
    shift = float(m.V_rest) + 65.0
    V = jnp.concatenate([jnp.linspace(-120.0, 80.0, 2001, dtype=dtype) + shift,
                         jnp.asarray([-40.0, -55.0], dtype) + shift])
    x = jnp.linspace(0.0, 1.0, V.shape[0], dtype=dtype)
    eps = float(jnp.finfo(dtype).eps)
    for a, b in m.gate_rates(V).values():
        tau, x_inf = hj.gate_tvlif(a, b)
        lhs = a * (1 - x) - b * x
        rhs = -(x - x_inf) / tau
        scale = np.asarray(jnp.abs(a) + jnp.abs(b) + 1)
        assert np.all(np.abs(np.asarray(lhs - rhs)) <= 8 * eps * scale)
        assert np.all(np.isfinite(np.asarray(tau))) and np.all((np.asarray(x_inf) >= 0) & (np.asarray(x_inf) <= 1))


def test_membrane_as_one_tvlif():
    """C dV/dt = −g_s (V − E_s) + I equals the HH membrane equation."""
    m = hj.HodgkinHuxley()
    key = jax.random.PRNGKey(0)
    V = jax.random.uniform(key, (500,), minval=-90.0, maxval=50.0)
    y = hj.HHState(V=V, m=jnp.full_like(V, 0.3), h=jnp.full_like(V, 0.4), n=jnp.full_like(V, 0.5))
    I = 7.0
    tau, E_s, R = m.membrane_tvlif(y)
    via_tvlif = hj.tvlif_derivative(V, tau, E_s, R, I)
    direct = m.vector_field(0.0, y, I).V
    np.testing.assert_allclose(np.asarray(via_tvlif), np.asarray(direct), rtol=1e-12, atol=1e-10)


def test_traub_miles_beta_m_matches_its_formula():
    tm = hj.traub_miles()
    V = np.array([-80.0, -30.0, 10.0])
    x = V + 63.0 - 40.0
    expected = 0.28 * x / np.expm1(x / 5)
    np.testing.assert_allclose(np.asarray(tm.beta_m(jnp.asarray(V))), expected, rtol=1e-12)
    assert float(tm.beta_m(jnp.asarray(-23.0))) == pytest.approx(0.28 * 5, rel=1e-12)


def test_resting_state_is_the_long_time_limit_of_the_reference(hh_reference):
    rest = hj.HodgkinHuxley().resting_state()
    f = hj.HodgkinHuxley().vector_field(0.0, rest, 0.0)
    assert all(abs(float(x)) < 1e-10 for x in jax.tree.leaves(f))
    # the independent SciPy solution for I = 0 relaxes to this potential
    v_end = hh_reference["protocols"][0]["V_mV"][-1]
    assert float(rest.V) == pytest.approx(v_end, abs=2e-4)
    shifted = hj.HodgkinHuxley.shifted().resting_state()
    assert float(shifted.V) == pytest.approx(float(rest.V) + 65.0, abs=1e-6)
