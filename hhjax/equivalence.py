"""The main job: HH vs tv-LIF2HH vs s-LIF2HH on the paper's five waveforms (spec §3.1)."""

from __future__ import annotations

import numpy as np

from .paper import compare_spike_trains, hh_chain_spikes, slif2hh_chain_spikes
from .paper.fitted import fitted_slif2hh
from .paper.waveforms import paper_waveforms


def run_equivalence(*, dt: float = 0.001, t1: float = 80.0, solver: str = "euler", dtype=None,
                    save_every: float = 0.01) -> dict:
    """Simulate the paper's HH1 → HH2 chain as HH and as tv-LIF2HH, and the two-layer
    s-LIF2HH, for each waveform. Returns a dict with per-waveform rows and traces."""
    waves = paper_waveforms()
    stimuli = list(waves.values())
    hh, sim_hh = hh_chain_spikes(stimuli, form="hh", dt=dt, t1=t1, solver=solver, dtype=dtype,
                                 save_every=save_every)
    tv, sim_tv = hh_chain_spikes(stimuli, form="tvlif2hh", dt=dt, t1=t1, solver=solver, dtype=dtype,
                                 save_every=save_every)
    sl = slif2hh_chain_spikes(stimuli, t1=t1, dtype=dtype)
    unit, weight, _ = fitted_slif2hh()
    fitted = slif2hh_chain_spikes(stimuli, model=unit, weight=weight, t1=t1, dtype=dtype)
    V_hh = np.asarray(sim_hh.V)
    V_tv = np.asarray(sim_tv.V)
    rows = []
    for i, name in enumerate(waves):
        cmp_tv = compare_spike_trains(hh[i], tv[i])
        cmp_sl = compare_spike_trains(hh[i], sl[i])
        cmp_fit = compare_spike_trains(hh[i], fitted[i])
        rows.append(dict(
            waveform=name,
            hh_spikes=len(hh[i]),
            tvlif2hh_spikes=len(tv[i]),
            tvlif2hh_max_dt_ms=cmp_tv.max_abs_difference_ms,
            tvlif2hh_max_dV_mV=float(np.max(np.abs(V_tv[:, 2 * i:2 * i + 2] - V_hh[:, 2 * i:2 * i + 2]))),
            slif2hh_spikes=len(sl[i]),
            slif2hh_isi_diff_ms=cmp_sl.mean_isi_difference_ms,
            slif2hh_normalised_error=cmp_sl.normalised_error,
            fitted_slif2hh_spikes=len(fitted[i]),
            fitted_slif2hh_isi_diff_ms=cmp_fit.mean_isi_difference_ms,
            fitted_slif2hh_normalised_error=cmp_fit.normalised_error,
            hh_spike_times_ms=hh[i], tvlif2hh_spike_times_ms=tv[i], slif2hh_spike_times_ms=sl[i],
            fitted_slif2hh_spike_times_ms=fitted[i],
        ))
    return dict(rows=rows, settings=dict(dt=dt, t1=t1, solver=solver, dtype=str(sim_hh.V.dtype)),
                ts=np.asarray(sim_hh.ts), V_hh=V_hh, V_tvlif2hh=V_tv, stimuli=waves)


def format_table(rows) -> str:
    def f(x, fmt):
        return "—" if x is None else format(x, fmt)

    head = (f"{'waveform':<9} {'HH':>3} {'tvLIF2HH':>8} {'max|Δt| ms':>10} {'max|ΔV| mV':>10} "
            f"{'sLIF2HH':>7} {'norm. err':>9} {'fitted':>6} {'norm. err':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['waveform']:<9} {r['hh_spikes']:>3} {r['tvlif2hh_spikes']:>8} "
            f"{f(r['tvlif2hh_max_dt_ms'], '.2e'):>10} {r['tvlif2hh_max_dV_mV']:>10.2e} "
            f"{r['slif2hh_spikes']:>7} {f(r['slif2hh_normalised_error'], '.4f'):>9} "
            f"{r['fitted_slif2hh_spikes']:>6} {f(r['fitted_slif2hh_normalised_error'], '.4f'):>9}"
        )
    return "\n".join(lines)


def plot_equivalence(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    ts = result["ts"]
    fig, axes = plt.subplots(len(rows), 2, figsize=(13, 2.2 * len(rows)), sharex=True)
    for i, r in enumerate(rows):
        ax = axes[i, 0]
        ax.plot(ts, result["V_hh"][:, 2 * i + 1], lw=1.4, label="HH2 (HH)")
        ax.plot(ts, result["V_tvlif2hh"][:, 2 * i + 1], "--", lw=1.0, label="HH2 (tv-LIF2HH)")
        ax.set_ylabel(f"{r['waveform']}\nV (mV)")
        if i == 0:
            ax.legend(loc="upper right", fontsize=7)
            ax.set_title("output neuron: HH vs four-tv-LIF wiring")
        ax = axes[i, 1]
        stim = result["stimuli"][r["waveform"]]
        ax.plot(ts, np.asarray(stim(ts)), color="0.6", lw=0.8)
        ax2 = ax.twinx()
        ax2.eventplot([r["hh_spike_times_ms"], r["slif2hh_spike_times_ms"], r["fitted_slif2hh_spike_times_ms"]],
                      lineoffsets=[2, 1, 0], colors=["C0", "C3", "C2"], linelengths=0.8)
        ax2.set_yticks([0, 1, 2], ["fitted s-LIF2HH", "s-LIF2HH", "HH"])
        ax.set_ylabel("I (µA/cm²)")
        if i == 0:
            ax.set_title("spikes: HH vs s-LIF2HH (grey: input)")
    axes[-1, 0].set_xlabel("t (ms)")
    axes[-1, 1].set_xlabel("t (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
