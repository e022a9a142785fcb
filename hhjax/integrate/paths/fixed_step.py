"""The fixed-step path: hhjax's own loop over the diffrax solver's steps on a known grid
(the same steps as `diffeqsolve` with `StepTo`, without its per-step controller, saving and
event machinery, which at N = 1 cost more than the step itself). Spikes and the final state,
every step, or samples on grid points; solve and collection in one compiled call."""

from __future__ import annotations

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from ...backends.compiled import compiled_solve
from ..collect import GridSolution, collect_with_status
from ..grid import StepTimes
from ..loops.checkpointed import all_steps
from ..loops.forward import forward_steps_saving
from ..sharding import split_over_devices
from ..spikes import SpikeRecorder
from ..terms import model_term
from ..request import SolveRequest
from .base import BoundSolve, ExecutionPath, SolveConfig, call_info


def own_loop_refusal(request) -> str | None:
    """Why hhjax's own loops cannot drive this call's solver (None: they can)."""
    if request.progress:
        return "a progress bar needs diffrax's progress meter"
    if type(request.adjoint) is not dfx.RecursiveCheckpointAdjoint:
        return f"the adjoint {type(request.adjoint).__name__} needs diffeqsolve"
    if isinstance(request.solver, dfx.AbstractImplicitSolver):
        return "an implicit solver needs diffeqsolve's root finder settings"
    return None


class FixedStepPath(ExecutionPath):
    name = "fixed_step"

    def refuses(self, request) -> str | None:
        if not isinstance(request, SolveRequest):
            return "a discrete model steps on its own path"
        if request.adaptive:
            return "the solve is adaptive"
        if request.n_grid is None:
            return "the grid is not known before the solve (traced t0, t1 or dt)"
        if request.save_ts is not None and request.saves is None:
            return "a saved sample falls between grid points (or the call is traced)"
        return own_loop_refusal(request)

    def prepare(self, request) -> BoundSolve:
        r = split_over_devices(request)
        times = StepTimes(t0=r.t0a, t1=r.t1a, ts=r.table, n=r.n_grid + r.n_split)
        args = (r.model, r.stimulus, r.solver, r.init, times, r.threshold, SolveConfig.of(r), r.adjoint.checkpoints,
                r.tuning, r.t0a, r.t1a, r.saves)
        solve = compiled_solve(_solve_on_grid_and_collect, r.tuning.loop_compiler_options)
        return BoundSolve(solve, args, r.model, call_info(r), self.name)


@eqx.filter_jit
def solve_on_grid(model, stimulus, inner, init, times: StepTimes, threshold, config, checkpoints, tuning,
                  saves=None):
    """Step the diffrax solver `inner` (wrapped in the `SpikeRecorder`) over the fixed grid
    `times` with a loop of our own: the same steps as `diffeqsolve` with `StepTo`, without
    its per-step controller, saving and event machinery (which at N = 1 cost more than the
    step itself, and most of the compile time). Spikes/final state only: a branch-free
    forward loop (`loops.forward`: spike by spike for small populations, in blocks for
    large ones), differentiated through equinox's checkpointed while loop — the one behind
    diffrax's `RecursiveCheckpointAdjoint` — with every step stored while cheap, else
    O(N·√steps) memory (`loops.checkpointed`); saving every step uses a
    scan; saving at grid points (`saves`, concrete calls only: not differentiable) runs the
    forward loop from one saved sample to the next."""
    y0 = init.of(model)
    term = model_term(model, inner)
    solver = SpikeRecorder(inner, model, threshold, config.max_spikes)
    n = times.n
    state0 = solver.init(term, *times.at(jnp.asarray(0)), y0, stimulus)

    def advance(k, y, state):
        y1, _, _, state, _ = solver.step(term, *times.at(k), y, stimulus, state, False)
        return y1, state

    if config.save_step:
        def body(carry, k):
            y, state = advance(k, *carry)
            return (y, state), y

        (y, (_, buf)), ys = jax.lax.scan(body, (y0, state0), jnp.arange(n))
        ts, ys = (times.ts[1:], times.ts[1:]), (jax.tree.map(lambda x: x[None], y), ys)
    elif saves is not None:
        y, buf, ys = forward_steps_saving(solver, stimulus, times, y0, state0, saves.steps, tuning)
        ts, ys = (times.t1[None], saves.ts), (jax.tree.map(lambda x: x[None], y), ys)
    else:
        y, buf = all_steps(solver, stimulus, times, y0, state0, checkpoints, tuning)
        ts, ys = (times.t1[None],), (jax.tree.map(lambda x: x[None], y),)
    stats = dict(num_steps=jnp.asarray(n), num_accepted_steps=jnp.asarray(n), num_rejected_steps=jnp.asarray(0))
    return GridSolution(ts=ts, ys=ys, stats=stats, result=dfx.RESULTS.successful), buf


def _solve_on_grid_and_collect(model, stimulus, inner, init, times, threshold, config, checkpoints, tuning, t0, t1,
                               saves=None):
    """The fixed-grid solve and `_collect_with_status` as one compiled call."""
    sol, buf = solve_on_grid(model, stimulus, inner, init, times, threshold, config, checkpoints, tuning, saves)
    return *collect_with_status(model, stimulus, sol, buf, t0, t1, threshold, config), None
