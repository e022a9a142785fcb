"""Each peer simulator in a process of its own: BrainPy and jaxley switch JAX's global
configuration (64-bit floats) when they run, and no peer may change the process that
measures hhjax. `run_peer` starts `python -m hhjax.cli.peer_worker` (an entry point: the
process-wide settings are made there), which runs one runner of `peers.RUNNERS` and prints
its `PeerRun` as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

from .peer_run import PeerRun, PeerUnavailable


def run_peer(name: str, currents, steps: int, dt: float, dtype: str = "float64", record: bool = False,
             timeout: float = 3600.0) -> PeerRun:
    """`peers.RUNNERS[name](currents, steps, dt, dtype, record=record)`, run in a fresh
    Python process. `PeerUnavailable` when the peer is missing or fails there."""
    request = json.dumps(dict(name=name, currents=[float(x) for x in currents], steps=int(steps), dt=float(dt),
                              dtype=dtype, record=bool(record)))
    done = subprocess.run([sys.executable, "-m", "hhjax.cli.peer_worker"], input=request, capture_output=True,
                          text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise PeerUnavailable(f"{name} failed in its process (exit {done.returncode}): {done.stderr[-500:]}")
    answer = json.loads(lines[-1])
    if "unavailable" in answer:
        raise PeerUnavailable(answer["unavailable"])
    return PeerRun(**answer)
