"""Losses for fitting neuron models to voltage traces and spike trains.

Which to use:

- `equation_error` (teacher forcing): the observed V drives the gates (each gate is an
  input-free tv-LIF, so given V its trajectory is a linear recurrence),
  and the membrane equation's integral over short windows is the residual. No simulation,
  no spike alignment problem, nearly convex in the conductances and reversal potentials:
  **the default for HH and tv-LIF2HH fits from V traces**; for noisy recordings use its
  robust form (`robust_mV`, a Cauchy loss) with ~1 ms windows and long traces.
- `shooting_loss` (multiple shooting): the model is simulated (through diffrax) over many
  short windows, each started from the observed V and teacher-forced gates, and compared
  to the observed V. An output-error loss that tolerates noise in V; use it to refine a
  teacher-forced fit or for models whose gates are not tv-LIFs.
- `voltage_mse`: simulate the whole trace and compare. Exact, but once a spike shifts by
  more than its width the gradient points nowhere useful: use only on short traces or
  near the answer (or grow the trace length as a curriculum).
- `spike_timing_loss`, `van_rossum_distance`: spike trains only (differentiable spike
  times from `simulate`); `summary_loss`: spike count, first-spike latency, mean ISI and
  resting potential, for data where only such features are trusted.

Shapes: a `Trace` holds P protocols × T samples; losses return a scalar.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..integrate import simulate
from ..models import HodgkinHuxley, HHState
from ..models.conductance import ConductanceNeuron, ConductanceState
from ..stimuli import Sampled
from .traces import Trace


def as_hodgkin_huxley(model) -> HodgkinHuxley:
    """The HH parameter set behind `model` (HH itself or a tv-LIF2HH form wrapping one)."""
    if isinstance(model, HodgkinHuxley):
        return model
    inner = getattr(model, "hh", None)
    if isinstance(inner, HodgkinHuxley):
        return inner
    raise TypeError(f"teacher forcing needs an HH-type model (HodgkinHuxley, TVLIF2HH, TVLIFGateForm), "
                    f"got {type(model).__name__}")


def _linear_recurrence(a: Array, b: Array, x0: Array, parallel: bool = False) -> Array:
    """x_{k+1} = a_k x_k + b_k along the last axis. Returns x_0 … x_K, shape (..., K + 1).
    `parallel=True` uses an associative scan (log-depth; better on GPU), otherwise a
    sequential `lax.scan` (about 2× faster for value and gradient on CPU)."""
    if parallel:
        def compose(earlier, later):
            a1, b1 = earlier
            a2, b2 = later
            return a1 * a2, a2 * b1 + b2

        A, B = jax.lax.associative_scan(compose, (a, b), axis=-1)
        return jnp.concatenate([x0[..., None], A * x0[..., None] + B], axis=-1)

    def body(x, ab):
        x = ab[0] * x + ab[1]
        return x, x

    _, xs = jax.lax.scan(body, x0, (jnp.moveaxis(a, -1, 0), jnp.moveaxis(b, -1, 0)))
    return jnp.concatenate([x0[..., None], jnp.moveaxis(xs, 0, -1)], axis=-1)


def as_conductance_neuron(model) -> ConductanceNeuron | None:
    """The `ConductanceNeuron` behind `model` (itself or its tv-LIF decomposition), or None."""
    if isinstance(model, ConductanceNeuron):
        return model
    source = getattr(model, "source", None)
    return source if isinstance(source, ConductanceNeuron) else None


def teacher_forced_gates(model, V: Array, dt: float, parallel: bool = False):
    """The gates driven by an observed V (shape (..., T), mV, sampled every `dt` ms),
    started at their steady state x∞(V_0): m, h, n of an HH-type model (`HHState`), or every
    gate with a state of a `ConductanceNeuron` (`ConductanceState`). Each gate is the
    input-free tv-LIF τ_x(V) dx/dt = x∞(V) − x, stepped exactly for V held at the
    interval's midpoint (second order in dt)."""
    V_mid = 0.5 * (V[..., 1:] + V[..., :-1])
    channels = as_conductance_neuron(model)
    source = channels if channels is not None else as_hodgkin_huxley(model)
    mid, start = source.gate_tvlif(V_mid), source.gate_tvlif(V[..., 0])  # {gate: (τ, x∞)}
    gates = {}
    if mid:
        names = list(mid)
        a = jnp.stack([jnp.exp(-dt / mid[x][0]) for x in names])
        b = jnp.stack([mid[x][1] for x in names]) * (1 - a)
        x = _linear_recurrence(a, b, jnp.stack([start[x][1] for x in names]), parallel)
        gates = {name: x[i] for i, name in enumerate(names)}
    return ConductanceState(V=V, gates=gates) if channels is not None else HHState(V=V, **gates)


