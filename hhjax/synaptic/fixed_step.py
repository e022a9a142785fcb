"""The fixed-step network loop: one step is deliver → integrate → detect → reset → send, over
every population at once.

1. Weights due now leave the delay ring buffers and kick the synaptic states (or V).
2. The whole network (neurons and synaptic states, one pytree) advances by dt with a diffrax
   explicit solver (`expeuler`, `euler`, `heun`, `midpoint`, `rk4`, …); the synaptic drive
   varies inside the step as the solver's stages see it.
3. A spike is an upward crossing of the population's threshold during the step, outside the
   refractory period; its time is placed by linear interpolation inside the step. Discrete
   models (s-LIF2HH) take one `model.step` on the input at the step's start instead.
4. Models with a reset (LIF-type) are reset at that time.
5. The step's spikes (an `Outbox` per population) are sent into the ring buffers
   (`propagation`) and the spike record, to arrive `1 + delay` steps after the step that
   found them: a delay of 0 reaches the target at the start of the next step. When they are
   sent — at the end of their step, or at the start of the next one (before its delivery),
   where XLA can run the propagation beside the work of that step that does not wait for it
   — is the plan's `sending` (`step_loops`); both compute the same numbers.

Everything here is a pure function of its inputs (`simulate_steps`), so it can be jitted,
vmapped and — with `AllSynapses` propagation and a surrogate spike — differentiated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..backends import Tuning
from ..integrate.solvers import ModelTerm
from .delay_buffers import buffer_kind_for
from .monitors import SpikeRecord
from .network import Network, NetworkState
from .population import PoissonSource
from .propagation import ChunkJob, EventDriven, Outgoing, SpikeCount, default_chunk, run_chunk_jobs


class Outbox(eqx.Module):
    """One population's spikes of the last step, not yet sent: where they are (`count`, for
    event-driven propagation and the spike record), their values (0/1 or surrogate, for
    `AllSynapses`) and times (ms, for the record); None where the plan needs no such thing."""

    count: SpikeCount | None
    value: Array | None
    time: Array | None


class Carry(eqx.Module):
    """What the loop carries from step to step."""

    state: NetworkState
    buffers: dict[str, Array]     # per projection: its delay ring buffer (`Outgoing`)
    last_spike: dict[str, Array]  # per neuron population: time (ms) of the last spike
    records: dict[str, SpikeRecord]
    step: Array
    outboxes: dict[str, Outbox]   # per population: spikes not yet sent (sending at the next step)


class StepPlan(eqx.Module):
    """Everything one step needs besides the carry."""

    network: Network
    outgoing: dict                # population → {projection: Outgoing}
    solver: object
    propagation: object
    loop: object                  # `step_loops.SingleSteps` or `PairedSteps`
    sending: object               # `step_loops.SendAtStepEnd` or `SendAtNextStep`
    key: Array
    samples: dict                 # population → neuron indices whose state is sampled
    dt: float = eqx.field(static=True)
    t0: float = eqx.field(static=True)
    record_spikes: bool = eqx.field(static=True)
    surrogate: Callable | None = eqx.field(static=True, default=None)

    def initial_carry(self, state: NetworkState, capacities: dict[str, int]) -> Carry:
        net = self.network
        dtype = jax.tree.leaves(state)[0].dtype
        buffers = {key: out.empty_buffer(dtype) for key, out in self.all_outgoing.items()}
        last = {k: jnp.full((p.n,), -jnp.inf, dtype) for k, p in net.neuron_populations.items()}
        records = {k: SpikeRecord.empty(capacities[k] if self.record_spikes else 1, dtype)
                   for k in net.populations}
        outboxes = self.sending.initial_outboxes(self, dtype)
        return Carry(state, buffers, last, records, jnp.zeros((), jnp.int32), outboxes)

    def step(self, carry: Carry) -> tuple[Carry, dict[str, Array]]:
        """One step; returns the new carry and each population's spike count this step."""
        return self.sending.step(self, carry)

    def flush(self, carry: Carry) -> Carry:
        """`carry` with no spikes left unsent, at the end of a run (no step may follow: a
        step empties a one-slot buffer before sending into it, `Outgoing.ready_to_send`)."""
        return self.sending.flush(self, carry)

    def advance(self, carry: Carry) -> tuple[Carry, dict[str, Outbox], dict[str, Array]]:
        """Deliver, integrate, detect and reset: the carry one step on (its outboxes as they
        were), this step's outboxes and each population's spike count this step."""
        net, dt = self.network, self.dt
        n = carry.step
        dtype = jax.tree.leaves(carry.state)[0].dtype
        t = jnp.asarray(self.t0, dtype) + n.astype(dtype) * dt

        buffers, arrivals = dict(carry.buffers), {}
        for key, out in self.all_outgoing.items():
            arrivals[key], buffers[key] = out.take_due(buffers[key], n, dtype)
        V0 = net.voltages(carry.state)  # (before the arrivals: a delta kick across threshold is a crossing)
        state = net.deliver(carry.state, arrivals)
        term = ModelTerm(net.vector_field, decay=net.decay_rates, step=dt)
        state1 = self.solver.step(term, t, t + dt, state, None, None, False)[0]
        stepped = {}
        if net.discrete_populations:  # (one model step on the input at the start of the step)
            currents = net.input_currents(t, state)
            neurons1 = dict(state1.neurons)
            for k, pop in net.discrete_populations.items():
                neurons1[k], stepped[k] = pop.model.step(state.neurons[k], currents[k])
            state1 = NetworkState(neurons=neurons1, synapses=state1.synapses)
        V1 = net.voltages(state1)

        neurons, last, counts, outboxes = dict(state1.neurons), dict(carry.last_spike), {}, {}
        for i, (name, pop) in enumerate(net.populations.items()):
            if isinstance(pop, PoissonSource):
                spiked = pop.draw(jax.random.fold_in(jax.random.fold_in(self.key, n), i), dt, dtype)
                t_spike, value = jnp.full((pop.n,), t + dt, dtype), spiked
            elif pop.discrete:  # (stamped at the step's start, as `simulate` does)
                spiked = stepped[name] > 0.5
                t_spike, value = jnp.full((pop.n,), t, dtype), spiked
            else:
                thr = jnp.asarray(pop.spike_threshold, dtype)
                v0, v1 = V0[name], V1[name]
                frac = jnp.clip((thr - v0) / jnp.where(v1 != v0, v1 - v0, 1), 0, 1)
                t_spike = t + dt * jax.lax.stop_gradient(frac)
                armed = (v0 < thr) & (t_spike >= last[name] + pop.refractory)
                spiked = armed & (v1 >= thr)
                if pop.model.has_reset:
                    reset = pop.model.reset(t_spike, neurons[name])
                    neurons[name] = jax.tree.map(lambda a, b: jnp.where(spiked, a, b), reset, neurons[name])
                last[name] = jnp.where(spiked, t_spike, last[name])
                if self.surrogate is None:
                    value = spiked
                else:
                    value = jnp.where(jax.lax.stop_gradient(armed), self.surrogate(v1 - thr), 0.0)
            outboxes[name] = self._outbox(name, spiked, value, t_spike)
            if outboxes[name].count is None or self.surrogate is not None:
                counts[name] = jnp.sum(value.astype(dtype))
            else:  # (the spike count already made: one pass over the neurons fewer)
                counts[name] = outboxes[name].count.total.astype(dtype)
        state1 = NetworkState(neurons=neurons, synapses=state1.synapses)
        return Carry(state1, buffers, last, carry.records, n + 1, carry.outboxes), outboxes, counts

    @property
    def all_outgoing(self) -> dict:
        return {key: out for outs in self.outgoing.values() for key, out in outs.items()}

    def empty_outboxes(self, dtype) -> dict[str, Outbox]:
        """Every population's outbox with no spikes."""
        return {k: self._outbox(k, jnp.zeros((p.n,), bool), jnp.zeros((p.n,), dtype), jnp.zeros((p.n,), dtype))
                for k, p in self.network.populations.items()}

    def _outbox(self, name, spiked, value, t_spike) -> Outbox:
        """Keep what sending population `name`'s spikes will need."""
        sends = bool(self.outgoing.get(name))
        chunks = sends and self.propagation.reads_chunks
        return Outbox(count=SpikeCount.of(spiked) if chunks or self.record_spikes else None,
                      value=value.astype(t_spike.dtype) if sends and not chunks else None,
                      time=t_spike if self.record_spikes else None)

    def send(self, carry: Carry, outboxes: dict[str, Outbox], base) -> Carry:
        """`carry` with the spikes in `outboxes` sent into its delay buffers (due at step
        `base` + delay) and spike records: all synapses at once, or chunk by chunk of spiking
        neurons (located by each outbox's `SpikeCount`)."""
        buffers = {key: out.ready_to_send(carry.buffers[key]) for key, out in self.all_outgoing.items()}
        records = dict(carry.records)
        for name, box in outboxes.items():
            outgoing = self.outgoing.get(name, {})
            if box.value is not None:
                buffers = self.propagation.propagate_all(box.value, outgoing, buffers, base)
            if box.count is None:
                continue
            jobs = self.propagation.event_jobs(outgoing, base)
            if self.record_spikes:
                n_pre = self.network.populations[name].n
                jobs.append(ChunkJob(0, n_pre, default_chunk(n_pre),
                                     lambda offset, idx, c, name=name, time=box.time:
                                     (c[0], {**c[1], name: c[1][name].add(idx, time, offset)})))
            buffers, records = run_chunk_jobs(box.count, jobs, (buffers, records))
            if self.record_spikes:
                records[name] = records[name].counted(box.count.total)
        return dataclasses.replace(carry, buffers=buffers, records=records)

    def sample(self, carry: Carry) -> dict:
        return {pop: jax.tree.map(lambda x: x[idx], carry.state.neurons[pop]) for pop, idx in self.samples.items()}


