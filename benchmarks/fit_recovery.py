"""Full-size runs of the fitting issue's recovery targets, and the cost of gradients.

    python benchmarks/fit_recovery.py [--quick] [--out fit_recovery.json]

Prints (and writes as JSON):
1. HH membrane parameters (C, ḡNa, ḡK, ḡL, ENa, EK, EL) from ±50 % random starts:
   10 initialisations × 16 vmapped starts, noise-free and with 1 mV noise.
2. tv-LIF gate functions (18 rate coefficients; conductances by least squares) from V
   alone: τ_x and x∞ errors over the visited voltages; closed loop on an unseen protocol.
3. s-LIF2HH vs HH spike trains on the five paper waveforms, before / after fitting, on
   the authors' 1 ms grid and on a 0.25 ms step.
4. Gradient cost: value-and-grad vs forward time for a 20,000-step solve, and its peak
   memory (XLA's temp allocation) with and without checkpointing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import diffrax as dfx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hhjax as hj  # noqa: E402
from hhjax import fitting as hf  # noqa: E402
from hhjax.fitting.recovery import closed_loop_spikes, gate_recovery, membrane_recovery  # noqa: E402
from hhjax.fitting.slif2hh import fit_slif2hh  # noqa: E402
from hhjax.paper.simplified import compare_spike_trains, hh_chain_spikes, slif2hh_chain_spikes  # noqa: E402


def membrane(quick):
    hh = hj.HodgkinHuxley()
    out = {}
    # noise-free: plain teacher forcing, 4 × 60 ms at 0.01 ms. 1 mV noise: the robust
    # (Cauchy, 3 mV) teacher-forced loss on 1 ms windows, 4 × 200 ms sampled every 0.02 ms
    # (plain least squares is biased by noise in the V that drives the gates)
    for noise, window, sample_dt, t1, robust in ((0.0, 0.1, 0.01, 60.0, None), (1.0, 1.0, 0.02, 200.0, 3.0)):
        t1 = 40.0 if quick and noise == 0 else t1
        trace = hf.synthetic_traces(hh, hf.default_protocols(t1), t1=t1, sample_dt=sample_dt)
        tr = trace if noise == 0 else trace.with_noise(jax.random.PRNGKey(5), noise)
        start = time.perf_counter()
        res = membrane_recovery(hh, tr, initialisations=3 if quick else 10, starts=16, steps=60 if quick else 100,
                                key=jax.random.PRNGKey(1), window_ms=window, robust_mV=robust)
        wall = time.perf_counter() - start
        rel = res["relative_error"]
        out[f"noise_{noise}mV"] = dict(
            window_ms=window, sample_dt_ms=sample_dt, t1_ms=t1, protocols=4, robust_mV=robust, wall_s=wall,
            names=res["names"],
            max_rel_error_per_param=dict(zip(res["names"], rel.max(axis=0).tolist())),
            median_rel_error_per_param=dict(zip(res["names"], np.median(rel, axis=0).tolist())),
            inits_all_within_1pct=int(np.sum(rel.max(axis=1) < 0.01)),
            inits_all_within_5pct=int(np.sum(rel.max(axis=1) < 0.05)), initialisations=int(rel.shape[0]))
        print(f"[membrane] noise {noise} mV: {out[f'noise_{noise}mV']['inits_all_within_1pct']}/{rel.shape[0]} "
              f"initialisations all within 1 %, {out[f'noise_{noise}mV']['inits_all_within_5pct']} within 5 %; "
              f"wall {wall:.0f} s")
        for n in res["names"]:
            print(f"    {n:5s} max rel err {rel[:, res['names'].index(n)].max():.2e}")
    return out


def gates(quick):
    hh = hj.HodgkinHuxley()
    t1 = 60.0 if quick else 100.0
    trace = hf.synthetic_traces(hh, hf.default_protocols(t1), t1=t1, sample_dt=0.01)
    start = time.perf_counter()
    fitted, res = gate_recovery(hh, trace, starts=4 if quick else 8, steps=80 if quick else 300,
                                key=jax.random.PRNGKey(2))
    wall = time.perf_counter() - start
    V = hf.visited_voltages(trace)
    errors = hf.gate_curve_errors(fitted, hh, V)
    got, want = closed_loop_spikes([hj.tvlif2hh(fitted), hj.tvlif2hh(hh)], hj.Step(0.0, 15.0, 10.0), t1=80.0)
    same = got.size == want.size
    result = dict(wall_s=wall, loss=res.loss, voltage_range_mV=[float(V[0]), float(V[-1])], errors=errors,
                  membrane=hf.recovery.membrane_values(fitted),
                  closed_loop=dict(protocol="step 0→15 µA/cm² at 10 ms, 80 ms", n_fitted=int(got.size),
                                   n_true=int(want.size),
                                   max_abs_dt_ms=float(np.max(np.abs(got - want))) if same else None))
    print(f"[gates] loss {res.loss:.3g}, wall {wall:.0f} s, V range {float(V[0]):.1f}..{float(V[-1]):.1f} mV")
    for x, e in errors.items():
        print(f"    {x}: max |τ rel err| {e['tau_rel']:.3e}, max |x∞ err| {e['x_inf_abs']:.3e}")
    print(f"    closed loop: {got.size} vs {want.size} spikes, max |Δt| "
          f"{result['closed_loop']['max_abs_dt_ms']} ms; membrane {result['membrane']}")
    return result


def slif2hh(quick):
    """Per-waveform fits on the authors' 1 ms grid and on a 0.25 ms step
    (`SLIF2HH.matlab(0.25)`), each judged by rerunning the exact chain."""
    waves = hj.paper_waveforms()
    names = list(waves)
    targets, _ = hh_chain_spikes([waves[n] for n in names], dt=0.001)
    before = slif2hh_chain_spikes([waves[n] for n in names])
    rows = []

    def fmt(c):
        e = "—" if c.normalised_error is None else f"{c.normalised_error:.3f}"
        return f"{c.n_test:2d}, {e:>5s}"

    for unit_dt in (1.0, 0.25):
        base = hj.SLIF2HH.matlab(unit_dt)
        print(f"[s-LIF2HH] unit step {unit_dt} ms; waveform  HH  hand-set(n, err)  fitted(n, err)  "
              "decay/threshold/gain/w1/w2/w3/bias/reset/weight  wall")
        for n, target, b in zip(names, targets, before):
            start = time.perf_counter()
            fit = fit_slif2hh([waves[n]], [target], base=base, key=jax.random.PRNGKey(0),
                              iterations=20 if quick else 40)
            wall = time.perf_counter() - start
            spikes = slif2hh_chain_spikes([waves[n]], model=fit.model.unit, weight=fit.model.weight)[0]
            old, new = compare_spike_trains(target, b), compare_spike_trains(target, spikes)
            u = fit.model.unit
            params = {k: float(getattr(u, k)) for k in ("decay", "threshold", "gain", "w1", "w2", "w3", "bias", "reset")}
            params["weight"] = float(fit.model.weight)
            rows.append(dict(unit_dt_ms=unit_dt, waveform=n, hh_spikes=len(target), before=old._asdict(),
                             after=new._asdict(), params=params, wall_s=wall, spikes=spikes))
            print(f"    {n:9s} {len(target):2d}  {fmt(old):14s}  {fmt(new):14s}  "
                  + "/".join(f"{v:.3g}" for v in params.values()) + f"  {wall:.0f} s")
    return rows


def _time(fn, arg, reps):
    jax.block_until_ready(fn(arg))
    start = time.perf_counter()
    for _ in range(reps):
        jax.block_until_ready(fn(arg))
    return (time.perf_counter() - start) / reps


def gradient_cost(quick, population: int = 256, only_variant: str | None = None):
    """A 20,000-step RK4 solve (200 ms at 0.01 ms) of `population` HH neurons, each with
    its own ḡNa, ḡK, ḡL: value-and-grad of the voltage MSE vs the forward solve, and XLA's
    peak temporary memory for both, with diffrax's recursive checkpointing (default) and
    with every step stored. Also the teacher-forced loss (what the fits use)."""
    hh = hj.HodgkinHuxley()
    n, dt = 20_000, 0.01
    stim = hj.Step(0.0, 10.0, 5.0)
    sim = hj.simulate(hh, stim, t1=n * dt, solver="rk4", dt=dt, save_every=0.1)
    t = np.asarray(sim.ts)
    V = np.repeat(np.asarray(sim.V)[None], population, axis=0)
    current = np.repeat(np.asarray(jax.vmap(stim)(sim.ts))[None], population, axis=0)
    trace = hf.make_trace(t, current, V)
    space = hf.ParameterSpace.of(hh, ["g_Na", "g_K", "g_L"])
    theta = jax.tree.map(lambda x: jnp.broadcast_to(x, (population,)) * (1 + 0.01 * jnp.linspace(-1, 1, population)),
                         space.to_unconstrained(space.values()))
    reps = 1 if quick else 3
    out = dict(population=population, steps=n)
    variants = (("recursive checkpoint (default)", dfx.RecursiveCheckpointAdjoint()),
                ("150 checkpoints (~sqrt(steps))", dfx.RecursiveCheckpointAdjoint(checkpoints=150)),
                ("every step stored", dfx.RecursiveCheckpointAdjoint(checkpoints=n + 1)))
    if only_variant is not None:
        variants = tuple(v for v in variants if v[0].startswith(only_variant))
    for label, adjoint in variants:
        def loss(th, adjoint=adjoint):
            return hf.voltage_mse(space.model(th), trace, solver="rk4", substeps=10, adjoint=adjoint)

        fwd, vg = jax.jit(loss), jax.jit(jax.value_and_grad(loss))
        mem_g = vg.lower(theta).compile().memory_analysis().temp_size_in_bytes / 2**20
        mem_f = fwd.lower(theta).compile().memory_analysis().temp_size_in_bytes / 2**20
        t_f, t_g = _time(fwd, theta, reps), _time(vg, theta, reps)
        out[label] = dict(forward_s=t_f, value_and_grad_s=t_g, ratio=t_g / t_f, grad_temp_MiB=mem_g,
                          forward_temp_MiB=mem_f)
        print(f"[gradient] {label}: {population} neurons × {n} RK4 steps: forward {t_f:.2f} s, value+grad "
              f"{t_g:.2f} s (ratio {t_g / t_f:.2f}); peak temp memory: grad {mem_g:.1f} MiB, forward {mem_f:.1f} MiB")
    # the teacher-forced loss of the fits: 8 starts, 4 protocols × 10,001 samples
    tr = hf.synthetic_traces(hh, hf.default_protocols(100.0), t1=100.0, sample_dt=0.01)
    space = hf.ParameterSpace.of(hh, hf.HH_MEMBRANE + hf.RATE_COEFFICIENTS)
    th = space.perturbed_starts(jax.random.PRNGKey(0), 8, 0.2, 5.0)

    def tf_loss(x):
        return hf.equation_error(space.model(x), tr)

    t_f = _time(jax.jit(jax.vmap(tf_loss)), th, reps + 2)
    t_g = _time(jax.jit(jax.vmap(jax.value_and_grad(tf_loss))), th, reps + 2)
    out["teacher forcing"] = dict(forward_s=t_f, value_and_grad_s=t_g, ratio=t_g / t_f)
    print(f"[gradient] teacher-forced loss, 8 starts × 4 × 10,001 samples, 25 parameters: value {t_f * 1e3:.0f} ms, "
          f"value+grad {t_g * 1e3:.0f} ms (ratio {t_g / t_f:.2f})")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (minutes)")
    p.add_argument("--out", default="fit_recovery.json")
    p.add_argument("--only", default="membrane,gates,slif2hh,gradient")
    a = p.parse_args()
    import jaxlib

    info = dict(jax=jax.__version__, jaxlib=jaxlib.__version__, XLA_FLAGS=os.environ.get("XLA_FLAGS", ""),
                device=str(jax.devices()[0]), cpu=platform.processor() or platform.machine(),
                threads=os.cpu_count(), dtype="float64", quick=a.quick)
    print(info)
    results = dict(info=info)
    start = time.perf_counter()
    for part in a.only.split(","):
        results[part] = {"membrane": membrane, "gates": gates, "slif2hh": slif2hh, "gradient": gradient_cost}[part](a.quick)
    results["wall_s"] = time.perf_counter() - start
    with open(a.out, "w") as fh:
        json.dump(results, fh, indent=1, default=float)
    print(f"total wall {results['wall_s']:.0f} s; wrote {a.out}")


if __name__ == "__main__":
    main()
