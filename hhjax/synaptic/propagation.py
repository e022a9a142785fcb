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
from .delay_buffers import SpikeCounts, WeightSums


class Outgoing(eqx.Module):
    """One projection's connectivity with its delays in steps (shape () or (n_rows + 1, F)),
    and its delay ring buffer: one flat array of `depth` slots of n_post entries (XLA CPU
    scatters into one flat index about twice as fast as into a (slot, neuron) pair), which
    hold what `kind` says (`delay_buffers`: weight sums or spike counts); the padding of the
    connectivity rows scatters past its end, dropped."""

    connectivity: Connectivity
    delay_steps: Array
    depth: int = eqx.field(static=True)
    kind: WeightSums | SpikeCounts = WeightSums()

    @property
    def n_post(self) -> int:
        return self.connectivity.n_post

    def empty_buffer(self, dtype) -> Array:
        """An empty buffer of a network whose state has floating-point type `dtype`."""
        return jnp.zeros((self.depth * self.n_post,), self.kind.dtype(dtype))

    def ready_to_send(self, buffer: Array) -> Array:
        """The buffer as spikes are sent into it: a buffer of one slot (all delays 0) is
        empty then — its slot was taken due before — so it starts afresh from zeros (XLA
        need not keep or copy the old one)."""
        return jnp.zeros_like(buffer) if self.depth == 1 else buffer

    def take_due(self, buffer: Array, step, dtype) -> tuple[Array, Array]:
        """The weights arriving at `step` (shape (n_post,), floating-point type `dtype`), and
        the buffer with that slot emptied for reuse (a buffer of one slot as it is:
        `ready_to_send` empties it)."""
        if self.depth == 1:
            due = buffer
        else:
            start = (step % self.depth) * self.n_post
            due = jax.lax.dynamic_slice(buffer, (start,), (self.n_post,))
            buffer = jax.lax.dynamic_update_slice(buffer, jnp.zeros_like(due), (start,))
        return self.kind.arriving(due, self.connectivity, dtype), buffer

    def add_spikes(self, buffer: Array, rows: Array, base) -> Array:
        """Add one spike of each of the stored `rows` (ascending, padded with the padding
        row): each synapse into the slot of step `base + delay`.

        The rows' targets (and per-synapse weights and delays) are first copied out of the
        tables inside a conditional, which skips the copy when the chunk holds no spike;
        fused into the index arithmetic instead, XLA's CPU backend gathers slot by slot,
        ~20 % slower per network step at 400,000 neurons (docs/synaptic.md)."""
        c = self.connectivity
        tables = {"targets": c.targets, "values": self.kind.spike_values(c), "delays": self.delay_steps}
        per_synapse = {k: t for k, t in tables.items() if jnp.ndim(t) == 2}
        rows = rows.astype(jnp.uint32)

        def copy_rows(rows):
            return {k: t[rows] for k, t in per_synapse.items()}

        def padding(rows):
            return {k: jnp.broadcast_to(t[c.n_rows], (rows.shape[0], t.shape[1])) for k, t in per_synapse.items()}

        got = {**tables, **jax.lax.cond(rows[0] < c.n_rows, copy_rows, padding, rows)}
        return self._scatter(buffer, got["targets"], got["delays"], got["values"], base)

    def add(self, buffer: Array, rows: Array, values: Array, base) -> Array:
        """Add `values` (broadcast to (len(rows), F)) through the stored `rows` of the
        connectivity, each synapse into the slot of step `base + delay`."""
        # (unsigned indices: JAX adds no wrap-around of negative indices, which XLA CPU
        # would otherwise evaluate for every synapse)
        rows = rows.astype(jnp.uint32)
        delays = self.delay_steps if jnp.ndim(self.delay_steps) == 0 else self.delay_steps[rows]
        return self._scatter(buffer, self.connectivity.targets[rows], delays, values, base)

    def _scatter(self, buffer: Array, targets: Array, delays: Array, values: Array, base) -> Array:
        targets = targets.astype(jnp.uint32)
        slot = ((base + delays) % self.depth).astype(jnp.uint32)
        flat = jnp.where(targets < self.n_post, slot * self.n_post + targets, self.depth * self.n_post)
        values = jnp.broadcast_to(values.astype(buffer.dtype), targets.shape)
        return buffer.at[flat].add(values, mode="drop")


_BLOCK = 32  # neurons per block of the two-level spike count: one uint32 bit mask each


