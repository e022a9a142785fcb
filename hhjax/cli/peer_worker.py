"""`python -m hhjax.cli.peer_worker`: the entry point of one peer simulator's process (started
by `hhjax.bench.peer_process.run_peer`). Reads a request (JSON) from stdin, turns on 64-bit
JAX for a float64 request (jaxley needs it), runs that runner of `bench.peers.RUNNERS` and
prints its `PeerRun` as JSON."""

from __future__ import annotations

import json
import sys

from .environment import enable_x64


def serve() -> int:
    from ..bench.peer_run import PeerUnavailable
    from ..bench.peers import RUNNERS

    request = json.loads(sys.stdin.read())
    if request["dtype"] == "float64":
        enable_x64()
    try:
        run = RUNNERS[request["name"]](request["currents"], request["steps"], request["dt"], request["dtype"],
                                       record=request["record"])
    except PeerUnavailable as e:
        print(json.dumps(dict(unavailable=str(e))))
        return 0
    print(json.dumps(dict(spike_times=run.spike_times, seconds=run.seconds, method=run.method, version=run.version,
                          spike_counts=[int(c) for c in run.spike_counts] if run.spike_counts is not None else None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
