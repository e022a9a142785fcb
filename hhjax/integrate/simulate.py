"""`simulate`: one entry point composing a model, a stimulus and a diffrax solve."""

from __future__ import annotations

import functools
import math
import weakref
from typing import Any, NamedTuple

import diffrax as dfx
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, PyTree  # noqa: F401

from ..models.base import AbstractDiscreteNeuron, AbstractNeuron, input_current
from ..stimuli import AbstractStimulus, as_stimulus, step_average
from .adaptive import adaptive_steps, clip_floor, rms_norm_of_all
from .solvers import ADAPTIVE_BY_DEFAULT, ExponentialEuler, ModelTerm, get_solver, is_adaptive_capable
from .spikes import SpikeBuffer, SpikeRecorder
from .compiled import CLASSIC_CPU_EMITTERS, CompiledSolve, shaped_for_cpu


class SimulationError(RuntimeError):
    """A solve that could not finish: step limit reached, unstable step, buffer overflow."""


class Simulation(eqx.Module):
    """What `simulate` returns.

    - `y_final`: the state at `t1`.
    - `spike_times`: shape `population + (max_spikes,)`, ms, NaN-padded, ascending.
    - `spike_counts`: shape `population`, number of spikes.
    - `ts`, `ys`, `V`: saved trace times (ms), states and voltages (mV), time axis first,
      or None when only spikes were kept.
    - `stats`: diffrax's step statistics.
    """

    t0: Array
    t1: Array
    y_final: PyTree
    spike_times: Array
    spike_counts: Array
    ts: Array | None
    ys: PyTree | None
    V: Array | None
    stats: dict
    threshold: Array

    def spike_list(self) -> list:
        """Spike times as Python lists: one list per neuron (a single list for one neuron)."""
        times = np.asarray(self.spike_times)
        counts = np.asarray(self.spike_counts)
        flat_t = times.reshape(-1, times.shape[-1])
        flat_c = counts.reshape(-1)
        out = [[float(x) for x in row[: min(c, row.shape[0])]] for row, c in zip(flat_t, flat_c)]
        return out[0] if counts.ndim == 0 else out


def _scalar(x, dtype):
    """A scalar as a NumPy array of `dtype` (no eager device op; `jit` moves it with the
    other arguments), or as a JAX array when it is traced."""
    if isinstance(x, jax.core.Tracer):
        return jnp.asarray(x, dtype)
    if isinstance(x, jax.Array):
        return x.astype(dtype) if x.dtype != dtype else x
    return np.asarray(x, dtype)


def _is_traced(tree) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def _float_leaves_finite(tree, what: str, allow_inf: bool = False):
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if isinstance(leaf, float):  # the common case (default parameters): no array at all
            bad = math.isnan(leaf) or (not allow_inf and math.isinf(leaf))
        elif isinstance(leaf, jax.core.Tracer) or not eqx.is_array_like(leaf):
            continue
        else:
            arr = np.asarray(leaf)
            ok = ~np.isnan(arr) if allow_inf else np.isfinite(arr)
            bad = np.issubdtype(arr.dtype, np.floating) and not np.all(ok)
        if bad:
            name = jax.tree_util.keystr(path)
            raise ValueError(f"{what} contains NaN or inf in {name or 'its value'}")


def resolve_dtype(dtype) -> Any:
    """float32/float64 (name or dtype); None gives JAX's default float."""
    if dtype is None:
        return jnp.dtype(jnp.result_type(float))
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"unknown dtype {dtype!r}; use 'float32' or 'float64'") from None
    if dt not in (jnp.dtype("float32"), jnp.dtype("float64")):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    if dt == jnp.dtype("float64") and not jax.config.jax_enable_x64:
        raise ValueError(
            "float64 needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) "
            "before creating arrays"
        )
    return dt


def cast_floats(tree, dtype):
    """Cast every floating-point array leaf (and Python float) of a pytree to `dtype`."""

    def cast(x):
        # Python floats become NumPy arrays (no per-leaf device transfer; `jit` moves them
        # in one go), JAX arrays are cast only when their dtype differs.
        if isinstance(x, float):
            return np.asarray(x, dtype)
        if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.floating):
            return x if x.dtype == dtype else x.astype(dtype)
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            return x.astype(dtype, copy=False)
        return x

    return jax.tree.map(cast, tree)


def _cacheable(obj) -> bool:
    """Whether `obj` may key a cache by identity: no traced leaves, and no NumPy leaves
    (mutable in place). Equinox modules and JAX arrays are immutable."""
    return not any(isinstance(x, (jax.core.Tracer, np.ndarray)) for x in jax.tree.leaves(obj))


class _IdentityCache:
    """Values computed from some objects, keyed by those objects' identity and a hashable
    tag. An entry holds its objects weakly and is dropped when one of them is collected,
    so a reused id never returns a stale value; the oldest entry goes when `size` is
    reached. A cache only: results are the same with or without it."""

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
        if _is_traced(value):
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
        if not _cacheable(obj):
            return make()
        hit = self.lookup((obj,), tag)
        return hit if hit is not None else self.store((obj,), tag, make())


# Checked, cast (for models also solve-prepared) copies of the models and stimuli `simulate`
# was given, and their default initial states: a sweep, a benchmark or a fit's repeated
# evaluations with the same objects prepare them once.
_PREPARED = _IdentityCache(size=64)


def _prepare(model, stimulus, dtype, solve_ready: bool = False):
    """Resolve the dtype, check parameters and stimulus for NaN/inf, and cast both
    (`solve_ready`: the model's `prepare_for_solve()` first)."""
    dtype = resolve_dtype(dtype)

    def prepared_model():
        m = model.prepare_for_solve() if solve_ready else model
        _float_leaves_finite(m, "model parameters")
        return cast_floats(m, dtype)

    def prepared_stimulus():
        stim = as_stimulus(stimulus)
        _float_leaves_finite(stim, "stimulus")
        return cast_floats(stim, dtype)

    model = _PREPARED.get(model, (dtype, solve_ready), prepared_model)
    return dtype, model, _PREPARED.get(stimulus, dtype, prepared_stimulus)


def _check_times(t0, t1, dt):
    for name, v in (("t0", t0), ("t1", t1)):
        if not isinstance(v, jax.core.Tracer) and not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v}")
    if not _is_traced((t0, t1)) and not float(t1) > float(t0):
        raise ValueError(f"t1 must be greater than t0 (got t0={t0} ms, t1={t1} ms)")
    if dt is not None and not _is_traced(dt):
        dt = float(dt)
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive, finite step in ms, got {dt}")
        if not _is_traced((t0, t1)) and dt > float(t1) - float(t0):
            raise ValueError(f"dt = {dt} ms is longer than the interval t1 - t0 = {float(t1) - float(t0)} ms")


def _vector_field(model, t, y, args):
    return model.vector_field(t, y, args)


def _structure_key(*trees):
    leaves, treedef = jax.tree.flatten(trees)

    def describe(x):
        if isinstance(x, (np.ndarray, jax.Array, np.generic, jax.ShapeDtypeStruct)):
            return (x.shape, x.dtype)
        if isinstance(x, (bool, int, float, complex)):
            return ((), type(x))
        return (jnp.shape(x), jnp.result_type(x)) if eqx.is_array_like(x) else ("static", x)

    return treedef, tuple(describe(x) for x in leaves)


