"""The `diffrax.diffeqsolve` path: every call hhjax's own loops do not cover — progress
bars, other adjoints, implicit solvers, traces saved off the grid or every adaptive step,
and calls traced by `jit`/`grad` that save a trace. The `SpikeRecorder` solver wrapper
records spikes inside diffrax's loop."""

from __future__ import annotations

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..collect import collect_with_status, finish
from ..grid import fixed_step_grid
from ..loops.adaptive import rms_norm_of_all
from ..loops.checkpointed import default_checkpoints
from ..spikes import SpikeRecorder
from ..terms import model_term
from ..validation import is_traced
from ..request import SolveRequest
from .base import ExecutionPath, SolveConfig, call_info


class _Ran:
    """An already finished solve in the `BoundSolve` shape (a diffeqsolve call is not
    repeated from the cache: it runs when prepared)."""

    traced = True

    def __init__(self, simulation):
        self.simulation = simulation

    def run(self):
        return self.simulation


class DiffraxPath(ExecutionPath):
    name = "diffrax"

    def refuses(self, request) -> str | None:
        return None if isinstance(request, SolveRequest) else "a discrete model has no diffrax solve"

    def prepare(self, request):
        r = request
        if r.adaptive and not is_traced(r.stimulus) and not is_traced((r.t0,)):
            # diffeqsolve would run NaN input to its step limit: check the stimulus at t0 first
            with jax.ensure_compile_time_eval():  # a concrete check even while jit traces the caller
                I0 = np.asarray(r.stimulus(jnp.asarray(r.t0, r.dtype)))
            if not np.all(np.isfinite(I0)):
                raise ValueError("stimulus returns NaN or inf")
        step_ts = r.table
        if r.n_grid is not None and step_ts is None:  # diffeqsolve's StepTo needs the whole grid
            step_ts = fixed_step_grid(float(r.t0), float(r.t1), float(r.dt), r.grid_jumps, r.dtype)
        result, status, code = solve_with_diffeqsolve(
            r.model, r.stimulus, r.solver, r.init, r.t0a, r.t1a, r.dt_arr, r.threshold, r.save_ts, r.jumps, step_ts,
            SolveConfig.of(r), r.adjoint, r.traced, r.tuning.store_every_step_bytes)
        return _Ran(finish(r.model, result, status, code, call_info(r)))


@eqx.filter_jit
def solve_with_diffeqsolve(model, stimulus, inner, init, t0, t1, dt, threshold, save_ts, jumps, step_ts, config,
                            adjoint, throw, store_budget):
    """A `diffeqsolve` with the `SpikeRecorder` (adaptive steps, saved traces, progress bars,
    other adjoints) and `_collect_with_status`, as one compiled call."""
    y0 = init.of(model)
    term = model_term(model, inner)
    if isinstance(inner, dfx.AbstractImplicitSolver):
        inner = eqx.tree_at(
            lambda s: (s.root_finder.rtol, s.root_finder.atol, s.root_finder.norm),
            inner, (config.rtol, config.atol, optx.rms_norm),
        )
    solver = SpikeRecorder(inner, model, threshold, config.max_spikes)
    if config.adaptive:
        controller = dfx.PIDController(rtol=config.rtol, atol=config.atol, jump_ts=jumps, norm=rms_norm_of_all)
    elif step_ts is not None:
        controller = dfx.StepTo(ts=step_ts)
        dt = None
    else:
        controller = dfx.ConstantStepSize()
    subs = [dfx.SubSaveAt(t1=True)]
    if save_ts is not None:
        subs.append(dfx.SubSaveAt(ts=save_ts))
    if config.save_step:
        subs.append(dfx.SubSaveAt(steps=True))
    saveat = dfx.SaveAt(subs=subs, solver_state=True)
    meter = dfx.TqdmProgressMeter() if config.progress else dfx.NoProgressMeter()
    if type(adjoint) is dfx.RecursiveCheckpointAdjoint and adjoint.checkpoints is None and not config.adaptive:
        # a fixed step count: every step stored while cheap. What diffrax keeps per step was
        # measured at about twice the state (RK4, saving a trace) plus the spike buffer;
        # counted here as eight states.
        V = model.voltage(y0)
        spikes = jax.ShapeDtypeStruct(jnp.shape(V) + (config.max_spikes + 2,), jnp.result_type(V))
        adjoint = dfx.RecursiveCheckpointAdjoint(
            checkpoints=default_checkpoints(config.max_steps, ((y0,) * 8, spikes), store_budget))
    sol = dfx.diffeqsolve(
        term, solver, t0, t1, dt, y0, args=stimulus, saveat=saveat, stepsize_controller=controller,
        max_steps=config.max_steps, progress_meter=meter, adjoint=adjoint, throw=throw,
    )
    _, buf = sol.solver_state
    result, status = collect_with_status(model, stimulus, sol, buf, t0, t1, threshold, config)
    return result, status, sol.result
