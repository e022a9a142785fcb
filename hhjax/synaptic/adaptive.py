"""Event-exact adaptive integration of small networks.

Between events the network is one smooth ODE (neurons and synaptic states), stepped by an
embedded Runge–Kutta pair (default Dopri5) with error control. Events are:

- a spike: an upward threshold crossing, located on the step's dense interpolant (bisection,
  then one Newton step that carries the implicit derivative of the spike time, so gradients
  with respect to weights and parameters are exact for the discretised solve);
  the step is cut at the first crossing, the neuron is reset there (LIF-type models), and
  its synapses are scheduled to arrive at t_spike + delay;
- an arrival: steps end exactly on it and the weights kick the synaptic states (or V);
- the end of a refractory period (LIF-type models) and jumps of the stimuli, where steps also
  end exactly.

The loop is a `lax.scan` of `max_steps` step attempts (attempts after the end do nothing),
so `jax.grad` works through it. Work per attempt grows with neurons × synapses: meant for
networks of up to a few hundred neurons. Delays need not be multiples of anything here.
"""

from __future__ import annotations

import dataclasses

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..integrate.loops.adaptive import rms_norm_of_all
from ..integrate.solvers import ModelTerm
from .network import Network, NetworkState
from .population import PoissonSource, Population

_BISECTIONS = 60


class Pending(eqx.Module):
    """Scheduled arrivals of one projection: `times[q, c]` (ms) for synapse column c of the
    presynaptic neuron `pre[q]`; `valid[q, c]` marks entries still to arrive."""

    times: Array
    valid: Array
    pre: Array


class EventCarry(eqx.Module):
    t: Array
    y: NetworkState
    h: Array
    armed: dict
    last_spike: dict
    spike_times: dict
    spike_count: dict
    pending: dict
    overflow: Array
    steps: Array


@dataclasses.dataclass
class EventRun:
    """Spike times `spike_times[pop]` (n, max_spikes; NaN past `spike_count[pop]`), the
    final state and the number of step attempts used."""

    spike_times: dict
    spike_count: dict
    final: NetworkState
    steps: int


def _refractory_ends(network: Network, y: NetworkState, t) -> Array:
    """The next end of a refractory period after t among LIF-type neurons (inf if none)."""
    out = jnp.asarray(jnp.inf, t.dtype)
    for k, pop in network.neuron_populations.items():
        if pop.model.has_reset:
            ends = pop.model.refractory_end(y.neurons[k])
            out = jnp.minimum(out, jnp.min(jnp.where(ends > t, ends, jnp.inf)))
    return out