class SpikeCount(eqx.Module):
    """Where this step's spikes are, found without a running count over every neuron (a
    cumsum over n costs 1.7 ns per neuron on XLA CPU): each block of `_BLOCK` neurons as a
    bit mask (bit i: neuron 32·block + i spiked) and the running count over blocks (n / 32
    entries)."""

    masks: Array         # (n_blocks,) uint32, the spike indicators of each block as bits
    cumulative: Array    # (n_blocks,) int32, spikes in blocks 0..b
    n: int = eqx.field(static=True)

    @classmethod
    def of(cls, spiked: Array) -> "SpikeCount":
        n = spiked.shape[0]
        blocks = jnp.pad(spiked.astype(jnp.uint32), (0, (-n) % _BLOCK)).reshape(-1, _BLOCK)
        masks = jnp.sum(blocks << jnp.arange(_BLOCK, dtype=jnp.uint32)[None, :], axis=1, dtype=jnp.uint32)
        per_block = jax.lax.population_count(masks).astype(jnp.int32)
        return cls(masks, jnp.cumsum(per_block, dtype=jnp.int32), n)

    @property
    def total(self) -> Array:
        return self.cumulative[-1]

    def before(self, index: int) -> Array:
        """Spikes of the neurons below `index` (a Python int)."""
        block, inside = divmod(index, _BLOCK)
        count = self.cumulative[block - 1] if block > 0 else jnp.zeros((), jnp.int32)
        if inside:
            low = self.masks[block] & jnp.uint32((1 << inside) - 1)
            count = count + jax.lax.population_count(low).astype(jnp.int32)
        return count

    def indices(self, start, size: int, stop=None, shift: int = 0, none: int | None = None) -> Array:
        """The neurons of spikes number start … start + size − 1, less `shift` (`none`,
        default n, for numbers at or beyond `stop`, default the total): a binary search over
        blocks, then over the bits of each block found (`nth_set_bit`)."""
        stop = self.total if stop is None else stop
        none = self.n if none is None else none
        wanted = start + 1 + jnp.arange(size, dtype=jnp.int32)
        block = jnp.minimum(jnp.searchsorted(self.cumulative, wanted, side="left"), self.cumulative.shape[0] - 1)
        before = jnp.where(block > 0, self.cumulative[jnp.maximum(block - 1, 0)], 0)
        offset = nth_set_bit(self.masks[block], wanted - before)
        return jnp.where(wanted <= stop, block.astype(jnp.int32) * _BLOCK + offset - shift, none)

    def span(self, lo: int, hi: int) -> tuple[Array, Array]:
        """The numbers [first, last) of this step's spikes of neurons lo … hi − 1."""
        return self.before(lo), self.total if hi >= self.n else self.before(hi)


def nth_set_bit(words: Array, rank: Array) -> Array:
    """Position (0–31) of the `rank`-th lowest set bit (rank from 1) of each uint32 word:
    five halving steps, each counting the set bits of the lower half (a word with fewer
    than `rank` set bits gives 31 or less, unspecified)."""
    position = jnp.zeros(rank.shape, jnp.int32)
    for width in (16, 8, 4, 2, 1):
        low = jax.lax.population_count(words & jnp.uint32((1 << width) - 1)).astype(jnp.int32)
        upper = rank > low
        rank = jnp.where(upper, rank - low, rank)
        words = jnp.where(upper, words >> jnp.uint32(width), words)
        position = jnp.where(upper, position + width, position)
    return position


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
            idx = _round_indices(count, job, first + c * job.chunk, last)
            carry = job.body(c * job.chunk, idx, carry)
        return carry

    return jax.lax.fori_loop(0, rounds, round_, carry)


def _round_indices(count: SpikeCount, job: ChunkJob, start, stop) -> Array:
    """`count.indices` of one job's round, inside a conditional: that writes them to memory
    (fused into the gather of the rows, XLA would redo the search for every synapse slot of
    a row; docs/synaptic.md) and skips the search once the job's spikes are done."""
    none = count.n if job.none is None else job.none
    return jax.lax.cond(start < stop,
                        lambda start, stop: count.indices(start, job.chunk, stop, job.shift, job.none),
                        lambda start, stop: jnp.full((job.chunk,), none, jnp.int32),
                        start, stop)


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
                return ({**buffers, key: out.add_spikes(buffers[key], rows, base)}, *rest)

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
