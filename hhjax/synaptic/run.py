"""`run_network`: the fixed-step driver — checks, chooses the propagation strategy, compiles
one block of steps ahead of time, runs the blocks (with an optional progress line) and
returns the recorded spikes, counts and samples with the compile and run times apart."""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np

from ..backends import Tuning, compile_lowered, split_scalars, tuned_model, tuning_for, with_scalars
from ..integrate.solvers import get_solver
from ..networks.surrogates import spike_function
from .fixed_step import Carry, StepPlan, delay_outgoing, simulate_steps
from .memory import check_fits
from .monitors import Monitors, SpikeTrains
from .network import Network, NetworkState
from .propagation import AllSynapses, EventDriven
from .step_loops import sending_for, step_loop_for
from .statistics import cv_isi, rate_hz

_BLOCK_STEPS = 1000


def choose_propagation(differentiable: bool, propagation=None):
    """The one place the propagation strategy is chosen: the caller's, else `AllSynapses`
    for runs that are differentiated (surrogate spikes), else `EventDriven`."""
    if propagation is not None:
        if not isinstance(propagation, (EventDriven, AllSynapses)):
            raise TypeError(f"propagation must be EventDriven() or AllSynapses(), got {propagation!r}")
        return propagation
    return AllSynapses() if differentiable else EventDriven()


def steps_between(t0: float, t1: float, dt: float) -> int:
    """The number of steps of dt in [t0, t1], with clear errors for bad times."""
    for name, v in (("t0", t0), ("t1", t1), ("dt", dt)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number of ms, got {v!r}")
    if dt <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    if t1 <= t0:
        raise ValueError(f"t1 ({t1} ms) must be after t0 ({t0} ms)")
    steps = round((t1 - t0) / dt)
    if abs(steps * dt - (t1 - t0)) > 1e-6 * dt:
        raise ValueError(f"t1 − t0 = {t1 - t0} ms is not a whole number of steps of dt = {dt} ms")
    return int(steps)


def fixed_step_solver(solver):
    name, instance = get_solver(solver)
    if isinstance(instance, dfx.AbstractImplicitSolver):
        raise ValueError(f"solver {name!r} is implicit; network runs take an explicit solver "
                         "(expeuler, euler, heun, midpoint, ralston, rk4)")
    return name, instance


def make_plan(network: Network, dt: float, t0: float, *, solver="expeuler", seed: int = 0, samples=None,
              record_spikes: bool = True, surrogate=None, propagation=None, tuning: Tuning | None = None) -> StepPlan:
    """A `StepPlan` (see `fixed_step`); `surrogate` (a `spike_function`) makes the run
    differentiable. The populations' models and the loop shape (`step_loops`) are as the
    backend `tuning` (default: this device's, `tuning_for()`) asks, e.g. HH-type rates with
    shared exponentials, two steps per loop iteration from 1,000 neurons on the CPU."""
    _, solver = fixed_step_solver(solver)
    for name, pop in network.discrete_populations.items():
        if abs(float(pop.model.dt) - dt) > 1e-9 * dt:
            raise ValueError(f"population {name!r} is a discrete model stepping every {pop.model.dt} ms; run the "
                             f"network with dt = {pop.model.dt} ms (got {dt})")
    tuning = tuning_for() if tuning is None else tuning
    network = tuned_model(network, tuning)
    samples = {k: jnp.asarray(np.atleast_1d(np.asarray(v, dtype=np.int32))) for k, v in (samples or {}).items()}
    for k, idx in samples.items():
        pop = network.neuron_populations.get(k)
        if pop is None:
            raise ValueError(f"cannot sample unknown neuron population {k!r}")
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= pop.n):
            raise ValueError(f"sampled indices of {k!r} must lie in [0, {pop.n})")
    propagation = choose_propagation(surrogate is not None, propagation)
    return StepPlan(network, delay_outgoing(network, dt, propagation, tuning), solver,
                    propagation, step_loop_for(network.n_neurons, tuning),
                    sending_for(network.n_neurons, tuning), jax.random.PRNGKey(seed), samples, float(dt), float(t0),
                    record_spikes, surrogate)


@dataclasses.dataclass
class NetworkRun:
    """A network run: spikes and per-step spike counts per population, sampled states
    (`samples[pop]`: times ms, pytree of (n_samples, k)), the final state, and the wall time
    of the simulation (`wall_s`, compile excluded) and of compilation (`compile_s`)."""

    network: Network
    t0: float
    t1: float
    dt: float
    spikes: dict[str, SpikeTrains]
    counts: dict[str, np.ndarray]
    samples: dict
    final: Carry
    wall_s: float
    compile_s: float

    @property
    def duration_ms(self) -> float:
        return self.t1 - self.t0

    def _trains(self, populations):
        names = [k for k in self.network.neuron_populations] if populations is None else list(populations)
        return [self.spikes[k] for k in names]

    def rate_hz(self, populations=None) -> float:
        """Spikes / neurons / simulated seconds over the neuron populations (or those named)."""
        return rate_hz(self._trains(populations), self.duration_ms)

    def cv_isi(self, populations=None) -> float:
        return cv_isi(self._trains(populations))

    @property
    def n_spikes(self) -> int:
        return int(sum(t.count for k, t in self.spikes.items() if k in self.network.neuron_populations))

    def synaptic_events(self) -> int:
        """Spikes × their neurons' fan-out, summed over projections (kept spikes only)."""
        total = 0
        for proj in self.network.projections.values():
            total += int(proj.connectivity.fan_out()[self.spikes[proj.pre].index].sum())
        return total


