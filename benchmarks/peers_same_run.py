"""The HH throughput section and every installed peer in one process (the README's same-run table).

    pip install -e ".[peers]"
    python benchmarks/peers_same_run.py peers_same_run.json
    python benchmarks/peers_same_run.py peers_host_devices.json --host-devices 2

`--host-devices K` starts JAX with K CPU devices and adds the sharding section (HH and
tv-LIF2HH split over them at 10,000 and 100,000 neurons), so that the split populations and
the peers are measured in the same process.
"""

import argparse

import jax

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default="peers.json")
    parser.add_argument("--host-devices", type=int, default=None)
    args = parser.parse_args()
    from hhjax.cli.environment import set_xla_flags

    set_xla_flags(args.host_devices)  # as the `hhjax` command does (before any JAX computation)
    jax.config.update("jax_enable_x64", True)
    sections = ("throughput", "sharding", "peers") if args.host_devices else ("throughput", "peers")
    from hhjax.bench.suite import Settings, run_suite

    settings = Settings(hh_ns=(1, 100, 10_000, 100_000), other_ns=(), work=2e8, peer_ns=(1, 100, 10_000, 100_000),
                        peer_steps=10_000)
    run_suite(settings, sections=sections, out=args.out, plots=None)