def event_solve(network: Network, state: NetworkState, t0: float, t1: float, *, rtol: float = 1e-10,
                atol: float = 1e-10, max_steps: int = 20_000, max_spikes: int = 32, max_pending: int = 16,
                solver: dfx.AbstractAdaptiveSolver | None = None, first_step: float = 0.01) -> EventCarry:
    """The pure core of `run_adaptive` (see the module docstring); returns the final carry."""
    solver = dfx.Dopri5() if solver is None else solver
    for name, pop in network.populations.items():
        if isinstance(pop, PoissonSource):
            raise ValueError(f"population {name!r} is a PoissonSource: the adaptive path needs deterministic inputs "
                             "(use the fixed-step run_network)")
        if isinstance(pop, Population) and pop.discrete:
            raise ValueError(f"population {name!r} steps in discrete time: use the fixed-step run_network")
    dtype = jax.tree.leaves(state)[0].dtype
    t0a, t1a = jnp.asarray(t0, dtype), jnp.asarray(t1, dtype)
    jumps = sorted({float(j) for pop in network.neuron_populations.values()
                    if hasattr(pop.stimulus, "jumps") for j in pop.stimulus.jumps(t0, t1)})
    jumps = jnp.asarray(jumps + [np.inf], dtype)
    term = ModelTerm(network.vector_field, decay=network.decay_rates)
    pops = network.neuron_populations
    thresholds = {k: jnp.asarray(p.spike_threshold, dtype) for k, p in pops.items()}

    def initial() -> EventCarry:
        V = network.voltages(state)
        return EventCarry(
            t=t0a, y=state, h=jnp.asarray(first_step, dtype),
            armed={k: V[k] < thresholds[k] for k in pops},
            last_spike={k: jnp.full((p.n,), -jnp.inf, dtype) for k, p in pops.items()},
            spike_times={k: jnp.full((p.n, max_spikes), jnp.nan, dtype) for k, p in pops.items()},
            spike_count={k: jnp.zeros((p.n,), jnp.int32) for k, p in pops.items()},
            pending={k: Pending(jnp.zeros((max_pending, p.connectivity.max_fan_out), dtype),
                                jnp.zeros((max_pending, p.connectivity.max_fan_out), bool),
                                jnp.zeros((max_pending,), jnp.int32)) for k, p in network.projections.items()},
            overflow=jnp.zeros((), bool), steps=jnp.zeros((), jnp.int32))

    def next_stop(c: EventCarry):
        stop = jnp.minimum(t1a, jnp.min(jnp.where(jumps > c.t, jumps, jnp.inf)))
        for p in c.pending.values():
            stop = jnp.minimum(stop, jnp.min(jnp.where(p.valid, p.times, jnp.inf)))
        return jnp.minimum(stop, _refractory_ends(network, c.y, c.t))

    def deliver_due(c: EventCarry, y: NetworkState, t) -> tuple[NetworkState, dict]:
        arrivals, pending = {}, {}
        tol = 1e-12 * jnp.maximum(1.0, jnp.abs(t))
        for key, p in c.pending.items():
            conn = network.projections[key].connectivity
            due = p.valid & (p.times <= t + tol)
            rows = conn.rows_of(p.pre)
            w = conn.row_weights(rows)
            w = jnp.where(due, jnp.broadcast_to(w, due.shape), 0).astype(dtype)
            arrivals[key] = jnp.zeros((conn.n_post,), dtype).at[conn.targets[rows]].add(w, mode="drop")
            pending[key] = Pending(p.times, p.valid & ~due, p.pre)
        return network.deliver(y, arrivals), pending

    def schedule(pending: dict, fired: dict, t_spike) -> tuple[dict, Array]:
        new, overflow = dict(pending), jnp.zeros((), bool)
        for key, proj in network.projections.items():
            conn, p = proj.connectivity, pending[key]
            rows = conn.rows_of(jnp.arange(conn.n_pre))  # (row j: presynaptic neuron j)
            delays = jnp.broadcast_to(conn.delays, conn.targets.shape).astype(dtype)[rows]
            real = conn.targets[rows] < conn.n_post

            def add_one(j, state):
                pend, over = state
                go = fired[proj.pre][j]
                free = ~jnp.any(pend.valid, axis=1)
                q = jnp.argmax(free)
                ok = go & free[q]
                times = pend.times.at[q].set(jnp.where(ok, t_spike + delays[j], pend.times[q]))
                valid = pend.valid.at[q].set(jnp.where(ok, real[j], pend.valid[q]))
                pre = pend.pre.at[q].set(jnp.where(ok, j, pend.pre[q]))
                return Pending(times, valid, pre), over | (go & ~free[q])

            p, over = jax.lax.cond(  # (most attempts end without a spike: skip the loop then)
                jnp.any(fired[proj.pre]), lambda st: jax.lax.fori_loop(0, conn.n_pre, add_one, st),
                lambda st: st, (p, overflow))
            new[key], overflow = p, overflow | over
        return new, overflow

    def attempt(c: EventCarry) -> EventCarry:
        stop = next_stop(c)
        h_free = jax.lax.stop_gradient(c.h)
        clipped = c.t + h_free >= stop
        t_end = jnp.where(clipped, stop, c.t + h_free)
        state0 = solver.init(term, c.t, t_end, c.y, None)
        y1, y_err, dense, _, _ = solver.step(term, c.t, t_end, c.y, None, state0, False)
        scale = jax.tree.map(lambda a, b: atol + rtol * jnp.maximum(jnp.abs(a), jnp.abs(b)), c.y, y1)
        # (components held at ±inf, such as "never spiked" times, do not count)
        err = jax.lax.stop_gradient(rms_norm_of_all(jax.tree.map(lambda e, s, y: jnp.where(jnp.isinf(y), 0, e / s),
                                                      y_err, scale, c.y)))
        accept = err <= 1.0
        factor = jnp.clip(0.9 * jnp.where(err > 0, err, 1e-10) ** (-0.2), 0.2, 5.0)
        h_next = jnp.maximum((t_end - c.t) * factor, 1e-9)
        interp = solver.interpolation_cls(t0=c.t, t1=t_end, **dense)

        V0, V1 = network.voltages(c.y), network.voltages(y1)
        kicked = {k: c.armed[k] & (V0[k] >= thresholds[k]) for k in pops}  # pushed across by an arrival
        candidates = {k: c.armed[k] & (V1[k] >= thresholds[k]) for k in pops}
        any_spike = jnp.any(jnp.stack([jnp.any(v) for v in candidates.values()]))

        def crossing_times():
            lo0, hi0 = jax.lax.stop_gradient(c.t), jax.lax.stop_gradient(t_end)
            out = {}
            for k, pop in pops.items():
                def v_at(tau, i, k=k):
                    return network.voltages(interp.evaluate(tau))[k][i]

                def root(i, k=k):
                    def bisect(_, ab):
                        a, b = ab
                        m = 0.5 * (a + b)
                        above = jax.lax.stop_gradient(v_at(m, i)) >= thresholds[k]
                        return jnp.where(above, a, m), jnp.where(above, m, b)

                    a, b = jax.lax.fori_loop(0, _BISECTIONS, bisect, (lo0, hi0))
                    return b

                times = jnp.where(kicked[k], lo0, jax.vmap(root)(jnp.arange(pop.n)))
                out[k] = jnp.where(candidates[k], times, jnp.inf)
            return out

        roots = jax.lax.cond(any_spike, crossing_times,
                             lambda: {k: jnp.full((p.n,), jnp.inf, dtype) for k, p in pops.items()})
        t_first = jnp.min(jnp.stack([jnp.min(r) for r in roots.values()]))
        t_root = jnp.where(any_spike, t_first, t_end)
        # One Newton step at the (converged) root: exact value, and the implicit derivative.
        y_root = interp.evaluate(t_root)
        f_root = network.vector_field(t_root, y_root)
        firing = {k: (roots[k] <= t_first) & candidates[k] & any_spike for k in pops}
        correction, located = jnp.zeros((), dtype), jnp.zeros((), dtype)
        for k, pop in pops.items():  # (the mean over neurons firing together, e.g. identical ones)
            V = pop.model.voltage(y_root.neurons[k])
            dV = pop.model.voltage(f_root.neurons[k])
            smooth = firing[k] & ~kicked[k]
            correction = correction + jnp.sum(jnp.where(smooth, (V - thresholds[k]) / jnp.where(dV > 0, dV, 1.0), 0.0))
            located = located + jnp.sum(smooth.astype(dtype))
        t_spike = t_root - correction / jnp.maximum(located, 1.0)
        t_new = jnp.where(any_spike, t_spike, t_end)
        # (the interpolant turns components held at ±inf into NaN: they keep their value)
        y_cut = jax.tree.map(lambda a, y0: jnp.where(jnp.isinf(y0), y0, a), interp.evaluate(t_spike), c.y)
        y_new = jax.tree.map(lambda a, b: jnp.where(any_spike, a, b), y_cut, y1)

        neurons = dict(y_new.neurons)
        armed, last, times, count = dict(c.armed), dict(c.last_spike), dict(c.spike_times), dict(c.spike_count)
        V_new = network.voltages(y_new)
        overflow = c.overflow
        for k, pop in pops.items():
            fire = firing[k]
            if pop.model.has_reset:
                reset = pop.model.reset(t_spike, neurons[k])
                neurons[k] = jax.tree.map(lambda a, b: jnp.where(fire, a, b), reset, neurons[k])
            slot = jnp.minimum(count[k], max_spikes - 1)
            record = fire & (count[k] < max_spikes)
            times[k] = times[k].at[jnp.arange(pop.n), slot].set(
                jnp.where(record, t_spike, times[k][jnp.arange(pop.n), slot]))
            overflow = overflow | jnp.any(fire & (count[k] >= max_spikes))
            count[k] = count[k] + fire.astype(jnp.int32)
            last[k] = jnp.where(fire, t_spike, last[k])
            refractory_over = t_new >= last[k] + pop.refractory
            armed[k] = jnp.where(fire, False, armed[k] | ((V_new[k] < thresholds[k]) & refractory_over))
        y_new = NetworkState(neurons=neurons, synapses=y_new.synapses)
        pending, over = schedule(c.pending, firing, t_spike)
        c_new = EventCarry(t_new, y_new, h_next, armed, last, times, count, pending, overflow | over, c.steps + 1)
        y_del, pending = deliver_due(c_new, y_new, t_new)
        c_new = eqx.tree_at(lambda z: (z.y, z.pending), c_new, (y_del, pending))
        rejected = eqx.tree_at(lambda z: (z.h, z.steps), c, (h_next, c.steps + 1))
        return jax.tree.map(lambda a, b: jnp.where(accept, a, b), c_new, rejected)

    def body(c, _):
        return jax.lax.cond(c.t < t1a, attempt, lambda z: z, c), None

    carry, _ = jax.lax.scan(body, initial(), None, length=max_steps)
    return carry


