"""The HH throughput section and every installed peer in one process (the README's same-run table).

    pip install -e ".[peers]"
    python benchmarks/peers_same_run.py peers_same_run.json
"""

import sys

import hhjax as hj

if __name__ == "__main__":
    hj.use_small_loop_kernels()  # as the `hhjax` command does (before any JAX computation)
    from hhjax.bench.suite import Settings, run_suite

    settings = Settings(hh_ns=(1, 100, 10_000, 100_000), other_ns=(), work=2e8, peer_ns=(1, 100, 10_000, 100_000),
                        peer_steps=10_000)
    run_suite(settings, sections=("throughput", "peers"), out=sys.argv[1] if len(sys.argv) > 1 else "peers.json",
              plots=None)
