"""The optimisation loop: K starts fitted at once (`vmap`), one jitted update per step,
optionally sharded over devices, checkpointed and resumable, stopped on NaN."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import time
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PyTree


class FitError(RuntimeError):
    """A fit that cannot go on (NaN/inf loss or gradient, mismatched checkpoint)."""


class FitState(eqx.Module):
    """Everything a fit needs to continue: per-start parameters (leading axis K, the
    optimiser's unconstrained space), optimiser state, step, PRNG key, the best loss and
    parameters seen by each start, and the loss history (steps, K; NaN for steps not run)."""

    theta: PyTree
    opt_state: PyTree
    step: Array
    key: Array
    best_loss: Array
    best_theta: PyTree
    history: Array


class FitResult(eqx.Module):
    """The outcome: `theta` / `loss` of the best start (`best_start`), every start's best
    (`theta_per_start`, `loss_per_start`), the history (steps, K), and timing."""

    theta: PyTree
    loss: float
    best_start: int
    theta_per_start: PyTree
    loss_per_start: Array
    history: Array
    steps: int
    wall_time_s: float
    devices: int


def _stores_value(opt_state) -> bool:
    """Whether the optimiser keeps the loss value in its state (L-BFGS's line search)."""
    return optax.tree_utils.tree_get(opt_state, "value", default=None) is not None


def _make_update(loss_fn: Callable, optimizer: optax.GradientTransformation, stochastic: bool,
                 reuse_value: bool):
    def one(theta, opt_state, key):
        f = (lambda th: loss_fn(th, key)) if stochastic else loss_fn
        if reuse_value:
            value, grad = optax.value_and_grad_from_state(f)(theta, state=opt_state)
        else:
            value, grad = jax.value_and_grad(f)(theta)
        if isinstance(optimizer, optax.GradientTransformationExtraArgs):
            updates, new_state = optimizer.update(grad, opt_state, theta, value=value, grad=grad, value_fn=f)
        else:
            updates, new_state = optimizer.update(grad, opt_state, theta)
        finite = jnp.isfinite(value)
        for g in jax.tree.leaves(grad):
            finite = finite & jnp.all(jnp.isfinite(g))
        return optax.apply_updates(theta, updates), new_state, value, finite

    def update(state: FitState):
        K = state.best_loss.shape[0]
        keys = jax.random.split(jax.random.fold_in(state.key, state.step), K)
        theta, opt_state, value, finite = jax.vmap(one)(state.theta, state.opt_state, keys)
        improved = finite & (value < state.best_loss)

        def pick(new, old):
            mask = improved.reshape(improved.shape + (1,) * (new.ndim - 1))
            return jnp.where(mask, new, old)

        # theta before this update produced `value`: the best is the evaluated point.
        best_theta = jax.tree.map(pick, state.theta, state.best_theta)
        history = state.history.at[state.step].set(value)
        new = FitState(theta=theta, opt_state=opt_state, step=state.step + 1, key=state.key,
                       best_loss=jnp.where(improved, value, state.best_loss), best_theta=best_theta,
                       history=history)
        return new, value, finite

    return update


def _shard(state: FitState, n_devices: int) -> tuple[FitState, int]:
    """Place the per-start leaves of `state` across devices (leading axis K); other leaves
    are replicated. Uses as many devices as evenly divide K."""
    K = state.best_loss.shape[0]
    n = math.gcd(K, n_devices)
    if n <= 1:
        return state, 1
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:n]), ("starts",))
    per_start = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("starts"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def place(x):
        if eqx.is_array(x) and x.ndim >= 1 and x.shape[0] == K:
            return jax.device_put(x, per_start)
        return jax.device_put(x, replicated) if eqx.is_array(x) else x

    sharded = eqx.tree_at(lambda s: (s.theta, s.opt_state, s.best_loss, s.best_theta), state,
                          jax.tree.map(place, (state.theta, state.opt_state, state.best_loss, state.best_theta)))
    sharded = eqx.tree_at(lambda s: (s.step, s.key, s.history), sharded,
                          tuple(jax.device_put(x, replicated) for x in (state.step, state.key, state.history)))
    return sharded, n


# --- checkpoints ----------------------------------------------------------------------

CHECKPOINT_FILE = "fit_state.eqx"
META_FILE = "fit_meta.json"


def fingerprint(*parts) -> str:
    """A short hash of the settings and data that define a fit (a resumed fit must match)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, (np.ndarray, jax.Array)):
            h.update(np.ascontiguousarray(np.asarray(p)).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def save_checkpoint(directory, state: FitState, meta: dict) -> None:
    """Write `state` and `meta` atomically (write to a temporary file, then rename), so a
    kill at any moment leaves the previous checkpoint intact."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (CHECKPOINT_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        eqx.tree_serialise_leaves(fh, jax.device_get(state))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / CHECKPOINT_FILE)
    tmp_meta = directory / (META_FILE + ".tmp")
    tmp_meta.write_text(json.dumps({**meta, "step": int(state.step)}, indent=1))
    os.replace(tmp_meta, directory / META_FILE)


def load_checkpoint(directory, like: FitState, expected_fingerprint: str) -> FitState | None:
    """The saved state, or None when there is no checkpoint. `FitError` when the
    checkpoint belongs to a different fit (other settings or data)."""
    directory = pathlib.Path(directory)
    if not (directory / CHECKPOINT_FILE).exists() or not (directory / META_FILE).exists():
        return None
    meta = json.loads((directory / META_FILE).read_text())
    if meta.get("fingerprint") != expected_fingerprint:
        raise FitError(f"the checkpoint in {directory} belongs to a different fit (other settings, starts "
                       f"or targets); use another --checkpoint directory or drop --resume")
    with open(directory / CHECKPOINT_FILE, "rb") as fh:
        return eqx.tree_deserialise_leaves(fh, like)


# --- the loop -------------------------------------------------------------------------

def fit(
    loss_fn: Callable,
    theta0: PyTree,
    *,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 500,
    key=None,
    stochastic: bool = False,
    checkpoint_dir=None,
    checkpoint_every: int = 50,
    resume: bool = False,
    fit_fingerprint: str | None = None,
    shard: bool = True,
    progress: bool = True,
    callback: Callable | None = None,
) -> FitResult:
    """Minimise `loss_fn(theta)` (or `loss_fn(theta, key)` with `stochastic=True`) from
    K starting points at once.

    - `theta0`: pytree whose leaves have a leading axis K (one row per start), in the
      optimiser's (unconstrained) space — see `ParameterSpace`.
    - `optimizer`: any optax transformation (default `optax.adam(1e-2)`); it runs
      independently per start (vmapped), so global-norm clipping etc. stay per start.
      Transformations that take extra arguments (e.g. `optax.lbfgs()`'s line search)
      get `value`, `grad` and `value_fn`.
    - `checkpoint_dir`: the fit state is written there every `checkpoint_every` steps
      and at the end; `resume=True` continues from it. A resumed fit ends exactly where
      an uninterrupted one would. `fit_fingerprint` ties a checkpoint to its settings.
    - `shard`: with several devices, the K starts are split across them.
    - A NaN/inf loss or gradient stops the fit with `FitError`; the checkpoint on disk
      stays the last good one.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    leaves = jax.tree.leaves(theta0)
    if not leaves:
        raise ValueError("theta0 has no parameters")
    K = leaves[0].shape[0] if leaves[0].ndim else 0
    if K < 1 or any(x.ndim < 1 or x.shape[0] != K for x in leaves):
        raise ValueError("every leaf of theta0 needs the same leading (starts) axis K >= 1; "
                         f"got shapes {[x.shape for x in leaves]}")
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    key = jax.random.PRNGKey(0) if key is None else key
    # optax mixes Python floats with integer step counts: trace it under standard
    # promotion even when the caller runs JAX with strict dtype promotion.
    with jax.numpy_dtype_promotion("standard"):
        opt_state = jax.vmap(optimizer.init)(theta0)
    dtype = leaves[0].dtype
    state = FitState(theta=theta0, opt_state=opt_state, step=jnp.asarray(0, jnp.int32), key=key,
                     best_loss=jnp.full((K,), jnp.inf, dtype), best_theta=theta0,
                     history=jnp.full((steps, K), jnp.nan, dtype))
    meta = dict(fingerprint=fit_fingerprint or fingerprint("unnamed fit", K, steps), starts=K, steps=steps)
    if checkpoint_dir is not None and resume:
        loaded = load_checkpoint(checkpoint_dir, state, meta["fingerprint"])
        if loaded is not None:
            state = loaded
    n_dev = 1
    if shard and len(jax.devices()) > 1:
        state, n_dev = _shard(state, len(jax.devices()))
    update = jax.jit(_make_update(loss_fn, optimizer, stochastic, _stores_value(opt_state)))

    start_step = int(state.step)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=start_step, desc="fit", unit="step", dynamic_ncols=True)
    start = time.perf_counter()
    last_good = start_step
    try:
        for i in range(start_step, steps):
            with jax.numpy_dtype_promotion("standard"):
                new_state, value, finite = update(state)
            finite = np.asarray(finite)
            if not finite.all():
                bad = np.flatnonzero(~finite).tolist()
                where = (f"; the last good checkpoint (step {last_good}) is in {checkpoint_dir}"
                         if checkpoint_dir is not None else "")
                raise FitError(f"loss or gradient became NaN/inf at step {i} in start(s) {bad} "
                               f"(loss {np.asarray(value)[bad].tolist()}){where}. Lower the learning "
                               f"rate, tighten parameter bounds or check the targets")
            state = new_state
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(np.min(np.asarray(value))):.4g}", refresh=False)
            if callback is not None:
                callback(i, state)
            if checkpoint_dir is not None and ((i + 1) % checkpoint_every == 0 or i + 1 == steps):
                save_checkpoint(checkpoint_dir, state, meta)
                last_good = i + 1
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - start
    best_loss = np.asarray(state.best_loss)
    b = int(np.argmin(best_loss))
    return FitResult(
        theta=jax.tree.map(lambda x: x[b], state.best_theta), loss=float(best_loss[b]), best_start=b,
        theta_per_start=state.best_theta, loss_per_start=state.best_loss, history=state.history,
        steps=steps, wall_time_s=wall, devices=n_dev,
    )
