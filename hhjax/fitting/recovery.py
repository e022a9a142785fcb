"""Parameter-recovery experiments on synthetic HH traces (the fitting issue's targets),
shared by the tests, the benchmark script and the notebook."""

from __future__ import annotations

import jax
import numpy as np

from ..integrate import simulate
from ..parameters import get_param
from .loop import fit
from .problems import HH_MEMBRANE, RATE_COEFFICIENTS, default_optimizer, make_loss
from .losses import membrane_least_squares
from .space import ParameterSpace
from .traces import Trace


def membrane_recovery(true_model, trace: Trace, *, initialisations: int = 10, starts: int = 16,
                      steps: int = 100, perturbation: float = 0.5, key=None, optimizer="lbfgs",
                      names=HH_MEMBRANE, progress: bool = False, **loss_options) -> dict:
    """Recover `names` (default C, ḡNa, ḡK, ḡL, ENa, EK, EL) of `true_model` from `trace`
    by the teacher-forced loss, `initialisations` times, each from `starts` random
    ±`perturbation` starts (all initialisations × starts run as one vmapped batch; each
    initialisation keeps its best start). Returns {"relative_error": (inits, n_params),
    "names", "loss": (inits,), "fit": FitResult}."""
    space = ParameterSpace.of(true_model, names)
    key = jax.random.PRNGKey(0) if key is None else key
    theta0 = space.perturbed_starts(key, initialisations * starts, perturbation)
    loss = make_loss(space, trace, "equation", **loss_options)
    opt = default_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    res = fit(loss, theta0, optimizer=opt, steps=steps, progress=progress)
    per_start = np.asarray(res.loss_per_start).reshape(initialisations, starts)
    best = np.argmin(per_start, axis=1) + starts * np.arange(initialisations)
    values = jax.vmap(space.to_values)(res.theta_per_start)
    true = space.values()
    rel = np.stack([np.abs(np.asarray(values[n])[best] / np.asarray(true[n]) - 1) for n in space.names], axis=1)
    return dict(relative_error=rel, names=list(space.names), loss=per_start[np.arange(initialisations), best % starts],
                fit=res)


def gate_recovery(true_model, trace: Trace, *, starts: int = 8, steps: int = 150, perturbation: float = 0.2,
                  perturbation_mV: float = 5.0, key=None, optimizer="lbfgs", progress: bool = False,
                  **loss_options):
    """Recover the 18 rate coefficients (the tv-LIF gate functions τ_x(V), x∞(V)) and the
    membrane parameters from V alone: gate coefficients by the optimiser on the projected
    teacher-forced loss, conductances, capacitance and reversal potentials by least squares
    at every step. Returns (fitted model, FitResult)."""
    space = ParameterSpace.of(true_model, RATE_COEFFICIENTS)
    key = jax.random.PRNGKey(0) if key is None else key
    theta0 = space.perturbed_starts(key, starts, perturbation, perturbation_mV)
    loss = make_loss(space, trace, "equation-projected", **loss_options)
    opt = default_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    res = fit(loss, theta0, optimizer=opt, steps=steps, progress=progress)
    fitted = membrane_least_squares(space.model(res.theta), trace, loss_options.get("window_ms", 0.1),
                                    loss_options.get("burn_in_ms", 0.0))
    return fitted, res


def closed_loop_spikes(models, stimulus, *, t1: float, rtol: float = 1e-9, atol: float = 1e-9):
    """Spike times (ms) of each model under `stimulus`, simulated from each model's own
    resting state (tsit5, tight tolerances)."""
    out = []
    for m in models:
        y0 = m.resting_state(0.0) if hasattr(m, "resting_state") else m.initial_state()
        sim = simulate(m, stimulus, t1=t1, solver="tsit5", rtol=rtol, atol=atol, y0=y0)
        out.append(np.asarray(sim.spike_list()))
    return out


def membrane_values(model) -> dict:
    return {n: float(np.asarray(get_param(model, n))) for n in HH_MEMBRANE}


__all__ = ["membrane_recovery", "gate_recovery", "closed_loop_spikes", "membrane_values"]
