"""Compiled solves (`hhjax.backends.compiled`): per-compilation options, bound repeat calls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def test_compile_options_fall_back_where_unknown():
    """`JitWithOptions`: an option this jaxlib does not know gives the plain compilation
    (the same result, remembered); an error of the function itself still surfaces."""
    from hhjax.backends.compiled import JitWithOptions
    f = JitWithOptions(lambda x: 2 * x + 1, {"xla_no_such_option_in_any_jaxlib": True})
    np.testing.assert_array_equal(f(jnp.arange(3.0)), [1.0, 3.0, 5.0])
    assert f.tuned is None
    bad = JitWithOptions(lambda x: x @ jnp.ones((4, 2)), {"xla_no_such_option_in_any_jaxlib": True})
    with pytest.raises(TypeError, match="dot_general"):
        bad(jnp.ones((3, 3)))


def test_a_bound_solve_equals_the_filtered_call_and_shares_its_program():
    """`CompiledSolve.bind`: the same outputs as the `filter_jit`-style call (non-array
    output parts included), one program for every binding of the same structure, a new one
    for a different static part, and the filtered call for traced arguments."""
    from hhjax.backends.compiled import CompiledSolve

    def fn(params, x, scale):
        return {"y": params["a"] * x + params["b"], "n": scale}, x.sum() * scale

    solve = CompiledSolve(fn)
    params = {"a": np.arange(3.0), "b": jnp.ones(3)}
    x = np.linspace(0.0, 1.0, 3)
    bound = solve.bind(params, x, 2)
    got, want = bound(), solve(params, x, 2)
    np.testing.assert_array_equal(got[0]["y"], want[0]["y"])
    assert got[0]["n"] == 2 and float(got[1]) == float(want[1]) == 3.0
    other = solve.bind({"a": np.ones(3), "b": np.zeros(3)}, x, 2)
    np.testing.assert_array_equal(other()[0]["y"], x)
    assert len(solve.programs) == 1
    solve.bind(params, x, 3)
    assert len(solve.programs) == 2
    traced = jax.jit(lambda s: solve.bind(params, x * s, 2)()[1])(2.0)
    assert float(traced) == 6.0 and len(solve.programs) == 2


def test_compile_lowered_with_an_unknown_option_compiles_plainly():
    """`compile_lowered`: an option this jaxlib does not know gives the plain
    compilation; a known one is applied (same result)."""
    from hhjax.backends import compile_lowered

    lowered = jax.jit(lambda x: jnp.exp(x) * 2 + 1).lower(jnp.arange(40.0))
    expected = np.exp(np.arange(40.0)) * 2 + 1
    for options in ({"xla_no_such_option_in_any_jaxlib": True}, {"xla_cpu_prefer_vector_width": 512}, None):
        np.testing.assert_allclose(compile_lowered(lowered, options)(jnp.arange(40.0)), expected, rtol=1e-14)


def test_options_are_left_to_the_caller_inside_its_trace():
    """A solve with its own XLA options called while `jit` traces a caller compiles as
    part of the caller (a nested jit takes no options): same result as outside."""
    from hhjax.backends.compiled import JitWithOptions

    f = JitWithOptions(lambda x: jnp.exp(x) + 1, {"xla_cpu_prefer_vector_width": 512})
    x = jnp.linspace(0.0, 1.0, 16)
    outside = f(x)
    inside = jax.jit(lambda x: f(x) * 2)(x)
    np.testing.assert_allclose(np.asarray(inside), 2 * np.asarray(outside), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(jax.grad(lambda x: f(x).sum())(x)), np.exp(np.asarray(x)), rtol=1e-14)
    assert f.tuned is not None  # (still used outside a trace)
