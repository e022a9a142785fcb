"""The fixed-step grid: its step count and times, stimulus jumps that split a step, and
which saved samples fall on grid points."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def grid_steps(t0: float, t1: float, dt: float) -> int:
    """Number of equal steps of at most `dt` ms from t0 to t1."""
    return max(1, int(math.ceil((t1 - t0) / dt - 1e-9)))


def jumps_on_grid(t0: float, t1: float, n: int, jumps, dtype) -> list:
    """The stimulus jumps that fall on an interior point of the n-step grid: [(k, jump)]."""
    if jumps is None or not len(jumps):
        return []
    h = (t1 - t0) / n
    hits = []
    for j in np.asarray(jumps, dtype=dtype):
        k = int(round((float(j) - t0) / h))
        if 0 < k < n and abs(float(np.asarray(t0 + (t1 - t0) * (k / n), dtype)) - float(j)) <= 1e-6 * h:
            hits.append((k, j))
    return hits


def fixed_step_grid(t0: float, t1: float, dt: float, jumps, dtype) -> Array:
    """Equal steps of (t1 − t0)/ceil((t1 − t0)/dt) ms. A stimulus discontinuity that falls
    on a grid point is split into the float just before and just after it, so that no
    step evaluates the stimulus on the far side of a jump (as diffrax does for adaptive
    steps)."""
    n = grid_steps(t0, t1, dt)
    grid = t0 + (t1 - t0) * (np.arange(n + 1) / n)
    grid[-1] = t1
    grid = grid.astype(dtype)
    hits = jumps_on_grid(t0, t1, n, jumps, dtype)
    if hits:
        pts = list(grid)
        for k, j in hits:
            pts[k] = np.nextafter(j, dtype.type(-np.inf), dtype=dtype)
            pts.append(np.nextafter(j, dtype.type(np.inf), dtype=dtype))
        grid = np.unique(np.asarray(pts, dtype=dtype))
    return jnp.asarray(grid)


class StepTimes(eqx.Module):
    """The fixed grid's step times: t_k = t0 + k·(t1 − t0)/n computed in the loop (the last
    is t1 exactly) when the grid is uniform, else read from the table `ts` (as built by
    `fixed_step_grid`). Reading a table inside the loop costs about 0.5–1 µs per step on
    the CPU — more than a whole HH step of a small population — so the uniform case never
    indexes one."""

    t0: Array
    t1: Array
    ts: Array | None
    n: int = eqx.field(static=True)

    def at(self, k):
        """(start, end) of step k (ms)."""
        if self.ts is not None:
            return self.ts[k], self.ts[k + 1]
        h = (self.t1 - self.t0) / self.n
        kf = k.astype(self.t0.dtype)
        return self.t0 + kf * h, jnp.where(k + 1 < self.n, self.t0 + (kf + 1) * h, self.t1)


class GridSaves(eqx.Module):
    """Samples to save on the fixed grid: their times `ts` (ms, as asked) and the grid
    index of each (`steps`: the state after that many steps; ascending)."""

    ts: Array
    steps: Array


def save_steps_on_grid(t0: float, t1: float, n: int, table, save_ts: np.ndarray):
    """The grid index of each save time (ms), or None when one falls between grid points
    (more than 1e-6 of a step away). `table`: the grid's step times where jumps split
    steps (a save time on a split jump takes the nearer of its two points), else None
    (the uniform grid of `n` steps)."""
    h = (t1 - t0) / n
    if table is None:
        k = np.rint((save_ts - t0) / h).astype(np.int64)
        k = np.clip(k, 0, n)
        on_grid = np.where(k == n, t1, t0 + (t1 - t0) * (k / n))
    else:
        grid = np.asarray(table, np.float64)
        j = np.clip(np.searchsorted(grid, save_ts), 1, len(grid) - 1)
        k = np.where(save_ts - grid[j - 1] <= grid[j] - save_ts, j - 1, j)
        on_grid = grid[k]
    if np.any(np.abs(on_grid - save_ts) > 1e-6 * h):
        return None
    return k
