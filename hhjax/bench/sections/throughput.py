"""Throughput: neuron-steps per second of `simulate` per model, size and dtype, beside hand-written scans."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...backends import tuned_model, tuning_for
from ...integrate import cast_floats, simulate
from ...models import LIF, SLIF2HH, HodgkinHuxley, tvlif2hh
from ...stimuli import Constant
from ..baselines import textbook_hh_scan, vector_field_scan
from ..timing import best_time, best_times_interleaved, first_call_time
from ..settings import DT, Settings


def population(model_name: str, n: int, dtype: str):
    """(model, stimulus, step ms) for a throughput row: constant currents spread over the
    range where the model fires (µA/cm²)."""
    if model_name == "hh":
        return HodgkinHuxley(), Constant(jnp.linspace(0.0, 20.0, n, dtype=dtype)), DT
    if model_name == "tvlif2hh":
        return tvlif2hh(HodgkinHuxley()), Constant(jnp.linspace(0.0, 20.0, n, dtype=dtype)), DT
    if model_name == "lif":
        return LIF(), Constant(jnp.linspace(0.0, 4.0, n, dtype=dtype)), DT
    if model_name == "slif2hh":
        return SLIF2HH(), Constant(jnp.linspace(0.0, 20.0, n, dtype=dtype)), SLIF2HH().dt
    raise ValueError(f"unknown model {model_name!r}")


def simulate_call(model_name: str, n: int, dtype: str, steps: int, place=None, tuning=None):
    """The timed `simulate` call of a throughput row (its spike counts); `place(stimulus)`,
    if given, puts the stimulus somewhere first (e.g. split over devices); `tuning`: the
    `Tuning` (default: the backend's, which splits large populations over several devices)."""
    model, stim, dt = population(model_name, n, dtype)
    stim = stim if place is None else place(stim)
    t1 = steps * dt
    # One slot per 4 ms: the fastest unit of every population here fires at intervals of
    # 5 ms or more (HH 11.6, LIF 6.7, s-LIF2HH 5.0 ms; measured), and an overflow raises.
    # The buffer is part of each call's cost (allocated and NaN-filled: 100,000 s-LIF2HH
    # units over 2,000 steps = 2 s need 508 slots, 203 MB).
    max_spikes = int(t1 / 4) + 8
    if model_name == "slif2hh":
        return lambda: simulate(model, stim, t1=t1, dtype=dtype, max_spikes=max_spikes, tuning=tuning).spike_counts
    return lambda: simulate(model, stim, t1=t1, dt=dt, solver="euler", dtype=dtype, max_spikes=max_spikes,
                            tuning=tuning).spike_counts


def throughput(settings: Settings, models=("hh", "tvlif2hh", "lif", "slif2hh"), log=print) -> list[dict]:
    """Neuron-steps per second of `simulate` (forward Euler, dt = 0.01 ms; s-LIF2HH: its own
    1 ms step, one unit of four neurons counted as one neuron) and, for HH, of the textbook
    scan and of a scan of hhjax's own vector field, at the same N, steps and dtype."""
    rows = []
    for dtype in settings.dtypes:
        for model_name in models:
            ns = settings.hh_ns if model_name == "hh" else settings.other_ns
            for n in ns:
                steps = settings.steps_for(n)
                call = simulate_call(model_name, n, dtype, steps)
                first = first_call_time(call)
                if model_name == "hh":  # timed interleaved with its baselines: fair ratios on a noisy machine
                    times = best_times_interleaved(dict(simulate=call, **_hh_baselines(n, dtype, steps)),
                                                   settings.repeats)
                    seconds = times.pop("simulate")
                else:
                    seconds, times = best_time(call, settings.repeats), {}
                row = dict(model=model_name, dtype=dtype, N=n, steps=steps, seconds=seconds,
                           per_s=n * steps / seconds, first_call_s=first, compile_s=max(first - seconds, 0.0))
                if model_name == "hh":
                    row.update({f"{name}_per_s": n * steps / t for name, t in times.items()})
                    row["ratio_vs_textbook_scan"] = row["per_s"] / row["textbook_scan_per_s"]
                    row["ratio_vs_same_vf_scan"] = row["per_s"] / row["vf_scan_per_s"]
                rows.append(row)
                log(_throughput_line(row))
    _relative_cost(rows)
    return rows


def _hh_baselines(n, dtype, steps) -> dict:
    """The two baselines of an HH row as calls: the textbook scan and a scan of hhjax's own
    (prepared) vector field, on the same population, steps and dtype."""
    model = HodgkinHuxley()
    y0 = model.initial_state(jnp.full((n,), -65.0, dtype))
    y0 = jax.tree.map(lambda x: x.astype(dtype), y0)
    current = jnp.linspace(0.0, 20.0, n, dtype=dtype)
    scan = textbook_hh_scan(steps, DT)
    prepared = cast_floats(tuned_model(model, tuning_for()), jnp.dtype(dtype))
    vf_scan = vector_field_scan(steps, DT)
    stim = Constant(current)
    return dict(textbook_scan=lambda: scan(y0.V, y0.m, y0.h, y0.n, current),
                vf_scan=lambda: vf_scan(prepared, y0, stim))


def _relative_cost(rows):
    """Cost per neuron-step relative to HH at the same dtype and N (where measured)."""
    hh = {(r["dtype"], r["N"]): r["per_s"] for r in rows if r["model"] == "hh"}
    for r in rows:
        ref = hh.get((r["dtype"], r["N"]))
        if ref is not None:
            r["cost_vs_hh"] = ref / r["per_s"]


def _throughput_line(r) -> str:
    extra = ""
    if "textbook_scan_per_s" in r:
        extra = (f"  textbook scan {r['textbook_scan_per_s']:.3g}/s (ratio {r['ratio_vs_textbook_scan']:.2f}), "
                 f"same-vector-field scan {r['vf_scan_per_s']:.3g}/s (ratio {r['ratio_vs_same_vf_scan']:.2f})")
    return (f"[throughput] {r['model']:<8} {r['dtype']} N={r['N']:<8} steps={r['steps']:<6} "
            f"{r['per_s']:.3g} neuron-steps/s, compile {r['compile_s']:.2f} s{extra}")
