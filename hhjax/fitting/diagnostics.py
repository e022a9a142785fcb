"""Whether a fit converged and how well its data pin each parameter down.

At the best start's optimum θ* (the optimiser's unconstrained coordinates) and p* (the
parameters' own units):

- `grad_norm`: |∇L(θ*)|;
- `predicted_decrease`: ½ gᵀH⁻¹g with the Hessian H of the loss at θ* — how much one more
  Newton step would still lower the loss. Converged when it is below `rtol` of the loss
  (or the loss is below `atol_ratio` of the start's loss) and H is positive definite;
- `plateau`: the best start's relative loss decrease over the last 10 % of its steps;
- `std_error`: per-parameter standard errors (parameter units) from the curvature, for a
  mean-squared loss of `n_residuals` residuals with noise variance estimated by the final
  loss: Cov = (2 L*/n) H_p⁻¹ (Gauss–Newton/Fisher; 0 for a noise-free trace);
- `identifiability`: per parameter, the loss curvature along it with every other parameter
  re-optimised, relative to the largest curvature, in relative units (p·∂²L/∂p²·p); below
  `identifiable_below` the data leave it (nearly) undetermined.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import jax
import numpy as np
from jax.flatten_util import ravel_pytree


class FitWarning(UserWarning):
    """A fit that did not converge, or a parameter its data hardly determine."""


@dataclasses.dataclass
class FitDiagnostics:
    loss: float
    initial_loss: float
    grad_norm: float
    predicted_decrease: float
    plateau: float | None
    hessian_positive_definite: bool
    converged: bool
    std_error: dict
    identifiability: dict
    poorly_identified: list
    warnings: list

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def diagnose(loss_fn, space, theta, history=None, *, n_residuals: int | None = None, rtol: float = 1e-3,
             atol_ratio: float = 1e-12, identifiable_below: float = 1e-8, warn: bool = True) -> FitDiagnostics:
    """Diagnostics of a fit (see the module docstring). `loss_fn(theta)` is the loss of one
    start, `space` the `ParameterSpace`, `theta` the best start's optimum, `history` its
    loss per step (NaN for steps not run)."""
    flat, unravel = ravel_pytree(theta)

    def loss_flat(x):
        return loss_fn(unravel(x))

    with jax.numpy_dtype_promotion("standard"):
        value, grad = jax.value_and_grad(loss_flat)(flat)
        hess = jax.hessian(loss_flat)(flat)
        # the same curvature in the parameters' own units: H_p = Jᵀ H J at the optimum
        # (the gradient term vanishes there), J = dθ/dp = (dp/dθ)⁻¹
        values = space.to_values(theta)
        p_flat, _ = ravel_pytree(values)
        dp_dtheta = jax.jacobian(lambda x: ravel_pytree(space.to_values(unravel(x)))[0])(flat)
    loss = float(value)
    g, H = np.asarray(grad, np.float64), np.asarray(hess, np.float64)
    H = 0.5 * (H + H.T)
    eig = np.linalg.eigvalsh(H) if H.size else np.zeros(0)
    positive = bool(eig.size and eig.min() > 0)
    if positive:
        predicted = float(0.5 * g @ np.linalg.solve(H, g))
    else:
        predicted = math.inf
    hist = None if history is None else np.asarray(history, np.float64)
    hist = None if hist is None else hist[np.isfinite(hist)]
    initial = float(hist[0]) if hist is not None and hist.size else loss
    plateau = None
    if hist is not None and hist.size >= 10:
        k = max(1, hist.size // 10)
        before = float(np.min(hist[:-k]))
        plateau = (before - float(np.min(hist))) / max(abs(before), 1e-300)
    tiny = loss <= atol_ratio * max(initial, 1e-300)
    converged = bool(tiny or (positive and predicted <= rtol * loss))

    J = np.linalg.inv(np.asarray(dp_dtheta, np.float64))
    Hp = J.T @ H @ J
    names = _flat_names(values)
    p = np.abs(np.asarray(p_flat, np.float64))
    std_error, identifiability, poorly = {}, {}, []
    try:
        Hp_inv = np.linalg.inv(Hp)
        ok = positive
    except np.linalg.LinAlgError:
        Hp_inv, ok = np.full_like(Hp, np.nan), False
    scale = np.where(p > 0, p, 1.0)
    rel = Hp * np.outer(scale, scale)
    rel_inv = Hp_inv / np.outer(scale, scale)
    top = float(np.max(np.abs(np.diag(rel)))) if rel.size else 0.0
    for i, name in enumerate(names):
        var = 2.0 * max(loss, 0.0) / n_residuals * Hp_inv[i, i] if n_residuals else math.nan
        std_error[name] = float(math.sqrt(var)) if ok and var >= 0 else math.nan
        profile = 1.0 / rel_inv[i, i] if ok and rel_inv[i, i] > 0 else 0.0
        identifiability[name] = float(profile / top) if top > 0 else 0.0
        if identifiability[name] < identifiable_below:
            poorly.append(name)
    messages = []
    if not converged:
        messages.append(
            f"the fit has not converged: loss {loss:.3g}, one more Newton step would lower it by "
            f"{predicted:.3g} (gradient norm {float(np.linalg.norm(g)):.3g}"
            + (f", last 10% of steps lowered it by {plateau:.2%}" if plateau is not None else "")
            + "); run more steps or use optimizer='lbfgs'")
    if poorly:
        messages.append(f"poorly identified by these data: {', '.join(poorly)} (the loss hardly changes along "
                        "them once the other parameters adjust); add protocols that excite them or fix them")
    if warn:
        for m in messages:
            warnings.warn(m, FitWarning, stacklevel=3)
    return FitDiagnostics(loss=loss, initial_loss=initial, grad_norm=float(np.linalg.norm(g)),
                          predicted_decrease=predicted, plateau=plateau, hessian_positive_definite=positive,
                          converged=converged, std_error=std_error, identifiability=identifiability,
                          poorly_identified=poorly, warnings=messages)


def _flat_names(values: dict) -> list:
    """Names in `ravel_pytree`'s order (jax's pytree order of the dict)."""
    names = []
    for path, v in jax.tree_util.tree_flatten_with_path(values)[0]:
        name = path[0].key
        size = int(np.size(v))
        names += [name] if size == 1 else [f"{name}[{i}]" for i in range(size)]
    return names