def _windowed(trace: Trace, window_ms: float, burn_in_ms: float):
    """Window size in samples, first sample, number of windows, and a function that sums
    per-interval trapezoid integrals over each window."""
    dt = trace.dt
    w = max(1, int(round(window_ms / dt)))
    start = int(round(burn_in_ms / dt))
    n_win = (trace.V.shape[1] - 1 - start) // w
    if n_win < 1:
        raise ValueError(f"trace too short for one window of {window_ms} ms after a burn-in of {burn_in_ms} ms")
    stop = start + n_win * w

    def integrate(x):  # (..., T) sampled -> (..., n_win) ∫ over each window (ms · unit)
        per_interval = 0.5 * dt * (x[..., 1:] + x[..., :-1])
        return per_interval[..., start:stop].reshape(x.shape[:-1] + (n_win, w)).sum(-1)

    dV = trace.V[:, start + w: stop + 1: w] - trace.V[:, start:stop:w]
    return integrate, dV


def equation_error(model, trace: Trace, window_ms: float = 0.1, burn_in_ms: float = 0.0,
                   project: bool = False, robust_mV: float | None = None) -> Array:
    """Teacher-forced membrane-equation error (dimensionless).

    With the gates driven by the observed V, the HH membrane equation integrated over each
    window [t_a, t_b] of `window_ms` predicts the voltage change
    V_b − V_a = (1/C) ∫ (I − I_ion) dt (trapezoid rule on the samples). The loss is the
    mean squared difference between observed and predicted changes over all windows and
    protocols, divided by the mean squared observed change (0: perfect; 1: no better than
    predicting no change). Written for ΔV (not C·ΔV) so that noise in V enters with a
    fixed coefficient and does not pull C and ḡ towards zero. Windows starting before
    `burn_in_ms` (while the gates forget their start at x∞(V_0)) are left out; with noisy
    V, longer windows (0.5–1 ms) average the noise.

    `project=True` (variable projection): the prediction is linear in (1/C, ḡ/C, ḡE/C)
    for given gates, so those seven are replaced by their least-squares optimum and only
    the gate parameters remain for the optimiser — far better conditioned when the rate
    functions are free. `membrane_least_squares` returns the optimum itself.

    **Noisy V** (`robust_mV`): noise in the V that drives the steep gates makes the
    residuals of windows on spikes large and heavy-tailed, and plain least squares is then
    strongly biased (with 1 mV noise: ḡL off by ~100 %, EL by several-fold). With
    `robust_mV = c` the squared residual r² is replaced by the Cauchy loss c²·ln(1 + r²/c²)
    (quadratic for |r| ≪ c, logarithmic beyond), which discounts those windows. Use c ≈
    3 × the noise s.d., windows of ~1 ms, samples every ~0.02 ms, and long traces (the leak
    is the least-informed parameter: in our runs 4 × 200 ms at 1 mV noise pinned all seven
    membrane parameters within 5 %, 4 × 60 ms did not). Not with `project=True`.
    """
    integrate, dV = _windowed(trace, window_ms, burn_in_ms)
    channels = as_conductance_neuron(model)
    hh = channels if channels is not None else as_hodgkin_huxley(model)
    if project and channels is not None:
        raise ValueError("the projected (least-squares) equation loss is written for HH-type models; use the "
                         "'equation' loss for channel models")
    if project:
        if robust_mV is not None:
            raise ValueError("robust_mV is not available with the projected (least-squares) loss")
        residual = _membrane_design(hh, trace, window_ms, burn_in_ms)[-1]
    else:
        y = teacher_forced_gates(hh, trace.V, trace.dt)
        residual = dV - integrate(trace.current - hh.ionic_current(y)) / hh.C
    if robust_mV is None:
        return jnp.mean(residual**2) / jnp.mean(dV**2)
    if not robust_mV > 0:
        raise ValueError(f"robust_mV must be > 0 mV, got {robust_mV}")
    c2 = jnp.asarray(robust_mV, residual.dtype) ** 2
    return jnp.mean(c2 * jnp.log1p(residual**2 / c2)) / jnp.mean(dV**2)


