"""HH throughput of two hhjax checkouts (before/after a change) and of BrainPy and the C
kernel, interleaved in one run: forward Euler, dt = 0.01 ms, constant currents 0–20 µA/cm²,
spikes only, compile excluded, neuron-steps/s (best of 7 calls per process and of all rounds; each checkout in its
own process per round, every peer in its own process).

    python benchmarks/before_after.py BEFORE_DIR AFTER_DIR --out before_after.json

Each checkout runs with its own `hhjax` command's process settings, as its `hhjax bench`
would (after the renovation: `hhjax.cli.environment.set_xla_flags()`, the small-loop flag and
one host device per core; before: `use_small_loop_kernels()`). Needs BrainPy for its rows
(`pip install -e ".[peers]"`); the peers are measured in every round too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SIZES = {1: 20_000, 100: 10_000, 10_000: 2_000, 100_000: 1_000}
DTYPES = ("float32", "float64")
DT = 0.01

_HHJAX = """
import json, sys, time
try:
    from hhjax.cli.environment import set_xla_flags
    set_xla_flags()
except ImportError:  # before the renovation
    import hhjax
    hhjax.use_small_loop_kernels()
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, hhjax as hj
rows = []
for n, steps in json.loads(sys.argv[1]).items():
    for dtype in ("float32", "float64"):
        stim = hj.Constant(jnp.linspace(0.0, 20.0, int(n), dtype=dtype))
        run = lambda: hj.simulate(hj.HodgkinHuxley(), stim, t1=steps * 0.01, solver="euler", dt=0.01, dtype=dtype,
                                  max_spikes=64).spike_counts.block_until_ready()
        run()
        best = min((lambda t: (run(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(7))
        rows.append(dict(N=int(n), dtype=dtype, steps=steps, per_s=int(n) * steps / best))
print(json.dumps(dict(rows=rows, devices=len(jax.devices()))))
"""


def run_checkout(root: str) -> list:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = root
    out = subprocess.run([sys.executable, "-c", _HHJAX, json.dumps(SIZES)], env=env, capture_output=True, text=True,
                         check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])["rows"]


def run_peers(root: str) -> dict:
    sys.path.insert(0, root)
    import numpy as np

    from hhjax.bench.peer_process import run_peer
    from hhjax.bench.peer_run import PeerUnavailable

    out = {}
    for name in ("brainpy", "c-kernel"):
        rows = []
        for n, steps in SIZES.items():
            for dtype in DTYPES:
                try:
                    r = run_peer(name, np.linspace(0.0, 20.0, n), steps, DT, dtype)
                    rows.append(dict(N=n, dtype=dtype, steps=steps, per_s=n * steps / r.seconds, version=r.version))
                except PeerUnavailable as e:
                    rows.append(dict(N=n, dtype=dtype, skipped=str(e)))
                print(name, rows[-1], flush=True)
        out[name] = rows
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default="before_after.json")
    a = p.parse_args()
    runs = {"before": [], "after": []}
    peer_rounds = []
    for r in range(a.rounds):
        for side in ("before", "after"):
            runs[side].append(run_checkout(getattr(a, side)))
            print(side, r, runs[side][-1], flush=True)
        peer_rounds.append(run_peers(a.after))
    peers = {name: [max((pr[name][i] for pr in peer_rounds), key=lambda x: x.get("per_s", 0))
                    for i in range(len(peer_rounds[0][name]))] for name in peer_rounds[0]}
    best = {side: {(x["N"], x["dtype"]): max(run[i]["per_s"] for run in rs) for i, x in enumerate(rs[0])}
            for side, rs in runs.items()}
    table = []
    for (n, dtype), after in best["after"].items():
        row = dict(N=n, dtype=dtype, before=best["before"][(n, dtype)], after=after)
        for name, rows in peers.items():
            hit = [x for x in rows if x["N"] == n and x["dtype"] == dtype and "per_s" in x]
            if hit:
                row[name] = hit[0]["per_s"]
                row[f"after/{name}"] = after / hit[0]["per_s"]
        row["after/before"] = after / row["before"]
        table.append(row)
        print(json.dumps(row), flush=True)
    import jax

    with open(a.out, "w") as fh:
        json.dump(dict(table=table, runs=runs, peers=peers, peer_rounds=peer_rounds, rounds=a.rounds,
                       jax=jax.__version__, settings=dict(sizes=SIZES, dt=DT)), fh, indent=1)
