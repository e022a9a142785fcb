"""`simulate`: one entry point composing a model, a stimulus and a solve —
validate → plan → run → collect."""

from __future__ import annotations

import diffrax as dfx
from jaxtyping import PyTree

from ..backends.tuning import Tuning, tuning_for
from ..models.base import AbstractDiscreteNeuron, AbstractNeuron
from ..stimuli import AbstractStimulus
from .caches import lookup_repeat, remember, repeat_key
from .plan import choose_path
from .request import build_request
from .results import Simulation


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
    path: str | None = None,
    tuning: Tuning | None = None,
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
    - `max_spikes`: spike buffer length per neuron; 0 keeps only the spike counts.
    - `progress`: show a tqdm progress bar.
    - `adjoint`: how `jax.grad` differentiates the solve (default: backpropagation through
      the steps, every step stored while that takes at most `Tuning.store_every_step_bytes`
      (256 MiB), O(√steps) checkpoints beyond; `RecursiveCheckpointAdjoint(checkpoints=k)`
      to choose); `diffrax.ForwardMode()` for forward mode (`jax.jvp`, `jax.jacfwd`).
    - `path`: the execution path by name (`fixed_step`, `adaptive`, `diffrax`, `discrete`;
      default: the planner's choice, `hhjax.integrate.plan`). A path that cannot run the
      call raises a `ValueError` saying why.
    - `tuning`: the backend `Tuning` (default `hhjax.backends.tuning_for()` of JAX's
      default backend): loop shapes that change speed, never results.

    A repeated call with the same model and stimulus objects and options reuses the first
    call's preparation (checks, casts, grids): only the compiled solve runs.

    Spikes are upward threshold crossings located inside steps; LIF-type models are reset
    at the crossing time. Raises `ValueError` for bad input and `SimulationError` when the
    solve fails (when called outside `jit`; inside, failures raise at run time).
    """
    tuning = tuning_for() if tuning is None else tuning
    options = dict(t0=t0, t1=t1, dt=dt, solver=solver, adaptive=adaptive, rtol=rtol, atol=atol, dtype=dtype,
                   threshold=threshold, max_spikes=max_spikes, max_steps=max_steps, path=path)
    repeat = repeat_key(model, stimulus, y0=y0, save_every=save_every, progress=progress, adjoint=adjoint,
                        tuning=tuning, **options)
    bound = lookup_repeat(repeat)
    if bound is None:
        del options["path"]
        request = build_request(model, stimulus, y0=y0, save_every=save_every, progress=progress, adjoint=adjoint,
                                tuning=tuning, **options)
        bound = choose_path(request, path).prepare(request)
        remember(repeat, bound)
    return bound.run()


def execution_path(model, stimulus=None, **options) -> str:
    """The name of the path `simulate(model, stimulus, **options)` would take (nothing runs)."""
    path = options.pop("path", None)
    tuning = options.pop("tuning", None) or tuning_for()
    defaults = dict(t0=0.0, dt=None, solver="tsit5", adaptive=None, rtol=1e-6, atol=1e-8, dtype=None, y0=None,
                    save_every=None, threshold=None, max_spikes=512, max_steps=None, progress=False, adjoint=None)
    request = build_request(model, stimulus, tuning=tuning, **{**defaults, **options})
    return choose_path(request, path).name
