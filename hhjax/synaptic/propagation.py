"""How spikes reach the delay buffers on the fixed-step path — two named strategies, chosen
in `run.choose_propagation`:

- `EventDriven`: only the rows of the neurons that spiked are read (a gather of their padded
  target rows, then one scatter-add), in chunks of `chunk` spiking neurons until all are
  done (`propagate_chunk`). Work per step ∝ n + spikes × fan-out, the n being one running
  count. Forward only (a loop of data-dependent length).
- `AllSynapses`: every synapse every step, each weighted by its presynaptic spike value
  (0/1 forward, surrogate derivative backward; `propagate_all`). Work per step ∝ synapses;
  differentiable.

Both add, for every synapse i → j with delay d steps, weight·spike into
`buffer[(step + 1 + d) % depth, j]`.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .connectivity import Connectivity


class Outgoing(eqx.Module):
    """One projection's connectivity with its delays in steps (shape () or (n_pre + 1, F))."""

    connectivity: Connectivity
    delay_steps: Array
    depth: int = eqx.field(static=True)


def _scatter(buffer, rows, out: Outgoing, weight_rows, delay_rows, base):
    slot = (base + delay_rows) % out.depth
    return buffer.at[slot, rows].add(weight_rows, mode="drop")


def _take_rows(x, idx):
    return x if jnp.ndim(x) == 0 else x[idx]


def spike_rank(spiked: Array) -> Array:
    """The running count of spikes (int32 (n,)): `spike_indices` reads chunks from it."""
    return jnp.cumsum(spiked.astype(jnp.int32), dtype=jnp.int32)


def spike_indices(rank: Array, start, size: int) -> Array:
    """The indices of spikes number start … start + size − 1 (n where there are fewer): a
    binary search of the running count, O(size · log n), instead of a scatter over all n."""
    wanted = start + 1 + jnp.arange(size, dtype=jnp.int32)
    return jnp.searchsorted(rank, wanted, side="left").astype(jnp.int32)


class EventDriven(eqx.Module):
    """Gather the target rows of up to `chunk` spiking neurons at a time (default: set from
    the presynaptic population size by `default_chunk`)."""

    chunk: int | None = eqx.field(static=True, default=None)

    @staticmethod
    def default_chunk(n_pre: int) -> int:
        return int(min(n_pre, max(32, n_pre // 400)))

    def chunk_size(self, n_pre: int) -> int:
        return self.chunk or self.default_chunk(n_pre)

    def propagate_all(self, value, outgoing, buffers, base) -> dict:
        return buffers

    def propagate_chunk(self, idx: Array, outgoing: dict[str, Outgoing], buffers: dict, base) -> dict:
        """Add the rows of presynaptic neurons `idx` (n_pre marks "none")."""
        new = dict(buffers)
        k = idx.shape[0]
        for key, out in outgoing.items():
            conn = out.connectivity
            w = jnp.broadcast_to(_take_rows(conn.weights, idx).astype(buffers[key].dtype), (k, conn.max_fan_out))
            new[key] = _scatter(buffers[key], conn.targets[idx], out, w, _take_rows(out.delay_steps, idx), base)
        return new


class AllSynapses(eqx.Module):
    """Every synapse every step, weighted by the presynaptic spike value (differentiable)."""

    def chunk_size(self, n_pre: int) -> int:
        return EventDriven.default_chunk(n_pre)

    def propagate_chunk(self, idx, outgoing, buffers, base) -> dict:
        return buffers

    def propagate_all(self, spiked: Array, outgoing: dict[str, Outgoing], buffers: dict, base) -> dict:
        new = dict(buffers)
        for key, out in outgoing.items():
            conn = out.connectivity
            n = conn.n_pre
            s = spiked.astype(buffers[key].dtype)[:, None]
            w = jnp.broadcast_to(conn.weights if jnp.ndim(conn.weights) == 0 else conn.weights[:n],
                                 (n, conn.max_fan_out)).astype(buffers[key].dtype)
            d = out.delay_steps if jnp.ndim(out.delay_steps) == 0 else out.delay_steps[:n]
            new[key] = _scatter(buffers[key], conn.targets[:n], out, s * w, d, base)
        return new
