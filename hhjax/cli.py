"""Command line: `hhjax simulate ...` and `hhjax equivalence` (the main job)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .parameters import model_params, set_params


def _enable_x64():
    import jax

    jax.config.update("jax_enable_x64", True)


MODELS = ("hh", "hh-shifted", "lif", "tvlif2hh", "tvlif2hh-gates", "slif2hh")


def build_model(name: str, params: dict):
    """A model by CLI name, with `params` overriding its fields."""
    import hhjax as hj

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if name in ("hh", "hh-shifted", "tvlif2hh", "tvlif2hh-gates"):
        base = hj.HodgkinHuxley.shifted() if name == "hh-shifted" else hj.HodgkinHuxley()
        base = set_params(base, params)
        if name.startswith("tvlif2hh"):
            return hj.tvlif2hh(base, "gates" if name.endswith("gates") else "channels")
        return base
    if name == "lif":
        return set_params(hj.LIF(), params)
    return set_params(hj.SLIF2HH(), params)


def _parse_params(items) -> dict:
    """`--param NAME=VALUE` options as {name: float}."""
    params = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        params[key.strip()] = float(val)
    return params


def _versions() -> dict:
    import diffrax
    import equinox
    import jax
    import jaxlib

    import hhjax

    return dict(hhjax=hhjax.__version__, jax=jax.__version__, jaxlib=jaxlib.__version__,
                diffrax=diffrax.__version__, equinox=equinox.__version__, python=sys.version.split()[0])


def cmd_simulate(a) -> int:
    _enable_x64()
    import jax
    import jax.numpy as jnp
    import numpy as np

    import hhjax as hj

    model = build_model(a.model, _parse_params(a.param))
    stim = hj.parse_stimulus(a.stimulus)
    discrete = isinstance(model, hj.AbstractDiscreteNeuron)
    # --n gives N identical neurons: the population's shape comes from the state.
    y0 = model.initial_state()
    if a.n > 1:
        y0 = jax.tree.map(lambda x: jnp.broadcast_to(x, (a.n,)), y0)
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
        spike_counts=[len(s) for s in spikes], wall_time_s=wall, versions=_versions(),
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

    from .fitting.traces import Trace, save_trace

    t = np.asarray(sim.ts)
    V = np.asarray(sim.V).reshape(t.shape[0], -1).T  # (P, T)
    current = np.asarray(jax.vmap(stim)(jnp.asarray(t)))
    current = np.broadcast_to(current.reshape(t.shape[0], -1).T, V.shape)
    meta = dict(model=a.model, stimulus=a.stimulus, params=model_params(model),
                settings=dict(t1=a.t1, dt=a.dt, solver=a.solver, rtol=a.rtol, atol=a.atol, dtype=a.dtype,
                              save_every=a.save_every, n=a.n),
                spike_times_ms=sim.spike_list(), versions=_versions())
    save_trace(a.out, Trace(jnp.asarray(t), jnp.asarray(current), jnp.asarray(V)), meta)
    print(f"{a.model}: {V.shape[0]} trace(s) of {t.shape[0]} samples every {a.save_every} ms "
          f"({wall:.2f} s); wrote {a.out}")
    return 0


FIT_MODELS = ("hh", "hh-shifted", "tvlif2hh", "slif2hh")


def cmd_fit(a) -> int:
    if a.dtype == "float64":
        _enable_x64()
    import jax
    import numpy as np

    from . import fitting as hf
    from .parameters import get_param

    if a.model not in FIT_MODELS:
        raise ValueError(f"unknown model {a.model!r} for fit; choose from {', '.join(FIT_MODELS)}")
    traces = [hf.load_trace(p) for p in a.target]
    trace = hf.stack_traces(traces)
    model = build_model(a.model, _parse_params(a.param))
    free = [n.strip() for n in a.fit.split(",") if n.strip()] if a.fit else None
    key = jax.random.PRNGKey(a.seed)
    start = time.perf_counter()
    if a.model == "slif2hh":
        from .fitting.slif2hh import SLIF2HH_FREE, fit_slif2hh
        from .stimuli import Sampled

        threshold = a.threshold
        if threshold is None:
            v = np.asarray(trace.V)
            threshold = 0.5 * (float(v.min()) + float(v.max()))
        targets = hf.spike_times_from_trace(trace, threshold)
        t0 = float(trace.t[0])
        stimuli = [Sampled(trace.t - t0, trace.current[i]) for i in range(trace.n_protocols)]
        res = fit_slif2hh(stimuli, [t - t0 for t in targets], base=model, free=free or SLIF2HH_FREE,
                          starts=a.starts, steps=a.steps, iterations=a.steps, key=key, t1=float(trace.t[-1]) - t0,
                          learning_rate=a.lr or 0.03, perturbation=a.perturbation, chain=False,
                          progress=not a.no_progress, checkpoint_dir=a.checkpoint, resume=a.resume, dtype=a.dtype)
        fitted, names = res.model, list(free or SLIF2HH_FREE)
        result = dict(loss=res.score, method="cross-entropy search on the exact timing score",
                      spike_times_ms=res.spikes, target_spike_times_ms=[t.tolist() for t in targets],
                      threshold_mV=threshold,
                      comparison=[c._asdict() for c in res.comparison])
    else:
        if not free:
            raise ValueError("--fit NAME,NAME,... is required (e.g. --fit g_Na,g_K,g_L)")
        fit = hf.fit_model(model, trace, free, loss=a.loss, starts=a.starts, steps=a.steps, optimizer=a.optimizer,
                           learning_rate=a.lr, key=key, perturbation=a.perturbation, checkpoint_dir=a.checkpoint,
                           checkpoint_every=a.checkpoint_every, resume=a.resume, progress=not a.no_progress,
                           window_ms=a.window_ms, burn_in_ms=a.burn_in_ms)
        fitted, names = fit.model, list(fit.space.names)
        history = np.asarray(fit.result.history)
        result = dict(loss=fit.result.loss, best_start=fit.result.best_start,
                      loss_per_start=np.asarray(fit.result.loss_per_start).tolist(),
                      loss_history_best_start=history[:, fit.result.best_start].tolist(),
                      loss_history_min=np.nanmin(history, axis=1).tolist(),
                      fitted={n: np.asarray(get_param(fitted, n)).tolist() for n in names},
                      fitted_per_start={n: np.asarray(v).tolist() for n, v in fit.params_per_start.items()})
    wall = time.perf_counter() - start
    out = dict(model=a.model, params=model_params(fitted), free=names, **result,
               settings=dict(targets=a.target, loss=a.loss, optimizer=a.optimizer, lr=a.lr, starts=a.starts,
                             steps=a.steps, seed=a.seed, perturbation=a.perturbation, window_ms=a.window_ms,
                             burn_in_ms=a.burn_in_ms, dtype=a.dtype, devices=len(jax.devices()),
                             device=str(jax.devices()[0].platform)),
               wall_time_s=wall, versions=_versions())
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"fit {a.model}: loss {out['loss']:.4g} after {a.steps} steps × {a.starts} starts "
          f"in {wall:.1f} s; wrote {a.out}")
    for n in names:
        print(f"  {n} = {np.asarray(get_param(fitted, n)).tolist()}")
    return 0


def cmd_equivalence(a) -> int:
    _enable_x64()
    from .equivalence import format_table, plot_equivalence, run_equivalence

    start = time.perf_counter()
    res = run_equivalence(dt=a.dt, t1=a.t1, solver=a.solver, dtype=a.dtype)
    wall = time.perf_counter() - start
    print(f"HH vs tv-LIF2HH vs s-LIF2HH on the paper's waveforms (solver {a.solver}, dt {a.dt} ms, "
          f"{a.t1} ms, {res['settings']['dtype']}; s-LIF2HH joint reset, dt 1 ms)")
    print(format_table(res["rows"]))
    print(f"wall time {wall:.1f} s")
    if a.figure:
        plot_equivalence(res, a.figure)
        print(f"wrote {a.figure}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(dict(rows=res["rows"], settings=res["settings"], versions=_versions()), fh, indent=1)
        print(f"wrote {a.out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="hhjax", description="Differentiable neuron dynamics in JAX.")
    sub = p.add_subparsers(dest="command", required=True)

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

    f = sub.add_parser("fit", help="fit model parameters to voltage traces (.npz)")
    f.add_argument("--target", action="append", required=True, help="trace file (.npz: t, I, V); repeatable")
    f.add_argument("--model", required=True, help=f"one of {', '.join(FIT_MODELS)}")
    f.add_argument("--fit", default=None, help="comma-separated free parameters, e.g. g_Na,g_K,E_L or "
                                                "alpha_m.v_half (default for slif2hh: all but rest)")
    f.add_argument("--param", action="append", metavar="NAME=VALUE", help="initial guess for a parameter")
    f.add_argument("--starts", type=int, default=8, help="starting points fitted at once")
    f.add_argument("--steps", type=int, default=200, help="optimiser steps (slif2hh: search iterations)")
    f.add_argument("--loss", default="equation", help="equation, equation-projected, shooting or mse")
    f.add_argument("--optimizer", default="adam", choices=("adam", "lbfgs"))
    f.add_argument("--lr", type=float, default=None, help="learning rate (adam default 0.01)")
    f.add_argument("--perturbation", type=float, default=0.5, help="starts: values × (1 ± this)")
    f.add_argument("--window-ms", type=float, default=0.1, help="equation-error window (ms)")
    f.add_argument("--burn-in-ms", type=float, default=0.0, help="ignore this much of each trace's start (ms)")
    f.add_argument("--threshold", type=float, default=None, help="slif2hh: spike threshold of the targets (mV)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    f.add_argument("--checkpoint", default=None, help="directory for checkpoints (every --checkpoint-every steps)")
    f.add_argument("--checkpoint-every", type=int, default=25)
    f.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint")
    f.add_argument("--no-progress", action="store_true")
    f.add_argument("--out", default="fit.json")
    f.set_defaults(func=cmd_fit)

    e = sub.add_parser("equivalence", help="HH vs tv-LIF2HH vs s-LIF2HH table and figure (main job)")
    e.add_argument("--dt", type=float, default=0.001)
    e.add_argument("--t1", type=float, default=80.0)
    e.add_argument("--solver", default="euler")
    e.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    e.add_argument("--figure", default="equivalence.png")
    e.add_argument("--out", default=None, help="also write the table as JSON")
    e.set_defaults(func=cmd_equivalence)

    a = p.parse_args(argv)
    if getattr(a, "n", 1) < 1:
        p.error("--n must be >= 1")
    if a.command == "fit" and (a.starts < 1 or a.steps < 1):
        p.error("--starts and --steps must be >= 1")
    if a.command == "fit" and a.resume and not a.checkpoint:
        p.error("--resume needs --checkpoint DIR")
    if a.command == "simulate" and a.model == "slif2hh" and a.dt is None:
        a.dt = 1.0
    try:
        return a.func(a)
    except (ValueError, TypeError) as err:
        print(f"hhjax: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"hhjax: {a.command} failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
