"""How spikes reach the delay buffers on the fixed-step path — two named strategies, chosen
in `run.choose_propagation`:

- `EventDriven`: only the rows of the neurons that spiked are read (a gather of their padded
  target rows, then one scatter-add), in chunks of `chunk` spiking neurons until all are
  done (`event_jobs`, run in one loop by `run_chunk_jobs`). Work per step ∝ n + spikes ×
  fan-out, the n being one sum per block of 32 neurons (`SpikeCount`). Forward only (a
  loop of data-dependent length).
- `AllSynapses`: every synapse every step, each weighted by its presynaptic spike value
  (0/1 forward, surrogate derivative backward; `propagate_all`). Work per step ∝ synapses;
  differentiable.

Both add, for every synapse i → j with delay d steps, weight·spike into slot
`(step + 1 + d) % depth` of the projection's ring buffer (`Outgoing`), at neuron j.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .connectivity import Connectivity


class Outgoing(eqx.Module):
    """One projection's connectivity with its delays in steps (shape () or (n_rows + 1, F)),
    and the layout of its delay ring buffer: one flat array of `depth` slots of n_post
    weights (XLA CPU scatters into one flat index about twice as fast as into a (slot,
    neuron) pair); the padding of the connectivity rows scatters past its end, dropped."""

    connectivity: Connectivity
    delay_steps: Array
    depth: int = eqx.field(static=True)

    @property
    def n_post(self) -> int:
        return self.connectivity.n_post

    def empty_buffer(self, dtype) -> Array:
        return jnp.zeros((self.depth * self.n_post,), dtype)

    def take_due(self, buffer: Array, step) -> tuple[Array, Array]:
        """The weights arriving at `step` (shape (n_post,)), and the buffer with that slot
        emptied for reuse."""
        start = (step % self.depth) * self.n_post
        due = jax.lax.dynamic_slice(buffer, (start,), (self.n_post,))
        return due, jax.lax.dynamic_update_slice(buffer, jnp.zeros_like(due), (start,))

    def add(self, buffer: Array, rows: Array, values: Array, base) -> Array:
        """Add `values` (broadcast to (len(rows), F)) through the stored `rows` of the
        connectivity, each synapse into the slot of step `base + delay`."""
        # (unsigned indices: JAX adds no wrap-around of negative indices, which XLA CPU
        # would otherwise evaluate for every synapse)
        rows = rows.astype(jnp.uint32)
        targets = self.connectivity.targets[rows].astype(jnp.uint32)
        delays = self.delay_steps if jnp.ndim(self.delay_steps) == 0 else self.delay_steps[rows]
        slot = ((base + delays) % self.depth).astype(jnp.uint32)
        flat = jnp.where(targets < self.n_post, slot * self.n_post + targets, self.depth * self.n_post)
        values = jnp.broadcast_to(values.astype(buffer.dtype), targets.shape)
        return buffer.at[flat].add(values, mode="drop")


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

    def before(self, index: int) -> Array:
        """Spikes of the neurons below `index` (a Python int)."""
        block, inside = divmod(index, _BLOCK)
        count = self.cumulative[block - 1] if block > 0 else jnp.zeros((), jnp.int32)
        if inside:
            count = count + jnp.sum(self.blocks[block, :inside], dtype=jnp.int32)
        return count

    def indices(self, start, size: int, stop=None, shift: int = 0, none: int | None = None) -> Array:
        """The neurons of spikes number start … start + size − 1, less `shift` (`none`,
        default n, for numbers at or beyond `stop`, default the total): a binary search over
        blocks, then a count inside each block found."""
        stop = self.total if stop is None else stop
        none = self.n if none is None else none
        wanted = start + 1 + jnp.arange(size, dtype=jnp.int32)
        block = jnp.minimum(jnp.searchsorted(self.cumulative, wanted, side="left"), self.cumulative.shape[0] - 1)
        before = jnp.where(block > 0, self.cumulative[jnp.maximum(block - 1, 0)], 0)
        inside = jnp.cumsum(self.blocks[block], axis=1, dtype=jnp.int32)          # (size, _BLOCK)
        offset = jnp.argmax(inside >= (wanted - before)[:, None], axis=1).astype(jnp.int32)
        return jnp.where(wanted <= stop, block.astype(jnp.int32) * _BLOCK + offset - shift, none)

    def span(self, lo: int, hi: int) -> tuple[Array, Array]:
        """The numbers [first, last) of this step's spikes of neurons lo … hi − 1."""
        return self.before(lo), self.total if hi >= self.n else self.before(hi)


