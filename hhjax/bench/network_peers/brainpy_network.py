"""COBAHH in BrainPy (2.x): the Traub–Miles equations written in BrainPy's terms, exponential
Euler, event-driven CSR projections with exponential conductances; one run per process."""

import time

import numpy as np

from peer_common import Unavailable, best_of, cv_isi, peak_rss_mib, serve  # (this folder)


def run(req):
    import brainpy as bp
    import brainpy.math as bm
    if req["benchmark"] != "cobahh":
        raise Unavailable("only COBAHH is set up for BrainPy here")
    bm.set_dt(req["dt"])
    bm.random.seed(int(req["seed"]))
    # units: mV, ms, nF, µS, nA — the 20,000 µm² cell: C 0.2 nF, gL 0.01 µS, gNa 20 µS, gK 6 µS
    Cm, gl, El, EK, ENa, g_na, g_kd, VT = 0.2, 0.01, -60.0, -90.0, 50.0, 20.0, 6.0, -63.0

    class TraubMiles(bp.dyn.NeuDyn):
        def __init__(self, size):
            super().__init__(size)
            self.V = bm.Variable(El + (bm.random.randn(self.num) * 5 - 5))
            self.m = bm.Variable(bm.zeros(self.num))
            self.n = bm.Variable(bm.zeros(self.num))
            self.h = bm.Variable(bm.zeros(self.num))
            self.spike = bm.Variable(bm.zeros(self.num, dtype=bool))
            self.integral = bp.odeint(bp.JointEq(self.dV, self.dm, self.dh, self.dn), method="exp_auto")

        def dV(self, V, t, m, h, n, Isyn):
            g_na_ = g_na * (m * m * m) * h
            g_kd_ = g_kd * (n * n * n * n)
            return (gl * (El - V) - g_na_ * (V - ENa) - g_kd_ * (V - EK) + Isyn) / Cm

        def dm(self, m, t, V):
            a = 13 - V + VT
            b = V - VT - 40
            return 0.32 * a / (bm.exp(a / 4) - 1.) * (1 - m) - 0.28 * b / (bm.exp(b / 5) - 1) * m

        def dh(self, h, t, V):
            return 0.128 * bm.exp((17 - V + VT) / 18) * (1 - h) - 4. / (1 + bm.exp(-(V - VT - 40) / 5)) * h

        def dn(self, n, t, V):
            c = 15 - V + VT
            return 0.032 * c / (bm.exp(c / 5) - 1.) * (1 - n) - .5 * bm.exp((10 - V + VT) / 40) * n

        def update(self, x=None):
            t, dt = bp.share["t"], bp.share["dt"]
            V, m, h, n = self.integral(self.V.value, self.m.value, self.h.value, self.n.value, t,
                                       Isyn=self.sum_current_inputs(self.V.value), dt=dt)
            self.spike.value = bm.logical_and(self.V < -20.0, V >= -20.0)
            self.m.value, self.h.value, self.n.value, self.V.value = m, h, n, V
            return self.spike.value

        def return_info(self):
            return self.spike

    class Exponential(bp.Projection):
        def __init__(self, pre, post, conn, g_max, tau, E):
            super().__init__()
            self.proj = bp.dyn.ProjAlignPostMg2(
                pre=pre, delay=None,
                comm=bp.dnn.EventCSRLinear(conn(pre.num, post.num), g_max),
                syn=bp.dyn.Expon.desc(post.num, tau=tau), out=bp.dyn.COBA.desc(E=E), post=post)

    size = int(req["n"])
    n_e = int(round(0.8 * size))
    p = float(req.get("p", 0.02))
    in_degree = req.get("connect", "probability") != "probability"

    def conn(n_pre, n_post):
        """p = 0.02, or every neuron receiving the in-degree of the 4,000-neuron network."""
        if in_degree:
            return bp.conn.FixedPreNum(int(round(p * 4000 * n_pre / size)), pre=n_pre, post=n_post,
                                       allow_multi_conn=True)  # (repeats allowed, as in NEST and hhjax)
        return bp.conn.FixedProb(p, pre=n_pre, post=n_post)

    class EINet(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            self.E, self.I = TraubMiles(n_e), TraubMiles(size - n_e)
            self.EE = Exponential(self.E, self.E, conn, 6e-3, 5.0, 0.0)
            self.EI = Exponential(self.E, self.I, conn, 6e-3, 5.0, 0.0)
            self.IE = Exponential(self.I, self.E, conn, 67e-3, 10.0, -80.0)
            self.II = Exponential(self.I, self.I, conn, 67e-3, 10.0, -80.0)

        def update(self):
            self.EE()
            self.EI()
            self.IE()
            self.II()
            return bm.concatenate([self.E(), self.I()])

    start = time.perf_counter()
    net = EINet()
    runner = bp.DSRunner(net, monitors={"e": net.E.spike, "i": net.I.spike}, progress_bar=False)
    steps = int(round(req["t1"] / req["dt"]))
    runner.run(duration=10 * req["dt"])  # compile
    build_s = time.perf_counter() - start

    def run_once():
        start = time.perf_counter()
        runner.run(duration=steps * req["dt"])
        return time.perf_counter() - start

    first = run_once()  # (the statistics: this run's spikes; later runs continue from its end)
    spk = np.concatenate([np.asarray(runner.mon["e"]), np.asarray(runner.mon["i"])], axis=1)
    wall_s, runs = best_of(first, run_once, req.get("repeats"))
    step, neuron = np.nonzero(spk)
    return dict(rate_hz=float(spk.sum()) / size / (req["t1"] * 1e-3), cv_isi=cv_isi(neuron, step),
                n_spikes=int(spk.sum()), wall_s=wall_s, runs=runs, build_s=build_s, peak_rss_MiB=peak_rss_mib(),
                version=bp.__version__,
                method="brainpy DSRunner, exp_auto, EventCSRLinear, "
                       + ("fixed in-degree" if in_degree else "fixed probability"))


if __name__ == "__main__":
    serve(run)
