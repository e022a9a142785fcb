"""`hhjax simulate`: one model, one stimulus, spike times as JSON (and a trace)."""

from __future__ import annotations

import json
import time

from ..parameters import model_params, set_params
from .common import MODELS, build_model, parse_params, versions
from .environment import enable_x64


def cmd_simulate(a) -> int:
    enable_x64()
    import jax
    import jax.numpy as jnp
    import numpy as np

    import hhjax as hj

    model = build_model(a.model, parse_params(a.param))
    stim = hj.parse_stimulus(a.stimulus)
    discrete = isinstance(model, hj.AbstractDiscreteNeuron)
    # --n gives N identical neurons: the population's shape comes from the state.
    y0 = model.initial_state()
    if a.n > 1:
        y0 = jax.tree.map(lambda x: jnp.broadcast_to(x, (a.n,)), y0)
    if discrete and a.dt is None:
        a.dt = float(model.dt)  # a discrete model steps with its own dt
    kw = dict(t1=a.t1, dt=a.dt, dtype=a.dtype, max_spikes=a.max_spikes, y0=y0)
    if not discrete:
        kw.update(solver=a.solver, rtol=a.rtol, atol=a.atol, threshold=a.threshold, progress=a.progress)
    elif a.threshold is not None:
        model = set_params(model, {"threshold": a.threshold})
    writes_trace = bool(a.out) and a.out.endswith(".npz")
    if writes_trace:
        if discrete:
            raise ValueError("--out *.npz writes a voltage trace; use a continuous model (hh, lif, tvlif2hh)")
        kw["save_every"] = a.save_every
    start = time.perf_counter()
    sim = hj.simulate(model, stim, **kw)
    wall = time.perf_counter() - start
    if writes_trace:
        return _write_trace(a, model, stim, sim, wall)
    spikes = sim.spike_list()
    if np.ndim(sim.spike_counts) == 0:
        spikes = [spikes]
    out = dict(
        model=a.model, stimulus=a.stimulus,
        settings=dict(t0=0.0, t1=a.t1, dt=a.dt, solver="discrete" if discrete else a.solver,
                      rtol=a.rtol, atol=a.atol, dtype=a.dtype, n=a.n,
                      threshold_mV=float(np.asarray(sim.threshold)), max_spikes=a.max_spikes),
        params=model_params(model), spike_times_ms=spikes,
        spike_counts=[len(s) for s in spikes], wall_time_s=wall, versions=versions(),
    )
    text = json.dumps(out, indent=1)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)
        print(f"{a.model}: {sum(out['spike_counts'])} spikes in {a.n} neuron(s); wrote {a.out}")
    else:
        print(text)
    return 0


def _write_trace(a, model, stim, sim, wall) -> int:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ..fitting.traces import Trace, save_trace

    t = np.asarray(sim.ts)
    V = np.asarray(sim.V).reshape(t.shape[0], -1).T  # (P, T)
    current = np.asarray(jax.vmap(stim)(jnp.asarray(t)))
    current = np.broadcast_to(current.reshape(t.shape[0], -1).T, V.shape)
    meta = dict(model=a.model, stimulus=a.stimulus, params=model_params(model),
                settings=dict(t1=a.t1, dt=a.dt, solver=a.solver, rtol=a.rtol, atol=a.atol, dtype=a.dtype,
                              save_every=a.save_every, n=a.n),
                spike_times_ms=sim.spike_list(), versions=versions())
    save_trace(a.out, Trace(jnp.asarray(t), jnp.asarray(current), jnp.asarray(V)), meta)
    print(f"{a.model}: {V.shape[0]} trace(s) of {t.shape[0]} samples every {a.save_every} ms "
          f"({wall:.2f} s); wrote {a.out}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("simulate", help="simulate one model and write its spike times as JSON")
    s.add_argument("--model", required=True, help=f"one of {', '.join(MODELS)}")
    s.add_argument("--stimulus", default="const:10",
                   help="const:I | step:I_off,I_on,t_on | sine:I0,A,period | square:I_low,I_high,period | "
                        "sawtooth:lo,hi,period | triangle:lo,hi,period | ramp:I0,slope | "
                        "pulses:amp,width,period | ou:mean,sigma,tau,t1[,seed] | paper:NAME (µA/cm², ms)")
    s.add_argument("--t1", type=float, default=100.0, help="end time (ms)")
    s.add_argument("--dt", type=float, default=None, help="step (ms); initial step for adaptive solvers")
    s.add_argument("--solver", default="tsit5", help="euler, heun, rk4, tsit5, dopri5, dopri8, kvaerno5, expeuler, ...")
    s.add_argument("--rtol", type=float, default=1e-6)
    s.add_argument("--atol", type=float, default=1e-8)
    s.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    s.add_argument("--n", type=int, default=1, help="population size (identical neurons)")
    s.add_argument("--threshold", type=float, default=None, help="spike threshold (mV); default per model")
    s.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a model parameter")
    s.add_argument("--max-spikes", type=int, default=1024)
    s.add_argument("--progress", action="store_true")
    s.add_argument("--save-every", type=float, default=0.01,
                   help="sample interval (ms) of the trace written by --out FILE.npz")
    s.add_argument("--out", default=None,
                   help="write JSON spike times here (default: stdout); a name ending in .npz writes a "
                        "voltage trace instead (t ms, I µA/cm², V mV; the format `hhjax fit` reads)")
    s.set_defaults(func=cmd_simulate)
