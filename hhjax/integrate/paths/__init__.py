"""Execution paths: the ways a `simulate` call can run, one module each, all with the
`ExecutionPath` interface (`refuses(request)`, `prepare(request)`). `hhjax.integrate.plan`
chooses among them."""

from .adaptive import AdaptivePath
from .base import BoundSolve, ExecutionPath
from .diffrax import DiffraxPath
from .discrete import DiscretePath
from .fixed_step import FixedStepPath

__all__ = ["AdaptivePath", "BoundSolve", "DiffraxPath", "DiscretePath", "ExecutionPath", "FixedStepPath"]
