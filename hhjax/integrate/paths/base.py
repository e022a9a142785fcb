"""What every execution path shares: its interface, the static configuration its compiled
solve reads, and the bound solve it returns."""

from __future__ import annotations

import equinox as eqx

from ...backends.compiled import CompiledSolve
from ..collect import CallInfo, finish
from ..results import Simulation
from ..validation import is_traced


class ExecutionPath:
    """One way of running a `simulate` call. `name` is what `simulate(path=...)` takes;
    `refuses(request)` says why this path cannot run a request (None: it can);
    `prepare(request)` returns the `BoundSolve` that runs it."""

    name: str = ""

    def refuses(self, request) -> str | None:
        raise NotImplementedError

    def prepare(self, request) -> "BoundSolve":
        raise NotImplementedError

    def __repr__(self):
        return f"<execution path {self.name!r}>"


class SolveConfig(eqx.Module):
    """The static options a compiled solve reads."""

    adaptive: bool = eqx.field(static=True)
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    max_spikes: int = eqx.field(static=True)
    progress: bool = eqx.field(static=True)
    save_step: bool = eqx.field(static=True)

    @classmethod
    def of(cls, request) -> "SolveConfig":
        return cls(adaptive=request.adaptive, rtol=request.rtol, atol=request.atol, max_steps=request.max_steps,
                   max_spikes=max(request.max_spikes, 1), progress=request.progress, save_step=request.save_step)


def call_info(request) -> CallInfo:
    return CallInfo(request.solver_name, request.dt, request.max_steps, request.max_spikes, request.adaptive,
                    request.save_step)


class BoundSolve:
    """A call's compiled solve bound to its arguments (`CompiledSolve.bind`; the solve
    returns (result, status, diffrax result or None)); `run()` solves and checks. The
    repeat cache keeps it, so the same call again skips the preparation."""

    def __init__(self, solve: CompiledSolve, args: tuple, model, call: CallInfo, path: str):
        self.model, self.call, self.path = model, call, path
        self.traced = is_traced(args)  # prepared while `jit` traced the caller: never reused
        self.bound = solve.bind(*args)

    def run(self) -> Simulation:
        result, status, code = self.bound()
        return finish(self.model, result, status, code, self.call)
