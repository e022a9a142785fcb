"""What the benchmark suite runs: its sections, sizes and repeat counts."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

DT = 0.01  # ms, the forward-Euler step of every throughput row
REFERENCE = pathlib.Path(__file__).resolve().parent / "data" / "hh_reference_spikes.json"
SECTIONS = ("throughput", "channels", "compile", "memory", "accuracy", "gradient", "ops", "sharding", "peers",
            "network")


@dataclass(frozen=True)
class Settings:
    """Sizes of one suite run. `quick()` takes about 3 minutes on a 2-core CPU (without peers)."""

    hh_ns: tuple = (1, 1000, 100_000)
    other_ns: tuple = (100_000,)
    dtypes: tuple = ("float32", "float64")
    work: float = 5e7  # neuron-steps per measurement (steps = clip(work / N))
    min_steps: int = 1000
    max_steps: int = 50_000
    repeats: int = 3
    memory_steps: tuple = (1_000, 10_000, 100_000)
    memory_n: int = 100_000
    accuracy_cases: tuple = (("euler", (("dt", 0.01),)), ("rk4", (("dt", 0.05),)), ("rk4", (("dt", 0.025),)),
                             ("tsit5", (("rtol", 1e-6), ("atol", 1e-8))), ("tsit5", (("rtol", 1e-10), ("atol", 1e-10))))
    gradient_n: int = 64
    gradient_steps: tuple = (1_000, 4_000)
    gradient_solver: str = "euler"  # quick mode: an RK4 value-and-grad takes ~20 s to compile here
    peer_ns: tuple = (1000,)
    peer_steps: int = 2000
    network_ns: tuple = (4000,)  # COBAHH sizes, and the simulated time (ms) at each
    network_t1: tuple = (200.0,)

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(
            hh_ns=(1, 10, 100, 1000, 10_000, 100_000, 1_000_000), other_ns=(1, 1000, 10_000, 100_000), work=2e8,
            max_steps=100_000, min_steps=1000, repeats=3,
            accuracy_cases=(("euler", (("dt", 0.01),)), ("euler", (("dt", 0.005),)), ("expeuler", (("dt", 0.01),)),
                            ("heun", (("dt", 0.01),)), ("rk4", (("dt", 0.05),)), ("rk4", (("dt", 0.025),)),
                            ("tsit5", (("rtol", 1e-6), ("atol", 1e-8))), ("tsit5", (("rtol", 1e-10), ("atol", 1e-10))),
                            ("dopri5", (("rtol", 1e-8), ("atol", 1e-8))), ("dopri8", (("rtol", 1e-10), ("atol", 1e-10))),
                            ("kvaerno5", (("rtol", 1e-8), ("atol", 1e-8)))),
            gradient_n=256, gradient_steps=(1_000, 4_000, 20_000), gradient_solver="rk4",
            peer_ns=(1, 100, 10_000, 100_000), peer_steps=10_000,
            network_ns=(4000, 40_000, 400_000), network_t1=(1000.0, 200.0, 100.0),
        )

    @classmethod
    def gpu(cls):
        """One GPU in about five minutes: larger populations, fewer small ones."""
        return cls(hh_ns=(1, 1000, 100_000, 1_000_000, 4_000_000), other_ns=(1_000_000,), work=1e9,
                   min_steps=2000, max_steps=20_000, memory_n=1_000_000, gradient_n=4096, gradient_solver="rk4",
                   peer_ns=(), network_ns=(4000, 40_000, 400_000, 4_000_000), network_t1=(1000.0, 1000.0, 200.0, 100.0))

    def steps_for(self, n: int) -> int:
        return int(min(self.max_steps, max(self.min_steps, self.work // max(n, 1))))
