"""The adaptive path: hhjax's own adaptive loop (`loops.adaptive`: the diffrax solver's
steps and `PIDController` decisions, jumps and clipping onto t1 as in `diffeqsolve`, without
its saving, event and adjoint machinery) for concrete calls that keep spikes or samples."""

from __future__ import annotations

import diffrax as dfx
import jax

from ...backends.compiled import compiled_solve
from ..collect import GridSolution, collect_with_status
from ..dtypes import as_scalar
from ..loops.adaptive import adaptive_steps, clip_floor, rms_norm_of_all
from ..request import DEFAULT_FIRST_STEP, SolveRequest
from ..spikes import SpikeRecorder
from ..terms import model_term
from .base import BoundSolve, ExecutionPath, SolveConfig, call_info
from .fixed_step import own_loop_refusal


class AdaptivePath(ExecutionPath):
    name = "adaptive"

    def refuses(self, request) -> str | None:
        if not isinstance(request, SolveRequest):
            return "a discrete model steps on its own path"
        if not request.adaptive:
            return "the solve uses fixed steps"
        if request.save_step:
            return "saving every adaptive step needs diffeqsolve"
        if request.traced:
            return "the call is traced by jit/grad (the own adaptive loop is not differentiable)"
        return own_loop_refusal(request)

    def prepare(self, request) -> BoundSolve:
        r = request
        t1_floor = clip_floor(float(r.t1), r.dtype)
        dt0 = as_scalar(DEFAULT_FIRST_STEP if r.dt is None else r.dt, r.dtype)
        args = (r.model, r.stimulus, r.solver, r.init, r.t0a, r.t1a, t1_floor, dt0, r.threshold, r.jumps,
                SolveConfig.of(r), r.save_ts)
        solve = compiled_solve(_solve_adaptive_and_collect, r.tuning.adaptive_compiler_options)
        return BoundSolve(solve, args, r.model, call_info(r), self.name)


def _solve_adaptive_and_collect(model, stimulus, inner, init, t0, t1, t1_floor, dt0, threshold, jumps, config,
                                save_ts=None):
    """An adaptive spikes-only solve on hhjax's own loop (`adaptive_steps`: diffeqsolve's
    steps without its saving and event machinery) and `_collect_with_status`, as one
    compiled call."""
    y0 = init.of(model)
    term = model_term(model, inner)
    solver = SpikeRecorder(inner, model, threshold, config.max_spikes).forward_only()
    controller = dfx.PIDController(rtol=config.rtol, atol=config.atol, jump_ts=jumps, norm=rms_norm_of_all)
    y, buf, stats, code, ys = adaptive_steps(solver, term, controller, t0, t1, t1_floor, dt0, y0, stimulus,
                                             config.max_steps, save_ts)
    ts, saved = (t1[None],), (jax.tree.map(lambda x: x[None], y),)
    if ys is not None:
        ts, saved = ts + (save_ts,), saved + (ys,)
    sol = GridSolution(ts=ts, ys=saved, stats=stats, result=code)
    return *collect_with_status(model, stimulus, sol, buf, t0, t1, threshold, config), code

