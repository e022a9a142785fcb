"""What the peer scripts share (imported from this folder, which Python puts on the path of a
script it runs; no hhjax import, so it works in a peer's own environment)."""

import json
import resource
import sys

import numpy as np


class Unavailable(Exception):
    """This peer cannot run the request (not installed, or the benchmark is not set up)."""


def serve(run) -> None:
    """Read the JSON request on stdin, call `run(request)` and print its result dict as one
    JSON line — or {"unavailable": reason} when the peer does not import or raises
    `Unavailable`."""
    request = json.loads(sys.stdin.read())
    try:
        result = run(request)
    except ImportError as e:
        result = dict(unavailable=f"not importable: {e}")
    except Unavailable as e:
        result = dict(unavailable=str(e))
    print(json.dumps(result))


def cv_isi(index, times, min_spikes: int = 3) -> float:
    """Mean over neurons with ≥ `min_spikes` spikes of std(ISI)/mean(ISI); NaN if none."""
    index, times = np.asarray(index), np.asarray(times, dtype=float)
    order = np.lexsort((times, index))
    index, times = index[order], times[order]
    cvs = []
    for neuron in np.unique(index):
        t = times[index == neuron]
        if len(t) >= min_spikes:
            d = np.diff(t)
            cvs.append(d.std() / d.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def best_of(first_wall_s: float, run_again, repeats, budget_s: float = 30.0) -> tuple[float, int]:
    """The shortest of `repeats` timed runs: the first (already run, `first_wall_s`) and
    `run_again()` → wall seconds until there are `repeats` — none more where the first took
    `budget_s` or longer (a slow peer runs once). Returns (wall seconds, runs)."""
    walls = [first_wall_s]
    while len(walls) < int(repeats or 1) and first_wall_s < budget_s:
        walls.append(run_again())
    return min(walls), len(walls)


def peak_rss_mib() -> float:
    """Peak resident memory (MiB) of this process (VmHWM, which starts afresh at exec; the
    ru_maxrss of a child process starts from its parent's) and of its largest finished child
    (e.g. Brian2's C++ program)."""
    own = 0.0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    own = int(line.split()[1]) / 1024
    except OSError:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
