"""Input currents as pure functions of time.

Every stimulus is an `equinox.Module` whose `__call__(t)` returns the injected current in
µA/cm² at time `t` (ms).  They are pytrees, so they can be jitted, vmapped and
differentiated.  Parameters may be scalars or arrays with the population's shape, which
gives one stimulus per neuron; `Stacked` combines stimuli of different kinds into one
per-neuron stimulus.

`discontinuities(t0, t1)` lists the times in [t0, t1] where the current jumps, so that
adaptive solvers can step exactly onto them (see `hhjax.simulate`).
"""

from __future__ import annotations

import math
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike


class AbstractStimulus(eqx.Module):
    """Base class: a current I(t) in µA/cm² for t in ms."""

    def __call__(self, t: ArrayLike) -> Array:
        raise NotImplementedError

    def discontinuities(self, t0: float, t1: float) -> list[float]:
        """Times (ms) in (t0, t1) where the current or its slope jumps (adaptive solvers
        step onto them). Default: none."""
        del t0, t1
        return []

    def jumps(self, t0: float, t1: float) -> list[float]:
        """Times (ms) in (t0, t1) where the current's *value* jumps (fixed-step grids are
        split there). Default: all `discontinuities`."""
        return self.discontinuities(t0, t1)


def periodic_edges(t0, t1, period, offsets) -> list[float]:
    """Times k·period + offset in (t0, t1); `period` and each offset may be per-neuron."""
    periods = np.atleast_1d(np.asarray(period, dtype=float)).ravel()
    offs = [np.broadcast_to(np.atleast_1d(np.asarray(o, dtype=float)).ravel(), periods.shape) for o in offsets]
    out = set()
    for i, p in enumerate(periods):
        if not math.isfinite(p) or p <= 0:
            continue
        for k in range(math.floor(t0 / p) - 1, math.ceil(t1 / p) + 2):
            for off in offs:
                t = k * p + off[i]
                if t0 < t < t1:
                    out.add(float(t))
    return sorted(out)


class Constant(AbstractStimulus):
    """I(t) = `current` (µA/cm²)."""

    current: ArrayLike = 0.0

    def __call__(self, t):
        return jnp.asarray(self.current) + jnp.zeros_like(jnp.asarray(t))


class Step(AbstractStimulus):
    """I(t) = `I_off` for t < `t_on`, `I_on` for t ≥ `t_on` (µA/cm², ms)."""

    I_off: ArrayLike
    I_on: ArrayLike
    t_on: ArrayLike

    def __call__(self, t):
        return jnp.where(t < self.t_on, self.I_off, self.I_on)

    def discontinuities(self, t0, t1):
        return [float(x) for x in np.atleast_1d(np.asarray(self.t_on)) if t0 < x < t1]


class PulseTrain(AbstractStimulus):
    """Rectangular pulses: `amplitude` for `width` ms every `period` ms from `start` on,
    `baseline` otherwise; `n_pulses` (None: unlimited) bounds the number of pulses."""

    amplitude: ArrayLike
    width: ArrayLike
    period: ArrayLike
    start: ArrayLike = 0.0
    baseline: ArrayLike = 0.0
    n_pulses: int | None = eqx.field(static=True, default=None)

    def __call__(self, t):
        since = t - self.start
        phase = jnp.mod(since, self.period)
        on = (since >= 0) & (phase < self.width)
        if self.n_pulses is not None:
            on = on & (since < self.n_pulses * self.period)
        return jnp.where(on, self.baseline + self.amplitude, self.baseline)

    def discontinuities(self, t0, t1):
        start = float(np.min(np.asarray(self.start)))
        edges = [e + start for e in periodic_edges(t0 - start, t1 - start, self.period, [0.0, self.width])]
        edges.append(start)
        end = math.inf if self.n_pulses is None else start + self.n_pulses * float(np.max(self.period))
        return sorted({e for e in edges if t0 < e < t1 and start <= e < end})


class Ramp(AbstractStimulus):
    """I(t) = `I0` + `slope`·(t − `t_start`) for t ≥ `t_start`, `I0` before (µA/cm², /ms)."""

    I0: ArrayLike
    slope: ArrayLike
    t_start: ArrayLike = 0.0

    def __call__(self, t):
        return self.I0 + self.slope * jnp.maximum(t - self.t_start, 0.0)


class Sine(AbstractStimulus):
    """I(t) = `I0` + `A`·sin(2π t/`period` + `phase`) (µA/cm², ms, rad)."""

    I0: ArrayLike
    A: ArrayLike
    period: ArrayLike
    phase: ArrayLike = 0.0

    def __call__(self, t):
        return self.I0 + self.A * jnp.sin(2 * jnp.pi * t / self.period + self.phase)