def run_adaptive(network: Network, t1: float, *, t0: float = 0.0, initial: NetworkState | None = None,
                 rtol: float = 1e-10, atol: float = 1e-10, max_steps: int = 20_000, max_spikes: int = 32,
                 max_pending: int = 16, solver=None) -> EventRun:
    """Simulate a small network event-exactly from t0 to t1 (ms) (see the module docstring).
    Raises `RuntimeError` when `max_steps` attempts do not reach t1, or when more than
    `max_spikes` spikes per neuron or `max_pending` spikes in flight per projection occur."""
    if not t1 > t0:
        raise ValueError(f"t1 ({t1} ms) must be after t0 ({t0} ms)")
    state = network.initial_state() if initial is None else initial
    network.check_memory(jax.tree.leaves(state)[0].dtype)
    solve = eqx.filter_jit(event_solve)
    c = solve(network, state, t0, t1, rtol=rtol, atol=atol, max_steps=max_steps, max_spikes=max_spikes,
              max_pending=max_pending, solver=solver)
    if float(c.t) < t1 * (1 - 1e-12):
        raise RuntimeError(f"the adaptive network solve stopped at t = {float(c.t):.6g} ms after {max_steps} step "
                           "attempts; raise max_steps")
    if bool(c.overflow):
        raise RuntimeError(f"more than max_spikes = {max_spikes} spikes per neuron or max_pending = {max_pending} "
                           "spikes in flight per projection; raise them")
    for leaf in jax.tree.leaves(c.y):
        if bool(jnp.any(jnp.isnan(leaf))):
            raise FloatingPointError("the network state became NaN during the adaptive solve")
    return EventRun({k: np.asarray(v) for k, v in c.spike_times.items()},
                    {k: np.asarray(v) for k, v in c.spike_count.items()}, c.y, int(c.steps))
