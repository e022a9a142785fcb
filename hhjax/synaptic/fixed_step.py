"""The fixed-step network loop: one step is deliver → integrate → detect → reset → propagate
→ record, over every population at once.

1. Weights due now leave the delay ring buffers and kick the synaptic states (or V).
2. The whole network (neurons and synaptic states, one pytree) advances by dt with a diffrax
   explicit solver (`expeuler`, `euler`, `heun`, `midpoint`, `rk4`, …); the synaptic drive
   varies inside the step as the solver's stages see it.
3. A spike is an upward crossing of the population's threshold during the step, outside the
   refractory period; its time is placed by linear interpolation inside the step. Discrete
   models (s-LIF2HH) take one `model.step` on the input at the step's start instead.
4. Models with a reset (LIF-type) are reset at that time.
5. Spikes go into the ring buffers (`propagation`), to arrive `1 + delay` steps later: a
   delay of 0 reaches the target at the start of the next step.

Everything here is a pure function of its inputs (`simulate_steps`), so it can be jitted,
vmapped and — with `AllSynapses` propagation and a surrogate spike — differentiated.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..integrate.solvers import ModelTerm
from .monitors import SpikeRecord
from .network import Network, NetworkState
from .population import PoissonSource
from .propagation import ChunkJob, Outgoing, SpikeCount, default_chunk, run_chunk_jobs


class Carry(eqx.Module):
    """What the loop carries from step to step."""

    state: NetworkState
    buffers: dict[str, Array]     # per projection: its delay ring buffer (`Outgoing`)
    last_spike: dict[str, Array]  # per neuron population: time (ms) of the last spike
    records: dict[str, SpikeRecord]
    step: Array


class StepPlan(eqx.Module):
    """Everything one step needs besides the carry."""

    network: Network
    outgoing: dict                # population → {projection: Outgoing}
    solver: object
    propagation: object
    loop: object                  # `step_loops.SingleSteps` or `PairedSteps`
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
        return Carry(state, buffers, last, records, jnp.zeros((), jnp.int32))

    def step(self, carry: Carry) -> tuple[Carry, dict[str, Array]]:
        """One step; returns the new carry and each population's spike count this step."""
        net, dt = self.network, self.dt
        n = carry.step
        dtype = jax.tree.leaves(carry.state)[0].dtype
        t = jnp.asarray(self.t0, dtype) + n.astype(dtype) * dt

        buffers, arrivals = dict(carry.buffers), {}
        for key, out in self.all_outgoing.items():
            arrivals[key], buffers[key] = out.take_due(buffers[key], n)
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

        neurons, last, records, counts = dict(state1.neurons), dict(carry.last_spike), dict(carry.records), {}
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
            buffers, records[name], total = self._emit(name, pop.n, spiked, value, t_spike, buffers, records[name],
                                                       n + 1)
            if total is None or self.surrogate is not None:
                counts[name] = jnp.sum(value.astype(dtype))
            else:  # (the spike count already made: one pass over the neurons fewer)
                counts[name] = total.astype(dtype)
        state1 = NetworkState(neurons=neurons, synapses=state1.synapses)
        return Carry(state1, buffers, last, records, n + 1), counts

    @property
    def all_outgoing(self) -> dict:
        return {key: out for outs in self.outgoing.values() for key, out in outs.items()}

    def _emit(self, name, n_pre, spiked, value, t_spike, buffers, record, base):
        """Send this step's spikes of population `name` into the delay buffers and the spike
        record: all synapses at once, or chunk by chunk of spiking neurons (located by
        `SpikeCount`). Returns (buffers, record, the number of spikes or None if not counted)."""
        outgoing = self.outgoing.get(name, {})
        buffers = self.propagation.propagate_all(value, outgoing, buffers, base)
        if not (self.record_spikes or (outgoing and self.propagation.reads_chunks)):
            return buffers, record, None
        count = SpikeCount.of(spiked)
        jobs = self.propagation.event_jobs(outgoing, base)
        if self.record_spikes:
            jobs.append(ChunkJob(0, n_pre, default_chunk(n_pre),
                                 lambda offset, idx, carry: (carry[0], carry[1].add(idx, t_spike, offset))))
        buffers, record = run_chunk_jobs(count, jobs, (buffers, record))
        return buffers, record.counted(count.total) if self.record_spikes else record, count.total

    def sample(self, carry: Carry) -> dict:
        return {pop: jax.tree.map(lambda x: x[idx], carry.state.neurons[pop]) for pop, idx in self.samples.items()}


def simulate_steps(plan: StepPlan, carry: Carry, n_samples: int, every: int = 1):
    """`n_samples × every` steps from `carry`. Returns (carry, counts, samples): per-step
    spike counts {population: (n_samples·every,)} and the sampled states
    {population: pytree of (n_samples, k)} taken after every `every`-th step (a run that
    samples nothing runs fastest as one sample of all its steps)."""

    def outer(c, _):
        c, counts = plan.loop.run(plan.step, c, every)
        return c, (counts, plan.sample(c))

    carry, (counts, samples) = jax.lax.scan(outer, carry, None, length=n_samples)
    counts = {k: v.reshape(-1) for k, v in counts.items()}
    return carry, counts, samples


def delay_outgoing(network: Network, dt: float) -> dict[str, dict[str, Outgoing]]:
    """Each population's outgoing projections with delays converted to steps of dt."""
    out = {}
    for key, proj in network.projections.items():
        steps, depth = proj.delay_steps(dt)
        out.setdefault(proj.pre, {})[key] = Outgoing(proj.connectivity, steps, depth)
    return out
