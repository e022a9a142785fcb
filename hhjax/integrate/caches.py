"""The two caches of `simulate`, both keyed by object identity and both bounded:

- prepared inputs: the checked, cast (and tuned) copies of the models and stimuli it was
  given, so that a sweep, a benchmark or a fit's repeated evaluations with the same
  objects prepare them once (64 entries);
- repeat calls: the bound compiled solve of a recent plain call, so that the same call
  again only runs (32 entries; ~55 µs per call at N = 1 instead of ~570 µs).

Caches only: results are the same with or without them. An entry holds its objects
weakly and is dropped when one of them is collected, so a reused id never returns a stale
value; objects with NumPy leaves (mutable in place) or tracers never key an entry.
"""

from __future__ import annotations

import weakref

import equinox as eqx
import jax
import numpy as np

from ..backends import tuned_model
from ..specs import as_stimulus
from .dtypes import cast_floats, resolve_dtype
from .validation import check_finite_leaves, is_traced


def cacheable(obj) -> bool:
    """Whether `obj` may key a cache by identity: no traced leaves, and no NumPy leaves
    (mutable in place). Equinox modules and JAX arrays are immutable."""
    return not any(isinstance(x, (jax.core.Tracer, np.ndarray)) for x in jax.tree.leaves(obj))


class IdentityCache:
    """Values computed from some objects, keyed by those objects' identity and a hashable
    tag; the oldest entry goes when `size` is reached."""

    def __init__(self, size: int):
        self.size = size
        self.entries: dict = {}

    def lookup(self, objects: tuple, tag):
        """The value stored for these very `objects` and `tag`, or None."""
        hit = self.entries.get((tuple(map(id, objects)), tag))
        if hit is None or any(ref() is not obj for ref, obj in zip(hit[0], objects)):
            return None
        return hit[1]

    def store(self, objects: tuple, tag, value):
        """Keep `value` (not when an object cannot be weakly referenced, nor when `value`
        holds tracers: computed while `jit` traced the caller, it must not outlive that
        trace); returns it."""
        if is_traced(value):
            return value
        key, entries = (tuple(map(id, objects)), tag), self.entries

        def drop(_):
            entries.pop(key, None)

        try:
            refs = tuple(weakref.ref(obj, drop) for obj in objects)
        except TypeError:  # numbers, text
            return value
        if len(entries) >= self.size:
            entries.pop(next(iter(entries)))
        entries[key] = (refs, value)
        return value

    def get(self, obj, tag, make):
        """`make()`, computed once per cacheable `obj` and `tag`."""
        if not cacheable(obj):
            return make()
        hit = self.lookup((obj,), tag)
        return hit if hit is not None else self.store((obj,), tag, make())


_PREPARED = IdentityCache(size=64)
_REPEATS = IdentityCache(size=32)


def prepare(model, stimulus, dtype, tuning=None):
    """Resolve the dtype, check parameters and stimulus for NaN/inf, and cast both; with a
    `tuning`, the model as that tuning runs it (`backends.tuned_model`)."""
    dtype = resolve_dtype(dtype)

    def prepared_model():
        m = model if tuning is None else tuned_model(model, tuning)
        check_finite_leaves(m, "model parameters")
        return cast_floats(m, dtype)

    def prepared_stimulus():
        stim = as_stimulus(stimulus)
        check_finite_leaves(stim, "stimulus")
        return cast_floats(stim, dtype)

    model = _PREPARED.get(model, (dtype, tuning), prepared_model)
    return dtype, model, _PREPARED.get(stimulus, dtype, prepared_stimulus)


_PLAIN = (bool, int, float, str, type(None))


def repeat_key(model, stimulus, *, y0=None, save_every=None, progress=False, adjoint=None, **options):
    """(objects, tag) keying the repeat cache, or None when the call is not a plain
    repeatable one: `options` all Python scalars/strings (no initial state, saving,
    progress bar or adjoint), model and stimulus modules (or a number/text stimulus, then
    part of the tag)."""
    if y0 is not None or adjoint is not None or progress or save_every is not None:
        return None
    if isinstance(options.get("dtype"), np.dtype):
        options["dtype"] = options["dtype"].name
    tuning = options.pop("tuning", None)
    if not all(type(x) in _PLAIN for x in options.values()):
        return None
    by_value = type(stimulus) in _PLAIN
    objects = (model,) if by_value else (model, stimulus)
    if not all(isinstance(obj, eqx.Module) for obj in objects):
        return None
    plain = tuple((name, type(x), x) for name, x in sorted(options.items()))
    return objects, (stimulus if by_value else None, bool(jax.config.jax_enable_x64), tuning) + plain


def lookup_repeat(repeat):
    """The bound solve stored for this very call, or None."""
    return None if repeat is None else _REPEATS.lookup(*repeat)


def remember(repeat, bound):
    """Keep `bound` (a `BoundSolve`) for the same call again, where the call is
    repeatable, was not prepared under a caller's trace, and its objects may key a cache."""
    if repeat is not None and not bound.traced and all(cacheable(obj) for obj in repeat[0]):
        _REPEATS.store(*repeat, bound)
