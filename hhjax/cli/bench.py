"""`hhjax bench`: the benchmark suite."""

from __future__ import annotations

import dataclasses

from .environment import enable_x64


def cmd_bench(a) -> int:
    import jax

    from ..bench.suite import SECTIONS, Settings, needs_x64, run_suite

    if a.device == "gpu":
        try:
            device = jax.devices("gpu")[0]
        except RuntimeError:
            raise ValueError("--device gpu: JAX sees no GPU here (install jax[cuda12] on a GPU machine)") from None
        settings = Settings.full() if a.full else Settings.gpu()
    else:
        device = jax.devices("cpu")[0]
        settings = Settings.full() if a.full else Settings.quick()
    if a.dtype:
        dtypes = tuple(x.strip() for x in a.dtype.split(","))
        bad = [d for d in dtypes if d not in ("float32", "float64")]
        if bad:
            raise ValueError(f"unknown dtype(s) {bad}; use float32 and/or float64")
        settings = dataclasses.replace(settings, dtypes=dtypes)
    sections = tuple(x.strip() for x in a.only.split(",")) if a.only else SECTIONS
    if a.skip:
        sections = tuple(s for s in sections if s not in {x.strip() for x in a.skip.split(",")})
    peer_names = None
    if a.peers:
        from ..bench.peers import RUNNERS
        from ..bench.sections.network import NETWORK_PEERS

        peer_names = [x.strip() for x in a.peers.split(",")]
        unknown = [x for x in peer_names if x not in RUNNERS and x not in NETWORK_PEERS]
        if unknown:
            raise ValueError(f"unknown peer(s) {unknown}; choose from {sorted(RUNNERS)} (single neurons) or "
                             f"{sorted(NETWORK_PEERS)} (the network section)")
    if needs_x64(settings, sections):
        enable_x64()  # (the command's own process: its entry point's choice)
    with jax.default_device(device):
        run_suite(settings, sections, out=a.out, plots=a.plot or None, peer_names=peer_names)
    return 0


def register(sub) -> None:
    b = sub.add_parser("bench", help="benchmark suite: throughput, compile time, memory, accuracy, gradients, "
                                     "operation counts, sharding and peer simulators")
    b.add_argument("--full", action="store_true", help="full sizes (N up to 1e6; tens of minutes on 2 CPU cores)")
    b.add_argument("--device", default="cpu", choices=("cpu", "gpu"), help="gpu: the GPU sizes (about 5 minutes)")
    b.add_argument("--only", default=None, help="comma-separated sections: throughput, compile, memory, accuracy, "
                                                "gradient, ops, sharding, peers, network")
    b.add_argument("--skip", default=None, help="comma-separated sections to leave out")
    b.add_argument("--peers", default=None, help="comma-separated peers (c-kernel, brainpy, jaxley, "
                                                 "brian2-cython, brian2-cpp, neuron; network section: brian2-cython, "
                                                 "brian2-standalone, brainpy, nest); default all installed")
    b.add_argument("--dtype", default=None, help="float32,float64 (default both)")
    b.add_argument("--host-devices", type=int, default=None, metavar="K",
                   help="CPU devices to show (default: one per core; 1: one device); with several, populations "
                        "of 10,000 neurons or more are split over them (--xla_force_host_platform_device_count)")
    b.add_argument("--out", default="bench.json")
    b.add_argument("--plot", default="bench.png", help="figure path ('' for none)")
    b.set_defaults(func=cmd_bench)
