"""COBAHH / COBA / CUBA in Brian2 (its own example equations), one run per process.
Options: device "runtime" (target "numpy" or "cython") or "cpp_standalone" (with `threads`
OpenMP threads; 0 = none)."""

import tempfile
import time

import numpy as np

from peer_common import Unavailable, best_of, cv_isi, peak_rss_mib, serve  # (this folder)


def run(req):
    import brian2 as b2
    from brian2 import mV, ms, nS, uF, msiemens, cm, umetre, siemens  # noqa: F401

    device = req.get("device", "runtime")
    if device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=tempfile.mkdtemp(prefix="brian2_"), build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = int(req.get("threads", 0))
    else:
        b2.prefs.codegen.target = req.get("target", "numpy")
    b2.seed(int(req["seed"]))
    b2.defaultclock.dt = req["dt"] * ms
    size, bench = int(req["n"]), req["benchmark"]
    n_e = int(round(0.8 * size))
    taue, taui = 5 * ms, 10 * ms
    if bench == "cobahh":
        area = 20000 * umetre**2
        Cm = (1 * uF * cm**-2) * area
        gl = (5e-5 * siemens * cm**-2) * area
        El, EK, ENa = -60 * mV, -90 * mV, 50 * mV
        g_na = (100 * msiemens * cm**-2) * area
        g_kd = (30 * msiemens * cm**-2) * area
        VT = -63 * mV
        Ee, Ei = 0 * mV, -80 * mV
        we, wi = 6 * nS, 67 * nS
        eqs = """
        dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-g_na*(m*m*m)*h*(v-ENa)-g_kd*(n*n*n*n)*(v-EK))/Cm : volt
        dm/dt = alpha_m*(1-m)-beta_m*m : 1
        dn/dt = alpha_n*(1-n)-beta_n*n : 1
        dh/dt = alpha_h*(1-h)-beta_h*h : 1
        dge/dt = -ge*(1./taue) : siemens
        dgi/dt = -gi*(1./taui) : siemens
        alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
        beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
        alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
        beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
        alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
        beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
        """
        P = b2.NeuronGroup(size, eqs, threshold="v>-20*mV", refractory=3 * ms, method="exponential_euler")
        P.v = "El + (randn() * 5 - 5)*mV"
        P.ge = "(randn() * 1.5 + 4) * 10.*nS"
        P.gi = "(randn() * 12 + 20) * 10.*nS"
    elif bench in ("coba", "cuba"):
        taum, Vt, Vr = 20 * ms, -50 * mV, -60 * mV
        if bench == "coba":
            El, Ee, Ei = -60 * mV, 0 * mV, -80 * mV
            we, wi = 0.6, 6.7  # conductances relative to gL = 10 nS
            eqs = """dv/dt = (ge*(Ee-v) + gi*(Ei-v) - (v-El))/taum : volt (unless refractory)
                     dge/dt = -ge/taue : 1
                     dgi/dt = -gi/taui : 1"""
        else:
            El = -49 * mV
            we, wi = 1.62 * mV, -9 * mV
            eqs = """dv/dt = (ge+gi-(v-El))/taum : volt (unless refractory)
                     dge/dt = -ge/taue : volt
                     dgi/dt = -gi/taui : volt"""
        P = b2.NeuronGroup(size, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="exact")
        if bench == "coba":
            P.v = "(randn() * 5 - 55) * mV"
            P.ge = "(randn() * 1.5 + 4) * 10. / 10."
            P.gi = "(randn() * 12 + 20) * 10. / 10."
        else:
            P.v = "Vr + rand() * (Vt - Vr)"
    else:
        raise Unavailable(f"unknown benchmark {bench}")
    Pe, Pi = P[:n_e], P[n_e:]
    Ce = b2.Synapses(Pe, P, on_pre="ge += we")
    Ci = b2.Synapses(Pi, P, on_pre="gi += wi")
    p = float(req.get("p", 0.02))
    if req.get("connect", "probability") == "probability":
        Ce.connect(p=p)
        Ci.connect(p=p)
    else:
        ke, ki = int(round(p * 4000 * 0.8)), int(round(p * 4000 * 0.2))
        # every neuron gets ke excitatory and ki inhibitory synapses from uniformly drawn sources,
        # given to Brian2 sorted by source (its natural order for propagation)
        rng = np.random.default_rng(int(req["seed"]))
        for syn, n_src, k in ((Ce, n_e, ke), (Ci, size - n_e, ki)):
            i, j = rng.integers(0, n_src, size=size * k), np.repeat(np.arange(size), k)
            order = np.argsort(i, kind="stable")
            syn.connect(i=i[order], j=j[order])
    mon = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, mon)
    t1 = req["t1"] * ms
    if device == "cpp_standalone":
        start = time.perf_counter()
        net.run(t1)  # generates, compiles and runs the C++ program
        first = float(b2.device._last_run_time)  # the program's own timing of its simulation loop
        build_s = time.perf_counter() - start - first
        i, t = np.asarray(mon.i[:]), np.asarray(mon.t[:] / ms)

        def run_again():  # (the compiled program once more, from the start)
            b2.device.run(directory=b2.device.project_dir, with_output=False)
            return float(b2.device._last_run_time)

        wall_s, runs = best_of(first, run_again, req.get("repeats"))
    else:
        start = time.perf_counter()
        net.run(0 * ms)  # code generation and compilation of every object
        build_s = time.perf_counter() - start
        namespace = dict(locals())  # (the model's constants, for runs called from elsewhere)

        def run_once():
            start = time.perf_counter()
            net.run(t1, namespace=namespace)
            return time.perf_counter() - start

        first = run_once()  # (the statistics: this run's spikes; later runs continue from its end)
        i, t = np.asarray(mon.i[:]), np.asarray(mon.t[:] / ms)
        wall_s, runs = best_of(first, run_once, req.get("repeats"))
    method = "brian2 " + (f"cpp_standalone, {req.get('threads', 0)} OpenMP thread(s)" if device == "cpp_standalone"
                          else f"runtime/{b2.prefs.codegen.target}")
    return dict(rate_hz=len(i) / size / (req["t1"] * 1e-3), cv_isi=cv_isi(i, t),
                n_spikes=int(len(i)),
                wall_s=wall_s, runs=runs, build_s=build_s, peak_rss_MiB=peak_rss_mib(), version=b2.__version__,
                method=method,
                rates_per_neuron=np.bincount(i, minlength=size).tolist() if req.get("per_neuron") else None)


if __name__ == "__main__":
    serve(run)