def _membrane_design(hh: HodgkinHuxley, trace: Trace, window_ms: float, burn_in_ms: float):
    """Least squares for β = (1/C, ḡNa/C, ḡNa·ENa/C, ḡK/C, ḡK·EK/C, ḡL/C, ḡL·EL/C) with
    the gates of `hh` driven by the observed V: ΔV ≈ A β. Returns (β, residual per window)."""
    integrate, dV = _windowed(trace, window_ms, burn_in_ms)
    y = teacher_forced_gates(hh, trace.V, trace.dt)
    V = trace.V
    cols = [integrate(trace.current)]
    for G in (y.m**3 * y.h, y.n**4, jnp.ones_like(V)):
        cols += [-integrate(G * V), integrate(G)]
    A = jnp.stack([c.ravel() for c in cols], axis=-1)
    b = dV.ravel()
    scale = jnp.sqrt(jnp.mean(A**2, axis=0)) + 1e-30
    beta = _least_squares(A / scale[None, :], b) / scale
    residual = A @ beta - b
    return beta, residual


def membrane_least_squares(model, trace: Trace, window_ms: float = 0.1, burn_in_ms: float = 0.0):
    """`model` with C, ḡNa, ḡK, ḡL, ENa, EK, EL set to the least-squares optimum of the
    teacher-forced membrane equation for its current gate kinetics."""
    from ..parameters import set_params

    hh = as_hodgkin_huxley(model)
    beta, _ = _membrane_design(hh, trace, window_ms, burn_in_ms)
    C = 1 / beta[0]
    gna, gena, gk, gek, gl, gel = (beta[i] * C for i in range(1, 7))
    values = dict(C=C, g_Na=gna, E_Na=gena / gna, g_K=gk, E_K=gek / gk, g_L=gl, E_L=gel / gl)
    return set_params(model, values)


def _least_squares(A: Array, b: Array) -> Array:
    """argmin ‖A β − b‖ for a tall A (rows × p, small p) by modified Gram–Schmidt QR and
    back substitution, unrolled over the p columns. Plain array operations only: no
    LAPACK custom calls, which on the CPU can deadlock inside a vmapped line search."""
    p = A.shape[-1]
    qs, R = [], [[None] * p for _ in range(p)]
    for j in range(p):
        v = A[:, j]
        for i, q in enumerate(qs):
            R[i][j] = q @ v
            v = v - R[i][j] * q
        R[j][j] = jnp.sqrt(v @ v)
        qs.append(v / R[j][j])
    rhs = [q @ b for q in qs]
    beta = [None] * p
    for j in reversed(range(p)):
        acc = rhs[j]
        for i in range(j + 1, p):
            acc = acc - R[j][i] * beta[i]
        beta[j] = acc / R[j][j]
    return jnp.stack(beta)


def _initial_state(model, V0: Array, gates: HHState | None = None):
    if gates is None:
        return model.initial_state(V0)
    state = HHState(V=V0, m=gates.m, h=gates.h, n=gates.n)
    from_hh = getattr(model, "from_hh_state", None)
    return from_hh(state) if from_hh is not None else state


def simulate_trace(model, trace: Trace, *, solver: str = "rk4", substeps: int = 1, y0=None, **kwargs):
    """Simulate `model` on each protocol of `trace` (its current linearly interpolated),
    one neuron per protocol, from `y0` (default: steady state at the first observed V),
    saving V at the trace's samples. Returns the `Simulation` (V shape (T, P))."""
    stim = Sampled(trace.t, trace.current)
    y0 = model.initial_state(trace.V[:, 0]) if y0 is None else y0
    t0, t1 = trace.t0, trace.t1
    return simulate(model, stim, t0=t0, t1=t1, dt=trace.dt / substeps, solver=solver, y0=y0,
                    save_every=trace.dt, **kwargs)