class ChunkJob(eqx.Module):
    """Work on this step's spiking neurons with indices in [lo, hi), `chunk` at a time:
    `body(offset, idx, carry) → carry`, with `idx` (chunk,) the neuron indices less
    `shift` (`none` past the last) and `offset` how many of these spikes came in earlier
    rounds."""

    lo: int = eqx.field(static=True)
    hi: int = eqx.field(static=True)
    chunk: int = eqx.field(static=True)
    body: Callable = eqx.field(static=True)
    shift: int = eqx.field(static=True, default=0)
    none: int | None = eqx.field(static=True, default=None)


def run_chunk_jobs(count: SpikeCount, jobs: list[ChunkJob], carry):
    """All `jobs` in one loop of as many rounds as the longest needs (one loop costs less
    than several on small networks; chunks sized to each job's share of the neurons keep
    the rounds balanced)."""
    if not jobs:
        return carry
    spans = [count.span(job.lo, job.hi) for job in jobs]
    rounds = jnp.max(jnp.stack([(last - first + job.chunk - 1) // job.chunk
                                for job, (first, last) in zip(jobs, spans)]))

    def round_(c, carry):
        for job, (first, last) in zip(jobs, spans):
            idx = count.indices(first + c * job.chunk, job.chunk, last, job.shift, job.none)
            carry = job.body(c * job.chunk, idx, carry)
        return carry

    return jax.lax.fori_loop(0, rounds, round_, carry)


def default_chunk(n_pre: int) -> int:
    """Spiking neurons handled per round of the event-driven loop."""
    return int(min(n_pre, max(32, n_pre // 400)))


class EventDriven(eqx.Module):
    """Gather the target rows of up to `chunk` spiking neurons at a time (default: set from
    the number of presynaptic rows by `default_chunk`), each projection over the spikes of
    its own presynaptic rows only."""

    chunk: int | None = eqx.field(static=True, default=None)
    reads_chunks: bool = eqx.field(static=True, default=True, init=False)

    def chunk_size(self, n_pre: int) -> int:
        return self.chunk or default_chunk(n_pre)

    def propagate_all(self, value, outgoing, buffers, base) -> dict:
        return buffers

    def event_jobs(self, outgoing: dict[str, Outgoing], base) -> list[ChunkJob]:
        """One job per projection, over the spikes of its own presynaptic rows; the loop
        carry is (buffers, …)."""
        jobs = []
        for key, out in outgoing.items():
            lo, hi = out.connectivity.row_range

            def body(offset, rows, carry, key=key, out=out):
                buffers, *rest = carry
                return ({**buffers, key: out.add(buffers[key], rows, out.connectivity.row_weights(rows), base)}, *rest)

            # (the indices come as rows of the connectivity, its padding row past the last)
            jobs.append(ChunkJob(lo, hi, self.chunk_size(hi - lo), body, shift=lo, none=hi - lo))
        return jobs


class AllSynapses(eqx.Module):
    """Every synapse every step, weighted by the presynaptic spike value (differentiable)."""

    reads_chunks: bool = eqx.field(static=True, default=False, init=False)

    def event_jobs(self, outgoing, base) -> list:
        return []

    def propagate_all(self, spiked: Array, outgoing: dict[str, Outgoing], buffers: dict, base) -> dict:
        new = dict(buffers)
        for key, out in outgoing.items():
            lo, hi = out.connectivity.row_range
            rows = jnp.arange(hi - lo)
            s = spiked[lo:hi].astype(buffers[key].dtype)[:, None]
            new[key] = out.add(buffers[key], rows, s * out.connectivity.row_weights(rows), base)
        return new
