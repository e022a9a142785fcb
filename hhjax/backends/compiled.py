"""Compiled solves: XLA options of their own (per compilation: nothing global changes),
and a cheap call for a concrete repeat.

`simulate` at N = 1 runs a few milliseconds of steps per call, so what a call costs
besides its steps matters. `eqx.filter_jit` partitions and hashes every argument pytree on
each call (~250 µs for the ~30 parameter and stimulus leaves of an HH solve on a 2-core
CPU); `CompiledSolve.bind` does that once per plan and then calls `jax.jit`'s C++ dispatch
on a flat list of device arrays (~50 µs).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import equinox as eqx
import jax


def compile_lowered(lowered, options: dict | None):
    """`lowered.compile()` with the XLA `options` where this jaxlib takes them (per
    compilation: nothing global changes), else without."""
    if options:
        try:
            return lowered.compile(compiler_options=dict(options))
        except (RuntimeError, TypeError) as e:
            if not _unknown_option(e):
                raise
    return lowered.compile()


def _unknown_option(error: Exception) -> bool:
    """Whether `error` says this jax/jaxlib does not take a compiler option."""
    return "compile option" in str(error) or "compiler_options" in str(error)


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
            except ValueError as e:  # called while a caller is traced: a nested jit takes no options
                if "top-level" not in str(e):   # (raised before `fn` is traced: the fallback is cheap)
                    raise
            except (RuntimeError, TypeError) as e:  # raised while compiling, before any run
                if not _unknown_option(e):
                    raise
                self.tuned = None
        return self.plain(*args)  # (inside a caller's trace: compiled with the caller's options)


@functools.lru_cache(maxsize=16)
def _compiled_solve(fn, options: tuple) -> "CompiledSolve":
    return CompiledSolve(fn, dict(options) or None)


def compiled_solve(fn, options=None) -> "CompiledSolve":
    """The `CompiledSolve` of `fn` with these XLA `options` (a dict or (name, value) pairs;
    None: none), one per solve and set of options in use."""
    return _compiled_solve(fn, tuple(sorted(dict(options or {}).items())))


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