def voltage_mse(model, trace: Trace, *, solver: str = "rk4", substeps: int = 1, **kwargs) -> Array:
    """Mean squared difference (mV²) between the simulated and the observed V over the
    whole trace (see the module docstring for when this is a poor loss). Spike times are
    not recorded (`max_spikes=0`), which keeps gradient checkpoints small."""
    kwargs.setdefault("max_spikes", 0)
    sim = simulate_trace(model, trace, solver=solver, substeps=substeps, **kwargs)
    return jnp.mean((sim.V.T - trace.V) ** 2)


def shooting_loss(model, trace: Trace, window_ms: float = 2.0, *, solver: str = "rk4", substeps: int = 1,
                  **kwargs) -> Array:
    """Multiple shooting: the trace is cut into windows of `window_ms`; every window is
    simulated (all windows of all protocols as one population, through diffrax) from the
    observed V at its start and the teacher-forced gates there, and compared with the
    observed V. Returns the mean squared error in mV²."""
    hh = as_hodgkin_huxley(model)
    dt = trace.dt
    w = max(2, int(round(window_ms / dt)))
    P, T = trace.V.shape
    n_win = (T - 1) // w
    if n_win < 1:
        raise ValueError(f"trace shorter than one shooting window of {window_ms} ms")
    gates = teacher_forced_gates(hh, trace.V, dt)

    def cut(x):  # (P, T) -> (P * n_win, w + 1): overlapping by one sample
        idx = jnp.arange(n_win)[:, None] * w + jnp.arange(w + 1)[None, :]
        return x[:, idx].reshape(P * n_win, w + 1)

    V_win, I_win = cut(trace.V), cut(trace.current)
    starts = HHState(V=V_win[:, 0], m=cut(gates.m)[:, 0], h=cut(gates.h)[:, 0], n=cut(gates.n)[:, 0])
    kwargs.setdefault("max_spikes", 0)
    local_t = trace.t[: w + 1] - trace.t[0]
    windows = Trace(local_t, I_win, V_win, dt, 0.0)
    sim = simulate_trace(model, windows, solver=solver, substeps=substeps,
                         y0=_initial_state(model, starts.V, starts), **kwargs)
    return jnp.mean((sim.V.T[:, 1:] - V_win[:, 1:]) ** 2)


# --- spike trains -----------------------------------------------------------------------

def spike_times_from_trace(trace: Trace, threshold: float) -> list[np.ndarray]:
    """Upward crossings of `threshold` (mV) per protocol, linearly interpolated (ms)."""
    t = np.asarray(trace.t)
    out = []
    for v in np.asarray(trace.V):
        k = np.flatnonzero((v[:-1] < threshold) & (v[1:] >= threshold))
        frac = (threshold - v[k]) / (v[k + 1] - v[k])
        out.append(t[k] + frac * (t[k + 1] - t[k]))
    return out


def pad_spike_times(trains, length: int | None = None) -> np.ndarray:
    """A list of spike-time arrays as one NaN-padded array (n_trains, length)."""
    length = max([len(s) for s in trains] + [1]) if length is None else length
    out = np.full((len(trains), length), np.nan)
    for i, s in enumerate(trains):
        s = np.asarray(s, dtype=float)[:length]
        out[i, : s.size] = s
    return out


def spike_timing_loss(spike_times: Array, target_times: Array, t1: float) -> Array:
    """Squared timing error (ms²) between NaN-padded spike trains (..., S), summed over
    spikes and averaged over trains. The k-th spike is matched to the k-th target spike;
    a spike without a partner (extra or missing) counts as if its partner sat at `t1`.
    Differentiable in `spike_times` (from `simulate`, which makes spike times
    differentiable); a missing spike contributes a constant, so combine with
    `van_rossum_distance` or a shorter trace when counts differ a lot."""
    S = max(spike_times.shape[-1], target_times.shape[-1])

    def pad(x):
        width = [(0, 0)] * (x.ndim - 1) + [(0, S - x.shape[-1])]
        return jnp.pad(x, width, constant_values=jnp.nan)

    a, b = pad(spike_times), pad(target_times)
    a_ok, b_ok = ~jnp.isnan(a), ~jnp.isnan(b)
    a_safe = jnp.where(a_ok, a, t1)
    b_safe = jnp.where(b_ok, b, t1)
    err = jnp.where(a_ok | b_ok, (a_safe - b_safe) ** 2, 0.0)
    return jnp.mean(jnp.sum(err, axis=-1))


