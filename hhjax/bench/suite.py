"""The benchmark suite behind `hhjax bench`: each section is a function returning plain
dicts (JSON-ready); `run_suite` runs the chosen sections in one process so that every ratio
compares numbers measured side by side.

Sections: throughput (neuron-steps/s per model, dtype and N; `simulate` vs a hand-written
textbook `lax.scan` and vs a scan of the same vector field), compile time, memory (spikes
only: O(N)), accuracy vs cost per solver (Pareto front), gradient cost, operation counts
(paper rule and XLA's count of the compiled step), peers, sharding.
"""

from __future__ import annotations

import json
import math
import pathlib
import resource
from dataclasses import dataclass

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np

from .. import costs
from ..backends import tuned_model, tuning_for
from ..integrate import cast_floats, simulate
from ..integrate.sharding import shard_population
from ..models import LIF, SLIF2HH, HodgkinHuxley, tvlif2hh
from ..stimuli import Constant, Stacked, Step
from .baselines import textbook_hh_scan, vector_field_scan
from .timing import best_time, best_times_interleaved, environment, first_call_time

DT = 0.01  # ms, the forward-Euler step of every throughput row
REFERENCE = pathlib.Path(__file__).resolve().parent / "data" / "hh_reference_spikes.json"
SECTIONS = ("throughput", "compile", "memory", "accuracy", "gradient", "ops", "sharding", "peers")


