"""COBAHH in NEST: `hh_cond_exp_traub` (the Traub–Miles neuron with exponential conductances,
per cell of 20,000 µm²), fixed in-degree (or p = 0.02 pairwise Bernoulli), one run per
process. NEST integrates each neuron with GSL's adaptive RKF45 and emits a spike at the
peak above V_T + 30 mV (not a −20 mV crossing); initial synaptic conductances cannot be set
(they start at 0). Option: threads (default 1)."""

import time

from peer_common import Unavailable, best_of, cv_isi, peak_rss_mib, serve  # (this folder)


def run(req):
    import nest
    import numpy as np
    if req["benchmark"] != "cobahh":
        raise Unavailable("only COBAHH is set up for NEST here")
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus(dict(resolution=req["dt"], local_num_threads=int(req.get("threads", 1)),
                              rng_seed=int(req["seed"]) + 1))
    size = int(req["n"])
    n_e = int(round(0.8 * size))
    params = dict(C_m=200.0, g_Na=20000.0, g_K=6000.0, g_L=10.0, E_L=-60.0, E_Na=50.0, E_K=-90.0, V_T=-63.0,
                  E_ex=0.0, E_in=-80.0, tau_syn_ex=5.0, tau_syn_in=10.0)
    start = time.perf_counter()
    pop = nest.Create("hh_cond_exp_traub", size, params=params)
    rng = np.random.default_rng(int(req["seed"]))
    pop.V_m = (-60.0 + rng.normal(size=size) * 5 - 5).tolist()
    exc, inh = pop[:n_e], pop[n_e:]
    p = float(req.get("p", 0.02))
    if req.get("connect", "probability") == "probability":
        rule_e = rule_i = dict(rule="pairwise_bernoulli", p=p)
    else:
        rule_e = dict(rule="fixed_indegree", indegree=int(round(p * 4000 * 0.8)))
        rule_i = dict(rule="fixed_indegree", indegree=int(round(p * 4000 * 0.2)))
    d = req["dt"]
    nest.Connect(exc, pop, rule_e, dict(synapse_model="static_synapse", weight=6.0, delay=d))
    nest.Connect(inh, pop, rule_i, dict(synapse_model="static_synapse", weight=-67.0, delay=d))
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Prepare()
    build_s = time.perf_counter() - start

    def run_once():
        start = time.perf_counter()
        nest.Run(req["t1"])
        return time.perf_counter() - start

    first = run_once()
    ev = rec.get("events")  # (the statistics: the first run's spikes)
    wall_s, runs = best_of(first, run_once, req.get("repeats"))
    nest.Cleanup()
    senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"])
    return dict(rate_hz=len(times) / size / (req["t1"] * 1e-3), cv_isi=cv_isi(senders, times),
                n_spikes=int(len(times)), wall_s=wall_s, runs=runs, build_s=build_s, peak_rss_MiB=peak_rss_mib(),
                version=nest.__version__,
                method=f"nest hh_cond_exp_traub (GSL RKF45), {req.get('threads', 1)} thread(s)")


if __name__ == "__main__":
    serve(run)
