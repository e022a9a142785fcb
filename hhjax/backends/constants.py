"""Scalars compiled in: the scalar leaves of a pytree (model parameters, time constants,
reversal potentials) become constants of the compiled program instead of its arguments, so
XLA folds whatever depends on them alone (products of parameters, 1/τ, the decay factors of
the synapses, the scale factors of shared exponentials).

A speed choice (`Tuning.scalars_as_constants`). Every new value of a scalar compiles anew,
so it suits a call that compiles once anyway (`run_network` compiles each run ahead of
time), not a function jitted once and called with many parameter values; gradients with
respect to a compiled-in scalar do not exist, so differentiable runs never use it.
"""

from __future__ import annotations

import equinox as eqx
import numpy as np

from .tuning import Tuning


def is_scalar(leaf) -> bool:
    """A Python number or an array of one element."""
    return np.size(leaf) <= 1 if hasattr(leaf, "shape") else isinstance(leaf, (bool, int, float, complex))


def split_scalars(tree, tuning: Tuning):
    """(the rest of `tree`, its scalar leaves) when `tuning` compiles scalars in, else
    (`tree`, None). Join them again inside the compiled function with `with_scalars`."""
    if not tuning.scalars_as_constants:
        return tree, None
    scalars, rest = eqx.partition(tree, is_scalar)
    return rest, scalars


def with_scalars(rest, scalars):
    """The tree `split_scalars` split (the scalars closed over become constants under `jit`)."""
    return rest if scalars is None else eqx.combine(rest, scalars)
