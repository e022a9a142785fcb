"""Who connects to whom: connectivity rules built on the host (NumPy, seeded) and stored on
the device as padded rows, one row per presynaptic neuron (an ELL layout of the CSR matrix).

Rows are stored only for the presynaptic neurons from the first to the last that has a
synapse (`first_row` … `first_row + n_rows − 1`): a projection from part of a population
(the excitatory 80 % of a benchmark network) stores and reads no empty rows for the rest.
`targets[r, :]` lists the postsynaptic neurons of presynaptic neuron `first_row + r`, padded
with `n_post`; an extra last row is all padding, the row of every presynaptic index outside
the stored ones (`rows_of`), so a gather of "no spike" adds nothing. Weights and delays are
one number for every synapse or one per synapse in the same layout. Memory ∝ stored rows ×
max fan-out. Repeated pairs (multapses) are allowed and counted as separate synapses.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .memory import check_fits

_BYTES_PER_SYNAPSE_BUILD = 40  # host arrays while building (indices, sort keys, positions)


class Connectivity(eqx.Module):
    """Synapses from `n_pre` to `n_post` neurons (see the module docstring).

    `targets`: (n_rows + 1, F); `weights`: shape () or (n_rows + 1, F); `delays` (ms): shape
    () or (n_rows + 1, F); row r belongs to presynaptic neuron `first_row + r`.
    `max_in_degree` (synapses onto the most-targeted neuron, multapses counted) is computed
    from the targets by the rules; it sizes the integer delay buffers that count spikes
    (`delay_buffers`), so build a changed connectivity with a rule (`from_arrays`), not by
    replacing `targets` (None, for one built by hand: floating-point buffers)."""

    targets: Array
    weights: Array
    delays: Array
    n_pre: int = eqx.field(static=True)
    n_post: int = eqx.field(static=True)
    n_synapses: int = eqx.field(static=True)
    max_delay: float = eqx.field(static=True, default=0.0)  # ms (static: it sets the delay buffer's depth)
    first_row: int = eqx.field(static=True, default=0)
    max_in_degree: int | None = eqx.field(static=True, default=None)  # synapses onto the most-targeted neuron

    @property
    def max_fan_out(self) -> int:
        return int(self.targets.shape[1])

    @property
    def n_rows(self) -> int:
        """Stored presynaptic rows (without the padding row)."""
        return int(self.targets.shape[0]) - 1

    @property
    def row_range(self) -> tuple[int, int]:
        """The presynaptic indices [start, stop) that have stored rows."""
        return self.first_row, self.first_row + self.n_rows

    def rows_of(self, pre: Array) -> Array:
        """Stored row of each presynaptic index in `pre` (the padding row for indices without
        one, e.g. `n_pre`, "no spike")."""
        local = pre - self.first_row
        return jnp.where((local >= 0) & (local < self.n_rows), local, self.n_rows)

    def row_weights(self, rows: Array) -> Array:
        """The weights of stored `rows`: one number for all, or shape (len(rows), F)."""
        return self.weights if jnp.ndim(self.weights) == 0 else self.weights[rows]

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(pre, post) index arrays of every synapse (host NumPy)."""
        targets = np.asarray(self.targets)[: self.n_rows]
        row, col = np.nonzero(targets < self.n_post)
        return row + self.first_row, targets[row, col]

    def dense_weights(self) -> np.ndarray:
        """The (n_pre, n_post) weight matrix (host NumPy; small networks only)."""
        pre, post = self.pairs()
        targets = np.asarray(self.targets)[: self.n_rows]
        w = np.broadcast_to(np.asarray(self.weights), np.asarray(self.targets).shape)[: self.n_rows]
        out = np.zeros((self.n_pre, self.n_post), w.dtype)
        np.add.at(out, (pre, post), w[targets < self.n_post])
        return out

    def fan_out(self) -> np.ndarray:
        """Synapses of each presynaptic neuron, shape (n_pre,) (host NumPy)."""
        out = np.zeros(self.n_pre, np.int64)
        stored = np.asarray(self.targets)[: self.n_rows] < self.n_post
        out[self.first_row:self.first_row + self.n_rows] = stored.sum(1)
        return out


def _check_sizes(n_pre, n_post):
    for name, n in (("n_pre", n_pre), ("n_post", n_post)):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _per_synapse(value, n_synapses, what):
    """One number or one per synapse; JAX arrays (traced in a loss) stay JAX arrays."""
    arr = value if isinstance(value, jax.Array) else np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return arr
    if arr.shape != (n_synapses,):
        raise ValueError(f"{what} must be one number or one per synapse ({n_synapses}), got shape {arr.shape}")
    return arr


