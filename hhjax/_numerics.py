"""Numerically careful elementary functions shared by the models."""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

# Below this |x| the series is used.  The direct formula's derivative loses about
# ulp/|x| in absolute terms, so 1e-2 keeps float32 gradients accurate to ~1e-5, while
# the series, truncated after x^4, is exact to ~3e-17 relative there.
_SERIES_CUTOFF = 1e-2


def x_over_one_minus_exp(x: ArrayLike) -> Array:
    """`x / (1 - exp(-x))`, finite with a correct derivative at the removable point x = 0.

    This is the shape of the HH "linoid" rates α_m and α_n.  The value at 0 is 1 and the
    derivative there is 1/2.  Uses the double-`where` trick so that neither branch can
    produce NaN values or NaN gradients.
    """
    x = jnp.asarray(x)
    small = jnp.abs(x) < _SERIES_CUTOFF
    x_safe = jnp.where(small, jnp.ones_like(x), x)
    direct = x_safe / (-jnp.expm1(-x_safe))
    x_small = jnp.where(small, x, jnp.zeros_like(x))
    x2 = x_small * x_small
    # Bernoulli series: 1 + x/2 + x^2/12 - x^4/720 (next term x^6/30240).
    series = 1 + x_small / 2 + x2 / 12 - x2 * x2 / 720
    return jnp.where(small, series, direct)


def one_minus_exp_over_x(x: ArrayLike) -> Array:
    """`(1 − exp(−x)) / x`, exponential Euler's φ1(−x), finite with a correct derivative at
    the removable point x = 0 (value 1, slope −1/2).

    Taylor series on |x| < 1/2, to x^15 in float64 and x^8 in float32 (the next term is
    below half an ulp there); beyond it `(1 − exp(−x))/x`, whose cancellation costs at
    most ~2 ulp at |x| = 1/2. (`exp`, not `expm1`: XLA's CPU backend evaluates `expm1`
    about 2× slower.)"""
    x = jnp.asarray(x)
    small = jnp.abs(x) < 0.5
    x_safe = jnp.where(small, jnp.ones_like(x), x)
    direct = (1 - jnp.exp(-x_safe)) / x_safe
    xs = jnp.where(small, x, jnp.zeros_like(x))
    series = jnp.zeros_like(xs)
    for n in range(8 if xs.dtype.itemsize <= 4 else 15, 0, -1):  # Σ (−x)^n/(n+1)!, Horner
        series = (series + (-1) ** n / math.factorial(n + 1)) * xs
    return jnp.where(small, 1 + series, direct)


@jax.custom_jvp
def update_factor(x: ArrayLike) -> Array:
    """φ1(−x) = (1 − exp(−x))/x as exponential Euler's update y + h·f·φ1(−λh) needs it, in
    one exponential and one division: three Taylor terms below |x| < 1e-3 (float32) or
    1e-5 (float64), the closed form beyond. Near the cutoff the closed form is off by about
    ulp/|x| relative to φ1, which in the update is ulp·|f/λ| = ulp·|y∞ − y|: the rounding
    of the state's distance to its fixed point (a gate's is at most 1). Where φ1 itself is
    wanted to ~1 ulp, `one_minus_exp_over_x`; the derivative here is that function's."""
    x = jnp.asarray(x)
    small = jnp.abs(x) < (1e-3 if x.dtype.itemsize <= 4 else 1e-5)
    series = 1 + x * (-0.5 + x * (1 / 6))
    return jnp.where(small, series, (1 - jnp.exp(-x)) / x)  # (0/0 at x = 0 is not selected)


@update_factor.defjvp
def _update_factor_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    _, slope = jax.jvp(one_minus_exp_over_x, (x,), (dx,))
    return update_factor(x), slope


# x/(1 − E) with E = exp(−x) known only to a few ulps (shared, raised to a power): the
# quotient loses about ulp/|x|, so the series takes over on a wider band, |x| < 0.1, with
# terms to x^8 in float64 (next term x^10/47900160: below 1e-17 relative there) and to
# x^4 in float32 (next term x^6/30240: 3e-11, far below an ulp).
_SHARED_SERIES_CUTOFF = 1e-1


def x_over_one_minus_given_exp(x: ArrayLike, E: ArrayLike) -> Array:
    """`x / (1 − E)` where E = exp(−x) was computed elsewhere; finite with a correct
    derivative at x = 0 (series on |x| < 0.1, double-`where` as above)."""
    x = jnp.asarray(x)
    small = jnp.abs(x) < _SHARED_SERIES_CUTOFF
    x_safe = jnp.where(small, jnp.ones_like(x), x)
    E_safe = jnp.where(small, jnp.full_like(E, 0.36787944117144233), E)
    direct = x_safe / (1 - E_safe)
    xs = jnp.where(small, x, jnp.zeros_like(x))
    x2 = xs * xs
    if x2.dtype.itemsize <= 4:
        tail = x2 * (1 / 12 - x2 * (1 / 720))
    else:
        tail = x2 * (1 / 12 + x2 * (-1 / 720 + x2 * (1 / 30240 - x2 / 1209600)))
    return jnp.where(small, 1 + xs / 2 + tail, direct)
