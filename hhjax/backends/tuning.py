"""`Tuning`: the speed choices of hhjax's loops for one backend, and their defaults.

Every number here changes how fast a solve runs, never what it computes (tests run the
loops with each choice forced and compare against `diffrax.diffeqsolve`). The CPU values
come from measurements on a 2-core x86-64 CPU, jax/jaxlib 0.10.2 (docs/performance.md has
the tables); other backends get the plain shapes (no GPU was available to measure).
"""

from __future__ import annotations

import dataclasses

import jax

from .host_cpu import host_simd_bits


@dataclasses.dataclass(frozen=True)
class Tuning:
    """Speed choices of the integration loops (hashable: part of a compiled call's key).

    - `blocked_from_neurons`: fixed-step populations from this size on step in blocks of
      up to `max_block_steps`, writing each block's spikes with one scatter; smaller ones
      record spike by spike (a block's fixed cost, ~8 µs on the CPU, outweighs the
      scatters it saves below ~1,000 neurons).
    - `clean_blocks_before_growing`: a block in which a neuron crossed twice is redone at
      half the length; after this many clean blocks the length doubles again.
    - `paired_from_neurons`: from this size on a block's loop takes two steps per
      iteration, the second inside a conditional, which stops XLA's CPU copy insertion
      from copying every state variable on every step (None: never). HH Euler float32,
      neuron-steps/s single → paired: N = 10,000 2.3–3.4e8 → 4.4–4.5e8, 100,000
      3.5–3.9e8 → 6.4–6.6e8.
    - `network_paired_from_neurons`: the same for the synaptic network loop
      (`synaptic/step_loops.py`), from this many neurons in the network on (None: never).
      COBAHH float32, ms per step single → paired: N = 100 0.0055 → 0.0054–0.0067,
      1,000 0.039 → 0.031–0.033, 4,000 0.079–0.092 → 0.065, 40,000 0.69–0.73 → 0.57–0.60,
      400,000 6.0–6.7 → 5.2–5.3.
    - `network_send_ahead_from_neurons`: from this many neurons in the network on, its
      loop sends each step's spikes at the start of the next step (`SendAtNextStep`), where
      XLA's CPU runtime propagates them on one core while the other advances the gates
      (None: at the end of their own step). COBAHH float32, ms per step end → next step
      (alternating processes, best of 7): N = 200 0.0040 → 0.0049, 1,000 0.0163–0.0174 →
      0.0165–0.0172, 2,000 0.0245–0.029 → 0.022–0.024, 4,000 0.038–0.039 → 0.033–0.034,
      40,000 0.23–0.29 → 0.19–0.20, 400,000 2.23–2.56 → 2.00–2.19.
    - `network_count_buffers_from_entries`: a projection whose delay buffer has at least
      this many entries (slots × targets) counts the arriving spikes in int8/int16 instead
      of summing their weights in floating point, where it can (`synaptic/delay_buffers.py`:
      event-driven propagation, one weight for all synapses; None: never). The random adds
      of the propagation then touch a quarter of the cache lines. COBAHH float32, ms per
      step weight sums → int8 counts (one process, alternating, best and median of 9):
      N = 1,000 0.0138–0.0146 → 0.0135–0.0142, 2,000 0.0197–0.0201 → 0.0196–0.0202, 4,000
      0.0270–0.0277 → 0.0258–0.0266, 10,000 0.061–0.064 → 0.059–0.060, 400,000 1.55–1.71 →
      1.38–1.47 (before the event-driven send copied its rows in a conditional, counts lost
      ~7 % at 1,000–2,000 neurons and gained 6–10 % from 10,000 on).
    - `rk4_stages_in_memory_from`: from this many state elements on RK4 writes each
      stage's increments to memory (a conditional as a fusion boundary) instead of letting
      XLA recompute earlier stages in every output (None: never). HH float32, ns per
      neuron-step: N = 100 83 → 37, 100,000 82–136 → 14.
    - `pack_loop_scalars`: the fixed-step loop carries the solver's floating-point scalars
      packed into one vector behind an optimisation barrier (N = 10: 24 % faster, N = 100:
      13–14 %).
    - `shared_exponentials`: HH-type rates with compatible slopes share exponentials
      (`shared_exponentials.py`: 2 instead of 6 per step for the classic rates).
    - `scalars_as_constants`: `run_network` compiles a network's scalar parameters into
      its program as constants (`constants.py`), which XLA folds. COBAHH float32, ms per
      step arguments → constants (one process, alternating): N = 4,000 0.056 → 0.050,
      40,000 0.34–0.36 → 0.32–0.33, 400,000 3.4–3.6 → 3.1–3.2.
    - `cpu_vector_bits`: the SIMD width (bits) LLVM prefers when XLA's CPU backend compiles
      the fixed-step loops (`simulate`'s fixed-step path, `run_network`); None: XLA's own
      choice (256). `tuning_for("cpu")` sets 512 where the host has AVX-512
      (`host_cpu.py`). Measured on a 2-core AMD EPYC with AVX-512 (Zen 4), 256 → 512:
      COBAHH float32 ms per step N = 4,000 0.050 → 0.045, 40,000 0.31–0.32 → 0.25,
      400,000 3.18–3.21 → 2.72–2.74 (float64 4.74 → 4.57); `simulate` forward Euler
      float32 N = 100,000, neuron-steps/s HH 8.0e8 → 9.7–9.9e8, tv-LIF2HH 5.1–5.3e8 →
      5.6–5.7e8, LIF 6.6–7.4e8 → 6.7–6.8e8 (memory-bound: no change).
    - `adaptive_compiler_options`: XLA options for the adaptive loop's compilation (the
      CPU's classic emitters compile it ~30 % faster and run it as fast).
    - `discrete_block_steps`: discrete models record spikes once per block of this many
      steps (≤ 32, one bit per step): s-LIF2HH N = 100 7.1e7 → 2.2e8 unit-steps/s.
    - `store_every_step_bytes`: reverse mode through a fixed grid stores every step while
      that takes at most this many bytes (2.6–9× faster value-and-grad than √steps
      checkpoints), else O(√steps) checkpoints.
    - `shard_from_neurons`: where JAX sees several devices of the default backend (on a
      CPU: started with `--xla_force_host_platform_device_count`, as the `hhjax` command
      does), fixed-step populations of one axis from this size on are split over them, each
      device stepping its neurons as its own program (None: never). HH Euler float32 on 2
      cores, one device → two: N = 10,000 4.5e8 → 6.5–6.9e8, 100,000 6.5e8 → 7.5–7.9e8;
      small populations lose (LIF N = 1,000 4.6e8 → 2.5e7), hence the threshold.
    """

    blocked_from_neurons: int = 1_000
    max_block_steps: int = 128
    clean_blocks_before_growing: int = 8
    paired_from_neurons: int | None = None
    network_paired_from_neurons: int | None = None
    network_send_ahead_from_neurons: int | None = None
    network_count_buffers_from_entries: int | None = None
    rk4_stages_in_memory_from: int | None = None
    pack_loop_scalars: bool = True
    shared_exponentials: bool = True
    scalars_as_constants: bool = False
    cpu_vector_bits: int | None = None
    adaptive_compiler_options: tuple = ()
    discrete_block_steps: int = 32
    store_every_step_bytes: int = 256 * 2**20
    shard_from_neurons: int | None = None

    def __post_init__(self):
        if not 1 <= self.discrete_block_steps <= 32:
            raise ValueError(f"discrete_block_steps must be between 1 and 32, got {self.discrete_block_steps}")
        if self.cpu_vector_bits is not None and self.cpu_vector_bits not in (128, 256, 512):
            raise ValueError(f"cpu_vector_bits must be 128, 256, 512 or None, got {self.cpu_vector_bits}")
        for name in ("blocked_from_neurons", "max_block_steps", "clean_blocks_before_growing"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def loop_compiler_options(self) -> dict | None:
        """XLA options for compiling the fixed-step loops (None: none)."""
        if self.cpu_vector_bits is None:
            return None
        return {"xla_cpu_prefer_vector_width": self.cpu_vector_bits}

    def replace(self, **changes) -> "Tuning":
        """A copy with `changes` (e.g. `tuning.replace(blocked_from_neurons=1)`)."""
        return dataclasses.replace(self, **changes)


# XLA's CPU backend: the measured choices above.
CPU_TUNING = Tuning(
    paired_from_neurons=10_000,
    network_paired_from_neurons=1_000,
    network_send_ahead_from_neurons=2_000,
    network_count_buffers_from_entries=1_000,
    scalars_as_constants=True,
    shard_from_neurons=10_000,
    rk4_stages_in_memory_from=32,
    adaptive_compiler_options=(("xla_cpu_use_fusion_emitters", False),),
)
# Other backends: the plain loop shapes (a conditional may cost a GPU a host
# synchronisation, and XLA fuses differently there; not measured).
PLAIN_TUNING = Tuning()


def tuning_for(platform: str | None = None) -> Tuning:
    """The default `Tuning` for `platform` ("cpu", "gpu", "tpu"; default: JAX's default
    backend); on the CPU, `CPU_TUNING` with the SIMD width of this host where it has
    AVX-512."""
    platform = jax.default_backend() if platform is None else platform
    if platform != "cpu":
        return PLAIN_TUNING
    return CPU_TUNING.replace(cpu_vector_bits=512) if host_simd_bits() == 512 else CPU_TUNING
