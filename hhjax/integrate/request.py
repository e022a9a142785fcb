"""A `simulate` call checked and normalised into a `SolveRequest`: the prepared model and
stimulus, the solver, the times, the grid and what to save — everything the planner and
the execution paths read. No solve runs here."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np

from ..backends.tuning import Tuning
from ..models.base import AbstractDiscreteNeuron, AbstractNeuron
from .caches import prepare
from .dtypes import as_scalar, cast_floats
from .grid import GridSaves, fixed_step_grid, grid_steps, jumps_on_grid, save_steps_on_grid
from .solvers import ADAPTIVE_BY_DEFAULT, RK4, ExponentialEuler, get_solver, is_adaptive_capable
from .validation import (InitialState, check_finite_leaves, check_max_spikes, check_save_every, check_times,
                         initial_state_like, is_traced, population_shape)

# First step (ms) of an adaptive solve when no dt is given: the first step diffeqsolve
# takes (hhjax wraps the term, which makes diffrax's PIDController skip its estimate).
DEFAULT_FIRST_STEP = 0.01


@dataclasses.dataclass
class SolveRequest:
    """A continuous model's call, ready for a path. Times in ms.

    `t0`, `t1`, `dt`: as given (Python numbers or tracers); `t0a`, `t1a`, `dt_arr`: as
    scalars of `dtype`. `n_grid`: the fixed grid's step count where it is known (fixed
    steps, concrete times), `n_split` the stimulus jumps that split one of its steps,
    `table` its step times where needed, `grid_jumps` those jumps. `save_ts`: sample times
    (`save_every` ms), `saves` those of them on grid points (concrete calls only)."""

    model: Any
    stimulus: Any
    solver: dfx.AbstractSolver
    solver_name: str
    dtype: Any
    tuning: Tuning
    t0: Any
    t1: Any
    dt: Any
    t0a: Any
    t1a: Any
    dt_arr: Any
    adaptive: bool
    rtol: float
    atol: float
    init: InitialState
    threshold: Any
    save_step: bool
    save_ts: Any
    jumps: Any
    n_grid: int | None
    n_split: int | None
    grid_jumps: Any
    table: Any
    saves: GridSaves | None
    max_steps: int
    max_spikes: int
    progress: bool
    adjoint: dfx.AbstractAdjoint
    traced: bool

    @property
    def on_known_grid(self) -> bool:
        return self.n_grid is not None


@dataclasses.dataclass
class DiscreteRequest:
    """A discrete model's call (the model steps with its own `dt`)."""

    model: Any
    stimulus: Any
    y0: Any
    dtype: Any
    tuning: Tuning
    t0: Any
    t1: Any
    n_steps: int
    max_spikes: int
    keep_trace: bool
    traced: bool


def _tuned_solver(inner, tuning: Tuning):
    """RK4 with the tuning's stage layout (an RK4 the caller configured stays as it is)."""
    if type(inner) is RK4 and inner.stages_in_memory_from is None and tuning.rk4_stages_in_memory_from is not None:
        return RK4(stages_in_memory_from=tuning.rk4_stages_in_memory_from)
    return inner


