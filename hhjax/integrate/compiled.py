"""Compiled solves: XLA options of their own, and a cheap call for a concrete repeat.

`simulate` at N = 1 runs a few milliseconds of steps per call, so what a call costs
besides its steps matters. `eqx.filter_jit` partitions and hashes every argument pytree on
each call (~250 µs for the ~30 parameter and stimulus leaves of an HH solve on a 2-core
CPU); `CompiledSolve.bind` does that once per plan and then calls `jax.jit`'s C++ dispatch
on a flat list of device arrays (~50 µs).
"""

from __future__ import annotations

import os
from typing import Any, Callable, MutableMapping

import equinox as eqx
import jax

# XLA's CPU backend compiles hhjax's adaptive loop (about 80 kernels for HH with Tsit5)
# faster with its classic elemental emitters than with its MLIR fusion emitters, and the
# loop runs as fast (README, "Benchmarks": HH Tsit5 at N = 100, XLA's part of a first call
# 1.17 -> 0.83 s on a 2-core CPU). The fixed-step loops keep the default emitters, which
# run them faster. Other backends ignore the option.
CLASSIC_CPU_EMITTERS = {"xla_cpu_use_fusion_emitters": False}

# XLA's CPU runtime compiles a while loop into one function (instead of dispatching each of
# its kernels on every iteration) only when one iteration accesses fewer bytes than this
# threshold, 1 KiB by default: HH at N = 1 just fits, tv-LIF2HH and s-LIF2HH in float64 or
# RK4/Tsit5 do not and then run 2-30x slower per step (README, "Benchmarks"). The threshold is
# an XLA backend option that only XLA_FLAGS can set, once per process, before JAX starts its
# backends: `use_small_loop_kernels` does that for the `hhjax` command. 256 KiB ran N = 300 to
# 1,000 and adaptive N = 100 solves up to 3.5x faster but compiled those solves 0.1-0.2 s
# slower (README, "Small populations"): the default keeps compile times under 1 s.
SMALL_LOOP_BYTES = 65_536
_SMALL_LOOP_OPTION = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold"
SMALL_LOOP_FLAG = f"{_SMALL_LOOP_OPTION}={SMALL_LOOP_BYTES}"


def use_small_loop_kernels(environ: MutableMapping[str, str] | None = None, *,
                           byte_threshold: int = SMALL_LOOP_BYTES) -> bool:
    """Add XLA's small-loop threshold (`SMALL_LOOP_FLAG`, or `byte_threshold` bytes) to
    `XLA_FLAGS` in `environ` (default `os.environ`): XLA then compiles each while loop of up
    to that many bytes per iteration (small populations) into one function. Only before JAX
    has started its backends (later, XLA has read its flags already), and never over
    `xla_backend_extra_options` the user has set. Returns whether the flag was added. Call
    it at the top of a script, before any JAX computation."""
    if not isinstance(byte_threshold, int) or byte_threshold < 0:
        raise ValueError(f"byte_threshold must be a non-negative integer, got {byte_threshold!r}")
    return add_xla_flag(f"{_SMALL_LOOP_OPTION}={byte_threshold}", "xla_backend_extra_options", environ)


def add_xla_flag(flag: str, unless: str, environ: MutableMapping[str, str] | None = None) -> bool:
    """Append `flag` to `XLA_FLAGS` in `environ` (default `os.environ`) unless `XLA_FLAGS`
    already mentions `unless` (the user's own setting wins) or JAX has started its backends
    (XLA has read its flags then). Returns whether the flag was added."""
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    if unless in flags or _backends_started():
        return False
    environ["XLA_FLAGS"] = f"{flags} {flag}".strip()
    return True


def shaped_for_cpu() -> bool:
    """Whether this compilation targets XLA's CPU backend, for which some loops take a
    CPU-specific shape (RK4's stages kept in memory, paired steps: conditionals used as
    fusion boundaries). On a GPU a conditional may cost a host synchronisation and XLA
    fuses differently, so those loops keep their plain shape there (not measured: no GPU
    was available)."""
    return jax.default_backend() == "cpu"


def _backends_started() -> bool:
    """Whether JAX has started its backends (and XLA read its flags); False where this jax
    does not say (the flag is then added, and does nothing if it came too late)."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return False


class JitWithOptions:
    """`jit(fn)` (`eqx.filter_jit` by default, or `jax.jit`) compiled with the XLA
    `options` (debug options, per compilation: nothing global changes). A jax without
    per-call compiler options, or a jaxlib that does not know one of them, gets the plain
    `jit(fn)` instead — found out on the first call and remembered by this object."""

    def __init__(self, fn, options: dict | None, jit: Callable = eqx.filter_jit):
        self.plain = jit(fn)
        self.tuned = None
        if options:
            try:
                self.tuned = jit(fn, compiler_options=dict(options))
            except TypeError:  # a jit without `compiler_options`
                pass
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


class CompiledSolve:
    """A solve `fn(*args)` (any pytrees in and out), compiled with XLA `options` where
    this jaxlib knows them. Call it like `eqx.filter_jit(fn)` (traced or concrete
    arguments), or `bind` concrete arguments once and run the bound call repeatedly."""

    def __init__(self, fn, options: dict | None = None, cache_size: int = 64):
        self.fn, self.options, self.cache_size = fn, options, cache_size
        self.filtered = JitWithOptions(fn, options)
        self.programs: dict = {}  # (argument structure, static part) -> _FlatProgram
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        return self.filtered(*args)

    def bind(self, *args) -> Callable[[], Any]:
        """A call of `fn(*args)` without arguments: the arrays of `args` are moved to the
        default device now, once; their structure and non-array parts pick a compiled
        program shared by every binding of the same kind. Falls back to the filtered call
        where `args` hold tracers or unhashable non-array parts."""
        dynamic, static = eqx.partition(args, eqx.is_array)
        leaves, structure = jax.tree.flatten(dynamic)
        if any(isinstance(x, jax.core.Tracer) for x in leaves):
            return lambda: self.filtered(*args)
        static_leaves, static_structure = jax.tree.flatten(static)
        try:  # (typed: 2 and 2.0 trace differently)
            key = (structure, static_structure, tuple((type(x), x) for x in static_leaves))
            program = self.programs.get(key)
        except TypeError:  # a non-array part that cannot be hashed
            return lambda: self.filtered(*args)
        if program is None:
            if len(self.programs) >= self.cache_size:
                self.programs.pop(next(iter(self.programs)))
            program = self.programs[key] = _FlatProgram(self.fn, self.options, structure, static)
        with jax.ensure_compile_time_eval():  # concrete arrays even while `jit` traces a caller
            leaves = [jax.device_put(x) for x in leaves]
        return lambda: program(leaves)


class _FlatProgram:
    """`fn` for one argument structure and static part, jitted on the flat list of the
    arguments' arrays. Outputs: the arrays go through `jax.jit`; non-array parts of the
    output (found while tracing) are put back after each call."""

    def __init__(self, fn, options, structure, static):
        self.out_static = None

        def flat_fn(leaves):
            out = fn(*eqx.combine(jax.tree.unflatten(structure, leaves), static))
            arrays, out_static = eqx.partition(out, eqx.is_array)
            self.out_static = out_static if jax.tree.leaves(out_static) else None  # (None leaves drop out)
            return arrays

        flat_fn.__name__ = getattr(fn, "__name__", "solve")
        self.jitted = JitWithOptions(flat_fn, options, jit=jax.jit)

    def __call__(self, leaves: list):
        out = self.jitted(leaves)
        return out if self.out_static is None else eqx.combine(out, self.out_static)