def simulate_steps(plan: StepPlan, carry: Carry, n_samples: int, every: int = 1):
    """`n_samples × every` steps from `carry`. Returns (carry, counts, samples): per-step
    spike counts {population: (n_samples·every,)} and the sampled states
    {population: pytree of (n_samples, k)} taken after every `every`-th step (a run that
    samples nothing runs fastest as one sample of all its steps). The last step's spikes
    may still wait in the carry: the next call sends them, or `plan.flush` after the last."""

    def outer(c, _):
        c, counts = plan.loop.run(plan.step, c, every)
        return c, (counts, plan.sample(c))

    carry, (counts, samples) = jax.lax.scan(outer, carry, None, length=n_samples)
    counts = {k: v.reshape(-1) for k, v in counts.items()}
    return carry, counts, samples


def delay_outgoing(network: Network, dt: float, propagation, tuning: Tuning) -> dict[str, dict[str, Outgoing]]:
    """Each population's outgoing projections with delays converted to steps of dt, and
    their delay buffers of the kind `buffer_kind_for` chooses."""
    out = {}
    event_driven = isinstance(propagation, EventDriven)
    for key, proj in network.projections.items():
        steps, depth = proj.delay_steps(dt)
        kind = buffer_kind_for(proj.connectivity, depth, event_driven, tuning)
        out.setdefault(proj.pre, {})[key] = Outgoing(proj.connectivity, steps, depth, kind)
    return out
