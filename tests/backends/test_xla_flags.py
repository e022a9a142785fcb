"""XLA flags: only the command sets them; the deprecated shims; no global configuration changed."""

import os
import subprocess
import sys
import textwrap

import pytest

import hhjax as hj


def test_small_loop_flag_shim_is_deprecated_and_keeps_the_users_flags():
    """`use_small_loop_kernels` (deprecated; the library itself never edits XLA_FLAGS): warns,
    adds the XLA flag to the given environment, keeps the user's other flags and never
    overrides their backend options."""
    from hhjax.backends.xla_flags import SMALL_LOOP_FLAG
    env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
    with pytest.warns(DeprecationWarning, match="XLA_FLAGS"):
        assert hj.use_small_loop_kernels(env)
    assert env["XLA_FLAGS"] == f"--xla_cpu_enable_fast_math=false {SMALL_LOOP_FLAG}"
    with pytest.warns(DeprecationWarning):
        assert not hj.use_small_loop_kernels(env)  # already there
    own = {"XLA_FLAGS": "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=512"}
    with pytest.warns(DeprecationWarning):
        assert not hj.use_small_loop_kernels(own) and own["XLA_FLAGS"].endswith("=512")
    larger = {}
    with pytest.warns(DeprecationWarning):
        assert hj.use_small_loop_kernels(larger, byte_threshold=262_144)
    assert larger["XLA_FLAGS"] == "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=262144"
    with pytest.raises(ValueError, match="byte_threshold"), pytest.warns(DeprecationWarning):
        hj.use_small_loop_kernels({}, byte_threshold=-1)


def test_importing_and_simulating_leaves_global_configuration_alone():
    """hhjax changes no global setting: XLA_FLAGS and jax_enable_x64 are as they were after
    importing it and running a solve, a fit step and the benchmark helpers."""
    code = textwrap.dedent("""
        import os, jax
        before = (os.environ.get("XLA_FLAGS"), jax.config.jax_enable_x64)
        import hhjax as hj
        hj.simulate(hj.HodgkinHuxley(), 10.0, t1=5.0)
        hj.simulate(hj.SLIF2HH(), 10.0, t1=5.0)
        import hhjax.bench.suite, hhjax.cli
        print(before == (os.environ.get("XLA_FLAGS"), jax.config.jax_enable_x64))
    """)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["True"]


def test_small_loop_flag_makes_xla_compile_a_small_loop_as_one_function():
    """In a fresh process started with the small-loop flag, XLA hoists a loop of ~10 KiB per
    iteration into one function (a loop of that size is not hoisted by default)."""
    code = textwrap.dedent("""
        import sys
        import hhjax
        import jax, jax.numpy as jnp
        loop = lambda x: jax.lax.fori_loop(0, 10, lambda i, x: jnp.sin(x) * x + 1.0, x)
        print("small call" if "xla_cpu_small_call" in jax.jit(loop).lower(jnp.ones(1000)).compile().as_text()
              else "kernels")
    """)
    from hhjax.backends.xla_flags import SMALL_LOOP_FLAG
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    flags = {"flag": {"XLA_FLAGS": SMALL_LOOP_FLAG}, "default": {}}
    out = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True,
                                env={**env, **flags[mode]}).stdout.split() for mode in ("flag", "default")}
    assert out == {"flag": ["small", "call"], "default": ["kernels"]}


def test_host_device_flag_shim_is_deprecated_and_keeps_the_users_count():
    """`use_host_devices` (deprecated): warns, adds the device count to the given
    environment, keeps the user's other flags and their own count, rejects a bad count."""
    with pytest.warns(DeprecationWarning):
        env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
        assert hj.use_host_devices(3, env)
        assert env["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=3"
        own = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
        assert not hj.use_host_devices(2, own) and own["XLA_FLAGS"].endswith("=8")
        cores = {}
        assert hj.use_host_devices(environ=cores)
        assert int(cores["XLA_FLAGS"].rsplit("=", 1)[1]) == len(os.sched_getaffinity(0))
        with pytest.raises(ValueError, match="positive integer"):
            hj.use_host_devices(0, {})