_SHAPE_CACHE: dict = {}


def _shape_of(x) -> tuple:
    """The shape of an array, a number or a `jax.ShapeDtypeStruct`."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _population_shape(model, y0, stimulus, t0) -> tuple:
    """The population's shape: the common broadcast shape of the state `y0` (arrays or
    `jax.ShapeDtypeStruct`s), the parameters' effect on the vector field and the stimulus;
    every state leaf is broadcast to it (inside the compiled solve, see `_InitialState`). A
    clear error when they disagree. It depends only on the pytrees' structure, shapes and
    dtypes, so it is worked out once per those (no array is computed: `jax.eval_shape`)."""
    if _is_traced((model, y0, stimulus, t0)):
        return _population_shape_uncached(model, y0, stimulus, t0)
    try:
        key = _structure_key(model, y0, stimulus, t0)
        hash(key)
    except TypeError:
        return _population_shape_uncached(model, y0, stimulus, t0)
    shape = _SHAPE_CACHE.get(key)
    if shape is None:
        shape = _population_shape_uncached(model, y0, stimulus, t0)
        if len(_SHAPE_CACHE) > 256:
            _SHAPE_CACHE.clear()
        _SHAPE_CACHE[key] = shape
    return shape


def _initial_state_like(model):
    """`model.initial_state()` as `jax.ShapeDtypeStruct`s, worked out once per model
    structure (shapes, dtypes)."""
    try:
        key = ("initial state", _structure_key(model))
        hash(key)
    except TypeError:
        return jax.eval_shape(model.initial_state)
    like = _SHAPE_CACHE.get(key)
    if like is None:
        like = _SHAPE_CACHE[key] = jax.eval_shape(model.initial_state)
    return like


def _broadcast_leaves(tree, shape):
    return jax.tree.map(lambda y: jnp.broadcast_to(y, shape), tree)


def _population_shape_uncached(model, y0, stimulus, t0) -> tuple:
    def describe():
        return {"state": [_shape_of(x) for x in jax.tree.leaves(y0)],
                "stimulus": jax.eval_shape(stimulus, t0).shape}

    def broadcast_field(model, t0, y0, stimulus, shape):
        return _vector_field(model, t0, _broadcast_leaves(y0, shape), stimulus)

    try:
        out = jax.eval_shape(_vector_field, model, t0, y0, stimulus)
        shape = jnp.broadcast_shapes(*(o.shape for o in jax.tree.leaves(out)),
                                     *(_shape_of(x) for x in jax.tree.leaves(y0)))
        out = jax.eval_shape(functools.partial(broadcast_field, shape=shape), model, t0, y0, stimulus)
    except (ValueError, TypeError) as e:
        raise ValueError(f"mismatched population shapes ({describe()}): {e}") from None
    for o in jax.tree.leaves(out):
        if o.shape != shape and jnp.broadcast_shapes(o.shape, shape) != shape:
            raise ValueError(f"mismatched population shapes: vector field gives {o.shape}, state {shape}")
    return tuple(shape)


class _InitialState(eqx.Module):
    """The initial state as the compiled solve builds it: `given` (None: the model's
    `initial_state()`) broadcast to the population's `shape`. Built inside the solve, the
    default state and the broadcast cost no compiled calls of their own."""

    given: PyTree | None
    shape: tuple = eqx.field(static=True)

    def of(self, model) -> PyTree:
        y0 = model.initial_state() if self.given is None else self.given
        return _broadcast_leaves(y0, self.shape)


def simulate(
    model: AbstractNeuron | AbstractDiscreteNeuron,
    stimulus: AbstractStimulus | float | str | None = None,
    *,
    t1: float,
    t0: float = 0.0,
    dt: float | None = None,
    solver: str | dfx.AbstractSolver = "tsit5",
    adaptive: bool | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    dtype=None,
    y0: PyTree | None = None,
    save_every: float | str | None = None,
    threshold: float | None = None,
    max_spikes: int = 512,
    max_steps: int | None = None,
    progress: bool = False,
    adjoint: dfx.AbstractAdjoint | None = None,
) -> Simulation:
    """Simulate a neuron or a population from `t0` to `t1` (ms).

    **Arguments**
    - `model`: a continuous `AbstractNeuron` (parameters may be arrays of the population's
      shape) or a discrete `AbstractDiscreteNeuron` (uses its own step `dt`).
    - `stimulus`: input current in µA/cm² — a stimulus module, a number/array, a text spec
      (`"const:10"`), or None for no input. Arrays/per-neuron stimuli give one per neuron.
    - `dt`: step (ms); required for fixed-step solvers, the initial step for adaptive ones.
    - `solver`: a lower-case name (`euler`, `heun`, `midpoint`, `ralston`, `rk4`, `bosh3`,
      `tsit5`, `dopri5`, `dopri8`, `implicit_euler`, `kvaerno3/4/5`, `expeuler`) or a
      diffrax solver. `adaptive` (default: True for tsit5/dopri5/dopri8/bosh3/kvaerno*)
      uses a PID controller with `rtol`, `atol` that steps exactly onto the stimulus's
      discontinuities.
    - `dtype`: "float32" or "float64" (default: JAX's default float).
    - `y0`: initial state (default `model.initial_state()`).
    - `save_every`: None keeps only spikes and the final state (O(N) memory); a number
      saves the state every that many ms (interpolated); `"step"` saves every step.
    - `threshold`: spike threshold in mV (default `model.default_threshold()`).
    - `max_spikes`: spike buffer length per neuron; 0 keeps only the spike counts (no
      times), which makes a solve lighter when only the trace matters (the buffer is part
      of the solver state, so every checkpoint of a gradient carries it).
    - `progress`: show a tqdm progress bar.
    - `adjoint`: how `jax.grad` differentiates the solve (default diffrax's
      `RecursiveCheckpointAdjoint`: backpropagation through the steps; on a fixed grid,
      with `checkpoints` left None, every step is stored while that takes at most
      `STORE_EVERY_STEP_BYTES` (256 MiB) — many times faster — and O(√steps)
      checkpoints beyond; pass `checkpoints=k` to choose); `diffrax.ForwardMode()` for
      forward mode (`jax.jvp`, `jax.jacfwd`).

    A repeated call with the same model and stimulus objects and the same options reuses
    the first call's preparation (checks, casts, grids): only the compiled solve runs.

    Spikes are upward threshold crossings located inside steps; LIF-type models are
    reset at the crossing time. Raises `ValueError` for bad input and `SimulationError`
    when the solve fails (when called outside `jit`; inside, failures raise at run time).
    """
    if isinstance(model, AbstractDiscreteNeuron):
        return _simulate_discrete(model, stimulus, t0=t0, t1=t1, dt=dt, dtype=dtype, y0=y0,
                                  save_every=save_every, max_spikes=max_spikes)
    if not isinstance(model, AbstractNeuron):
        raise TypeError(f"model must be a hhjax neuron model, got {type(model).__name__}")
    repeat = _repeat_key(model, stimulus, y0=y0, save_every=save_every, progress=progress, adjoint=adjoint,
                         t0=t0, t1=t1, dt=dt, solver=solver, adaptive=adaptive, rtol=rtol, atol=atol, dtype=dtype,
                         threshold=threshold, max_spikes=max_spikes, max_steps=max_steps)
    plan = None if repeat is None else _REPEATS.lookup(*repeat)
    if plan is not None:  # the same call as before: only the compiled solve and the checks
        return plan.run()
    _check_times(t0, t1, dt)
    _check_max_spikes(max_spikes)
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
    # prepare_for_solve: e.g. HH's shared exponentials, planned on concrete slopes
    dtype, model, stimulus = _prepare(model, stimulus, dtype, solve_ready=True)
    eps = float(jnp.finfo(dtype).eps)
    if adaptive and rtol < 2 * eps:
        raise ValueError(f"rtol = {rtol:g} is below what {dtype} resolves (eps = {eps:.2g}); use float64 "
                         "or a larger rtol")
    if y0 is not None:  # (the default comes from the checked, cast parameters)
        _float_leaves_finite(y0, "initial state y0", allow_inf=True)  # LIF: t_free = -inf
        y0 = cast_floats(jax.tree.map(jnp.asarray, y0), dtype)
    t0a, t1a = _scalar(t0, dtype), _scalar(t1, dtype)
    y0_like = _initial_state_like(model) if y0 is None else y0
    y0 = _InitialState(y0, _population_shape(model, y0_like, stimulus, t0a))
    thr = model.default_threshold() if threshold is None else threshold
    thr = _scalar(thr, dtype)

    save_steps = isinstance(save_every, str)
    save_ts = None
    if save_steps and save_every != "step":
        raise ValueError(f"save_every must be a number of ms, 'step' or None, got {save_every!r}")
    if save_every is not None and not save_steps:
        if not float(save_every) > 0:
            raise ValueError(f"save_every must be > 0 ms, got {save_every}")
        n_save = int(math.floor((float(t1) - float(t0)) / float(save_every) + 1e-9)) + 1
        save_times = np.minimum(float(t0) + float(save_every) * np.arange(n_save), float(t1))  # float64
        save_ts = jnp.asarray(save_times, dtype)

    jumps = None
    if not _is_traced(stimulus) and not _is_traced((t0, t1)):
        # numpy, not jnp: inside a caller's jit a jnp array would be a staged value
        d = stimulus.discontinuities(float(t0), float(t1)) if adaptive else stimulus.jumps(float(t0), float(t1))
        jumps = np.asarray(d, dtype) if d else None
    n_grid = n_split = None  # fixed steps on a known grid: its steps and the jumps that split one
    if not adaptive and not _is_traced((t0, t1, dt)):
        n_grid = grid_steps(float(t0), float(t1), float(dt))
        n_split = len(_jumps_on_grid(float(t0), float(t1), n_grid, jumps, dtype))
        grid_jumps, jumps = jumps, None
    jumps = None if jumps is None else jnp.asarray(jumps)
    if max_steps is None:
        if adaptive:
            max_steps = 200_000 if save_steps else 1_000_000
        elif n_grid is not None:
            max_steps = n_grid + n_split + 1
        else:
            max_steps = int(math.ceil((float(t1) - float(t0)) / float(dt) * (1 + 1e-12))) + 1
    dt_arr = None if dt is None else _scalar(dt, dtype)
    config = _Config(adaptive=adaptive, rtol=rtol, atol=atol, max_steps=max_steps,
                     max_spikes=max(max_spikes, 1), progress=progress, save_step=save_steps)
    traced = _is_traced((model, stimulus, y0, t0a, t1a))
    adjoint = adjoint or dfx.RecursiveCheckpointAdjoint()
    table = None  # the grid's step times: only where needed (saving every step, or a jump split a step)
    if n_grid is not None and (save_steps or n_split):
        table = fixed_step_grid(float(t0), float(t1), float(dt), grid_jumps, dtype)
    saves = None  # saved samples that fall on grid points, in a concrete call: the own loop saves them
    if save_ts is not None and n_grid is not None and not traced:
        k_save = _save_steps_on_grid(float(t0), float(t1), n_grid, table, save_times)
        saves = None if k_save is None else _GridSaves(ts=save_ts, steps=jnp.asarray(k_save))
    own_loop = _own_loop_applies(progress, adjoint, inner)
    on_grid = n_grid is not None and own_loop and (save_ts is None or saves is not None)
    own_adaptive = adaptive and own_loop and not save_steps and not traced
    call = _CallInfo(name, dt, max_steps, max_spikes, adaptive, save_steps)
    if adaptive and not own_adaptive and not _is_traced(stimulus) and not _is_traced((t0,)):
        # before a diffeqsolve, which NaN input would drive to its step limit (hhjax's own
        # loops check the stimulus at t0 in the compiled call instead)
        with jax.ensure_compile_time_eval():  # a concrete check even while jit traces the caller
            I0 = np.asarray(stimulus(jnp.asarray(t0, dtype)))
        if not np.all(np.isfinite(I0)):
            raise ValueError("stimulus returns NaN or inf")
    if on_grid:  # solve and collect in one compiled call: at small N the dispatches cost more than the steps
        times = _StepTimes(t0=t0a, t1=t1a, ts=table, n=n_grid + n_split)
        plan = _SolvePlan(_solve_on_grid_and_collect,
                          (model, stimulus, inner, y0, times, thr, config, adjoint.checkpoints, t0a, t1a, saves), call)
    elif own_adaptive:
        t1_floor = clip_floor(float(t1), dtype)
        # without dt, 0.01 ms: the first step diffeqsolve takes (it wraps the term, which
        # makes diffrax's PIDController skip its initial-step estimate)
        dt0 = _scalar(_DEFAULT_FIRST_STEP if dt is None else dt, dtype)
        plan = _SolvePlan(_solve_adaptive_and_collect,
                          (model, stimulus, inner, y0, t0a, t1a, t1_floor, dt0, thr, jumps, config, save_ts), call)
    else:
        step_ts = table
        if n_grid is not None and step_ts is None:  # diffeqsolve's StepTo needs the whole grid
            step_ts = fixed_step_grid(float(t0), float(t1), float(dt), grid_jumps, dtype)
        result, status, code = _solve_and_collect(model, stimulus, inner, y0, t0a, t1a, dt_arr, thr, save_ts, jumps,
                                                  step_ts, config, adjoint, throw=traced)
        return _finish(model, result, status, code, call)
    _remember(repeat, plan)
    return plan.run()


class _CallInfo(NamedTuple):
    """What `_finish` and `_raise_on_failure`'s messages need to know about the call."""

    name: str
    dt: Any
    max_steps: int
    max_spikes: int
    adaptive: bool
    save_step: bool


def _finish(model, result, status, code, call: _CallInfo):
    """Trim a saved-every-step trace, drop the spike times for `max_spikes = 0`, and raise
    on a failed solve (when concrete)."""
    if call.save_step and not _is_traced(result.stats["num_accepted_steps"]):
        n = int(result.stats["num_accepted_steps"])  # drop the unused tail of the step buffer
        ys = jax.tree.map(lambda x: x[:n], result.ys)
        result = eqx.tree_at(lambda r: (r.ts, r.ys, r.V), result, (result.ts[:n], ys, model.voltage(ys)))
    if call.max_spikes == 0:
        empty = jnp.full(result.spike_counts.shape + (0,), jnp.nan, result.spike_times.dtype)
        result = eqx.tree_at(lambda r: r.spike_times, result, empty)
    if not isinstance(status, jax.core.Tracer):  # (traced exactly when the solve's inputs are)
        _raise_on_failure(code, np.asarray(status), call)
    return result


class _SolvePlan:
    """A `simulate` call on one of hhjax's own loops: its compiled solve bound to its
    arguments (`CompiledSolve.bind`; the solve returns (result, status, diffrax result or
    None)); `run()` solves and checks. Kept in `_REPEATS` so that the same call again skips
    the preparation and the per-call handling of the arguments."""

    def __init__(self, solve: CompiledSolve, args: tuple, call: _CallInfo):
        self.model, self.call = args[0], call
        self.traced = _is_traced(args)  # prepared while `jit` traced the caller: never reused
        self.bound = solve.bind(*args)

    def run(self) -> Simulation:
        result, status, code = self.bound()
        return _finish(self.model, result, status, code, self.call)


_PLAIN = (bool, int, float, str, type(None))
# First step (ms) of an adaptive solve when no dt is given.
_DEFAULT_FIRST_STEP = 0.01


def _repeat_key(model, stimulus, *, y0=None, save_every=None, progress=False, adjoint=None, **options):
    """(objects, tag) keying `_REPEATS`, or None when the call is not a plain repeatable
    one: `options` all Python scalars/strings (no initial state, saving, progress bar or
    adjoint), model and stimulus modules (or a number/text stimulus, then part of the tag).
    Only calls whose objects are `_cacheable` are stored, so a hit needs no check of their
    leaves."""
    if y0 is not None or adjoint is not None or progress or save_every is not None:
        return None
    if isinstance(options.get("dtype"), np.dtype):
        options["dtype"] = options["dtype"].name
    if not all(type(x) in _PLAIN for x in options.values()):
        return None
    by_value = type(stimulus) in _PLAIN
    objects = (model,) if by_value else (model, stimulus)
    if not all(isinstance(obj, eqx.Module) for obj in objects):
        return None
    plain = tuple((name, type(x), x) for name, x in sorted(options.items()))
    return objects, (stimulus if by_value else None, bool(jax.config.jax_enable_x64)) + plain


def _remember(repeat, plan):
    """Keep `plan` for the same call again (`_REPEATS`), where the call is repeatable, was
    not prepared under a caller's trace, and its objects may key a cache."""
    if repeat is not None and not plan.traced and all(_cacheable(obj) for obj in repeat[0]):
        _REPEATS.store(*repeat, plan)


def _check_max_spikes(max_spikes):
    if not isinstance(max_spikes, int) or max_spikes < 0:
        raise ValueError(f"max_spikes must be a non-negative integer, got {max_spikes!r}")


# Plans (`_SolvePlan`) of recent calls on hhjax's own loops: the same call again only solves and checks.
_REPEATS = _IdentityCache(size=32)


class _Config(eqx.Module):
    adaptive: bool = eqx.field(static=True)
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    max_spikes: int = eqx.field(static=True)
    progress: bool = eqx.field(static=True)
    save_step: bool = eqx.field(static=True)


@eqx.filter_jit
def _solve_and_collect(model, stimulus, inner, init, t0, t1, dt, threshold, save_ts, jumps, step_ts, config,
                       adjoint, throw):
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
        adjoint = dfx.RecursiveCheckpointAdjoint(checkpoints=default_checkpoints(config.max_steps, ((y0,) * 8, spikes)))
    sol = dfx.diffeqsolve(
        term, solver, t0, t1, dt, y0, args=stimulus, saveat=saveat, stepsize_controller=controller,
        max_steps=config.max_steps, progress_meter=meter, adjoint=adjoint, throw=throw,
    )
    _, buf = sol.solver_state
    result, status = _collect_with_status(model, stimulus, sol, buf, t0, t1, threshold, config)
    return result, status, sol.result


def _own_loop_applies(progress, adjoint, inner) -> bool:
    """No progress bar, checkpointed backpropagation, an explicit solver: hhjax drives the
    diffrax solver's steps itself — on a known fixed grid (`_solve_on_grid`: spikes, every
    step, or samples on grid points in a concrete call), or adaptively in a concrete call
    (`adaptive_steps`: spikes and samples); the caller checks those conditions."""
    return (not progress
            and type(adjoint) is dfx.RecursiveCheckpointAdjoint
            and not isinstance(inner, dfx.AbstractImplicitSolver))


class _GridSolution(eqx.Module):
    """The parts of a diffrax `Solution` that `_collect` and `_raise_on_failure` read."""

    ts: tuple
    ys: tuple
    stats: dict
    result: Any


class _StepTimes(eqx.Module):
    """The fixed grid's step times: t_k = t0 + k·(t1 − t0)/n computed in the loop (the last
    is t1 exactly) when the grid is uniform, else read from the table `ts` (as built by
    `fixed_step_grid`). Reading a table inside the loop costs about 0.5–1 µs per step on
    the CPU — more than a whole HH step of a small population — so the uniform case never
    indexes one."""

    t0: Array
    t1: Array
    ts: Array | None
    n: int = eqx.field(static=True)

    def at(self, k):
        """(start, end) of step k (ms)."""
        if self.ts is not None:
            return self.ts[k], self.ts[k + 1]
        h = (self.t1 - self.t0) / self.n
        kf = k.astype(self.t0.dtype)
        return self.t0 + kf * h, jnp.where(k + 1 < self.n, self.t0 + (kf + 1) * h, self.t1)


class _GridSaves(eqx.Module):
    """Samples to save on the fixed grid: their times `ts` (ms, as asked) and the grid
    index of each (`steps`: the state after that many steps; ascending)."""

    ts: Array
    steps: Array


def _save_steps_on_grid(t0: float, t1: float, n: int, table, save_ts: np.ndarray):
    """The grid index of each save time (ms), or None when one falls between grid points
    (more than 1e-6 of a step away). `table`: the grid's step times where jumps split
    steps (a save time on a split jump takes the nearer of its two points), else None
    (the uniform grid of `n` steps)."""
    h = (t1 - t0) / n
    if table is None:
        k = np.rint((save_ts - t0) / h).astype(np.int64)
        k = np.clip(k, 0, n)
        on_grid = np.where(k == n, t1, t0 + (t1 - t0) * (k / n))
    else:
        grid = np.asarray(table, np.float64)
        j = np.clip(np.searchsorted(grid, save_ts), 1, len(grid) - 1)
        k = np.where(save_ts - grid[j - 1] <= grid[j] - save_ts, j - 1, j)
        on_grid = grid[k]
    if np.any(np.abs(on_grid - save_ts) > 1e-6 * h):
        return None
    return k


@eqx.filter_jit
def _solve_on_grid(model, stimulus, inner, init, times: _StepTimes, threshold, config, checkpoints, saves=None):
    """Step the diffrax solver `inner` (wrapped in the `SpikeRecorder`) over the fixed grid
    `times` with a loop of our own: the same steps as `diffeqsolve` with `StepTo`, without
    its per-step controller, saving and event machinery (which at N = 1 cost more than the
    step itself, and most of the compile time). Spikes/final state only: a branch-free
    forward loop (`_forward_steps`: spike by spike for small populations, in blocks for
    large ones), differentiated through equinox's checkpointed while loop — the one behind
    diffrax's `RecursiveCheckpointAdjoint` — with every step stored while cheap, else
    O(N·√steps) memory (see `_all_steps`, `default_checkpoints`); saving every step uses a
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
        y, buf, ys = _forward_steps_saving(solver, stimulus, times, y0, state0, saves.steps)
        ts, ys = (times.t1[None], saves.ts), (jax.tree.map(lambda x: x[None], y), ys)
    else:
        y, buf = _all_steps(solver, stimulus, times, y0, state0, checkpoints)
        ts, ys = (times.t1[None],), (jax.tree.map(lambda x: x[None], y),)
    stats = dict(num_steps=jnp.asarray(n), num_accepted_steps=jnp.asarray(n), num_rejected_steps=jnp.asarray(0))
    return _GridSolution(ts=ts, ys=ys, stats=stats, result=dfx.RESULTS.successful), buf


# Populations from this size on step in blocks (`_steps_in_blocks`); smaller ones record
# spike by spike (`_steps_until_spikes`), where a block's fixed cost (~8 µs per block at
# N = 1 on a 2-core CPU) would outweigh the scatters it saves.
_BLOCKED_FROM_NEURONS = 1_000
# From this size on the blocks step two at a time (`_steps_in_blocks`, `paired`): HH Euler
# float32 on a 2-core CPU, neuron-steps/s single → paired (two runs): N = 10,000 2.3–3.4e8 →
# 4.4–4.5e8, 100,000 3.5–3.9e8 → 6.4–6.6e8 (float64 1.8 → 2.4e8); at N = 1,000–3,000 the
# runs disagreed within their noise, and pairs compile the step twice.
_PAIRED_FROM_NEURONS = 10_000
# Longest block (steps). A block in which some neuron crossed twice is redone at half the
# length; after this many clean blocks in a row the length doubles again.
_MAX_BLOCK_STEPS = 128
_CLEAN_BLOCKS_BEFORE_GROWING = 8


def _forward_steps(solver, stimulus, times, y0, state0):
    """All steps, forward only: the final state and the spike buffer."""
    steps = _forward_step_range(solver, stimulus, times, y0)
    y, (_, buf) = steps(0, times.n, y0, state0)
    return y, buf


def _forward_steps_saving(solver, stimulus, times, y0, state0, save_steps):
    """All steps, forward only, keeping the state after each of `save_steps` (grid
    indices, ascending; 0 is the initial state): the final state, the spike buffer and the
    saved states (time axis first)."""
    steps = _forward_step_range(solver, stimulus, times, y0)

    def to_next_sample(carry, k_save):
        k, y, state = carry
        y, state = steps(k, k_save, y, state)
        return (k_save, y, state), y

    # the steps after the last sample are one more segment of the same scan (a second call
    # of `steps` would compile the step twice)
    ends = jnp.concatenate([save_steps, jnp.full((1,), times.n, save_steps.dtype)])
    (_, y, (_, buf)), ys = jax.lax.scan(to_next_sample, (jnp.asarray(0, save_steps.dtype), y0, state0), ends)
    return y, buf, jax.tree.map(lambda x: x[:-1], ys)


def _forward_step_range(solver, stimulus, times, y0):
    """`steps(k0, k1, y, (inner, buffer)) -> (y, (inner, buffer))`: grid steps k0 … k1 − 1,
    forward only, spike by spike for small populations and in blocks for large ones."""
    advance = _packed_advance(solver.forward_only(), stimulus, times)
    size = jnp.size(solver.model.voltage(y0))
    if size >= _BLOCKED_FROM_NEURONS:
        return functools.partial(_steps_in_blocks, advance, paired=shaped_for_cpu() and size >= _PAIRED_FROM_NEURONS)
    return functools.partial(_steps_until_spikes, advance)


def _packed_advance(solver, stimulus, times):
    """`advance(k, y, inner) -> (y, inner, fired, t_cross)`: step k of `times` with the
    `SpikeRecorder` `solver`. The floating-point scalars of the solver (the model's
    parameters), stimulus and grid enter the loop packed into one vector per dtype and are
    unpacked inside the step behind an optimisation barrier: XLA's CPU loop then carries the
    vector and 9 derived scalars for HH instead of 26 separate scalars (11 without the
    barrier, which lets it hoist the slices back out), and each operand of a loop costs
    time on every step. A/B in one process: N = 100 13–14 % faster (two runs), N = 10 24 %;
    at N = 1 the runs disagreed (+14 %, −6 %); N ≥ 10,000 unchanged."""
    leaves, treedef = jax.tree.flatten((solver, stimulus, times))
    scalar = [isinstance(x, jax.Array) and x.ndim == 0 and jnp.issubdtype(x.dtype, jnp.floating) for x in leaves]
    dtypes = sorted({str(x.dtype) for x, sc in zip(leaves, scalar) if sc})
    packed = {d: jnp.stack([x for x, sc in zip(leaves, scalar) if sc and str(x.dtype) == d]) for d in dtypes}

    def advance(k, y, inner):
        unpacked = {d: iter(v) for d, v in jax.lax.optimization_barrier(packed).items()}
        rebuilt = [next(unpacked[str(x.dtype)]) if sc else x for x, sc in zip(leaves, scalar)]
        solver_, stimulus_, times_ = jax.tree.unflatten(treedef, rebuilt)
        term = model_term(solver_.model, solver_.solver)
        y, _, _, inner, _, fired, t_cross = solver_.advance(term, *times_.at(k), y, stimulus_, inner, False)
        return y, inner, fired, t_cross

    return advance


def _steps_until_spikes(advance, k0, n, y0, state0):
    """All `n` steps without a branch per step, for small populations: an inner loop
    advances until some neuron fired (or the grid ends), then that step's crossings go into
    the spike buffer with one scatter. On the CPU a conditional costs more than a small
    population's step, and most steps of a small population record nothing."""
    inner0, buf0 = state0
    V = jnp.zeros(buf0.count.shape, buf0.times.dtype)  # the population's shape and dtype
    none_fired = jnp.zeros(V.shape, bool)

    def step(carry):
        k, y, inner, _, _ = carry
        y, inner, fired, t_cross = advance(k, y, inner)
        return k + 1, y, inner, fired, t_cross.astype(V.dtype)

    def until_spike(carry):
        k, y, inner, buf = carry
        k, y, inner, fired, t_cross = jax.lax.while_loop(
            lambda c: (c[0] < n) & ~jnp.any(c[3]), step, (k, y, inner, none_fired, jnp.zeros_like(V)))
        return k, y, inner, buf.record(fired, t_cross)

    _, y, inner, buf = jax.lax.while_loop(lambda c: c[0] < n, until_spike, (jnp.asarray(k0), y0, inner0, buf0))
    return y, (inner, buf)


def _steps_in_blocks(advance, k0, n, y0, state0, paired: bool = False):
    """All `n` steps in blocks of up to `_MAX_BLOCK_STEPS`, for large populations, where
    some neuron fires on most steps and recording spike by spike would cost a scatter over
    the whole population (a serial loop on the CPU) nearly every step.

    A block steps without touching the buffer, keeping each neuron's first crossing time
    (NaN: none; −inf: it crossed a second time), then writes them with one scatter. A block
    in which some neuron crossed twice is discarded and redone at half the length (one step
    never holds two crossings of one neuron, so this ends); after
    `_CLEAN_BLOCKS_BEFORE_GROWING` clean blocks the length doubles, up to the maximum. No
    conditional touches the buffer: on the CPU a `lax.cond` over it copied it (tried:
    recording per block through `cond` was slower than recording every step).

    `paired`: each iteration of a block's loop takes two steps, the second inside a
    conditional (taken unless the block ends after the first). That makes XLA write the
    first step's state to fresh buffers; in a loop of single steps its copy insertion
    copies every state variable on every step (each is overwritten in place while other
    kernels still read its old value), which at large N costs about as much as the step."""
    n = jnp.asarray(n)
    inner0, buf0 = state0
    no_crossing = jnp.full(buf0.count.shape, jnp.nan, buf0.times.dtype)

    def one_step(k, y, inner, first):
        y, inner, fired, t_cross = advance(k, y, inner)
        again = jnp.full_like(first, -jnp.inf)
        first = jnp.where(fired, jnp.where(jnp.isnan(first), t_cross.astype(first.dtype), again), first)
        return y, inner, first

    def step(carry):
        k, end, y, inner, first = carry
        y, inner, first = one_step(k, y, inner, first)
        if not paired:
            return k + 1, end, y, inner, first
        y, inner, first = jax.lax.cond(k + 1 < end, lambda s: one_step(k + 1, *s), lambda s: s, (y, inner, first))
        return k + 2, end, y, inner, first

    def block(carry):
        k, length, clean, y, inner, buf = carry
        end = jnp.minimum(k + length, n)
        _, _, y_end, inner_end, first = jax.lax.while_loop(
            lambda c: c[0] < c[1], step, (k, end, y, inner, no_crossing))
        twice = jnp.any(first == -jnp.inf)
        buf = buf.record(~twice & ~jnp.isnan(first), first)  # writes nothing for a discarded block
        y = jax.tree.map(lambda a, b: jnp.where(twice, a, b), y, y_end)
        inner = jax.tree.map(lambda a, b: jnp.where(twice, a, b), inner, inner_end)
        grow = ~twice & (clean + 1 >= _CLEAN_BLOCKS_BEFORE_GROWING)
        length = jnp.where(twice, jnp.maximum(length // 2, 1),
                           jnp.where(grow, jnp.minimum(2 * length, _MAX_BLOCK_STEPS), length))
        clean = jnp.where(twice | grow, 0, clean + 1)
        return jnp.where(twice, k, end), length, clean, y, inner, buf

    init = (jnp.asarray(k0), jnp.asarray(_MAX_BLOCK_STEPS), jnp.asarray(0), y0, inner0, buf0)
    _, _, _, y, inner, buf = jax.lax.while_loop(lambda c: c[0] < n, block, init)
    return y, (inner, buf)


# Reverse mode through the fixed grid keeps every step's state (and spike buffer) when that
# takes at most this many bytes, instead of equinox's O(√steps) checkpoints, whose
# recomputation made value-and-grad 2.6-9x slower (HH, float64, N = 1 to 1,024, 1,000 to
# 10,000 steps, 2-core CPU; README, "Gradients through a solve").
STORE_EVERY_STEP_BYTES = 256 * 2**20


def default_checkpoints(n_steps: int, carry) -> int | None:
    """The checkpoint count hhjax's fixed-step gradients use when the adjoint leaves it open
    (`RecursiveCheckpointAdjoint()`): every step (`n_steps`) while `n_steps` copies of the
    loop's `carry` (its arrays' bytes) fit in `STORE_EVERY_STEP_BYTES`, else None
    (equinox's O(√steps) checkpoints)."""
    step_bytes = sum(math.prod(np.shape(x)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(carry))
    return max(n_steps, 1) if n_steps * step_bytes <= STORE_EVERY_STEP_BYTES else None


def _checkpointed_steps(solver, stimulus, times, y0, state0, checkpoints):
    """All steps in equinox's checkpointed while loop (reverse-mode differentiable), each step
    recording its crossings into the buffer. `checkpoints=None`: `default_checkpoints`
    (every step stored while that is cheap, else O(N·√steps) memory)."""
    if checkpoints is None:
        checkpoints = default_checkpoints(times.n, (y0, state0))
    term = model_term(solver.model, solver.solver)

    def body(carry):
        k, y, state = carry
        y, _, _, state, _ = solver.step(term, *times.at(k), y, stimulus, state, False)
        return k + 1, y, state

    _, y, (_, buf) = eqxi.while_loop(lambda c: c[0] < times.n, body, (jnp.asarray(0), y0, state0),
                                     max_steps=times.n, kind="checkpointed", checkpoints=checkpoints)
    return y, buf


def _all_steps(solver, stimulus, times, y0, state0, checkpoints):
    """The final state and spike buffer after every step of `times`: the branch-free
    forward loop when evaluated, the checkpointed loop's derivatives when differentiated
    (a custom JVP; reverse mode transposes it). The term is built inside from the
    `SpikeRecorder`'s model, so that nothing traced is closed over."""
    dynamic, static = eqx.partition((solver, stimulus, times, y0, state0), eqx.is_array)

    def unpack(d):
        return eqx.combine(d, static)

    @jax.custom_jvp
    def run(dynamic):
        return _forward_steps(*unpack(dynamic))

    def run_jvp(primals, tangents):
        # Only what is differentiated enters the checkpointed loop's derivative: the rest
        # (symbolic-zero tangents: the grid's step-time table, a sampled stimulus's arrays
        # when only parameters are differentiated) is held constant, so reverse mode does not
        # accumulate its cotangent at every backward step — an array of that length per step,
        # O(steps²) for the table (HH, 10,000 steps with a current step at 5 ms, √steps
        # checkpoints: 15 s instead of 2.8–3.5 ms per value-and-grad).
        (d,), (t,) = primals, tangents

        def is_zero(x):
            return isinstance(x, jax.custom_derivatives.SymbolicZero)

        live = jax.tree.map(lambda x: not is_zero(x), t, is_leaf=is_zero)
        d_live, d_fixed = eqx.partition(d, live)
        t_live = eqx.filter(t, live, is_leaf=is_zero)

        def steps(d_live):
            return _checkpointed_steps(*unpack(eqx.combine(d_live, jax.lax.stop_gradient(d_fixed))), checkpoints)

        return jax.jvp(steps, (d_live,), (t_live,))

    run.defjvp(run_jvp, symbolic_zeros=True)
    return run(dynamic)


def model_term(model, solver):
    """The diffrax term `simulate` integrates `model` with: an `ODETerm` of its vector field
    (args = the stimulus), carrying the decay rates for exponential Euler."""
    if isinstance(solver, ExponentialEuler):
        def decay(t, y, args):
            return model.decay_rates(t, y, input_current(args, t))

        return ModelTerm(model.vector_field, decay=decay)
    return dfx.ODETerm(model.vector_field)


def grid_steps(t0: float, t1: float, dt: float) -> int:
    """Number of equal steps of at most `dt` ms from t0 to t1."""
    return max(1, int(math.ceil((t1 - t0) / dt - 1e-9)))


def _jumps_on_grid(t0: float, t1: float, n: int, jumps, dtype) -> list:
    """The stimulus jumps that fall on an interior point of the n-step grid: [(k, jump)]."""
    if jumps is None or not len(jumps):
        return []
    h = (t1 - t0) / n
    hits = []
    for j in np.asarray(jumps, dtype=dtype):
        k = int(round((float(j) - t0) / h))
        if 0 < k < n and abs(float(np.asarray(t0 + (t1 - t0) * (k / n), dtype)) - float(j)) <= 1e-6 * h:
            hits.append((k, j))
    return hits


def fixed_step_grid(t0: float, t1: float, dt: float, jumps, dtype) -> Array:
    """Equal steps of (t1 − t0)/ceil((t1 − t0)/dt) ms. A stimulus discontinuity that falls
    on a grid point is split into the float just before and just after it, so that no
    step evaluates the stimulus on the far side of a jump (as diffrax does for adaptive
    steps)."""
    n = grid_steps(t0, t1, dt)
    grid = t0 + (t1 - t0) * (np.arange(n + 1) / n)
    grid[-1] = t1
    grid = grid.astype(dtype)
    hits = _jumps_on_grid(t0, t1, n, jumps, dtype)
    if hits:
        pts = list(grid)
        for k, j in hits:
            pts[k] = np.nextafter(j, dtype.type(-np.inf), dtype=dtype)
            pts.append(np.nextafter(j, dtype.type(np.inf), dtype=dtype))
        grid = np.unique(np.asarray(pts, dtype=dtype))
    return jnp.asarray(grid)


def _collect(model, sol, buf: SpikeBuffer, t0, t1, thr) -> Simulation:
    y_final = jax.tree.map(lambda x: x[-1], sol.ys[0])
    ts = ys = V = None
    if len(sol.ys) > 1:  # (a saved-every-step trace is trimmed outside jit, by `_finish`)
        ts, ys = sol.ts[1], sol.ys[1]
        V = model.voltage(ys)
    return Simulation(
        t0=t0, t1=t1, y_final=y_final, spike_times=buf.times, spike_counts=buf.count,
        ts=ts, ys=ys, V=V, stats=dict(sol.stats), threshold=thr,
    )


@eqx.filter_jit
def _collect_with_status(model, stimulus, sol, buf: SpikeBuffer, t0, t1, thr, config):
    """`_collect` and, in the same compiled call (one transfer to the host, not one per
    leaf), the status `_raise_on_failure` reads: [final state has NaN or V is not finite,
    largest spike count, stimulus at t0 not finite, step limit reached, solve failed]."""
    result = _collect(model, sol, buf, t0, t1, thr)
    bad = ~jnp.isfinite(model.voltage(result.y_final))
    for x in jax.tree.leaves(result.y_final):
        if jnp.issubdtype(x.dtype, jnp.floating):
            bad = bad | jnp.isnan(x)
    bad_input = ~jnp.isfinite(stimulus(t0))
    shape = jnp.broadcast_shapes(bad.shape, bad_input.shape, buf.count.shape)
    # one reduction for the three per-neuron flags (each reduction is a kernel to compile)
    per_neuron = jnp.stack([jnp.broadcast_to(x, shape).astype(jnp.int32) for x in (bad, buf.count, bad_input)])
    worst = jnp.max(per_neuron.reshape(3, -1), axis=1, initial=0)
    solver_flags = jnp.stack([sol.result == dfx.RESULTS.max_steps_reached, sol.result != dfx.RESULTS.successful])
    return result, jnp.concatenate([worst, solver_flags.astype(jnp.int32)])


def _solve_on_grid_and_collect(model, stimulus, inner, init, times, threshold, config, checkpoints, t0, t1,
                               saves=None):
    """The fixed-grid solve and `_collect_with_status` as one compiled call."""
    sol, buf = _solve_on_grid(model, stimulus, inner, init, times, threshold, config, checkpoints, saves)
    return *_collect_with_status(model, stimulus, sol, buf, t0, t1, threshold, config), None


_solve_on_grid_and_collect = CompiledSolve(_solve_on_grid_and_collect)


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
    sol = _GridSolution(ts=ts, ys=saved, stats=stats, result=code)
    return *_collect_with_status(model, stimulus, sol, buf, t0, t1, threshold, config), code


_solve_adaptive_and_collect = CompiledSolve(_solve_adaptive_and_collect, CLASSIC_CPU_EMITTERS)


def _raise_on_failure(code, status, call: _CallInfo):
    """Raise `SimulationError` for an unstable step, a step limit hit, a failed solve or
    too many spikes. `status` from `_collect_with_status`; `code` the diffrax result (None
    on the fixed-grid path, which cannot fail by itself), read only for a failure's message."""
    name, dt, max_steps, max_spikes, adaptive = call.name, call.dt, call.max_steps, call.max_spikes, call.adaptive
    bad, most, bad_input, step_limit, failed = (int(x) for x in status)
    if bad_input:
        raise ValueError("stimulus returns NaN or inf")
    if bad:
        raise SimulationError(
            f"the state became NaN/inf before t1: the step "
            f"dt = {dt} ms is unstable for solver {name!r}; use a smaller dt or an adaptive solver"
        )
    if step_limit:
        raise SimulationError(
            f"the solve hit its step limit (max_steps = {max_steps}) before t1"
            + ("; loosen rtol/atol or raise max_steps" if adaptive else "")
        )
    if failed:
        raise SimulationError(f"the solve failed: {dfx.RESULTS[code] if code is not None else 'unknown'}")
    if max_spikes and most > max_spikes:
        raise SimulationError(
            f"a neuron fired {most} spikes, more than max_spikes = {max_spikes}; pass a larger max_spikes"
        )


# --- discrete-time models ------------------------------------------------------------

def _simulate_discrete(model, stimulus, *, t0, t1, dt, dtype, y0, save_every, max_spikes):
    repeat = _repeat_key(model, stimulus, y0=y0, save_every=save_every, t0=t0, t1=t1, dt=dt, dtype=dtype,
                         max_spikes=max_spikes)
    plan = None if repeat is None else _REPEATS.lookup(*repeat)
    if plan is not None:  # the same call as before: only the compiled run and the checks
        return plan.run()
    _check_times(t0, t1, dt)
    if dt is not None and not math.isclose(float(dt), float(model.dt)):
        raise ValueError(f"{type(model).__name__} steps with its own dt = {model.dt} ms; got dt = {dt}")
    _check_max_spikes(max_spikes)
    dtype, model, stimulus = _prepare(model, stimulus, dtype)
    n_steps = int(round((float(t1) - float(t0)) / model.dt))
    if n_steps < 1:
        raise ValueError(f"t1 - t0 is shorter than one step of {model.dt} ms")
    if y0 is not None:  # (the default is built inside the compiled run, from the cast model)
        y0 = cast_floats(jax.tree.map(jnp.asarray, y0), dtype)
    keep = save_every is not None
    ts = jnp.asarray(float(t0) + model.dt * np.arange(1, n_steps + 1), dtype) if keep else None
    plan = _DiscretePlan(model, (stimulus, y0, _scalar(t0, dtype), _scalar(t1, dtype), ts), n_steps, max_spikes,
                         keep)
    _remember(repeat, plan)
    return plan.run()


class _DiscretePlan:
    """A `simulate` call on a discrete model: its compiled run bound to its arguments;
    `run()` runs and checks (like `_SolvePlan`; kept in `_REPEATS` the same way)."""

    def __init__(self, model, args: tuple, n_steps: int, max_spikes: int, keep_trace: bool):
        self.max_spikes = max_spikes
        self.traced = _is_traced((model, args))
        self.bound = _run_discrete_and_collect.bind(model, *args, n_steps, max_spikes, keep_trace)

    def run(self) -> Simulation:
        result, status = self.bound()
        if not isinstance(status, jax.core.Tracer):
            bad_input, most = (int(x) for x in np.asarray(status))
            if bad_input:
                raise ValueError("stimulus returns NaN or inf")
            if self.max_spikes and most > self.max_spikes:  # 0: counts only, no times kept
                raise SimulationError(f"more than max_spikes = {self.max_spikes} spikes; pass a larger max_spikes")
        return result


def _run_discrete_and_collect(model, stimulus, y0, t0, t1, ts, n_steps, max_spikes, keep_trace):
    """`_run_discrete` and the `Simulation`, with the status `_DiscretePlan.run` checks
    ([stimulus not finite on some step, largest spike count]), as one compiled call."""
    y_final, buf, V, inputs_ok = _run_discrete(model, stimulus, y0, t0, n_steps, max_spikes, keep_trace)
    result = Simulation(
        t0=t0, t1=t1, y_final=y_final, spike_times=buf.times, spike_counts=buf.count, ts=ts, ys=None,
        V=V, stats={"num_steps": n_steps}, threshold=jnp.asarray(model.default_threshold(), t0.dtype),
    )
    status = jnp.stack([(~inputs_ok).astype(jnp.int32), jnp.max(buf.count, initial=0).astype(jnp.int32)])
    return result, status


_run_discrete_and_collect = CompiledSolve(_run_discrete_and_collect)


# Discrete models record once per block of this many steps (`_record_block`; one bit per
# step in a uint32); runs that keep the voltage trace record every step. Blocks at every
# population size: a per-step record is a scatter (a serial loop over the population on the
# CPU) and keeps the step loop from compiling into one function. s-LIF2HH float32, 2-core
# CPU, neuron-steps/s per-step → blocked: N = 10 9.8e6 → 6.4e7, 100 7.1e7 → 2.2e8, N = 1
# unchanged (1.6–1.7e7). Unrolling the block's loop (2, 4 steps) was no faster, nor were two
# steps per iteration with an optimisation barrier between them (N = 100 2.4e8 → 1.6e8).
_DISCRETE_BLOCK_STEPS = 32


def _run_discrete(model, stimulus, y0, t0, n_steps, max_spikes, keep_trace):
    """Step a discrete model; each step's mean input is computed inside the loop (memory
    O(N), not O(N·steps)); the voltage is kept per step only when `keep_trace`. A spike in
    step k (covering [t0 + k·dt, t0 + (k+1)·dt]) is stamped at the step's start."""
    def step_input(k):
        return step_average(stimulus, t0 + k * model.dt, model.dt)

    y0 = model.initial_state() if y0 is None else y0
    V0 = model.voltage(y0)
    shape = jnp.broadcast_shapes(jnp.shape(V0), jax.eval_shape(step_input, t0).shape)
    y0 = _broadcast_leaves(y0, shape)
    buf = SpikeBuffer.empty(shape, max_spikes, V0.dtype)

    def step(y, k):
        x = step_input(k)
        y, fire = model.step(y, x)
        return y, fire > 0, jnp.all(jnp.isfinite(x))

    if keep_trace:
        def body(carry, k):
            y, buf, ok = carry
            y, fired, finite = step(y, k)
            buf = buf.record(fired, t0 + k * model.dt)
            return (y, buf, ok & finite), model.voltage(y)

        (y, buf, ok), V = jax.lax.scan(body, (y0, buf, jnp.asarray(True)), jnp.arange(n_steps, dtype=t0.dtype))
        return y, buf, V, ok

    def block(carry, k_start, length):
        y, buf, ok = carry

        def body(carry, k):
            y, ok, spikes = carry
            y, fired, finite = step(y, k_start + k.astype(t0.dtype))
            return (y, ok & finite, spikes | (fired.astype(jnp.uint32) << k)), None

        spikes = jnp.zeros(shape, jnp.uint32)
        (y, ok, spikes), _ = jax.lax.scan(body, (y, ok, spikes), jnp.arange(length, dtype=jnp.uint32))
        return (y, _record_block(buf, spikes, lambda k: t0 + (k_start + k) * model.dt), ok), None

    blocks, rest = divmod(n_steps, _DISCRETE_BLOCK_STEPS)
    starts = _DISCRETE_BLOCK_STEPS * jnp.arange(blocks, dtype=t0.dtype)
    carry, _ = jax.lax.scan(functools.partial(block, length=_DISCRETE_BLOCK_STEPS), (y0, buf, jnp.asarray(True)),
                            starts)
    if rest:
        carry, _ = block(carry, jnp.asarray(blocks * _DISCRETE_BLOCK_STEPS, t0.dtype), rest)
    y, buf, ok = carry
    return y, buf, None, ok


def _record_block(buf: SpikeBuffer, spikes, stamp) -> SpikeBuffer:
    """Append one block's spikes to `buf` in time order. `spikes`: per neuron, bit k set
    when it fired in the block's step k (a neuron fires at most once per step), stamped
    `stamp(k)` (k as a float). Pass j writes every neuron's (j+1)-th spike of the block
    with one scatter, so a block costs as many scatters as its busiest neuron has spikes
    in it (a scatter is a serial loop over the whole population on the CPU: recorded every
    step, it cost s-LIF2HH more than the step itself)."""
    def write(carry):
        j, left, buf = carry
        k = 31 - jax.lax.clz(left & (~left + 1))  # the earliest spike still left
        buf = buf.record(left != 0, stamp(k.astype(buf.times.dtype)))
        return j + 1, left & (left - 1), buf

    passes = jnp.max(jax.lax.population_count(spikes), initial=0)
    _, _, buf = jax.lax.while_loop(lambda c: c[0] < passes, write, (jnp.asarray(0, jnp.uint32), spikes, buf))
    return buf
