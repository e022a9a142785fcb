"""The same HH population simulated by other simulators (optional: `pip install "hhjax[peers]"`).

Every runner simulates the textbook squid HH model (C = 1 µF/cm², ḡNa/ḡK/ḡL = 120/36/0.3
mS/cm², ENa/EK/EL = 50/−77/−54.387 mV, the classic rate functions, no rate tables), N
uncoupled neurons with constant currents `currents` (µA/cm²), from the steady state at
−65 mV, for `steps` steps of `dt` ms, and returns

    PeerRun(spike_times=[list per neuron, ms], seconds=run time without set-up/compilation,
            method=..., version=...)

Spike times are upward crossings of 0 mV. A missing peer raises `PeerUnavailable` (the
suite skips it with a note). Write each model in the peer's own terms: BrainPy's built-in
`HH` and NEURON's default rate tables follow other trajectories (see `../shared/spec/peers.md`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import tempfile
import time

import numpy as np

from .c_kernel import run_c_kernel as _run_c_kernel
from .peer_run import PeerRun, PeerUnavailable, crossings, steady

E_NA, E_K, E_L = 50.0, -77.0, -54.387
G_NA, G_K, G_L, C_M = 120.0, 36.0, 0.3, 1.0


def _import(name: str):
    try:
        return importlib.import_module(name)
    except Exception as e:  # ImportError, or a broken install (e.g. Brian2 with numpy ≥ 2.4)
        raise PeerUnavailable(f"{name} cannot be imported: {type(e).__name__}: {e}") from None


def run_brainpy(currents, steps: int, dt: float, dtype: str = "float64", record: bool = False) -> PeerRun:
    """BrainPy: the HH equations through `bp.odeint(method="euler")`, stepped by
    `bm.for_loop` inside `bm.jit` (the first call compiles and is not timed). `record`
    keeps V every step (for spike times); otherwise only spike counts."""
    bp = _import("brainpy")
    bm = bp.math
    bm.set_platform("cpu")
    if dtype == "float64":
        bm.enable_x64()
    else:
        bm.disable_x64()
    import jax.numpy as jnp

    def derivative(V, m, h, n, t, I):
        am = 0.1 * (V + 40) / (1 - jnp.exp(-(V + 40) / 10))
        bm_ = 4 * jnp.exp(-(V + 65) / 18)
        ah = 0.07 * jnp.exp(-(V + 65) / 20)
        bh = 1 / (1 + jnp.exp(-(V + 35) / 10))
        an = 0.01 * (V + 55) / (1 - jnp.exp(-(V + 55) / 10))
        bn = 0.125 * jnp.exp(-(V + 65) / 80)
        dV = (I - G_NA * m**3 * h * (V - E_NA) - G_K * n**4 * (V - E_K) - G_L * (V - E_L)) / C_M
        return dV, am * (1 - m) - bm_ * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n

    integral = bp.odeint(derivative, method="euler")
    N = len(currents)
    ftype = jnp.float64 if dtype == "float64" else jnp.float32
    I = jnp.asarray(currents, ftype)
    start = [jnp.full(N, x, ftype) for x in (-65.0, *steady(-65.0))] + [jnp.zeros(N, jnp.int32)]
    V, m, h, n, count = state = [bm.Variable(x) for x in start]

    def body(i):
        Vn, mn, hn, nn = integral(V.value, m.value, h.value, n.value, i * dt, I, dt)
        count.value = count.value + ((V.value < 0) & (Vn >= 0))
        V.value, m.value, h.value, n.value = Vn, mn, hn, nn
        return Vn if record else None

    @bm.jit
    def loop():
        return bm.for_loop(body, jnp.arange(steps, dtype=ftype)), count.value

    def run():
        for var, x in zip(state, start):
            var.value = x
        out = loop()
        np.asarray(out[1])
        return out

    run()  # compile
    t = time.perf_counter()
    out, counts = run()
    seconds = time.perf_counter() - t
    spikes = None
    if record:
        trace = np.concatenate([np.full((1, N), -65.0), np.asarray(out)], axis=0)
        spikes = crossings(trace, dt)
    return PeerRun(spikes, seconds, f"bp.odeint euler + bm.for_loop in bm.jit, {dtype}", bp.__version__,
                   spike_counts=[int(c) for c in np.asarray(counts)])


# --- jaxley ---------------------------------------------------------------------------

def run_jaxley(currents, steps: int, dt: float, dtype: str = "float64", record: bool = True) -> PeerRun:
    """jaxley: one single-compartment cell with its `HH` channel (parameters set to the
    squid values), `jax.vmap`ped over the N currents (jaxley's way to batch), its default
    backward-Euler solver; jaxley records V at every step (memory N × steps)."""
    jx = _import("jaxley")
    import jax
    import jax.numpy as jnp

    from jaxley.channels import HH

    length, radius = 10.0, 1.0  # µm; lateral area 2πrL µm²
    area_cm2 = 2 * math.pi * radius * length * 1e-8
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=1), parents=[-1])
    cell.insert(HH())
    params = dict(length=length, radius=radius, capacitance=C_M, HH_gNa=G_NA * 1e-3, HH_gK=G_K * 1e-3,
                  HH_gLeak=G_L * 1e-3, HH_eNa=E_NA, HH_eK=E_K, HH_eLeak=E_L, v=-65.0)  # S/cm², mV
    for name, value in params.items():
        cell.set(name, value)
    cell.init_states()
    site = cell.branch(0).comp(0)
    site.record(verbose=False)
    ftype = jnp.float64 if dtype == "float64" else jnp.float32

    def one(I):
        amp = jnp.full(steps + 1, I * area_cm2 * 1e3, ftype)  # µA/cm² · cm² → nA
        return jx.integrate(cell, delta_t=dt, t_max=steps * dt, data_stimuli=site.data_stimulate(amp, None))[0]

    sim = jax.jit(jax.vmap(one))
    I = jnp.asarray(currents, ftype)
    jax.block_until_ready(sim(I))  # compile
    t = time.perf_counter()
    V = np.asarray(jax.block_until_ready(sim(I)))
    seconds = time.perf_counter() - t
    version = getattr(jx, "__version__", None) or importlib.metadata.version("jaxley")
    return PeerRun(crossings(V.T[: steps + 1], dt), seconds,
                   f"jaxley bwd_euler, vmapped single compartment (records V every step), {dtype}", version)


# --- Brian2 ---------------------------------------------------------------------------

_BRIAN_EQS = """
dv/dt = (I - gNa*m**3*h*(v - ENa) - gK*n**4*(v - EK) - gL*(v - EL))/(Cm*ms) : 1
dm/dt = (am*(1 - m) - bm*m)/ms : 1
dh/dt = (ah*(1 - h) - bh*h)/ms : 1
dn/dt = (an*(1 - n) - bn*n)/ms : 1
am = 0.1*(v + 40)/(1 - exp(-(v + 40)/10)) : 1
bm = 4*exp(-(v + 65)/18) : 1
ah = 0.07*exp(-(v + 65)/20) : 1
bh = 1/(1 + exp(-(v + 35)/10)) : 1
an = 0.01*(v + 55)/(1 - exp(-(v + 55)/10)) : 1
bn = 0.125*exp(-(v + 65)/80) : 1
I : 1 (constant)
"""


def run_brian2(currents, steps: int, dt: float, dtype: str = "float64", target: str = "cython",
               record: bool = True) -> PeerRun:
    """Brian2 (`target` "cython", "numpy" or "cpp_standalone"): the HH equations in
    dimensionless mV/ms, forward Euler, spikes by a SpikeMonitor on v > 0 with
    refractoriness while v > 0 (upward crossings only). Float64 only. Standalone: the run of
    the built binary is timed, not the C++ compilation."""
    if dtype != "float64":
        raise PeerUnavailable("Brian2 runs in float64 only")
    b2 = _import("brian2")
    b2.start_scope()
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", build_on_run=False)
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = target
    try:
        b2.defaultclock.dt = dt * b2.ms
        ns = dict(gNa=G_NA, gK=G_K, gL=G_L, ENa=E_NA, EK=E_K, EL=E_L, Cm=C_M, ms=b2.ms)
        G = b2.NeuronGroup(len(currents), _BRIAN_EQS, method="euler", threshold="v > 0", refractory="v > 0",
                           namespace=ns)
        m0, h0, n0 = steady(-65.0)
        G.v, G.m, G.h, G.n = -65.0, m0, h0, n0
        G.I = np.asarray(currents, float)
        mon = b2.SpikeMonitor(G)
        net = b2.Network(G, mon)
        duration = steps * dt * b2.ms
        if target == "cpp_standalone":
            net.run(duration)
            with tempfile.TemporaryDirectory() as d:
                b2.device.build(directory=d, compile=True, run=False)
                t = time.perf_counter()
                b2.device.run(directory=d)
                seconds = time.perf_counter() - t
                trains = mon.spike_trains()
        else:
            net.store()
            net.run(duration)  # first run generates and compiles code
            net.restore()
            t = time.perf_counter()
            net.run(duration)
            seconds = time.perf_counter() - t
            trains = mon.spike_trains()
        spikes = [list(np.asarray(trains[i] / b2.ms)) for i in range(len(currents))]
    finally:
        if target == "cpp_standalone":
            b2.device.reinit()
            b2.set_device("runtime")
    return PeerRun(spikes, seconds, f"Brian2 {target}, euler, float64 (spike at the step after the crossing)",
                   b2.__version__)


# --- NEURON ---------------------------------------------------------------------------

def run_neuron(currents, steps: int, dt: float, dtype: str = "float64", threads: int = 2,
               record: bool = True) -> PeerRun:
    """NEURON: one single-segment section per neuron with the built-in `hh` (celsius 6.3,
    squid reversal potentials, `usetable_hh = 0`), an IClamp, fixed-step implicit Euler
    (its default; forward Euler is not offered), `threads` threads. Float64 only."""
    if dtype != "float64":
        raise PeerUnavailable("NEURON runs in float64 only")
    neuron = _import("neuron")
    h = neuron.h
    h.load_file("stdrun.hoc")
    h.celsius = 6.3
    h.usetable_hh = 0
    diam = length = 10.0  # µm; lateral area π·diam·L
    area_um2 = math.pi * diam * length
    secs, clamps, recs, ncs = [], [], [], []
    for I in np.asarray(currents, float):
        s = h.Section()
        s.L, s.diam, s.nseg, s.cm = length, diam, 1, C_M
        s.insert("hh")
        s.gnabar_hh, s.gkbar_hh, s.gl_hh, s.el_hh = G_NA * 1e-3, G_K * 1e-3, G_L * 1e-3, E_L
        s.ena, s.ek = E_NA, E_K
        c = h.IClamp(s(0.5))
        c.delay, c.dur, c.amp = 0.0, 1e9, I * area_um2 * 1e-5  # µA/cm² · µm² → nA
        nc = h.NetCon(s(0.5)._ref_v, None, sec=s)
        nc.threshold = 0.0
        vec = h.Vector()
        nc.record(vec)
        secs.append(s), clamps.append(c), ncs.append(nc), recs.append(vec)
    pc = h.ParallelContext()
    pc.nthread(threads)
    h.dt = dt
    h.secondorder = 0
    h.steps_per_ms = 1.0 / dt
    h.finitialize(-65.0)
    t = time.perf_counter()
    h.continuerun(steps * dt)
    seconds = time.perf_counter() - t
    spikes = [list(v) for v in recs]
    pc.nthread(1)
    return PeerRun(spikes, seconds, f"NEURON implicit Euler, {threads} threads, float64", neuron.__version__)


# --- a hand-written C kernel -------------------------------------------------------------

def run_c_kernel(currents, steps: int, dt: float, dtype: str = "float64", record: bool = False) -> PeerRun:
    """The C kernel of `hhjax.bench.c_kernel` (built with the system's C compiler)."""
    return _run_c_kernel(currents, steps, dt, dtype, record)


RUNNERS = {
    "c-kernel": run_c_kernel,
    "brainpy": run_brainpy,
    "jaxley": run_jaxley,
    "brian2-cython": lambda c, s, d, dtype="float64", record=True: run_brian2(c, s, d, dtype, "cython"),
    "brian2-cpp": lambda c, s, d, dtype="float64", record=True: run_brian2(c, s, d, dtype, "cpp_standalone"),
    "neuron": run_neuron,
}