def van_rossum_distance(a: Array, b: Array, tau: float) -> Array:
    """Van Rossum distance between spike trains (NaN-padded, shape (..., S)): each train
    is convolved with a causal exponential kernel e^{−t/τ} and D² = (1/τ)∫(f_a − f_b)² dt,
    in closed form D² = ½ Σ_ij [e^{−|a_i−a_j|/τ} + e^{−|b_i−b_j|/τ} − 2 e^{−|a_i−b_j|/τ}].
    Returns D (dimensionless; one unmatched spike gives √½). Smooth in the spike times."""

    def kernel_sum(x, y):
        xm, ym = ~jnp.isnan(x), ~jnp.isnan(y)
        xs, ys = jnp.where(xm, x, 0.0), jnp.where(ym, y, 0.0)
        k = jnp.exp(-jnp.abs(xs[..., :, None] - ys[..., None, :]) / tau)
        return jnp.sum(jnp.where(xm[..., :, None] & ym[..., None, :], k, 0.0), axis=(-2, -1))

    a, b = jnp.asarray(a), jnp.asarray(b)
    d2 = 0.5 * (kernel_sum(a, a) + kernel_sum(b, b) - 2 * kernel_sum(a, b))
    return jnp.sqrt(jnp.maximum(d2, 0.0) + 1e-30)


class SummaryStatistics(eqx.Module):
    """Features of a voltage response: spike count, first-spike latency (ms after
    `stimulus_onset`), mean ISI (ms; NaN with < 2 spikes), resting potential (mV: mean V
    before `stimulus_onset`)."""

    spike_count: Array
    first_spike_latency: Array
    mean_isi: Array
    resting_potential: Array


def summary_statistics(spike_times: Array, spike_counts: Array, ts: Array, V: Array,
                       stimulus_onset: float) -> SummaryStatistics:
    """`spike_times` (..., S) NaN-padded, `spike_counts` (...), `ts` (T,), `V` (..., T)."""
    first = spike_times[..., 0] - stimulus_onset
    idx = jnp.clip(spike_counts - 1, 0, spike_times.shape[-1] - 1)
    last = jnp.take_along_axis(spike_times, idx[..., None], axis=-1)[..., 0]
    n = spike_counts.astype(spike_times.dtype)
    isi = jnp.where(spike_counts >= 2, (last - spike_times[..., 0]) / jnp.maximum(n - 1, 1), jnp.nan)
    before = ts < stimulus_onset
    rest = jnp.sum(jnp.where(before, V, 0.0), axis=-1) / jnp.maximum(jnp.sum(before), 1).astype(V.dtype)
    return SummaryStatistics(n, first, isi, rest)


def summary_loss(stats: SummaryStatistics, target: SummaryStatistics,
                 scales=(1.0, 1.0, 1.0, 1.0)) -> Array:
    """Σ ((feature − target)/scale)² over count, latency (ms), ISI (ms), rest (mV),
    averaged over protocols; features undefined in either (NaN) are skipped. The count
    has no gradient (it is an integer); latency, ISI and rest do."""
    total = 0.0
    for got, want, s in zip(
        (stats.spike_count, stats.first_spike_latency, stats.mean_isi, stats.resting_potential),
        (target.spike_count, target.first_spike_latency, target.mean_isi, target.resting_potential),
        scales,
    ):
        ok = ~(jnp.isnan(got) | jnp.isnan(want))
        term = jnp.where(ok, ((jnp.where(ok, got, 0.0) - jnp.where(ok, want, 0.0)) / s) ** 2, 0.0)
        total = total + jnp.mean(term)
    return total