def run_network(network: Network, t1: float, *, dt: float = 0.1, t0: float = 0.0, solver="expeuler",
                initial: NetworkState | None = None, monitors: Monitors | None = None, seed: int = 0,
                propagation=None, dtype=None, block_steps: int = _BLOCK_STEPS, progress: bool = False,
                tuning: Tuning | None = None) -> NetworkRun:
    """Simulate `network` from t0 to t1 (ms) with fixed steps of `dt` ms.

    `initial`: a `NetworkState` (default `network.initial_state(dtype)`); `seed` drives the
    Poisson sources; `progress` prints a progress line to stderr. Raises `ValueError` for
    bad times or delays that are not multiples of dt, `NetworkMemoryError` before allocating
    a network that does not fit.
    """
    n_steps = steps_between(t0, t1, dt)
    monitors = monitors or Monitors()
    state = network.initial_state(dtype) if initial is None else initial
    dtype = jax.tree.leaves(state)[0].dtype
    for leaf in jax.tree.leaves(state):
        if bool(jnp.any(jnp.isnan(leaf))):
            raise ValueError("the initial network state contains NaN")
    tuning = tuning_for() if tuning is None else tuning
    plan = make_plan(network, dt, t0, solver=solver, seed=seed, samples=monitors.states,
                     record_spikes=monitors.spikes, propagation=propagation, tuning=tuning)
    depth = max([o.depth for outs in plan.outgoing.values() for o in outs.values()] or [1])
    capacities = {k: monitors.capacity(p.n, t1 - t0) for k, p in network.populations.items()}
    network.check_memory(dtype, depth)
    check_fits(sum(capacities.values()) * 12 + n_steps * len(network.populations) * 4, "the spike monitors")
    # (the run's own copy of the state: each block takes over the previous block's buffers)
    carry = plan.initial_carry(jax.tree.map(jnp.copy, state), capacities)

    every = monitors.sample_every if monitors.states else 1
    if n_steps % every:
        raise ValueError(f"the run ({n_steps} steps) is not a whole number of sample_every = {every} steps")
    block = max(every, (min(block_steps, n_steps) // every) * every)
    full, rest = divmod(n_steps, block)
    dynamic_plan, scalars = split_scalars(plan, tuning)  # (compiled in as constants where `tuning` asks)
    run = jax.jit(lambda p, c, n, every: simulate_steps(with_scalars(p, scalars), c, n, every),
                  static_argnums=(2, 3), donate_argnums=(1,))

    def samples_and_spacing(length):  # (without sampled states: one loop over the block)
        return (length // every, every) if monitors.states else (1, length)

    start = time.perf_counter()
    compiled = {length: compile_lowered(run.lower(dynamic_plan, carry, *samples_and_spacing(length)),
                                        tuning.loop_compiler_options)
                for length in {block if full else None, rest or None} - {None}}
    # (the spikes of the last step, which may wait in the carry, into the buffers and record)
    flush = jax.jit(lambda p, c: with_scalars(p, scalars).flush(c), donate_argnums=(1,)).lower(dynamic_plan,
                                                                                              carry).compile()
    compile_s = time.perf_counter() - start

    counts, samples = [], []
    start = time.perf_counter()
    for b in range(full + (rest > 0)):
        length = block if b < full else rest
        carry, c, s = compiled[length](dynamic_plan, carry)
        counts.append(c)
        samples.append(s)
        if progress:
            done = min(n_steps, (b + 1) * block)
            print(f"\rsimulated {t0 + done * dt:.1f}/{t1:.1f} ms", end="", file=sys.stderr, flush=True)
    carry = flush(dynamic_plan, carry)
    jax.block_until_ready(carry)
    wall_s = time.perf_counter() - start
    if progress:
        print(file=sys.stderr)
    for leaf in jax.tree.leaves(carry.state):
        if bool(jnp.any(jnp.isnan(leaf))):
            raise FloatingPointError(f"the network state became NaN (unstable step?): try a smaller dt than "
                                     f"{dt} ms or another solver")
    counts = {k: np.concatenate([np.asarray(c[k]) for c in counts]) for k in network.populations}
    times = t0 + dt * every * (1 + np.arange(n_steps // every))
    samples = {k: (times, jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]),
                                       *[s[k] for s in samples])) for k in monitors.states}
    spikes = {k: SpikeTrains.from_record(carry.records[k], p.n) for k, p in network.populations.items()}
    lost = {k: s.lost for k, s in spikes.items() if s.lost and monitors.spikes}
    if lost:
        import warnings

        warnings.warn(f"spike monitor capacity exceeded (spikes counted but not kept: {lost}); pass "
                      "Monitors(max_spikes=...)", RuntimeWarning, stacklevel=2)
    return NetworkRun(network, float(t0), float(t1), float(dt), spikes, counts, samples, carry, wall_s, compile_s)


def differentiable_run(network: Network, t1: float, *, dt: float = 0.1, t0: float = 0.0, solver="expeuler",
                       initial: NetworkState | None = None, surrogate: str = "fast-sigmoid", width: float = 1.0,
                       seed: int = 0):
    """A pure, differentiable fixed-step run: returns (final `NetworkState`, per-step spike
    counts {population: (steps,)}) with surrogate spikes (forward 0/1, backward the
    derivative of `surrogate` of `width` mV) propagated through every synapse. Jit it and
    take gradients of a loss on the counts (rates) with respect to the network's weights or
    neuron parameters."""
    n_steps = steps_between(t0, t1, dt)
    plan = make_plan(network, dt, t0, solver=solver, seed=seed, record_spikes=False,
                     surrogate=spike_function(surrogate, width))
    state = network.initial_state() if initial is None else initial
    carry = plan.initial_carry(state, {k: 1 for k in network.populations})
    carry, counts, _ = simulate_steps(plan, carry, 1, n_steps)
    return carry.state, counts
