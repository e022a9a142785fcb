"""How spikes reach the delay buffers on the fixed-step path — two named strategies, chosen
in `run.choose_propagation`:

- `EventDriven`: only the rows of the neurons that spiked are read (a gather of their padded
  target rows, then one scatter-add), in chunks of `chunk` spiking neurons until all are
  done (`propagate_chunk`). Work per step ∝ n + spikes × fan-out, the n being one sum per
  block of 32 neurons (`SpikeCount`). Forward only (a loop of data-dependent length).
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


_BLOCK = 32  # neurons per block of the two-level spike count


class SpikeCount(eqx.Module):
    """Where this step's spikes are, found without a running count over every neuron (a
    cumsum over n costs 1.7 ns per neuron on XLA CPU): spikes per block of `_BLOCK` neurons
    and the running count over blocks (n / 32 entries)."""

    blocks: Array        # (n_blocks, _BLOCK) int32, the spike indicators padded to whole blocks
    cumulative: Array    # (n_blocks,) int32, spikes in blocks 0..b
    n: int = eqx.field(static=True)

    @classmethod
    def of(cls, spiked: Array) -> "SpikeCount":
        n = spiked.shape[0]
        blocks = jnp.pad(spiked.astype(jnp.int32), (0, (-n) % _BLOCK)).reshape(-1, _BLOCK)
        return cls(blocks, jnp.cumsum(jnp.sum(blocks, axis=1, dtype=jnp.int32), dtype=jnp.int32), n)

    @property
    def total(self) -> Array:
        return self.cumulative[-1]

    def indices(self, start, size: int) -> Array:
        """The neurons of spikes number start … start + size − 1 (n where there are fewer): a
        binary search over blocks, then a count inside each block found."""
        wanted = start + 1 + jnp.arange(size, dtype=jnp.int32)
        block = jnp.minimum(jnp.searchsorted(self.cumulative, wanted, side="left"), self.cumulative.shape[0] - 1)
        before = jnp.where(block > 0, self.cumulative[jnp.maximum(block - 1, 0)], 0)
        inside = jnp.cumsum(self.blocks[block], axis=1, dtype=jnp.int32)          # (size, _BLOCK)
        offset = jnp.argmax(inside >= (wanted - before)[:, None], axis=1).astype(jnp.int32)
        return jnp.where(wanted <= self.total, block.astype(jnp.int32) * _BLOCK + offset, self.n)


class EventDriven(eqx.Module):
    """Gather the target rows of up to `chunk` spiking neurons at a time (default: set from
    the presynaptic population size by `default_chunk`)."""

    chunk: int | None = eqx.field(static=True, default=None)
    reads_chunks: bool = eqx.field(static=True, default=True, init=False)

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

    reads_chunks: bool = eqx.field(static=True, default=False, init=False)

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
