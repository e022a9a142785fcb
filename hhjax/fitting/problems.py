"""Model fits from voltage traces: a model, a trace, the names of the free parameters
and a loss → the fitted model (best of K perturbed starts)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array

from .bijections import AbstractBijection
from .diagnostics import FitDiagnostics, diagnose
from .loop import FitResult, fingerprint, fit
from .losses import equation_error, membrane_least_squares, shooting_loss, voltage_mse
from .space import ParameterSpace
from .traces import Trace

LOSSES = ("equation", "equation-projected", "shooting", "mse")


class ModelFit(eqx.Module):
    """A fitted model with its parameter space and the optimiser's record.

    - `model`: the best start's model; `params`: {name: fitted value};
    - `params_per_start`: {name: (K,) values}; `result`: the `FitResult`;
    - `diagnostics`: convergence and identifiability (`FitDiagnostics`).
    """

    model: eqx.Module
    params: dict
    params_per_start: dict
    space: ParameterSpace
    result: FitResult
    diagnostics: FitDiagnostics | None = None


def make_loss(space: ParameterSpace, trace: Trace, loss: str = "equation", *, window_ms: float = 0.1,
              burn_in_ms: float = 0.0, robust_mV: float | None = None, shooting_window_ms: float = 2.0,
              solver: str = "rk4", substeps: int = 1):
    """loss(theta) for one start. `loss` is one of `LOSSES` (see `hhjax.fitting.losses`);
    `equation-projected` is the teacher-forced loss with the membrane parameters solved
    by least squares (the free set must then hold only gate parameters); `robust_mV`
    makes the `equation` loss robust to noise in V (see `equation_error`)."""
    if robust_mV is not None and loss != "equation":
        raise ValueError(f"robust_mV applies to the 'equation' loss only, not {loss!r}")
    if loss in ("equation", "equation-projected"):
        project = loss == "equation-projected"
        if project:
            clash = [n for n in space.names if n.split(".")[-1] in HH_MEMBRANE]
            if clash:
                raise ValueError(f"loss 'equation-projected' solves {clash} by least squares; "
                                 "free only gate (rate) parameters")
        return lambda theta: equation_error(space.model(theta), trace, window_ms, burn_in_ms, project, robust_mV)
    if loss == "shooting":
        return lambda theta: shooting_loss(space.model(theta), trace, shooting_window_ms, solver=solver,
                                           substeps=substeps)
    if loss == "mse":
        return lambda theta: voltage_mse(space.model(theta), trace, solver=solver, substeps=substeps)
    raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")


def default_optimizer(name: str = "lbfgs", learning_rate: float | None = None) -> optax.GradientTransformation:
    """`lbfgs` (the default: quasi-Newton with a line search; the teacher-forced losses are
    nearly quadratic, and Adam's 200 steps left g_L 35 % off where L-BFGS's recovered six HH
    parameters within 0.2 %) or `adam` (learning rate default 0.01 in the unconstrained
    space; for noisy, stochastic or badly scaled losses)."""
    if name == "adam":
        return optax.adam(1e-2 if learning_rate is None else learning_rate)
    if name == "lbfgs":
        return optax.lbfgs(learning_rate=learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; choose 'adam' or 'lbfgs' (or pass an optax transformation)")


def fit_model(
    model,
    trace: Trace,
    free,
    *,
    loss: str = "equation",
    starts: int = 8,
    steps: int = 200,
    optimizer: optax.GradientTransformation | str = "lbfgs",
    learning_rate: float | None = None,
    key=None,
    perturbation: float = 0.5,
    perturbation_mV: float = 10.0,
    initial: dict | None = None,
    bijections: dict[str, AbstractBijection] | None = None,
    checkpoint_dir=None,
    checkpoint_every: int = 50,
    resume: bool = False,
    progress: bool = True,
    **loss_options,
) -> ModelFit:
    """Fit the parameters `free` of `model` to `trace`.

    Starts: K = `starts` points drawn around `model`'s values — scale parameters times a
    factor in [1 − perturbation, 1 + perturbation], voltages shifted (see
    `ParameterSpace.perturbed_starts`) — or the given `initial` {name: (K,) values}.
    Parameters stay inside their bijections' ranges throughout. Returns a `ModelFit` with
    convergence diagnostics; a fit that has not converged, or a parameter the traces hardly
    determine, gives a `FitWarning` (see `hhjax.fitting.diagnostics`).
    """
    space = ParameterSpace.of(model, free, bijections)
    key = jax.random.PRNGKey(0) if key is None else key
    k_start, k_fit = jax.random.split(key)
    if initial is not None:
        theta0 = space.to_unconstrained({n: jnp.asarray(initial[n]) for n in space.names})
    else:
        theta0 = space.perturbed_starts(k_start, starts, perturbation, perturbation_mV)
    opt = default_optimizer(optimizer, learning_rate) if isinstance(optimizer, str) else optimizer
    loss_fn = make_loss(space, trace, loss, **loss_options)
    fp = fingerprint(space.names, {n: np.asarray(v).tolist() for n, v in space.values().items()},
                     loss, loss_options, optimizer if isinstance(optimizer, str) else type(optimizer).__name__,
                     learning_rate, steps, starts, perturbation,
                     np.asarray(key), np.asarray(trace.V), np.asarray(trace.current))
    result = fit(loss_fn, theta0, optimizer=opt, steps=steps, key=k_fit, checkpoint_dir=checkpoint_dir,
                 checkpoint_every=checkpoint_every, resume=resume, fit_fingerprint=fp, progress=progress)
    fitted = space.model(result.theta)
    params = space.to_values(result.theta)
    if loss == "equation-projected":
        fitted = membrane_least_squares(fitted, trace, loss_options.get("window_ms", 0.1),
                                        loss_options.get("burn_in_ms", 0.0))
        from ..parameters import get_param

        params = {**params, **{n: get_param(fitted, n) for n in HH_MEMBRANE}}
    history = np.asarray(result.history)[:, result.best_start]
    diagnostics = diagnose(loss_fn, space, result.theta, history, n_residuals=int(np.size(trace.V)))
    return ModelFit(model=fitted, params=params,
                    params_per_start=jax.vmap(space.to_values)(result.theta_per_start), space=space,
                    result=result, diagnostics=diagnostics)


HH_MEMBRANE = ("C", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L")
RATE_NAMES = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")
RATE_COEFFICIENTS = tuple(f"{r}.{c}" for r in RATE_NAMES for c in ("rate", "v_half", "k"))


def gate_curves(model, V: Array) -> dict[str, tuple[Array, Array]]:
    """{'m': (τ_m(V) ms, m∞(V)), ...} of an HH-type model (or tv-LIF2HH) on voltages V."""
    from .losses import as_hodgkin_huxley

    return as_hodgkin_huxley(model).gate_tvlif(V)


def gate_curve_errors(fitted, true, V: Array) -> dict[str, dict[str, float]]:
    """Max relative τ error and max absolute x∞ error per gate over the voltages V."""
    got, want = gate_curves(fitted, V), gate_curves(true, V)
    return {x: dict(tau_rel=float(jnp.max(jnp.abs(got[x][0] / want[x][0] - 1))),
                    x_inf_abs=float(jnp.max(jnp.abs(got[x][1] - want[x][1])))) for x in got}


def visited_voltages(trace: Trace, low: float = 0.5, high: float = 99.5, n: int = 200) -> Array:
    """A grid over the voltage range the trace visits (between the given percentiles of all
    samples, so that a single extreme sample does not define the range)."""
    v = np.asarray(trace.V).ravel()
    return jnp.linspace(float(np.percentile(v, low)), float(np.percentile(v, high)), n, dtype=trace.V.dtype)
