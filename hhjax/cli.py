"""Command line: `hhjax simulate ...` and `hhjax equivalence` (the main job)."""

from __future__ import annotations

import argparse
import json
import sys
import time


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
        base = _with_params(base, params)
        if name.startswith("tvlif2hh"):
            return hj.tvlif2hh(base, "gates" if name.endswith("gates") else "channels")
        return base
    if name == "lif":
        return _with_params(hj.LIF(), params)
    return _with_params(hj.SLIF2HH(), params)


def _with_params(model, params: dict):
    """Replace fields by name; dotted names reach into nested modules (`alpha_m.v_half`)."""
    import dataclasses

    import equinox as eqx

    for name, value in params.items():
        obj, parts = model, name.split(".")
        for depth, part in enumerate(parts):
            fields = {f.name for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else set()
            if part not in fields:
                where = ".".join(parts[:depth]) or type(model).__name__
                raise ValueError(f"unknown parameter {name!r}: {where} has fields {sorted(fields)}")
            obj = getattr(obj, part)

        def at(m, parts=parts):
            for part in parts:
                m = getattr(m, part)
            return m

        model = eqx.tree_at(at, model, value)
    return model


def model_params(model) -> dict:
    """Flat {name: value} of a model's numeric parameters (nested modules dotted)."""
    import dataclasses

    import numpy as np

    out = {}

    def walk(obj, prefix):
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if dataclasses.is_dataclass(v):
                walk(v, prefix + f.name + ".")
            elif isinstance(v, (int, float, str)) or hasattr(v, "shape"):
                a = np.asarray(v)
                out[prefix + f.name] = a.tolist() if a.dtype.kind in "fiub" else str(v)

    walk(model, "")
    return out


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

    params = {}
    for item in a.param or []:
        key, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        params[key.strip()] = float(val)
    model = build_model(a.model, params)
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
        model = _with_params(model, {"threshold": a.threshold})
    start = time.perf_counter()
    sim = hj.simulate(model, stim, **kw)
    wall = time.perf_counter() - start
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
    s.add_argument("--out", default=None, help="write JSON here (default: stdout)")
    s.set_defaults(func=cmd_simulate)

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
    if a.command == "simulate" and a.model == "slif2hh" and a.dt is None:
        a.dt = 1.0
    try:
        return a.func(a)
    except (ValueError, TypeError) as err:
        print(f"hhjax: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"hhjax: simulation failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