@dataclass(frozen=True)
class Settings:
    """Sizes of one suite run. `quick()` takes about 3 minutes on a 2-core CPU (without peers)."""

    hh_ns: tuple = (1, 1000, 100_000)
    other_ns: tuple = (100_000,)
    dtypes: tuple = ("float32", "float64")
    work: float = 5e7  # neuron-steps per measurement (steps = clip(work / N))
    min_steps: int = 1000
    max_steps: int = 50_000
    repeats: int = 3
    memory_steps: tuple = (1_000, 10_000, 100_000)
    memory_n: int = 100_000
    accuracy_cases: tuple = (("euler", (("dt", 0.01),)), ("rk4", (("dt", 0.05),)), ("rk4", (("dt", 0.025),)),
                             ("tsit5", (("rtol", 1e-6), ("atol", 1e-8))), ("tsit5", (("rtol", 1e-10), ("atol", 1e-10))))
    gradient_n: int = 64
    gradient_steps: tuple = (1_000, 4_000)
    gradient_solver: str = "euler"  # quick mode: an RK4 value-and-grad takes ~20 s to compile here
    peer_ns: tuple = (1000,)
    peer_steps: int = 2000

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(
            hh_ns=(1, 10, 100, 1000, 10_000, 100_000, 1_000_000), other_ns=(1, 1000, 10_000, 100_000), work=2e8,
            max_steps=100_000, min_steps=1000, repeats=3,
            accuracy_cases=(("euler", (("dt", 0.01),)), ("euler", (("dt", 0.005),)), ("expeuler", (("dt", 0.01),)),
                            ("heun", (("dt", 0.01),)), ("rk4", (("dt", 0.05),)), ("rk4", (("dt", 0.025),)),
                            ("tsit5", (("rtol", 1e-6), ("atol", 1e-8))), ("tsit5", (("rtol", 1e-10), ("atol", 1e-10))),
                            ("dopri5", (("rtol", 1e-8), ("atol", 1e-8))), ("dopri8", (("rtol", 1e-10), ("atol", 1e-10))),
                            ("kvaerno5", (("rtol", 1e-8), ("atol", 1e-8)))),
            gradient_n=256, gradient_steps=(1_000, 4_000, 20_000), gradient_solver="rk4",
            peer_ns=(1, 100, 10_000, 100_000), peer_steps=10_000,
        )

    @classmethod
    def gpu(cls):
        """One GPU in about five minutes: larger populations, fewer small ones."""
        return cls(hh_ns=(1, 1000, 100_000, 1_000_000, 4_000_000), other_ns=(1_000_000,), work=1e9,
                   min_steps=2000, max_steps=20_000, memory_n=1_000_000, gradient_n=4096, gradient_solver="rk4",
                   peer_ns=())

    def steps_for(self, n: int) -> int:
        return int(min(self.max_steps, max(self.min_steps, self.work // max(n, 1))))


# --- throughput -------------------------------------------------------------------------

def _population(model_name: str, n: int, dtype: str):
    """(model, stimulus, step ms) for a throughput row: constant currents spread over the
    range where the model fires (µA/cm²)."""
    if model_name == "hh":
        return HodgkinHuxley(), Constant(jnp.linspace(0.0, 20.0, n, dtype=dtype)), DT
    if model_name == "tvlif2hh":
        return tvlif2hh(HodgkinHuxley()), Constant(jnp.linspace(0.0, 20.0, n, dtype=dtype)), DT
    if model_name == "lif":
        return LIF(), Constant(jnp.linspace(0.0, 4.0, n, dtype=dtype)), DT
    if model_name == "slif2hh":
        return SLIF2HH(), Constant(jnp.linspace(0.0, 20.0, n, dtype=dtype)), SLIF2HH().dt
    raise ValueError(f"unknown model {model_name!r}")


def _simulate_call(model_name: str, n: int, dtype: str, steps: int, place=None):
    """The timed `simulate` call of a throughput row (its spike counts); `place(stimulus)`,
    if given, puts the stimulus somewhere first (e.g. split over devices)."""
    model, stim, dt = _population(model_name, n, dtype)
    stim = stim if place is None else place(stim)
    t1 = steps * dt
    # One slot per 4 ms: the fastest unit of every population here fires at intervals of
    # 5 ms or more (HH 11.6, LIF 6.7, s-LIF2HH 5.0 ms; measured), and an overflow raises.
    # The buffer is part of each call's cost (allocated and NaN-filled: 100,000 s-LIF2HH
    # units over 2,000 steps = 2 s need 508 slots, 203 MB).
    max_spikes = int(t1 / 4) + 8
    if model_name == "slif2hh":
        return lambda: simulate(model, stim, t1=t1, dtype=dtype, max_spikes=max_spikes).spike_counts
    return lambda: simulate(model, stim, t1=t1, dt=dt, solver="euler", dtype=dtype, max_spikes=max_spikes).spike_counts


def throughput(settings: Settings, models=("hh", "tvlif2hh", "lif", "slif2hh"), log=print) -> list[dict]:
    """Neuron-steps per second of `simulate` (forward Euler, dt = 0.01 ms; s-LIF2HH: its own
    1 ms step, one unit of four neurons counted as one neuron) and, for HH, of the textbook
    scan and of a scan of hhjax's own vector field, at the same N, steps and dtype."""
    rows = []
    for dtype in settings.dtypes:
        for model_name in models:
            ns = settings.hh_ns if model_name == "hh" else settings.other_ns
            for n in ns:
                steps = settings.steps_for(n)
                call = _simulate_call(model_name, n, dtype, steps)
                first = first_call_time(call)
                if model_name == "hh":  # timed interleaved with its baselines: fair ratios on a noisy machine
                    times = best_times_interleaved(dict(simulate=call, **_hh_baselines(n, dtype, steps)),
                                                   settings.repeats)
                    seconds = times.pop("simulate")
                else:
                    seconds, times = best_time(call, settings.repeats), {}
                row = dict(model=model_name, dtype=dtype, N=n, steps=steps, seconds=seconds,
                           per_s=n * steps / seconds, first_call_s=first, compile_s=max(first - seconds, 0.0))
                if model_name == "hh":
                    row.update({f"{name}_per_s": n * steps / t for name, t in times.items()})
                    row["ratio_vs_textbook_scan"] = row["per_s"] / row["textbook_scan_per_s"]
                    row["ratio_vs_same_vf_scan"] = row["per_s"] / row["vf_scan_per_s"]
                rows.append(row)
                log(_throughput_line(row))
    _relative_cost(rows)
    return rows


def _hh_baselines(n, dtype, steps) -> dict:
    """The two baselines of an HH row as calls: the textbook scan and a scan of hhjax's own
    (prepared) vector field, on the same population, steps and dtype."""
    model = HodgkinHuxley()
    y0 = model.initial_state(jnp.full((n,), -65.0, dtype))
    y0 = jax.tree.map(lambda x: x.astype(dtype), y0)
    current = jnp.linspace(0.0, 20.0, n, dtype=dtype)
    scan = textbook_hh_scan(steps, DT)
    prepared = cast_floats(tuned_model(model, tuning_for()), jnp.dtype(dtype))
    vf_scan = vector_field_scan(steps, DT)
    stim = Constant(current)
    return dict(textbook_scan=lambda: scan(y0.V, y0.m, y0.h, y0.n, current),
                vf_scan=lambda: vf_scan(prepared, y0, stim))


def _relative_cost(rows):
    """Cost per neuron-step relative to HH at the same dtype and N (where measured)."""
    hh = {(r["dtype"], r["N"]): r["per_s"] for r in rows if r["model"] == "hh"}
    for r in rows:
        ref = hh.get((r["dtype"], r["N"]))
        if ref is not None:
            r["cost_vs_hh"] = ref / r["per_s"]


def _throughput_line(r) -> str:
    extra = ""
    if "textbook_scan_per_s" in r:
        extra = (f"  textbook scan {r['textbook_scan_per_s']:.3g}/s (ratio {r['ratio_vs_textbook_scan']:.2f}), "
                 f"same-vector-field scan {r['vf_scan_per_s']:.3g}/s (ratio {r['ratio_vs_same_vf_scan']:.2f})")
    return (f"[throughput] {r['model']:<8} {r['dtype']} N={r['N']:<8} steps={r['steps']:<6} "
            f"{r['per_s']:.3g} neuron-steps/s, compile {r['compile_s']:.2f} s{extra}")


# --- compile time -----------------------------------------------------------------------

_COMPILE_CASES = (("hh", "euler", (("dt", 0.01),)), ("hh", "rk4", (("dt", 0.025),)), ("hh", "tsit5", ()),
                  ("lif", "euler", (("dt", 0.01),)), ("tvlif2hh", "euler", (("dt", 0.01),)),
                  # the call behind a plotted trace: the default solver, V sampled every 0.1 ms
                  ("hh", "tsit5", (("save_every", 0.1),)))


def _compile_case_call(index: int):
    """(the `simulate` call of compile case `index` (N = 100, float32), its t1): a t1 of its
    own, so that no other case's compilation is reused."""
    model_name, solver, kw = _COMPILE_CASES[index]
    model, stim, _ = _population(model_name, 100, "float32")
    t1 = 50.0 + 0.123 * index

    def call():
        return simulate(model, stim, t1=t1, solver=solver, dtype="float32", **dict(kw)).spike_counts

    return call, t1


def first_calls_in_this_process() -> list[float]:
    """First-call time (s) of every compile case, in order (run by `compile_time` in fresh
    processes)."""
    return [first_call_time(_compile_case_call(i)[0]) for i in range(len(_COMPILE_CASES))]


def _first_calls_in_fresh_process(cache_dir: str) -> list[float]:
    """`first_calls_in_this_process` in a new Python process whose JAX keeps compiled
    programs in the persistent cache `cache_dir` (every compilation cached)."""
    import os
    import subprocess
    import sys

    code = ("import json, jax; jax.config.update('jax_compilation_cache_dir', %r); "
            "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0); "
            "from hhjax.bench.suite import first_calls_in_this_process as f; print(json.dumps(f()))" % cache_dir)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, JAX_PLATFORMS=jax.default_backend()))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _compile_label(row: dict) -> str:
    """'hh tsit5', or 'hh tsit5 save 0.1 ms' for a case that saves a trace."""
    saves = row.get("save_every")
    return f"{row['model']} {row['solver']}" + (f" save {saves:g} ms" if saves else "")


def compile_time(settings: Settings, log=print) -> list[dict]:
    """First-call time minus steady-state time of a fresh `simulate` call (tracing and XLA
    compilation), for the solvers users reach for first; and the first call of each in a
    new process whose persistent compilation cache already holds it (what a second run of
    a script or of the `hhjax` command pays: tracing and loading, no XLA compile)."""
    import tempfile

    rows = []
    for i, (model_name, solver, kw) in enumerate(_COMPILE_CASES):
        call, t1 = _compile_case_call(i)
        first = first_call_time(call)
        steady = best_time(call, 2)
        save_every = dict(kw).get("save_every")
        rows.append(dict(model=model_name, solver=solver, N=100, t1=t1, save_every=save_every,
                         compile_s=first - steady, run_s=steady))
        log(f"[compile] {_compile_label(rows[-1])}: {first - steady:.2f} s to trace and compile "
            f"(run {steady * 1e3:.1f} ms)")
    with tempfile.TemporaryDirectory() as cache:
        try:
            _first_calls_in_fresh_process(cache)  # fills the cache
            warm = _first_calls_in_fresh_process(cache)
        except Exception as e:  # a failing child process must not lose the section
            log(f"[compile] persistent-cache measurement skipped ({type(e).__name__}: {e})")
            warm = None
    for row, t in zip(rows, warm or ()):
        row["first_call_warm_cache_s"] = t
        log(f"[compile] {_compile_label(row)}: first call in a new process with a warm persistent "
            f"cache {t:.2f} s")
    return rows


# --- memory ---------------------------------------------------------------------------

def _compiled_bytes(fn, *args) -> dict:
    return _buffer_bytes(jax.jit(fn).lower(*args).compile())


def _buffer_bytes(compiled) -> dict:
    m = compiled.memory_analysis()
    return dict(temp=int(m.temp_size_in_bytes), output=int(m.output_size_in_bytes),
                argument=int(m.argument_size_in_bytes))


def memory(settings: Settings, log=print) -> list[dict]:
    """XLA's buffer sizes for a spikes-only HH run of `memory_n` neurons at increasing step
    counts (constant: O(N)), against saving every step (O(N·steps)) at the smallest count."""
    n = settings.memory_n
    rows = []
    model = HodgkinHuxley()
    current = jnp.linspace(0.0, 20.0, n, dtype=jnp.float32)
    for steps in settings.memory_steps:
        def spikes_only(I, steps=steps):
            sim = simulate(model, Constant(I), t1=steps * DT, dt=DT, solver="euler", dtype="float32", max_spikes=64)
            return sim.spike_times, sim.spike_counts, sim.y_final

        b = _compiled_bytes(spikes_only, current)
        rows.append(dict(N=n, steps=steps, record="spikes", **b, total_MiB=sum(b.values()) / 2**20))
        log(f"[memory] N={n} steps={steps} spikes only: {rows[-1]['total_MiB']:.1f} MiB "
            f"(temp {b['temp'] / 2**20:.1f}, out {b['output'] / 2**20:.1f})")
    steps = settings.memory_steps[0]

    def every_step(I):
        return simulate(model, Constant(I), t1=steps * DT, dt=DT, solver="euler", dtype="float32",
                        save_every="step", max_spikes=64).V

    b = _compiled_bytes(every_step, current)
    rows.append(dict(N=n, steps=steps, record="every step", **b, total_MiB=sum(b.values()) / 2**20))
    log(f"[memory] N={n} steps={steps} saving every step: {rows[-1]['total_MiB']:.1f} MiB")
    return rows


# --- accuracy vs cost -------------------------------------------------------------------

def _reference_stimulus(p):
    if p["kind"] == "const":
        return Constant(p["params"]["I"])
    return Step(p["params"]["I_off"], p["params"]["I_on"], p["params"]["t_on"])


def accuracy(settings: Settings, reference=REFERENCE, log=print) -> list[dict]:
    """Spike-time error against the independent SciPy Radau reference (float64, all
    reference protocols as one population) and wall time; marks the Pareto front."""
    ref = json.loads(pathlib.Path(reference).read_text())
    protos = ref["protocols"]
    stim = Stacked(tuple(_reference_stimulus(p) for p in protos))
    y0 = HodgkinHuxley().initial_state(jnp.full((len(protos),), -65.0, jnp.float64))
    rows = []
    for solver, kw in settings.accuracy_cases:
        kw = dict(kw)

        def run():
            return simulate(HodgkinHuxley(), stim, t1=ref["t_stop_ms"], solver=solver, dtype="float64", y0=y0, **kw)

        wall = best_time(lambda: run().spike_counts, settings.repeats)
        sim = run()
        errs, counts_ok = [], True
        for got, p in zip(sim.spike_list(), protos):
            if len(got) != p["n_spikes"]:
                counts_ok = False
                continue
            errs.extend(np.abs(np.asarray(got) - np.asarray(p["spike_times_ms"])).tolist())
        rows.append(dict(solver=solver, settings=kw, steps=int(sim.stats["num_steps"]), wall_s=wall,
                         max_err_ms=max(errs) if counts_ok else math.inf, counts_ok=counts_ok,
                         default=(solver == "tsit5" and kw == dict(rtol=1e-6, atol=1e-8))))
    for r in rows:
        r["pareto"] = not any(o["wall_s"] <= r["wall_s"] and o["max_err_ms"] <= r["max_err_ms"]
                              and (o["wall_s"] < r["wall_s"] or o["max_err_ms"] < r["max_err_ms"]) for o in rows)
        s = ", ".join(f"{k}={v:g}" for k, v in r["settings"].items())
        log(f"[accuracy] {r['solver']:<8} {s:<22} max err {r['max_err_ms']:.2e} ms, {r['wall_s'] * 1e3:.1f} ms"
            f"{'  (Pareto front)' if r['pareto'] else ''}{'  <- default' if r['default'] else ''}")
    return rows


# --- gradients ---------------------------------------------------------------------------

def gradient(settings: Settings, log=print) -> list[dict]:
    """Forward solve vs value-and-grad (`gradient_solver`, dt = 0.01 ms, `gradient_n` neurons each with its
    own ḡK), time ratio, and XLA's temporary memory at increasing simulated time: with the default adjoint
    (every step stored up to `STORE_EVERY_STEP_BYTES`, else O(√steps) checkpoints), with ~√(2·steps)
    checkpoints (diffrax's scheme) and with every step stored."""
    n = settings.gradient_n
    stim = Step(0.0, 10.0, 5.0)
    g_k = jnp.linspace(30.0, 40.0, n)
    rows = []
    for steps in settings.gradient_steps:
        variants = (("default", dfx.RecursiveCheckpointAdjoint()),
                    ("sqrt checkpoints", dfx.RecursiveCheckpointAdjoint(checkpoints=math.isqrt(2 * steps) + 1)),
                    ("every step stored", dfx.RecursiveCheckpointAdjoint(checkpoints=steps + 1)))
        for label, adjoint in variants:
            def loss(g, adjoint=adjoint, steps=steps):
                sim = simulate(HodgkinHuxley(g_K=g), stim, t1=steps * DT, solver=settings.gradient_solver, dt=DT,
                               max_spikes=0, adjoint=adjoint, dtype="float64")
                return jnp.mean((sim.y_final.V + 65.0) ** 2)

            vg = jax.jit(jax.value_and_grad(loss)).lower(g_k).compile()  # compiled once: measured and timed
            mem_g = _buffer_bytes(vg)["temp"] / 2**20
            row = dict(N=n, steps=steps, simulated_ms=steps * DT, solver=settings.gradient_solver, adjoint=label,
                       grad_temp_MiB=mem_g)
            if steps == settings.gradient_steps[0]:
                fwd = jax.jit(loss).lower(g_k).compile()
                # interleaved: a slow spell of a shared machine hits both alike (timed one after the
                # other, one quick run read a ratio of 62 where reruns read 20)
                times = best_times_interleaved(dict(f=lambda: fwd(g_k), g=lambda: vg(g_k)), settings.repeats)
                t_f, t_g = times["f"], times["g"]
                row.update(forward_s=t_f, value_and_grad_s=t_g, ratio=t_g / t_f)
            rows.append(row)
            extra = f", value+grad / forward = {row['ratio']:.2f}" if "ratio" in row else ""
            log(f"[gradient] N={n} {steps} {settings.gradient_solver} steps, {label}: temp {mem_g:.1f} MiB{extra}")
    return rows


# --- operation counts ----------------------------------------------------------------------

def operation_counts(throughput_rows=None, log=print) -> dict:
    """Per neuron-step: the paper's counting rule, XLA's count of hhjax's compiled forward-
    Euler step (flops, transcendentals), and measured cost (from the throughput rows);
    each expressed in LIF equivalents. Also the paper's fc-network FLOPs."""
    n = 1024
    hh = HodgkinHuxley()
    current = jnp.linspace(0.0, 20.0, n)
    lif = LIF()
    tv = tvlif2hh(hh)
    compiled = {
        "hh": costs.compiled_step_ops(hh, hh.initial_state(jnp.full((n,), -65.0)), current),
        "hh (6 exp, no sharing)": costs.compiled_step_ops(hh, hh.initial_state(jnp.full((n,), -65.0)), current,
                                                          prepare=False),
        "lif": costs.compiled_step_ops(lif, jax.tree.map(lambda x: jnp.broadcast_to(x, (n,)), lif.initial_state()),
                                       current),
        "tvlif2hh": costs.compiled_step_ops(tv, tv.initial_state(jnp.full((n,), -65.0)), current),
        "slif2hh (unit)": costs.discrete_step_ops(SLIF2HH(), SLIF2HH().initial_state((n,)), current),
    }
    paper = {k: dict(mul=m, add=a, lif_equivalents=(m + a) / sum(costs.PAPER_NEURON_OPS["lif"]))
             for k, (m, a) in costs.PAPER_NEURON_OPS.items()}
    lif_flops = max(compiled["lif"]["flops"], 1.0)
    for v in compiled.values():
        v["lif_equivalents_flops"] = v["flops"] / lif_flops
    measured = {}
    if throughput_rows:
        for dtype in ("float32", "float64"):
            rows = [r for r in throughput_rows if r["dtype"] == dtype]
            common = None
            for m in ("hh", "lif", "tvlif2hh", "slif2hh"):
                ns = {r["N"] for r in rows if r["model"] == m}
                common = ns if common is None else common & ns
            if not common:
                continue
            N = max(common)
            ns_per = {r["model"]: 1e9 / r["per_s"] for r in rows if r["N"] == N}
            measured[dtype] = dict(N=N, ns_per_neuron_step=ns_per,
                                   lif_equivalents={k: v / ns_per["lif"] for k, v in ns_per.items()})
    fc = {k: dict(mul=c.mul, add=c.add) for k in ("lif", "hh", "slif2hh", "4lif") for c in [costs.paper_fc_flops(k)]}
    for k, v in compiled.items():
        log(f"[ops] {k:<24} XLA: {v['flops']:.0f} flops + {v['transcendentals']:.0f} transcendentals per neuron-step "
            f"({v['lif_equivalents_flops']:.1f} LIF-equivalents by flops)")
    for k, v in paper.items():
        log(f"[ops] paper rule {k:<8} {v['mul']} MUL + {v['add']} ADD = {v['lif_equivalents']:.1f} LIF-equivalents")
    for dtype, m in measured.items():
        eq = ", ".join(f"{k} {v:.2f}" for k, v in m["lif_equivalents"].items())
        log(f"[ops] measured {dtype} at N={m['N']}: cost in LIF-equivalents: {eq}")
    for k, v in fc.items():
        log(f"[ops] paper fc network {k:<8}: {v['mul'] / 1e6:.5f} M MUL, {v['add'] / 1e6:.5f} M ADD")
    return dict(paper_rule=paper, compiled=compiled, measured=measured, paper_fc_network=fc)


# --- sharding ------------------------------------------------------------------------------

def sharding(settings: Settings, log=print) -> dict:
    """HH and tv-LIF2HH populations (float32 Euler, the throughput section's currents) split
    over every device (`jax.sharding`) vs on one device: neuron-steps/s, interleaved, and
    equal spike counts. On a CPU started with several host devices (`hhjax bench
    --host-devices K`) each device runs its neurons as its own program (README, "Several
    CPU cores"). Sizes: 10,000 neurons and the largest HH size, rounded to the devices."""
    devices = jax.devices()
    if len(devices) < 2:
        log("[sharding] one device only: skipped (`hhjax bench --host-devices 2`, or "
            "XLA_FLAGS=--xla_force_host_platform_device_count=2, splits a CPU into two)")
        return dict(skipped="one device")
    k = len(devices)
    largest = max(settings.hh_ns)
    ns = sorted({(n // k) * k for n in (min(10_000, largest), largest)} - {0})
    rows = []
    for model_name in ("hh", "tvlif2hh"):
        for n in ns:
            steps = settings.steps_for(n)
            one = _simulate_call(model_name, n, "float32", steps)
            split = _simulate_call(model_name, n, "float32", steps, place=lambda s: shard_population(s, devices))
            counts = split()
            same = bool(np.array_equal(np.asarray(one()), np.asarray(counts)))
            times = best_times_interleaved(dict(one=one, split=split), settings.repeats)
            row = dict(model=model_name, N=n, steps=steps, single_per_s=n * steps / times["one"],
                       sharded_per_s=n * steps / times["split"], same_counts=same,
                       split_over=len(counts.sharding.device_set))  # devices holding the result
            row["speedup"] = row["sharded_per_s"] / row["single_per_s"]
            rows.append(row)
            log(f"[sharding] {model_name:<8} N={n:<8} over {k} devices {row['sharded_per_s']:.3g}/s vs one device "
                f"{row['single_per_s']:.3g}/s ({row['speedup']:.2f}x); same spike counts: {same}")
    return dict(devices=k, rows=rows, same_counts=all(r["same_counts"] for r in rows))


# --- peers ---------------------------------------------------------------------------------

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
    from .peer_process import run_peer
    from .peer_run import PeerUnavailable
    from .peers import RUNNERS

    out = {}
    currents = np.linspace(0.0, 20.0, 16)
    steps = 5000
    ours = simulate(HodgkinHuxley(), Constant(jnp.asarray(currents)), t1=steps * DT, dt=DT, solver="euler",
                    dtype="float64").spike_list()
    for name in names or RUNNERS:
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


# --- the suite -------------------------------------------------------------------------------

def needs_x64(settings, sections) -> bool:
    """Whether `sections` with `settings` run anything in float64."""
    return "float64" in settings.dtypes or "accuracy" in sections or "gradient" in sections


def run_suite(settings: Settings | None = None, sections=SECTIONS, out: str | None = "bench.json",
              plots: str | None = "bench.png", peer_names=None, log=print) -> dict:
    """Run `sections` with `settings` (default: quick), print as it goes, write the JSON
    (`out`) and a figure (`plots`); returns the results."""
    settings = settings or Settings.quick()
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown benchmark section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    if needs_x64(settings, sections) and not jax.config.jax_enable_x64:
        raise ValueError("these benchmark sections run float64: call jax.config.update('jax_enable_x64', True) "
                         "first (the `hhjax bench` command does)")
    results = dict(environment=environment(), settings={k: getattr(settings, k) for k in settings.__dataclass_fields__})
    env = results["environment"]
    log(f"hhjax bench: jax {env['jax']} / jaxlib {env['jaxlib']}, XLA_FLAGS={env['XLA_FLAGS']!r}, {env['device']}, "
        f"{env['cpu']}, {env['cpu_threads']} threads")
    if "throughput" in sections:
        results["throughput"] = throughput(settings, log=log)
    if "compile" in sections:
        results["compile"] = compile_time(settings, log=log)
    if "memory" in sections:
        results["memory"] = memory(settings, log=log)
    if "accuracy" in sections:
        results["accuracy"] = accuracy(settings, log=log)
    if "gradient" in sections:
        results["gradient"] = gradient(settings, log=log)
    if "ops" in sections:
        results["ops"] = operation_counts(results.get("throughput"), log=log)
    if "sharding" in sections:
        results["sharding"] = sharding(settings, log=log)
    if "peers" in sections:
        results["peers"] = peers(settings, peer_names, log=log)
    results["peak_rss_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if out:
        pathlib.Path(out).write_text(json.dumps(results, indent=1, default=_json_default))
        log(f"wrote {out}")
    if plots:
        from .plots import plot_results

        plot_results(results, plots)
        log(f"wrote {plots}")
    return results


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return str(x)
