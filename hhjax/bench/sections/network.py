"""The network benchmark: COBAHH (Brette et al. 2007) at several sizes — simulated seconds
per wall second, synaptic events per second, memory — for hhjax and each peer simulator
that is installed (each in a process of its own, with its own interpreter if set:
`HHJAX_PYTHON_BRIAN2`, `HHJAX_PYTHON_BRAINPY`, `HHJAX_PYTHON_NEST`). The ratio of hhjax to
the fastest peer at each size comes from this one run; every simulator's time is the best of
`settings.repeats` runs (a peer whose run takes 30 s or more runs once)."""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import sys

from ..settings import Settings

PEER_DIR = pathlib.Path(__file__).resolve().parents[1] / "network_peers"
# name: (script, interpreter variable, extra request fields)
NETWORK_PEERS = {
    "brian2-cython": ("brian2_network.py", "HHJAX_PYTHON_BRIAN2", dict(device="runtime", target="cython")),
    "brian2-standalone": ("brian2_network.py", "HHJAX_PYTHON_BRIAN2", dict(device="cpp_standalone")),
    "brainpy": ("brainpy_network.py", "HHJAX_PYTHON_BRAINPY", {}),
    "nest": ("nest_network.py", "HHJAX_PYTHON_NEST", {}),
}


def run_network_peer(name: str, request: dict, timeout: float = 3600.0) -> dict:
    """One peer run in its own process: the JSON it prints, or {"unavailable": reason}."""
    script, variable, extra = NETWORK_PEERS[name]
    python = os.environ.get(variable) or sys.executable
    req = {**request, **extra, "threads": os.cpu_count() or 1}
    try:
        done = subprocess.run([python, str(PEER_DIR / script)], input=json.dumps(req), capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return dict(unavailable=f"{name}: {e}")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return dict(unavailable=f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return json.loads(lines[-1])


def _hhjax_row(n, t1, dtype, repeats, log):
    import jax.numpy as jnp

    from ...synaptic import cobahh, run_network
    from ...synaptic.standard import default_connect

    net, state = cobahh(n, seed=1, dtype=jnp.dtype(dtype))
    runs = [run_network(net, t1, dt=0.1, initial=state) for _ in range(repeats)]
    best = min(runs, key=lambda r: r.wall_s)
    events = best.synaptic_events()
    est = net.estimated_bytes(jnp.dtype(dtype))
    return dict(simulator="hhjax", method=f"expeuler, event-driven, {dtype}", n=n, t1_ms=t1, runs=repeats,
                connect=default_connect(n), wall_s=best.wall_s, compile_s=best.compile_s,
                sim_s_per_wall_s=t1 * 1e-3 / best.wall_s, rate_hz=best.rate_hz(), n_spikes=best.n_spikes,
                synaptic_events=events, events_per_s=events / best.wall_s, n_synapses=net.n_synapses,
                estimated_MiB=est / 2**20, bytes_per_synapse=est / max(net.n_synapses, 1),
                peak_rss_MiB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def network(settings: Settings, peer_names=None, log=print) -> list[dict]:
    rows = []
    names = [p for p in (NETWORK_PEERS if peer_names is None else peer_names) if p in NETWORK_PEERS]
    for n, t1 in zip(settings.network_ns, settings.network_t1):
        size_rows = []
        for dtype in settings.dtypes:
            row = _hhjax_row(n, t1, dtype, settings.repeats, log)
            size_rows.append(row)
            log(f"[network] hhjax {dtype} COBAHH N={n}: {row['sim_s_per_wall_s']:.3g} sim-s/wall-s, "
                f"{row['events_per_s']:.3g} events/s, {row['rate_hz']:.1f} Hz, {row['estimated_MiB']:.0f} MiB "
                f"({row['bytes_per_synapse']:.1f} B/synapse)")
        mean_fan_out = size_rows[0]["synaptic_events"] / max(size_rows[0]["n_spikes"], 1)
        for name in names:
            if name == "brian2-cython" and n > 40_000:
                continue  # (minutes per simulated 100 ms)
            req = dict(benchmark="cobahh", n=n, t1=t1, dt=0.1, seed=1, repeats=settings.repeats,
                       connect="probability" if n <= 4000 else "in-degree")
            got = run_network_peer(name, req)
            if "unavailable" in got:
                log(f"[network] {name}: skipped ({got['unavailable']})")
                size_rows.append(dict(simulator=name, n=n, skipped=got["unavailable"]))
                continue
            got.update(simulator=name, n=n, t1_ms=t1, sim_s_per_wall_s=t1 * 1e-3 / got["wall_s"],
                       events_per_s=got["n_spikes"] * mean_fan_out / got["wall_s"])
            size_rows.append(got)
            log(f"[network] {name} COBAHH N={n}: {got['sim_s_per_wall_s']:.3g} sim-s/wall-s, "
                f"{got['rate_hz']:.1f} Hz — {got.get('method')}")
        peers_done = [r for r in size_rows if r["simulator"] != "hhjax" and "skipped" not in r]
        if peers_done:
            fastest = max(peers_done, key=lambda r: r["sim_s_per_wall_s"])
            for r in size_rows:
                if r["simulator"] == "hhjax":
                    r["vs_fastest_peer"] = r["sim_s_per_wall_s"] / fastest["sim_s_per_wall_s"]
                    r["fastest_peer"] = fastest["simulator"]
                    log(f"[network] hhjax {r['method'].split(', ')[-1]} N={n}: {r['vs_fastest_peer']:.2f}x the "
                        f"fastest peer ({fastest['simulator']})")
        rows += size_rows
    return rows
