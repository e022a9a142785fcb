"""Integration: solvers, spike recording and the `simulate` entry point."""

from .compiled import use_small_loop_kernels
from .simulate import Simulation, SimulationError, cast_floats, resolve_dtype, simulate
from .solvers import RK4, SOLVERS, ExponentialEuler, ModelTerm, get_solver
from .sharding import population_sharding, shard_population, use_host_devices
from .spikes import SpikeBuffer, SpikeRecorder, bracketed_root

__all__ = [
    "use_small_loop_kernels", "use_host_devices", "population_sharding", "shard_population",
    "Simulation", "SimulationError", "simulate", "cast_floats", "resolve_dtype", "RK4", "SOLVERS",
    "ExponentialEuler", "ModelTerm", "get_solver", "SpikeBuffer", "SpikeRecorder", "bracketed_root",
]
