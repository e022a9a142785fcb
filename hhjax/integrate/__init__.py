"""Integration: `simulate` (validate → plan → run → collect), its execution paths, solvers,
spike recording and population sharding."""

import warnings

from ..backends.xla_flags import HOST_DEVICES_FLAG, SMALL_LOOP_FLAG, host_devices_flag, small_loop_flag
from .dtypes import cast_floats, resolve_dtype
from .plan import PATHS, choose_path
from .results import Simulation, SimulationError
from .sharding import population_sharding, shard_population
from .simulate import execution_path, simulate
from .solvers import RK4, SOLVERS, ExponentialEuler, ModelTerm, get_solver
from .spikes import SpikeBuffer, SpikeRecorder, bracketed_root
from .terms import model_term


def use_small_loop_kernels(environ=None, *, byte_threshold: int = 65_536) -> bool:
    """Deprecated: hhjax no longer edits `XLA_FLAGS` from library calls. Start Python with
    `XLA_FLAGS=--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=65536`
    (the `hhjax` command does this in its entry point). This shim still adds the flag to
    `environ` (default `os.environ`), where `XLA_FLAGS` does not set backend options yet."""
    warnings.warn("hhjax.use_small_loop_kernels() is deprecated: set XLA_FLAGS before starting Python "
                  f"({SMALL_LOOP_FLAG}); see docs/performance.md", DeprecationWarning, stacklevel=2)
    from ..cli.environment import add_xla_flag  # (what the command's entry point does)

    return add_xla_flag(small_loop_flag(byte_threshold), "xla_backend_extra_options", environ)


def use_host_devices(count: int | None = None, environ=None) -> bool:
    """Deprecated: start Python with `XLA_FLAGS=--xla_force_host_platform_device_count=K`
    (`hhjax bench --host-devices K` does this in its entry point). This shim still adds
    the flag to `environ` (default `os.environ`) unless a device count is set there."""
    warnings.warn("hhjax.use_host_devices() is deprecated: set XLA_FLAGS before starting Python "
                  f"({HOST_DEVICES_FLAG}=K); see docs/performance.md", DeprecationWarning, stacklevel=2)
    from ..cli.environment import add_xla_flag  # (what the command's entry point does)

    return add_xla_flag(host_devices_flag(count), HOST_DEVICES_FLAG, environ)


__all__ = [
    "use_small_loop_kernels", "use_host_devices", "population_sharding", "shard_population",
    "Simulation", "SimulationError", "simulate", "execution_path", "PATHS", "choose_path", "cast_floats",
    "resolve_dtype", "RK4", "SOLVERS", "ExponentialEuler", "ModelTerm", "get_solver", "SpikeBuffer",
    "SpikeRecorder", "bracketed_root", "model_term",
]