class Square(AbstractStimulus):
    """`I_low` for the first `duty`·period of each period, `I_high` for the rest."""

    I_low: ArrayLike
    I_high: ArrayLike
    period: ArrayLike
    duty: ArrayLike = 0.5

    def __call__(self, t):
        phase = jnp.mod(t, self.period)
        return jnp.where(phase < self.duty * self.period, self.I_low, self.I_high)

    def discontinuities(self, t0, t1):
        return periodic_edges(t0, t1, self.period, [0.0, np.asarray(self.duty) * np.asarray(self.period)])


class Sawtooth(AbstractStimulus):
    """Rises linearly from `I_low` to `I_high` over each `period`, then drops back."""

    I_low: ArrayLike
    I_high: ArrayLike
    period: ArrayLike

    def __call__(self, t):
        frac = jnp.mod(t, self.period) / self.period
        return self.I_low + (self.I_high - self.I_low) * frac

    def discontinuities(self, t0, t1):
        return periodic_edges(t0, t1, self.period, [0.0])


class Triangle(AbstractStimulus):
    """Symmetric triangle: `I_low` at t = 0 mod period, `I_high` at half period."""

    I_low: ArrayLike
    I_high: ArrayLike
    period: ArrayLike

    def __call__(self, t):
        frac = jnp.mod(t, self.period) / self.period
        return self.I_low + (self.I_high - self.I_low) * (1 - jnp.abs(2 * frac - 1))


class Sampled(AbstractStimulus):
    """A recorded current, linearly interpolated: `values[..., k]` at `ts[k]` (ms).

    `values` has shape (K,) for one current or (N, K) for one per neuron. Outside
    [ts[0], ts[-1]] the end values are held.
    """

    ts: Array
    values: Array

    def __check_init__(self):
        ts = np.asarray(self.ts) if not isinstance(self.ts, jax.core.Tracer) else None
        if ts is not None:
            if ts.ndim != 1:
                raise ValueError(f"Sampled: ts must be 1-D, got shape {ts.shape}")
            if np.shape(self.values)[-1] != ts.shape[0]:
                raise ValueError(
                    f"Sampled: values has {np.shape(self.values)[-1]} samples along its last "
                    f"axis but ts has {ts.shape[0]}"
                )
            if ts.shape[0] < 2 or not np.all(np.diff(ts) > 0):
                raise ValueError("Sampled: ts must hold at least two strictly increasing times")

    def discontinuities(self, t0, t1):
        """The samples: the interpolant's slope jumps there (adaptive solvers step onto them)."""
        ts = np.asarray(self.ts, dtype=float)
        return [float(x) for x in ts[(ts > t0) & (ts < t1)]]

    def jumps(self, t0, t1):
        """None: the interpolant is continuous."""
        return []

    def __call__(self, t):
        idx = jnp.clip(jnp.searchsorted(self.ts, t, side="right") - 1, 0, self.ts.shape[0] - 2)
        ta = self.ts[idx]
        tb = self.ts[idx + 1]
        w = jnp.clip((t - ta) / (tb - ta), 0.0, 1.0)
        if self.values.ndim > 1 and jnp.ndim(t) > 0:  # one time per neuron
            va = jnp.take_along_axis(self.values, idx[..., None], axis=-1)[..., 0]
            vb = jnp.take_along_axis(self.values, idx[..., None] + 1, axis=-1)[..., 0]
        else:
            va = jnp.take(self.values, idx, axis=-1)
            vb = jnp.take(self.values, idx + 1, axis=-1)
        return va + w * (vb - va)


def ornstein_uhlenbeck(
    key: Array,
    *,
    mean: float,
    sigma: float,
    tau: float,
    t1: float,
    dt: float = 0.05,
    t0: float = 0.0,
    shape: tuple[int, ...] = (),
    dtype=None,
) -> Sampled:
    """Seeded Ornstein–Uhlenbeck current, sampled exactly every `dt` ms and interpolated.

    dI = −(I − mean)/tau dt + sigma·sqrt(2/tau) dW, started from its stationary law, so the
    stationary standard deviation is `sigma` (µA/cm²). `shape` gives one independent
    process per neuron. Uses the exact discretisation, so it is a pure function of `key`.
    """
    if tau <= 0 or dt <= 0 or sigma < 0 or t1 <= t0:
        raise ValueError("ornstein_uhlenbeck needs tau > 0, dt > 0, sigma >= 0 and t1 > t0")
    dtype = dtype or jnp.result_type(float)
    n = int(math.ceil((t1 - t0) / dt)) + 1
    ts = t0 + dt * jnp.arange(n, dtype=dtype)
    decay = math.exp(-dt / tau)
    noise = jr.normal(key, (n,) + shape, dtype=dtype)
    scale = sigma * math.sqrt(1 - decay * decay)

    def body(x, z):
        x = mean + decay * (x - mean) + scale * z
        return x, x

    x0 = mean + sigma * noise[0]
    _, xs = jax.lax.scan(body, x0, noise[1:])
    values = jnp.concatenate([x0[None], xs], axis=0)
    return Sampled(ts=ts, values=jnp.moveaxis(values, 0, -1))


