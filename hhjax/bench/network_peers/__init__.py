"""Peer simulators running the network benchmarks. Each module here is a self-contained
script (it does not import hhjax, so it runs in the peer's own environment): it reads one
JSON request on stdin — benchmark, n, t1 (ms), dt (ms), seed, connect, and peer options —
and prints one JSON line: rate_hz, cv_isi, n_spikes, wall_s (simulation only), build_s,
version, method (or `unavailable`)."""
