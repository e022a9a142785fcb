"""`hhjax fit`: model parameters from voltage traces (.npz), with diagnostics."""

from __future__ import annotations

import json
import time

from ..models.conductance.library import LIBRARY
from ..parameters import model_params
from .common import build_model, parse_params, versions
from .environment import enable_x64

FIT_MODELS = ("hh", "hh-shifted", "tvlif2hh", "slif2hh", *LIBRARY)


def cmd_fit(a) -> int:
    if a.dtype == "float64":
        enable_x64()
    import jax
    import numpy as np

    from .. import fitting as hf
    from ..parameters import get_param

    if a.model not in FIT_MODELS:
        raise ValueError(f"unknown model {a.model!r} for fit; choose from {', '.join(FIT_MODELS)}")
    traces = [hf.load_trace(p) for p in a.target]
    trace = hf.stack_traces(traces)
    model = build_model(a.model, parse_params(a.param))
    free = [n.strip() for n in a.fit.split(",") if n.strip()] if a.fit else None
    key = jax.random.PRNGKey(a.seed)
    start = time.perf_counter()
    if a.model == "slif2hh":
        from ..fitting.slif2hh import SLIF2HH_FREE, fit_slif2hh
        from ..stimuli import Sampled

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
                      diagnostics=fit.diagnostics.as_dict(),
                      fitted_per_start={n: np.asarray(v).tolist() for n, v in fit.params_per_start.items()})
    wall = time.perf_counter() - start
    out = dict(model=a.model, params=model_params(fitted), free=names, **result,
               settings=dict(targets=a.target, loss=a.loss, optimizer=a.optimizer, lr=a.lr, starts=a.starts,
                             steps=a.steps, seed=a.seed, perturbation=a.perturbation, window_ms=a.window_ms,
                             burn_in_ms=a.burn_in_ms, robust_mV=a.robust_mv, dtype=a.dtype, devices=len(jax.devices()),
                             device=str(jax.devices()[0].platform)),
               wall_time_s=wall, versions=versions())
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"fit {a.model}: loss {out['loss']:.4g} after {a.steps} steps × {a.starts} starts "
          f"in {wall:.1f} s; wrote {a.out}")
    for n in names:
        print(f"  {n} = {np.asarray(get_param(fitted, n)).tolist()}")
    return 0


def register(sub) -> None:
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
    f.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"),
                   help="lbfgs (default: converges on the equation-error loss) or adam")
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
