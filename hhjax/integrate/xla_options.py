"""Compiling a solve with XLA options of its own, where this jaxlib knows them."""

from __future__ import annotations

import equinox as eqx

# XLA's CPU backend compiles hhjax's adaptive loop (about 80 kernels for HH with Tsit5)
# faster with its classic elemental emitters than with its MLIR fusion emitters, and the
# loop runs as fast (README, "Benchmarks": HH Tsit5 at N = 100, XLA's part of a first call
# 1.17 -> 0.83 s on a 2-core CPU). The fixed-step loops keep the default emitters, which
# run them faster. Other backends ignore the option.
CLASSIC_CPU_EMITTERS = {"xla_cpu_use_fusion_emitters": False}


class JitWithOptions:
    """`eqx.filter_jit(fn)` compiled with the XLA `options` (debug options, per
    compilation: nothing global changes). A jax without per-call compiler options, or a
    jaxlib that does not know one of them, gets the plain `filter_jit` instead — found out
    on the first call and remembered by this object."""

    def __init__(self, fn, options: dict):
        self.plain = eqx.filter_jit(fn)
        try:
            self.tuned = eqx.filter_jit(fn, compiler_options=dict(options))
        except TypeError:  # a jax.jit without `compiler_options`
            self.tuned = None
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        if self.tuned is not None:
            try:
                return self.tuned(*args)
            except (RuntimeError, TypeError) as e:  # raised while compiling, before any run
                if "compile option" not in str(e) and "compiler_options" not in str(e):
                    raise
                self.tuned = None
        return self.plain(*args)
