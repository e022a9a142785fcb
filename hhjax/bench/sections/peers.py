"""Peer simulators (each in its own process): spike agreement and throughput."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ...integrate import simulate
from ...models import HodgkinHuxley
from ...stimuli import Constant
from ..settings import DT, Settings


PEER_TOLERANCE_MS = {  # agreement with hhjax's forward Euler at dt = 0.01 ms
    "c-kernel": 1e-6,       # the same method and crossing interpolation
    "brainpy": 1e-6,        # the same method and crossing interpolation
    "brian2-cython": 0.011,  # spike stamped on the step grid
    "brian2-cpp": 0.011,
    "neuron": 0.5,          # implicit Euler vs forward Euler, both first order
    "jaxley": 0.5,
}


def peers(settings: Settings, names=None, log=print) -> dict:
    """Each installed peer: spike agreement with hhjax (16 neurons, 50 ms, float64) and
    throughput on the same HH population as the throughput section. Missing peers are
    skipped with a note."""
    from ..peer_process import run_peer
    from ..peer_run import PeerUnavailable
    from ..peers import RUNNERS

    out = {}
    currents = np.linspace(0.0, 20.0, 16)
    steps = 5000
    ours = simulate(HodgkinHuxley(), Constant(jnp.asarray(currents)), t1=steps * DT, dt=DT, solver="euler",
                    dtype="float64").spike_list()
    for name in [x for x in (names or RUNNERS) if x in RUNNERS]:
        def runner(c, s, dt, dtype, record=False, name=name):
            return run_peer(name, c, s, dt, dtype, record=record)

        try:
            check = runner(currents, steps, DT, "float64", record=True)
        except PeerUnavailable as e:
            log(f"[peers] {name}: skipped ({e})")
            out[name] = dict(skipped=str(e))
            continue
        counts_ok = list(check.spike_counts) == [len(s) for s in ours]
        err = max((abs(a - b) for x, y in zip(check.spike_times or [], ours) if len(x) == len(y)
                   for a, b in zip(x, y)), default=0.0) if check.spike_times is not None else None
        tol = PEER_TOLERANCE_MS[name]
        agree = counts_ok and (err is None or err <= tol)
        entry = dict(version=check.version, method=check.method, counts_agree=counts_ok, max_dt_ms=err,
                     tolerance_ms=tol, agree=agree, rows=[])
        log(f"[peers] {name} {check.version}: spike counts {'agree' if counts_ok else 'DISAGREE'}, "
            f"max |Δt| = {err if err is None else f'{err:.2e}'} ms (tolerance {tol} ms) — {check.method}")
        for dtype in settings.dtypes:
            for n in settings.peer_ns:
                if name in ("jaxley", "neuron") and n > 10_000:
                    continue  # jaxley records every step; NEURON builds one section per neuron
                if name == "brian2-cython" and n > 10_000:
                    continue  # ~3e6 neuron-steps/s: minutes per row
                try:
                    r = runner(np.linspace(0.0, 20.0, n), settings.peer_steps, DT, dtype)
                except PeerUnavailable as e:
                    entry["rows"].append(dict(dtype=dtype, N=n, skipped=str(e)))
                    continue
                row = dict(dtype=dtype, N=n, steps=settings.peer_steps, seconds=r.seconds,
                           per_s=n * settings.peer_steps / r.seconds)
                entry["rows"].append(row)
                log(f"[peers] {name} {dtype} N={n}: {row['per_s']:.3g} neuron-steps/s")
        out[name] = entry
    return out
