"""Voltage traces to fit: time (ms), injected current (µA/cm²) and membrane potential
(mV) on one uniform time grid, one row per protocol.

File format (`.npz`, written by `hhjax simulate --out trace.npz` and by `save_trace`; a
recording of your own in this format works the same):

- `t`: shape (T,), ms, strictly increasing with a uniform step;
- `I`: shape (T,) or (P, T), µA/cm², the current at each sample;
- `V`: shape like `I`, mV;
- optional `meta`: a JSON string (model, parameters, stimulus, settings) — informative only.
"""

from __future__ import annotations

import json
import pathlib

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


class Trace(eqx.Module):
    """`t` (T,) ms; `current` and `V` (P, T): P protocols on the same grid of step `dt`
    ms (static, so that a trace can be traced by `jit` and still know its step)."""

    t: Array
    current: Array
    V: Array
    dt: float = eqx.field(static=True, default=None)
    t0: float = eqx.field(static=True, default=None)

    def __post_init__(self):
        if self.dt is None:
            object.__setattr__(self, "dt", float(np.asarray(self.t[1]) - np.asarray(self.t[0])))
        if self.t0 is None:
            object.__setattr__(self, "t0", float(np.asarray(self.t[0])))

    @property
    def t1(self) -> float:
        """Last sample time (ms), known without reading the (possibly traced) array."""
        return self.t0 + (self.t.shape[0] - 1) * self.dt

    @property
    def n_protocols(self) -> int:
        return int(self.V.shape[0])

    def with_noise(self, key, sigma_mV: float) -> "Trace":
        """The same trace with i.i.d. Gaussian noise of s.d. `sigma_mV` added to V."""
        import jax

        noise = sigma_mV * jax.random.normal(key, self.V.shape, self.V.dtype)
        return Trace(self.t, self.current, self.V + noise, self.dt, self.t0)

    def smoothed(self, window_ms: float, order: int = 3) -> "Trace":
        """V smoothed by a Savitzky–Golay filter (least-squares polynomial of `order` over
        a centred window of `window_ms`), which keeps spike shapes far better than a moving
        average. For noisy recordings before teacher forcing: noise in the V that drives
        the gates biases the fit, smoothing trades that for a small shape error."""
        half = max(1, int(round(window_ms / (2 * self.dt))))
        if 2 * half + 1 <= order:
            raise ValueError(f"smoothing window of {window_ms} ms is too short for order {order}")
        k = np.arange(-half, half + 1, dtype=float)
        basis = np.vander(k, order + 1, increasing=True)
        coeffs = np.linalg.pinv(basis)[0]  # value of the fitted polynomial at the centre
        V = np.asarray(self.V)
        padded = np.concatenate([np.repeat(V[:, :1], half, 1), V, np.repeat(V[:, -1:], half, 1)], axis=1)
        out = np.stack([np.convolve(row, coeffs[::-1], mode="valid") for row in padded])
        return Trace(self.t, self.current, jnp.asarray(out, self.V.dtype), self.dt, self.t0)

    def window(self, t_start: float, t_stop: float) -> "Trace":
        """Samples with t_start ≤ t ≤ t_stop (ms)."""
        t = np.asarray(self.t)
        keep = np.flatnonzero((t >= t_start - 1e-9) & (t <= t_stop + 1e-9))
        return Trace(self.t[keep], self.current[:, keep], self.V[:, keep], self.dt)


def make_trace(t, current, V, *, name: str = "trace") -> Trace:
    """Validate and build a `Trace` (float64 where JAX allows, else float32). Clear errors
    for mismatched shapes, NaN/inf, fewer than 3 samples or a non-uniform grid."""
    t = np.asarray(t, dtype=float)
    current = np.asarray(current, dtype=float)
    V = np.asarray(V, dtype=float)
    if t.ndim != 1:
        raise ValueError(f"{name}: t must be 1-D, got shape {t.shape}")
    if t.shape[0] < 3:
        raise ValueError(f"{name}: a trace needs at least 3 samples, got {t.shape[0]}")
    current = current[None] if current.ndim == 1 else current
    V = V[None] if V.ndim == 1 else V
    for what, arr in (("I", current), ("V", V)):
        if arr.ndim != 2 or arr.shape[1] != t.shape[0]:
            raise ValueError(f"{name}: {what} has shape {arr.shape} but t has {t.shape[0]} samples; "
                             f"expected ({t.shape[0]},) or (P, {t.shape[0]})")
        if not np.all(np.isfinite(arr)):
            bad = int(np.sum(~np.isfinite(arr)))
            raise ValueError(f"{name}: {what} contains {bad} NaN/inf value(s)")
    if current.shape != V.shape:
        raise ValueError(f"{name}: I has shape {current.shape} but V has {V.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name}: t contains NaN/inf")
    steps = np.diff(t)
    if not np.all(steps > 0):
        raise ValueError(f"{name}: t must be strictly increasing")
    if np.max(np.abs(steps - steps.mean())) > 1e-6 * steps.mean() + 1e-12:
        raise ValueError(f"{name}: samples must be uniformly spaced (steps from {steps.min():g} to "
                         f"{steps.max():g} ms); resample first")
    dtype = jnp.result_type(float)
    return Trace(jnp.asarray(t, dtype), jnp.asarray(current, dtype), jnp.asarray(V, dtype), float(steps.mean()))


def stack_traces(traces: list[Trace]) -> Trace:
    """Several traces on one time grid as one `Trace` with their protocols stacked."""
    if not traces:
        raise ValueError("no traces given")
    t = np.asarray(traces[0].t)
    for k, tr in enumerate(traces[1:], start=2):
        other = np.asarray(tr.t)
        if other.shape != t.shape or not np.allclose(other, t, rtol=0, atol=1e-9):
            raise ValueError(f"targets must share one time grid: target 1 has {t.shape[0]} samples over "
                             f"[{t[0]:g}, {t[-1]:g}] ms, target {k} has {other.shape[0]} over "
                             f"[{other[0]:g}, {other[-1]:g}] ms")
    return Trace(traces[0].t, jnp.concatenate([tr.current for tr in traces]),
                 jnp.concatenate([tr.V for tr in traces]), traces[0].dt, traces[0].t0)


def save_trace(path, trace: Trace, meta: dict | None = None) -> None:
    """Write `trace` as `.npz` (see the module docstring for the format)."""
    arrays = dict(t=np.asarray(trace.t), I=np.asarray(trace.current), V=np.asarray(trace.V))
    if arrays["V"].shape[0] == 1:
        arrays["I"], arrays["V"] = arrays["I"][0], arrays["V"][0]
    np.savez(path, meta=json.dumps(meta or {}), **arrays)


def load_trace(path) -> Trace:
    """Read a `.npz` trace file; `ValueError` naming what is wrong with it."""
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"trace file {str(path)!r} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user error here
        raise ValueError(f"{path}: not a readable .npz trace file ({e})") from None
    missing = [k for k in ("t", "I", "V") if k not in data.files]
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing}; a trace file holds t (ms), I (µA/cm²), V (mV)")
    return make_trace(data["t"], data["I"], data["V"], name=str(path))


def trace_meta(path) -> dict:
    data = np.load(path, allow_pickle=False)
    return json.loads(str(data["meta"])) if "meta" in data.files else {}
