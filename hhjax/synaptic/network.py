"""A network: named populations and projections between them, and its vector field (the
neurons' dynamics driven by the synaptic states, and the synaptic states' own decay)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PyTree

from .memory import check_fits
from .population import PoissonSource, Population
from .projection import Projection
from .synapses import Delta


def _frozen(y):
    return jax.tree.map(jnp.zeros_like, y)


class NetworkState(eqx.Module):
    """`neurons[pop]`: each population's model state (leaves of shape (n,));
    `synapses[proj]`: each projection's synaptic state, shape (k, n_post)."""

    neurons: dict[str, PyTree]
    synapses: dict[str, Array]


class Network(eqx.Module):
    """Populations (`Population` or `PoissonSource`) and projections, by name."""

    populations: dict
    projections: dict

    def __init__(self, populations: dict, projections: dict | None = None):
        self.populations, self.projections = dict(populations), dict(projections or {})
        if not self.populations:
            raise ValueError("a network needs at least one population")
        for name, pop in self.populations.items():
            if not isinstance(pop, (Population, PoissonSource)):
                raise TypeError(f"population {name!r} must be a Population or PoissonSource, got {type(pop).__name__}")
        for name, proj in self.projections.items():
            if not isinstance(proj, Projection):
                raise TypeError(f"projection {name!r} must be a Projection, got {type(proj).__name__}")
            for end, pop_name in (("pre", proj.pre), ("post", proj.post)):
                if pop_name not in self.populations:
                    raise ValueError(f"projection {name!r}: unknown {end} population {pop_name!r}; the network has "
                                     f"{sorted(self.populations)}")
            pre, post = self.populations[proj.pre], self.populations[proj.post]
            if isinstance(post, PoissonSource):
                raise ValueError(f"projection {name!r}: a Poisson source cannot receive synapses")
            c = proj.connectivity
            if (c.n_pre, c.n_post) != (pre.n, post.n):
                raise ValueError(f"population size mismatch in projection {name!r}: connectivity is {c.n_pre}→"
                                 f"{c.n_post}, populations {proj.pre!r} ({pre.n}) → {proj.post!r} ({post.n})")
            if isinstance(proj.synapse, Delta) and not hasattr(post.initial_state(jnp.float32), "V"):
                raise TypeError(f"projection {name!r}: a delta synapse needs a model state with a field V")

    # --- structure -----------------------------------------------------------------------

    @property
    def neuron_populations(self) -> dict[str, Population]:
        return {k: p for k, p in self.populations.items() if isinstance(p, Population)}

    @property
    def discrete_populations(self) -> dict[str, Population]:
        return {k: p for k, p in self.neuron_populations.items() if p.discrete}

    @property
    def n_neurons(self) -> int:
        return sum(p.n for p in self.populations.values())

    @property
    def n_synapses(self) -> int:
        return sum(p.connectivity.n_synapses for p in self.projections.values())

    def outgoing(self, pop: str) -> dict[str, Projection]:
        return {k: p for k, p in self.projections.items() if p.pre == pop}

    def incoming(self, pop: str) -> dict[str, Projection]:
        return {k: p for k, p in self.projections.items() if p.post == pop}

    def estimated_bytes(self, dtype, depth: int = 1) -> int:
        """Device memory for the state, connectivity and delay buffers (bytes)."""
        size = jnp.dtype(dtype).itemsize
        total = 0
        for pop in self.neuron_populations.values():
            total += pop.n * size * (len(jax.tree.leaves(pop.initial_state(dtype))) + 2)
        for proj in self.projections.values():
            c, post = proj.connectivity, self.populations[proj.post]
            per_entry = 4 + size * (np.ndim(c.weights) > 0) + 4 * (np.ndim(c.delays) > 0)
            total += (c.n_rows + 1) * c.max_fan_out * per_entry
            total += post.n * size * (proj.synapse.n_states + depth)
        return int(total)

    def check_memory(self, dtype, depth: int = 1) -> None:
        check_fits(self.estimated_bytes(dtype, depth), f"the network ({self.n_neurons} neurons, {self.n_synapses} "
                                                       "synapses)")

    # --- state and dynamics ----------------------------------------------------------------

    def initial_state(self, dtype=None) -> NetworkState:
        dtype = jnp.result_type(float) if dtype is None else dtype
        return NetworkState(
            neurons={k: p.initial_state(dtype) for k, p in self.neuron_populations.items()},
            synapses={k: p.synapse.initial_state(self.populations[p.post].n, dtype)
                      for k, p in self.projections.items()})

    def input_currents(self, t, state: NetworkState) -> dict[str, Array]:
        """The total input (µA/cm²) into each neuron population: its stimulus plus every
        incoming projection's synaptic current at the population's present V."""
        out = {}
        for name, pop in self.neuron_populations.items():
            V = pop.model.voltage(state.neurons[name])
            current = pop.external_current(t) + jnp.zeros_like(V)
            for key, proj in self.incoming(name).items():
                current = current + proj.synapse.current(state.synapses[key], V)
            out[name] = current
        return out

    def vector_field(self, t, state: NetworkState, args=None) -> NetworkState:
        """d(state)/dt; discrete populations hold still here (they step in `fixed_step`)."""
        currents = self.input_currents(t, state)
        neurons = {k: _frozen(state.neurons[k]) if p.discrete else p.model.dynamics(t, state.neurons[k], currents[k])
                   for k, p in self.neuron_populations.items()}
        return NetworkState(neurons=neurons,
                            synapses={k: p.synapse.derivative(state.synapses[k]) for k, p in self.projections.items()})

    def decay_rates(self, t, state: NetworkState, args=None) -> NetworkState:
        """The diagonal decay rates (1/ms) of every state, for exponential Euler."""
        currents = self.input_currents(t, state)
        neurons = {k: _frozen(y) if p.discrete else p.model.decay_rates(t, y, currents[k])
                   for k, p in self.neuron_populations.items() for y in (state.neurons[k],)}
        return NetworkState(neurons=neurons,
                            synapses={k: p.synapse.decay_rates(state.synapses[k]) for k, p in self.projections.items()})

    def voltages(self, state: NetworkState) -> dict[str, Array]:
        return {k: p.model.voltage(state.neurons[k]) for k, p in self.neuron_populations.items()}

    def deliver(self, state: NetworkState, arrivals: dict[str, Array]) -> NetworkState:
        """Add the summed weights `arrivals[proj]` (shape (n_post,)) arriving now: to the
        synaptic state (times the synapse's kick), or to V for delta synapses."""
        synapses, neurons = dict(state.synapses), dict(state.neurons)
        for key, w in arrivals.items():
            proj = self.projections[key]
            if isinstance(proj.synapse, Delta):
                y = neurons[proj.post]
                neurons[proj.post] = eqx.tree_at(lambda s: s.V, y, y.V + w)
            else:
                kick = jnp.asarray(proj.synapse.kick(), w.dtype)[:, None]
                synapses[key] = synapses[key] + kick * w[None, :]
        return NetworkState(neurons=neurons, synapses=synapses)
