"""The planner: which execution path runs a `simulate` call.

    discrete model                                   -> discrete
    fixed steps on a known grid, own loop possible   -> fixed_step
    adaptive, concrete, not saving every step        -> adaptive
    anything else (progress bar, other adjoints,     -> diffrax
      implicit solvers, traced calls that save a
      trace, samples off the grid)

The first path in `PATHS` that does not refuse the request runs it; `simulate(path=NAME)`
asks for one by name and gets a `ValueError` that says why when it cannot run the call.
"""

from __future__ import annotations

from .paths import AdaptivePath, DiffraxPath, DiscretePath, ExecutionPath, FixedStepPath

# In order of preference: hhjax's own loops first, diffeqsolve as the general fallback.
PATHS: dict[str, ExecutionPath] = {p.name: p for p in (DiscretePath(), FixedStepPath(), AdaptivePath(), DiffraxPath())}


def choose_path(request, path: str | None = None) -> ExecutionPath:
    """The path that runs `request`: `path` by name when given, else the first that takes it."""
    if path is not None:
        if path not in PATHS:
            raise ValueError(f"unknown execution path {path!r}; choose from {', '.join(PATHS)}")
        reason = PATHS[path].refuses(request)
        if reason is not None:
            raise ValueError(f"execution path {path!r} cannot run this call: {reason}")
        return PATHS[path]
    for candidate in PATHS.values():
        if candidate.refuses(request) is None:
            return candidate
    raise AssertionError("no execution path took the request")  # the diffrax path takes every continuous one
