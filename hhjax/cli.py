"""Command line: `hhjax simulate ...` and `hhjax equivalence` (the main job)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from .parameters import model_params, set_params


def _enable_x64():
    import jax

    jax.config.update("jax_enable_x64", True)


def _enable_compile_cache():
    """Keep compiled programs on disk between runs (JAX's persistent compilation cache), so
    that a repeated `hhjax` command skips XLA compilation: in `$HHJAX_COMPILE_CACHE`, by
    default `~/.cache/hhjax/xla`; set it to an empty string to switch the cache off."""
    import os

    import jax

    path = os.environ.get("HHJAX_COMPILE_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "hhjax", "xla"))
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


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
    params = dict(params)
    dt = params.pop("dt", None)  # the unit's step (static): `--param dt=0.25`
    return set_params(hj.SLIF2HH() if dt is None else hj.SLIF2HH.matlab(dt), params)


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
                           window_ms=a.window_ms, burn_in_ms=a.burn_in_ms, robust_mV=a.robust_mv)
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
                             burn_in_ms=a.burn_in_ms, robust_mV=a.robust_mv, dtype=a.dtype, devices=len(jax.devices()),
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


def cmd_bench(a) -> int:
    import jax

    from .bench.suite import SECTIONS, Settings, run_suite

    if a.device == "gpu":
        try:
            device = jax.devices("gpu")[0]
        except RuntimeError:
            raise ValueError("--device gpu: JAX sees no GPU here (install jax[cuda12] on a GPU machine)") from None
        settings = Settings.full() if a.full else Settings.gpu()
    else:
        device = jax.devices("cpu")[0]
        settings = Settings.full() if a.full else Settings.quick()
    if a.dtype:
        dtypes = tuple(x.strip() for x in a.dtype.split(","))
        bad = [d for d in dtypes if d not in ("float32", "float64")]
        if bad:
            raise ValueError(f"unknown dtype(s) {bad}; use float32 and/or float64")
        settings = dataclasses.replace(settings, dtypes=dtypes)
    sections = tuple(x.strip() for x in a.only.split(",")) if a.only else SECTIONS
    if a.skip:
        sections = tuple(s for s in sections if s not in {x.strip() for x in a.skip.split(",")})
    peer_names = None
    if a.peers:
        from .bench.peers import RUNNERS

        peer_names = [x.strip() for x in a.peers.split(",")]
        unknown = [x for x in peer_names if x not in RUNNERS]
        if unknown:
            raise ValueError(f"unknown peer(s) {unknown}; choose from {sorted(RUNNERS)}")
    with jax.default_device(device):
        run_suite(settings, sections, out=a.out, plots=a.plot or None, peer_names=peer_names)
    return 0


def _network_data(a):
    from .networks import load_multitask_pickle, two_digit_dataset

    if a.data:
        return load_multitask_pickle(a.data)
    return two_digit_dataset(a.n_train, a.n_test)


def _ints(text, what):
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--{what} must be comma-separated integers, got {text!r}") from None


def cmd_train(a) -> int:
    import numpy as np

    from .networks.experiments import NOISE_LEVELS, paper_flops, parse_model_spec, step_cost
    from .networks.train import TrainConfig, train

    name, readout = parse_model_spec(a.model if ":" in a.model or not a.readout else f"{a.model}:{a.readout}")
    seeds = _ints(a.seeds, "seeds")
    data = _network_data(a)
    runs = []
    for seed in seeds:
        cfg = TrainConfig(model=name, hidden=a.hidden, steps=a.steps, epochs=a.epochs, batch=a.batch, lr=a.lr,
                          seed=seed, readout=readout, surrogate=a.surrogate, width=a.width, noise=a.noise,
                          bottleneck=a.bottleneck, beta=a.beta)
        r = train(cfg, data, progress=not a.no_progress, eval_noise=NOISE_LEVELS, log=print)
        r.pop("model")
        runs.append(r)
        print(f"seed {seed}: test accuracy per task {', '.join(f'{x:.4f}' for x in r['accuracy'])}")
    acc = np.asarray([r["accuracy"] for r in runs])
    mean, sd = acc.mean(0), (acc.std(0, ddof=1) if len(runs) > 1 else np.zeros(acc.shape[1]))
    print(f"{a.model}: accuracy " + ", ".join(f"task {k + 1} {m:.4f} ± {d:.4f}" for k, (m, d) in enumerate(zip(mean, sd)))
          + f" over {len(runs)} seed(s)")
    out = dict(model=a.model, readout=readout, data=data.name, accuracy=dict(mean=mean.tolist(), sd=sd.tolist()),
               runs=runs, params=runs[0]["params"], flops=paper_flops(name, data.n_inputs, a.hidden, a.steps),
               cost=step_cost(cfg, data), versions=_versions())
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1, default=str)
    print(f"wrote {a.out}")
    if a.figure:
        _plot_training(runs, a.model, a.figure)
        print(f"wrote {a.figure}")
    return 0


def _plot_training(runs, model, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in runs:
        h = r["accuracy_history"]
        for k in range(len(h[0])):
            ax.plot(range(1, len(h) + 1), [e[k] for e in h], "-o" if k == 0 else "--s", ms=3,
                    label=f"seed {r['config']['seed']} task {k + 1}")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=f"{model}")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_compare(a) -> int:
    import dataclasses

    from .networks.experiments import ComparisonSettings, report_table, run_comparison

    settings = ComparisonSettings.quick() if a.quick else ComparisonSettings()
    changes = {}
    if a.models:
        changes["models"] = tuple(x.strip() for x in a.models.split(","))
    if a.seeds:
        changes["seeds"] = _ints(a.seeds, "seeds")
    for name in ("hidden", "epochs"):
        if getattr(a, name) is not None:
            changes[name] = getattr(a, name)
    settings = dataclasses.replace(settings, **changes)
    data = _network_data(argparse.Namespace(data=a.data, n_train=settings.n_train, n_test=settings.n_test))
    res = run_comparison(settings, data, out=a.out, figure=a.figure or None, progress=not a.no_progress)
    print(report_table(res))
    print(f"wall time {res['wall_s']:.0f} s; wrote {a.out}" + (f" and {a.figure}" if a.figure else ""))
    return 0


def cmd_report(a) -> int:
    from .networks.experiments import plot_comparison, report_table

    try:
        with open(a.results) as fh:
            res = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read comparison results {a.results!r}: {e}") from None
    if "models" not in res:
        raise ValueError(f"{a.results}: not a `hhjax compare` result (no 'models')")
    print(report_table(res))
    if a.figure:
        plot_comparison(res, a.figure)
        print(f"wrote {a.figure}")
    return 0


def main(argv=None) -> int:
    from .integrate.compiled import use_small_loop_kernels

    use_small_loop_kernels()  # (before any JAX computation; never over the user's own backend options)
    p = argparse.ArgumentParser(
        prog="hhjax", description="Differentiable neuron dynamics in JAX.",
        epilog="Compiled programs are kept in ~/.cache/hhjax/xla between runs (set HHJAX_COMPILE_CACHE to "
               "another folder, or to an empty string to switch this off; `hhjax bench` never uses it). Unless "
               "XLA_FLAGS sets xla_backend_extra_options, hhjax adds "
               "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=65536 to it (small "
               "populations step in one compiled function; hhjax.use_small_loop_kernels() in scripts).")
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
                                                "alpha_m.v_half (default for slif2hh: all but rest; "
                                                "--param dt=0.25 steps the unit every 0.25 ms)")
    f.add_argument("--param", action="append", metavar="NAME=VALUE", help="initial guess for a parameter")
    f.add_argument("--starts", type=int, default=8, help="starting points fitted at once")
    f.add_argument("--steps", type=int, default=200, help="optimiser steps (slif2hh: search iterations)")
    f.add_argument("--loss", default="equation", help="equation, equation-projected, shooting or mse")
    f.add_argument("--optimizer", default="adam", choices=("adam", "lbfgs"))
    f.add_argument("--lr", type=float, default=None, help="learning rate (adam default 0.01)")
    f.add_argument("--perturbation", type=float, default=0.5, help="starts: values × (1 ± this)")
    f.add_argument("--window-ms", type=float, default=0.1, help="equation-error window (ms)")
    f.add_argument("--robust-mv", type=float, default=None,
                   help="noisy recordings: Cauchy-robust equation error with this scale (mV, ~3 × noise s.d.; "
                        "use with --window-ms 1)")
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

    b = sub.add_parser("bench", help="benchmark suite: throughput, compile time, memory, accuracy, gradients, "
                                     "operation counts, sharding and peer simulators")
    b.add_argument("--full", action="store_true", help="full sizes (N up to 1e6; tens of minutes on 2 CPU cores)")
    b.add_argument("--device", default="cpu", choices=("cpu", "gpu"), help="gpu: the GPU sizes (about 5 minutes)")
    b.add_argument("--only", default=None, help="comma-separated sections: throughput, compile, memory, accuracy, "
                                                "gradient, ops, sharding, peers")
    b.add_argument("--skip", default=None, help="comma-separated sections to leave out")
    b.add_argument("--peers", default=None, help="comma-separated peers (c-kernel, brainpy, jaxley, "
                                                 "brian2-cython, brian2-cpp, neuron); default all installed")
    b.add_argument("--dtype", default=None, help="float32,float64 (default both)")
    b.add_argument("--host-devices", type=int, default=None, metavar="K",
                   help="show K CPU devices (one per core) so that the sharding section splits its "
                        "populations over them (sets --xla_force_host_platform_device_count)")
    b.add_argument("--out", default="bench.json")
    b.add_argument("--plot", default="bench.png", help="figure path ('' for none)")
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="train a two-task spiking network (He et al. Fig. 4) on bundled digits")
    t.add_argument("--model", default="hh", help="lif, hh, hh-paper, slif2hh, slif2hh-joint, 4lif, ann "
                                                 "(optionally NAME:READOUT, e.g. hh:voltage)")
    t.add_argument("--readout", default=None, help="count (spike counts, default), membrane or voltage")
    t.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (mean ± s.d. over them)")
    t.add_argument("--hidden", type=int, default=64, help="hidden units (4lif: 4× this many neurons)")
    t.add_argument("--steps", type=int, default=15, help="time steps T")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--surrogate", default=None, help="rectangular, triangle, sigmoid, fast-sigmoid or atan")
    t.add_argument("--width", type=float, default=None, help="surrogate width (layer units)")
    t.add_argument("--noise", type=float, default=0.0, help="fixed noise pattern amplitude A (train and test)")
    t.add_argument("--bottleneck", type=int, default=0, help="VIB readout with this many latent dimensions")
    t.add_argument("--beta", type=float, default=1e-3, help="VIB weight of KL in the loss")
    t.add_argument("--data", default=None, help="the authors' multi-task pickle (default: bundled digits)")
    t.add_argument("--n-train", type=int, default=4000)
    t.add_argument("--n-test", type=int, default=1000)
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--out", default="train.json")
    t.add_argument("--figure", default="train.png", help="accuracy per epoch ('' for none)")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("compare", help="every model: accuracy over seeds, robustness, cost, information")
    c.add_argument("--quick", action="store_true", help="small sizes (about two minutes)")
    c.add_argument("--models", default=None, help="comma-separated, e.g. lif,4lif,hh,hh:voltage,slif2hh")
    c.add_argument("--seeds", default=None)
    c.add_argument("--hidden", type=int, default=None)
    c.add_argument("--epochs", type=int, default=None)
    c.add_argument("--data", default=None, help="the authors' multi-task pickle (default: bundled digits)")
    c.add_argument("--no-progress", action="store_true")
    c.add_argument("--out", default="comparison.json")
    c.add_argument("--figure", default="comparison.png")
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("report", help="the table (and figure) of a `hhjax compare` result")
    r.add_argument("results", nargs="?", default="comparison.json")
    r.add_argument("--figure", default=None)
    r.set_defaults(func=cmd_report)

    a = p.parse_args(argv)
    if getattr(a, "n", 1) < 1:
        p.error("--n must be >= 1")
    if a.command == "fit" and (a.starts < 1 or a.steps < 1):
        p.error("--starts and --steps must be >= 1")
    if a.command == "fit" and a.resume and not a.checkpoint:
        p.error("--resume needs --checkpoint DIR")
    if a.command == "bench" and a.host_devices is not None:
        from .integrate.sharding import use_host_devices

        if a.host_devices < 2:
            p.error("--host-devices must be >= 2")
        if not use_host_devices(a.host_devices):
            print("hhjax: note: --host-devices left as it was (XLA_FLAGS sets the device count already, or JAX "
                  "had started)", file=sys.stderr)
    if argv is None and a.command != "bench":  # the `hhjax` command itself, not a call from Python
        _enable_compile_cache()  # (the bench measures compile times: its own process stays cold)
    try:
        return a.func(a)
    except (ValueError, TypeError, FloatingPointError) as err:
        print(f"hhjax: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"hhjax: {a.command} failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