class Stacked(AbstractStimulus):
    """One stimulus per neuron, of any kinds: output shape (len(stimuli),)."""

    stimuli: tuple[AbstractStimulus, ...]

    def __call__(self, t):
        # A scalar t serves every neuron; an array t holds one time per neuron.
        if jnp.ndim(t) == 0:
            return jnp.stack([jnp.broadcast_to(s(t), jnp.shape(t)) for s in self.stimuli], axis=-1)
        return jnp.stack([s(t[..., i]) for i, s in enumerate(self.stimuli)], axis=-1)

    def discontinuities(self, t0, t1):
        return sorted({d for s in self.stimuli for d in s.discontinuities(t0, t1)})

    def jumps(self, t0, t1):
        return sorted({d for s in self.stimuli for d in s.jumps(t0, t1)})


class Sum(AbstractStimulus):
    """The sum of several stimuli."""

    stimuli: tuple[AbstractStimulus, ...]

    def __call__(self, t):
        out = self.stimuli[0](t)
        for s in self.stimuli[1:]:
            out = out + s(t)
        return out

    def discontinuities(self, t0, t1):
        return sorted({d for s in self.stimuli for d in s.discontinuities(t0, t1)})

    def jumps(self, t0, t1):
        return sorted({d for s in self.stimuli for d in s.jumps(t0, t1)})


class Affine(AbstractStimulus):
    """offset + scale·stimulus(t) (µA/cm²): a stimulus moved into another model's range."""

    stimulus: AbstractStimulus
    scale: ArrayLike = 1.0
    offset: ArrayLike = 0.0

    def __call__(self, t):
        return self.offset + self.scale * self.stimulus(t)

    def discontinuities(self, t0, t1):
        return self.stimulus.discontinuities(t0, t1)

    def jumps(self, t0, t1):
        return self.stimulus.jumps(t0, t1)


def as_stimulus(stimulus) -> AbstractStimulus:
    """Accept a stimulus, None (no input), a callable `t -> current` or a number/array
    (constant current); text specs: `hhjax.specs.as_stimulus`."""
    if isinstance(stimulus, AbstractStimulus):
        return stimulus
    if isinstance(stimulus, str):
        raise TypeError(f"a text stimulus spec ({stimulus!r}) needs hhjax.specs.as_stimulus")
    if stimulus is None:
        return Constant(0.0)
    if callable(stimulus):
        return Function(stimulus)
    return Constant(stimulus)


class Function(AbstractStimulus):
    """Wrap a user function `t -> current` (pure, jax-traceable)."""

    fn: object = eqx.field(static=True)

    def __call__(self, t):
        return jnp.asarray(self.fn(t))


def step_average(stimulus: AbstractStimulus, t_start, dt: float, samples: int = 1000):
    """Mean current over [t_start, t_start + dt] (midpoint rule on `samples` points; exact
    and free for a `Constant`). Shape: the population's."""
    if isinstance(stimulus, Constant):
        return stimulus(t_start)
    dtype = jnp.result_type(t_start)
    offsets = (jnp.arange(samples, dtype=dtype) + 0.5) * (dt / samples)
    return jnp.mean(jax.vmap(stimulus)(t_start + offsets), axis=0)


def step_averages(stimulus: AbstractStimulus, t0, dt: float, n_steps: int, samples: int = 1000, dtype=None):
    """Mean current over each step [t0 + k·dt, t0 + (k+1)·dt], k < n_steps (midpoint rule
    on `samples` points per step). Returns shape (n_steps, *population)."""
    dtype = jnp.result_type(t0) if dtype is None else dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    t0 = jnp.asarray(t0, dtype)

    def one(k):
        return step_average(stimulus, t0 + k * dt, dt, samples)

    return jax.lax.map(one, jnp.arange(n_steps, dtype=dtype))


__all__ = [
    "AbstractStimulus",
    "Constant",
    "Step",
    "PulseTrain",
    "Ramp",
    "Sine",
    "Square",
    "Sawtooth",
    "Triangle",
    "Sampled",
    "Stacked",
    "Sum",
    "Affine",
    "Function",
    "ornstein_uhlenbeck",
    "periodic_edges",
    "as_stimulus",
    "step_average",
    "step_averages",
]


_MOVED = {"parse_stimulus": "hhjax.specs", "paper_waveforms": "hhjax.paper.waveforms",
          "PaperSquare": "hhjax.paper.waveforms", "PaperSawtooth": "hhjax.paper.waveforms",
          "PaperTriangle": "hhjax.paper.waveforms", "PAPER_PERIOD_MS": "hhjax.paper.waveforms"}


def __getattr__(name):
    """Deprecated names that moved (0.2): the paper's waveforms to `hhjax.paper.waveforms`,
    text specs to `hhjax.specs` (all still at the top level, `hhjax.NAME`)."""
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f"hhjax.stimuli.{name} moved to {_MOVED[name]}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'hhjax.stimuli' has no attribute {name!r}")
