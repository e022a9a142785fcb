"""Backend tuning: everything hhjax does for speed on a particular backend, in one place.

The physics (`hhjax.models`) and the integration paths (`hhjax.integrate.paths`) never ask
which device they run on; they read a `Tuning`, which `tuning_for(platform)` chooses by
device kind and `simulate(..., tuning=...)` can override. Each setting cites the
measurement that justifies it (docs/performance.md).

- `tuning`: the `Tuning` record and its per-backend defaults;
- `shared_exponentials`: HH-type rates evaluated with two exponentials instead of six;
- `constants`: scalar parameters compiled in as constants (`run_network`);
- `host_cpu`: the host CPU's SIMD width (`Tuning.cpu_vector_bits`);
- `compiled`: compiled solves with per-compilation XLA options and cheap repeat calls;
- `xla_flags`: process-wide XLA flags — only the `hhjax` command's entry point sets them.
"""

from .compiled import CompiledSolve, JitWithOptions, compile_lowered, compiled_solve
from .constants import split_scalars, with_scalars
from .shared_exponentials import SharedExponentialHH, shared_exponent_plan, tuned_model
from .tuning import CPU_TUNING, PLAIN_TUNING, Tuning, tuning_for
from .xla_flags import HOST_DEVICES_FLAG, SMALL_LOOP_FLAG, usable_cores

__all__ = [
    "CompiledSolve", "JitWithOptions", "compile_lowered", "compiled_solve",
    "split_scalars", "with_scalars", "SharedExponentialHH",
    "shared_exponent_plan", "tuned_model",
    "CPU_TUNING", "PLAIN_TUNING", "Tuning", "tuning_for", "HOST_DEVICES_FLAG", "SMALL_LOOP_FLAG", "usable_cores",
]
