"""The diffrax term a model is integrated with."""

from __future__ import annotations

import diffrax as dfx

from ..models.base import input_current
from .solvers import ExponentialEuler, ModelTerm


def model_term(model, solver):
    """The diffrax term `simulate` integrates `model` with: an `ODETerm` of its vector field
    (args = the stimulus), carrying the decay rates for exponential Euler."""
    if isinstance(solver, ExponentialEuler):
        def decay(t, y, args):
            return model.decay_rates(t, y, input_current(args, t))

        return ModelTerm(model.vector_field, decay=decay)
    return dfx.ODETerm(model.vector_field)
