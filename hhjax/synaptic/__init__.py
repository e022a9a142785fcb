"""Synaptically coupled networks: populations of any hhjax model, projections with
conductance- or current-based synapses, sparse event-driven propagation with delays, a
fixed-step engine (and an event-exact adaptive one for small networks), monitors, and the
COBAHH/COBA/CUBA benchmarks."""

from .connectivity import Connectivity, dense, fixed_in_degree, fixed_probability, from_arrays, one_to_one
from .fixed_step import simulate_steps
from .memory import NetworkMemoryError
from .monitors import Monitors, SpikeTrains
from .network import Network, NetworkState
from .population import PoissonSource, Population
from .projection import Projection
from .propagation import AllSynapses, EventDriven
from .adaptive import EventRun, event_solve, run_adaptive
from .run import NetworkRun, differentiable_run, run_network
from .standard import BENCHMARKS, BUILDERS, coba, cobahh, cuba, per_cm2
from .statistics import cv_isi, population_rate, rate_hz
from .synapses import SYNAPSES, Alpha, Delta, DualExponential, Exponential

__all__ = [
    "Connectivity", "dense", "fixed_in_degree", "fixed_probability", "from_arrays", "one_to_one", "simulate_steps",
    "EventRun", "event_solve", "run_adaptive", "NetworkMemoryError", "Monitors", "SpikeTrains", "Network",
    "NetworkState", "PoissonSource", "Population",
    "Projection", "AllSynapses", "EventDriven", "NetworkRun", "differentiable_run", "run_network", "BENCHMARKS",
    "BUILDERS", "coba", "cobahh", "cuba", "per_cm2", "cv_isi", "population_rate", "rate_hz", "SYNAPSES", "Alpha",
    "Delta", "DualExponential", "Exponential",
]
