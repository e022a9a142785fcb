"""`hhjax network cobahh|coba|cuba`: a standard network benchmark (Brette et al. 2007),
its rate and CV(ISI) as JSON, and a raster + population-rate figure."""

from __future__ import annotations

import json
import sys
import time

from .common import versions
from .environment import enable_x64


def cmd_network(a) -> int:
    enable_x64()
    import jax.numpy as jnp

    from .. import synaptic as sy

    start = time.perf_counter()
    net, state = sy.BUILDERS[a.benchmark](a.n, seed=a.seed, connect=a.connect, dtype=jnp.dtype(a.dtype))
    build_s = time.perf_counter() - start
    progress = a.progress if a.progress is not None else (a.n * a.t1 / a.dt >= 2e7 and sys.stderr.isatty())
    run = sy.run_network(net, a.t1, dt=a.dt, initial=state, solver=a.solver, seed=a.seed, progress=progress)
    out = dict(
        benchmark=a.benchmark, n=a.n, t1_ms=a.t1, dt_ms=a.dt, seed=a.seed, solver=a.solver, dtype=a.dtype,
        connect=a.connect or sy.standard.default_connect(a.n), n_synapses=net.n_synapses,
        rate_hz=run.rate_hz(), cv_isi=run.cv_isi(), n_spikes=run.n_spikes,
        rate_hz_by_population={k: run.rate_hz([k]) for k in net.neuron_populations},
        synaptic_events=run.synaptic_events(), wall_s=run.wall_s, compile_s=run.compile_s, build_s=build_s,
        simulated_s_per_wall_s=a.t1 * 1e-3 / run.wall_s, versions=versions(),
    )
    text = json.dumps(out, indent=1)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)
    print(f"{a.benchmark} N={a.n}: {out['rate_hz']:.2f} Hz, CV(ISI) {out['cv_isi']:.3f}, {run.n_spikes} spikes; "
          f"{a.t1:g} ms simulated in {run.wall_s:.2f} s (+{run.compile_s:.2f} s compile)"
          + (f"; wrote {a.out}" if a.out else ""))
    if not a.out:
        print(text)
    if a.figure:
        _figure(run, a.figure, f"{a.benchmark} N={a.n}, seed {a.seed}")
        print(f"wrote {a.figure}")
    return 0


def _figure(run, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..synaptic import population_rate

    fig, (ax, ar) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    offset = 0
    for i, (name, trains) in enumerate(run.spikes.items()):
        shown = trains.index < 400  # at most 400 neurons per population in the raster
        ax.plot(trains.time[shown], trains.index[shown] + offset, ",", color=f"C{i}", label=name)
        offset += min(trains.n, 400)
        t, r = population_rate(run.counts[name], trains.n, run.dt, bin_ms=1.0)
        ar.plot(run.t0 + t, r, color=f"C{i}", lw=0.8, label=name)
    ax.set(ylabel="neuron", title=title)
    ax.legend(loc="upper right", markerscale=20)
    ar.set(xlabel="time (ms)", ylabel="rate (Hz)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(sub) -> None:
    from ..synaptic.standard import BENCHMARKS

    s = sub.add_parser("network", help="run a standard network benchmark (COBAHH, COBA, CUBA)")
    s.add_argument("benchmark", choices=BENCHMARKS)
    s.add_argument("--n", type=int, default=4000, help="neurons (80%% excitatory)")
    s.add_argument("--t1", type=float, default=1000.0, help="simulated time (ms)")
    s.add_argument("--dt", type=float, default=0.1, help="step (ms)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--solver", default="expeuler", help="expeuler (default), euler, heun, midpoint, rk4")
    s.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    s.add_argument("--connect", default=None, choices=("probability", "in-degree"),
                   help="p = 0.02 (default up to 4,000 neurons) or the same in-degree for every neuron (beyond)")
    s.add_argument("--progress", action="store_true", default=None, help="print progress to stderr")
    s.add_argument("--out", default=None, help="write the JSON here (default: print it)")
    s.add_argument("--figure", default="network.png", help="raster + rate figure ('' for none)")
    s.set_defaults(func=cmd_network)