def build_request(model, stimulus, *, t0, t1, dt, solver, adaptive, rtol, atol, dtype, y0, save_every, threshold,
                  max_spikes, max_steps, progress, adjoint, tuning: Tuning) -> SolveRequest | DiscreteRequest:
    """Check the call (a `ValueError` naming the problem) and normalise it."""
    if isinstance(model, AbstractDiscreteNeuron):
        return _build_discrete(model, stimulus, t0=t0, t1=t1, dt=dt, dtype=dtype, y0=y0, save_every=save_every,
                               max_spikes=max_spikes, tuning=tuning)
    if not isinstance(model, AbstractNeuron):
        raise TypeError(f"model must be a hhjax neuron model, got {type(model).__name__}")
    check_times(t0, t1, dt)
    check_max_spikes(max_spikes)
    check_save_every(save_every)
    name, inner = get_solver(solver)
    if adaptive is None:
        adaptive = name in ADAPTIVE_BY_DEFAULT
    if adaptive and not is_adaptive_capable(inner):
        raise ValueError(f"solver {name!r} has no error estimate, so it cannot be used adaptively")
    if not adaptive and dt is None:
        raise ValueError(f"solver {name!r} uses fixed steps: pass dt (ms)")
    if isinstance(inner, ExponentialEuler):
        try:
            jax.eval_shape(model.decay_rates, 0.0, model.initial_state(), 0.0)
        except NotImplementedError as e:
            raise ValueError(str(e)) from None
    inner = _tuned_solver(inner, tuning)
    dtype, model, stimulus = prepare(model, stimulus, dtype, tuning)
    eps = float(jnp.finfo(dtype).eps)
    if adaptive and rtol < 2 * eps:
        raise ValueError(f"rtol = {rtol:g} is below what {dtype} resolves (eps = {eps:.2g}); use float64 "
                         "or a larger rtol")
    if y0 is not None:  # (the default comes from the checked, cast parameters)
        check_finite_leaves(y0, "initial state y0", allow_inf=True)  # LIF: t_free = -inf
        y0 = cast_floats(jax.tree.map(jnp.asarray, y0), dtype)
    t0a, t1a = as_scalar(t0, dtype), as_scalar(t1, dtype)
    y0_like = initial_state_like(model) if y0 is None else y0
    init = InitialState(y0, population_shape(model, y0_like, stimulus, t0a))
    thr = as_scalar(model.default_threshold() if threshold is None else threshold, dtype)

    save_step = save_every == "step"
    save_ts = save_times = None
    if save_every is not None and not save_step:
        n_save = int(math.floor((float(t1) - float(t0)) / float(save_every) + 1e-9)) + 1
        save_times = np.minimum(float(t0) + float(save_every) * np.arange(n_save), float(t1))  # float64
        save_ts = jnp.asarray(save_times, dtype)

    jumps = None
    if not is_traced(stimulus) and not is_traced((t0, t1)):
        # numpy, not jnp: inside a caller's jit a jnp array would be a staged value
        d = stimulus.discontinuities(float(t0), float(t1)) if adaptive else stimulus.jumps(float(t0), float(t1))
        jumps = np.asarray(d, dtype) if d else None
    n_grid = n_split = grid_jumps = None
    if not adaptive and not is_traced((t0, t1, dt)):
        n_grid = grid_steps(float(t0), float(t1), float(dt))
        n_split = len(jumps_on_grid(float(t0), float(t1), n_grid, jumps, dtype))
        grid_jumps, jumps = jumps, None
    jumps = None if jumps is None else jnp.asarray(jumps)
    if max_steps is None:
        if adaptive:
            max_steps = 200_000 if save_step else 1_000_000
        elif n_grid is not None:
            max_steps = n_grid + n_split + 1
        else:
            max_steps = int(math.ceil((float(t1) - float(t0)) / float(dt) * (1 + 1e-12))) + 1
    traced = is_traced((model, stimulus, init, t0a, t1a))
    table = None  # the grid's step times: only where needed (saving every step, or a jump split a step)
    if n_grid is not None and (save_step or n_split):
        table = fixed_step_grid(float(t0), float(t1), float(dt), grid_jumps, dtype)
    saves = None  # saved samples that fall on grid points, in a concrete call
    if save_ts is not None and n_grid is not None and not traced:
        k_save = save_steps_on_grid(float(t0), float(t1), n_grid, table, save_times)
        saves = None if k_save is None else GridSaves(ts=save_ts, steps=jnp.asarray(k_save))
    return SolveRequest(
        model=model, stimulus=stimulus, solver=inner, solver_name=name, dtype=dtype, tuning=tuning, t0=t0, t1=t1,
        dt=dt, t0a=t0a, t1a=t1a, dt_arr=None if dt is None else as_scalar(dt, dtype), adaptive=adaptive,
        rtol=rtol, atol=atol, init=init, threshold=thr, save_step=save_step, save_ts=save_ts, jumps=jumps,
        n_grid=n_grid, n_split=n_split, grid_jumps=grid_jumps, table=table, saves=saves, max_steps=max_steps,
        max_spikes=max_spikes, progress=progress, adjoint=adjoint or dfx.RecursiveCheckpointAdjoint(),
        traced=traced)


def _build_discrete(model, stimulus, *, t0, t1, dt, dtype, y0, save_every, max_spikes, tuning) -> DiscreteRequest:
    check_times(t0, t1, dt)
    if dt is not None and not math.isclose(float(dt), float(model.dt)):
        raise ValueError(f"{type(model).__name__} steps with its own dt = {model.dt} ms; got dt = {dt}")
    check_max_spikes(max_spikes)
    dtype, model, stimulus = prepare(model, stimulus, dtype)
    n_steps = int(round((float(t1) - float(t0)) / model.dt))
    if n_steps < 1:
        raise ValueError(f"t1 - t0 is shorter than one step of {model.dt} ms")
    if y0 is not None:  # (the default is built inside the compiled run, from the cast model)
        y0 = cast_floats(jax.tree.map(jnp.asarray, y0), dtype)
    return DiscreteRequest(model=model, stimulus=stimulus, y0=y0, dtype=dtype, tuning=tuning,
                           t0=as_scalar(t0, dtype), t1=as_scalar(t1, dtype), n_steps=n_steps,
                           max_spikes=max_spikes, keep_trace=save_every is not None,
                           traced=is_traced((model, stimulus, y0)))