def from_arrays(pre, post, n_pre: int, n_post: int, *, weight=1.0, delay=0.0) -> Connectivity:
    """Synapses pre[k] → post[k]; `weight` and `delay` (ms) one number or one per synapse."""
    _check_sizes(n_pre, n_post)
    pre, post = np.asarray(pre), np.asarray(post)
    if pre.shape != post.shape or pre.ndim != 1:
        raise ValueError(f"pre and post must be 1-D index arrays of one length, got shapes {pre.shape} and "
                         f"{post.shape}")
    if pre.size and (pre.min() < 0 or pre.max() >= n_pre):
        raise ValueError(f"presynaptic indices must lie in [0, {n_pre}), got [{pre.min()}, {pre.max()}]")
    if post.size and (post.min() < 0 or post.max() >= n_post):
        raise ValueError(f"postsynaptic indices must lie in [0, {n_post}), got [{post.min()}, {post.max()}]")
    n = pre.size
    weight, delay = _per_synapse(weight, n, "weight"), _per_synapse(delay, n, "delay")
    order = np.argsort(pre, kind="stable")
    first = int(pre.min()) if n else 0
    n_rows = int(pre.max()) + 1 - first if n else 1
    row = pre[order] - first
    counts = np.bincount(row, minlength=n_rows)
    fan_out = max(int(counts.max()) if n else 0, 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    column = np.arange(n) - start[row]

    def layout(values, fill):
        if isinstance(values, jax.Array):
            return jnp.full((n_rows + 1, fan_out), fill, values.dtype).at[row, column].set(values[order])
        out = np.full((n_rows + 1, fan_out), fill, dtype=values.dtype)
        out[row, column] = values[order]
        return out

    targets = layout(post.astype(np.int32), np.int32(n_post))
    weights = weight if weight.ndim == 0 else layout(weight, 0.0)
    delays = delay if delay.ndim == 0 else layout(delay, 0.0)
    if isinstance(delays, jax.core.Tracer):
        raise TypeError("delays must be concrete numbers (they set the delay buffer's depth), not traced values")
    max_delay = float(np.max(np.asarray(delays))) if np.size(delays) else 0.0
    max_in_degree = int(np.bincount(post, minlength=n_post).max()) if n else 0
    return Connectivity(jnp.asarray(targets), jnp.asarray(weights), jnp.asarray(delays), int(n_pre), int(n_post),
                        int(n), max_delay, first, max_in_degree)


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def probability_pairs(n_pre: int, n_post: int, p: float, *, seed=0,
                      allow_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) of the fixed-probability rule (see `fixed_probability`), host NumPy."""
    _check_sizes(n_pre, n_post)
    if not (0.0 <= float(p) <= 1.0):
        raise ValueError(f"connection probability must lie in [0, 1], got {p}")
    check_fits(p * n_pre * n_post * _BYTES_PER_SYNAPSE_BUILD, f"fixed-probability connectivity {n_pre}×{n_post}")
    rng = _rng(seed)
    pres, posts = [], []
    rows = max(1, int(2**24 // n_post))
    for lo in range(0, n_pre, rows):  # (blocks of rows: bounded memory for the random draws)
        hi = min(n_pre, lo + rows)
        mask = rng.random((hi - lo, n_post)) < p
        if not allow_self:
            idx = np.arange(lo, hi)
            ok = idx < n_post
            mask[(idx - lo)[ok], idx[ok]] = False
        i, j = np.nonzero(mask)
        pres.append(i + lo)
        posts.append(j)
    return np.concatenate(pres), np.concatenate(posts)


def in_degree_pairs(n_pre: int, n_post: int, k: int, *, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) of the fixed-in-degree rule (see `fixed_in_degree`), host NumPy."""
    _check_sizes(n_pre, n_post)
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"in-degree must be a non-negative integer, got {k!r}")
    check_fits(k * n_post * _BYTES_PER_SYNAPSE_BUILD, f"fixed-in-degree connectivity ({n_post} × {k})")
    pre = _rng(seed).integers(0, n_pre, size=(n_post, k), dtype=np.int64).ravel()
    return pre, np.repeat(np.arange(n_post), k)


def fixed_probability(n_pre: int, n_post: int, p: float, *, weight=1.0, delay=0.0, seed=0,
                      allow_self: bool = True) -> Connectivity:
    """Each pair connected independently with probability `p` (seeded). `allow_self=False`
    drops i → i (for a projection from a population onto itself). Builds in O(n_pre·n_post)."""
    pre, post = probability_pairs(n_pre, n_post, p, seed=seed, allow_self=allow_self)
    return from_arrays(pre, post, n_pre, n_post, weight=weight, delay=delay)


def fixed_in_degree(n_pre: int, n_post: int, k: int, *, weight=1.0, delay=0.0, seed=0) -> Connectivity:
    """Every postsynaptic neuron receives exactly `k` synapses from presynaptic neurons drawn
    uniformly (seeded, with repeats allowed as in NEST's `fixed_indegree`)."""
    pre, post = in_degree_pairs(n_pre, n_post, k, seed=seed)
    return from_arrays(pre, post, n_pre, n_post, weight=weight, delay=delay)


def one_to_one(n: int, *, weight=1.0, delay=0.0) -> Connectivity:
    """i → i for each of `n` neurons."""
    idx = np.arange(n)
    return from_arrays(idx, idx, n, n, weight=weight, delay=delay)


def dense(n_pre: int, n_post: int, *, weight=1.0, delay=0.0) -> Connectivity:
    """Every presynaptic neuron to every postsynaptic neuron (`weight` one number or an
    (n_pre, n_post) matrix, whose zero entries are left out)."""
    _check_sizes(n_pre, n_post)
    w = np.asarray(weight, dtype=float)
    if w.ndim == 2:
        if w.shape != (n_pre, n_post):
            raise ValueError(f"dense weight matrix must have shape ({n_pre}, {n_post}), got {w.shape}")
        pre, post = np.nonzero(w)
        d = np.asarray(delay, dtype=float)
        return from_arrays(pre, post, n_pre, n_post, weight=w[pre, post], delay=d if d.ndim == 0 else d[pre, post])
    pre, post = np.divmod(np.arange(n_pre * n_post), n_post)
    return from_arrays(pre, post, n_pre, n_post, weight=weight, delay=delay)


RULES = {"fixed_probability": fixed_probability, "fixed_in_degree": fixed_in_degree, "one_to_one": one_to_one,
         "dense": dense, "from_arrays": from_arrays}
