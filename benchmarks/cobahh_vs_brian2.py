"""COBAHH firing statistics of hhjax and Brian2 over several seeds (same benchmark, same
sizes): rate and CV(ISI) per seed, their seed-to-seed spread, and a figure of both rate
distributions across neurons.

    python benchmarks/cobahh_vs_brian2.py --brian-python /path/to/venv/bin/python

Brian2 runs in its own interpreter (`--brian-python`, with numpy<2.4) and process, as C++
standalone. Writes benchmarks/results/cobahh_vs_brian2.json and the figure (.png beside it;
docs/img/cobahh_vs_brian2.png is a copy)."""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess

import numpy as np

PEER = pathlib.Path(__file__).resolve().parents[1] / "hhjax" / "bench" / "network_peers" / "brian2_network.py"


def brian2(python, seed, n, t1):
    req = dict(benchmark="cobahh", n=n, t1=t1, dt=0.1, seed=seed, device="cpp_standalone", per_neuron=True)
    done = subprocess.run([python, str(PEER)], input=json.dumps(req), capture_output=True, text=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


def hhjax_run(seed, n, t1):
    from hhjax import synaptic as sy

    net, s0 = sy.cobahh(n, seed=seed)
    run = sy.run_network(net, t1, dt=0.1, initial=s0)
    per_neuron = np.bincount(run.spikes["neurons"].index, minlength=n)
    return dict(rate_hz=run.rate_hz(), cv_isi=run.cv_isi(), n_spikes=run.n_spikes, wall_s=run.wall_s,
                rates_per_neuron=(per_neuron / (t1 * 1e-3)).tolist())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brian-python", required=True)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--t1", type=float, default=1000.0)
    ap.add_argument("--out", default="benchmarks/results/cobahh_vs_brian2.json")
    a = ap.parse_args()
    rows = {"hhjax": [], "brian2": []}
    for seed in range(a.seeds):
        rows["brian2"].append(brian2(a.brian_python, seed, a.n, a.t1))
        rows["hhjax"].append(hhjax_run(seed, a.n, a.t1))
        print(seed, {k: (round(v[-1]["rate_hz"], 2), round(v[-1]["cv_isi"], 3)) for k, v in rows.items()}, flush=True)
    summary = {}
    for k, v in rows.items():
        r, c = np.array([x["rate_hz"] for x in v]), np.array([x["cv_isi"] for x in v])
        summary[k] = dict(rate_mean=r.mean(), rate_sd=r.std(ddof=1), cv_mean=c.mean(), cv_sd=c.std(ddof=1),
                          rates=r.tolist(), cvs=c.tolist())
    import jax

    record = dict(n=a.n, t1_ms=a.t1, dt_ms=0.1, seeds=a.seeds, summary=summary, jax=jax.__version__,
                  brian2=rows["brian2"][0].get("version"),
                  per_seed={k: [{kk: vv for kk, vv in x.items() if kk != "rates_per_neuron"} for x in v]
                            for k, v in rows.items()})
    pathlib.Path(a.out).write_text(json.dumps(record, indent=1))
    print(json.dumps(summary, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for k, colour in (("hhjax", "C0"), ("brian2", "C1")):
        allr = np.concatenate([x["rates_per_neuron"] for x in rows[k]])
        ax[0].hist(allr, bins=60, histtype="step", density=True, color=colour, label=k)
        ax[1].scatter(summary[k]["rates"], summary[k]["cvs"], color=colour, label=k)
    ax[0].set(xlabel="firing rate per neuron (Hz)", ylabel="density", title=f"COBAHH N={a.n}, {a.seeds} seeds")
    ax[1].set(xlabel="network rate (Hz)", ylabel="mean CV(ISI)", title="one point per seed")
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(str(pathlib.Path(a.out).with_suffix(".png")), dpi=110)


if __name__ == "__main__":
    main()
