"""Small deterministic networks against independent references: a Traub–Miles network
(conductance and current synapses, several delays) solved segment by segment with SciPy's
DOP853 at rtol = atol = 1e-12, and an LIF network with delta synapses solved in closed
form between events. The adaptive path must give the same spike times within 1e-4 ms."""

import math

import numpy as np
from scipy.integrate import solve_ivp

import hhjax as hj
from hhjax import synaptic as sy


def tm_rates(V, VT=-63.0):
    """Traub–Miles rates as in Brian2's COBAHH example (written out here, not from hhjax)."""
    am = 0.32 * (13 - V + VT) / (np.exp((13 - V + VT) / 4) - 1)
    bm = 0.28 * (V - VT - 40) / (np.exp((V - VT - 40) / 5) - 1)
    ah, bh = 0.128 * np.exp((17 - V + VT) / 18), 4 / (1 + np.exp((40 - V + VT) / 5))
    an = 0.032 * (15 - V + VT) / (np.exp((15 - V + VT) / 5) - 1)
    bn = 0.5 * np.exp((10 - V + VT) / 40)
    return am, bm, ah, bh, an, bn


# The network: neuron 0 fires on its own (2 µA/cm²); it excites neurons
# 1 and 2 through exponential conductances (τ 3 ms, E 0 mV) with delays 1.0 and 2.5 ms;
# neuron 2 inhibits neuron 0 with an alpha current (τ 2 ms, −3 µA/cm², delay 0.7 ms).
STIM = np.array([2.0, -1.0, -1.0])
EXC = [(0, 1, 0.1, 1.0), (0, 2, 0.3, 2.5)]  # (pre, post, mS/cm², ms)
INH = [(2, 0, -3.0, 0.7)]                     # (pre, post, µA/cm², ms)
TAU_E, TAU_I, E_E, THETA, T1 = 3.0, 2.0, 0.0, -20.0, 120.0


def reference_spikes():
    """y = [V, m, h, n] × 3, then g_e × 3, then the alpha states (g, a) × 3."""
    def rhs(t, y):
        V, m, h, n = y[0:12:4], y[1:12:4], y[2:12:4], y[3:12:4]
        ge, gi, ai = y[12:15], y[15:18], y[18:21]
        am, bm, ah, bh, an, bn = tm_rates(V)
        I = STIM + ge * (E_E - V) + gi
        dV = I + 0.05 * (-60 - V) - 100 * m**3 * h * (V - 50) - 30 * n**4 * (V + 90)
        out = np.empty(21)
        out[0:12:4], out[1:12:4] = dV, am * (1 - m) - bm * m
        out[2:12:4], out[3:12:4] = ah * (1 - h) - bh * h, an * (1 - n) - bn * n
        out[12:15], out[15:18], out[18:21] = -ge / TAU_E, -gi / TAU_I + ai, -ai / TAU_I
        return out

    V0 = -60.0
    am, bm, ah, bh, an, bn = tm_rates(V0)
    y = np.zeros(21)
    y[0:12:4], y[1:12:4], y[2:12:4], y[3:12:4] = V0, am / (am + bm), ah / (ah + bh), an / (an + bn)
    t, pending, spikes, armed = 0.0, [], {i: [] for i in range(3)}, [True] * 3
    while t < T1:
        t_stop = min([T1] + [p[0] for p in pending])
        events = []
        for i in range(3):
            if armed[i]:
                ev = (lambda i: lambda s, z: z[4 * i] - THETA)(i)
                ev.direction = 1
            else:  # re-arm once V is 10 mV below threshold
                ev = (lambda i: lambda s, z: z[4 * i] - (THETA - 10))(i)
                ev.direction = -1
            ev.terminal = True
            events.append(ev)
        sol = solve_ivp(rhs, (t, t_stop), y, method="DOP853", rtol=1e-12, atol=1e-12, events=events)
        t, y = sol.t[-1], sol.y[:, -1].copy()
        hit = [i for i in range(3) if len(sol.t_events[i])]
        if sol.status == 1 and hit:
            i = hit[0]
            if armed[i]:
                spikes[i].append(t)
                armed[i] = False
                for pre, post, w, d in EXC:
                    if pre == i:
                        pending.append((t + d, "e", post, w))
                for pre, post, w, d in INH:
                    if pre == i:
                        pending.append((t + d, "i", post, w))
            else:
                armed[i] = True
        for p in [p for p in pending if p[0] <= t + 1e-12]:
            pending.remove(p)
            _, kind, post, w = p
            if kind == "e":
                y[12 + post] += w
            else:
                y[18 + post] += w * math.e / TAU_I
    return spikes


def hhjax_network(alpha_inh=True):
    tm = hj.library_model("traub-miles")
    pop = sy.Population(tm, 3, stimulus=np.asarray(STIM))
    exc = sy.from_arrays([p[0] for p in EXC], [p[1] for p in EXC], 3, 3, weight=[p[2] for p in EXC],
                         delay=[p[3] for p in EXC])
    inh = sy.from_arrays([p[0] for p in INH], [p[1] for p in INH], 3, 3, weight=[p[2] for p in INH],
                         delay=[p[3] for p in INH])
    return sy.Network({"tm": pop}, {"exc": sy.Projection("tm", "tm", exc, sy.Exponential(TAU_E, E_E)),
                                    "inh": sy.Projection("tm", "tm", inh, sy.Alpha(TAU_I))})


def test_traub_miles_network_matches_scipy():
    ref = reference_spikes()
    assert len(ref[1]) >= 2 and len(ref[2]) >= 2 and len(ref[0]) >= 5  # the synapses matter
    run = sy.run_adaptive(hhjax_network(), T1)
    for i in range(3):
        got = run.spike_times["tm"][i, : run.spike_count["tm"][i]]
        assert len(got) == len(ref[i]), (i, got, ref[i])
        np.testing.assert_allclose(got, ref[i], atol=1e-4, rtol=0)


def test_fixed_step_converges_to_the_reference():
    """RK4 at dt = 0.005 ms: spike times within 0.01 ms (arrivals fall on the step grid)."""
    ref = reference_spikes()
    run = sy.run_network(hhjax_network(), T1, dt=0.005, solver="rk4")
    per = run.spikes["tm"].per_neuron()
    for i in range(3):
        assert len(per[i]) == len(ref[i])
        np.testing.assert_allclose(per[i], ref[i], atol=1e-2, rtol=0)


# --- LIF with delta synapses: closed form between events -----------------------------------

LIF_TAU, LIF_REST, LIF_RESET, LIF_TH, LIF_R, LIF_REF = 10.0, -65.0, -70.0, -50.0, 10.0, 2.0
LIF_I = np.array([1.8, 1.2, 1.45])       # µA/cm² (R·I = 18, 12, 14.5 mV: neuron 0 fires alone)
DELTA = [(0, 1, 4.0, 1.5), (0, 2, 1.0, 0.5), (1, 2, 2.0, 3.0), (2, 0, -3.0, 1.0)]  # (pre, post, mV, ms)


def lif_reference(T=150.0):
    V_inf = LIF_REST + LIF_R * LIF_I
    V = np.full(3, LIF_REST)
    t, free, pending, spikes = 0.0, np.full(3, -np.inf), [], {i: [] for i in range(3)}
    while t < T:
        # the next crossing of each free neuron in closed form; refractory ends; arrivals
        cross = np.full(3, np.inf)
        for i in range(3):
            if t >= free[i] and V_inf[i] > LIF_TH and V[i] < LIF_TH:
                cross[i] = t + LIF_TAU * math.log((V_inf[i] - V[i]) / (V_inf[i] - LIF_TH))
        t_next = min([T, cross.min(), *free[free > t], *[p[0] for p in pending]])
        for i in range(3):
            if t >= free[i]:
                V[i] = V_inf[i] + (V[i] - V_inf[i]) * math.exp(-(t_next - t) / LIF_TAU)
        t = t_next
        for i in np.nonzero(cross <= t)[0]:
            spikes[i].append(t)
            V[i], free[i] = LIF_RESET, t + LIF_REF
            pending += [(t + d, post, w) for pre, post, w, d in DELTA if pre == i]
        for p in [p for p in pending if p[0] <= t + 1e-12]:
            pending.remove(p)
            V[p[1]] += p[2]
        for i in range(3):
            if V[i] >= LIF_TH and t >= free[i]:  # a kick above threshold: spike at once
                spikes[i].append(t)
                V[i], free[i] = LIF_RESET, t + LIF_REF
                pending += [(t + d, post, w) for pre, post, w, d in DELTA if pre == i]
    return spikes


def test_lif_delta_network_matches_closed_form():
    ref = lif_reference()
    assert len(ref[2]) >= 3 and len(ref[1]) >= 1
    model = hj.LIF(tau=LIF_TAU, V_rest=LIF_REST, V_reset=LIF_RESET, V_th=LIF_TH, R=LIF_R, t_ref=LIF_REF)
    conn = sy.from_arrays([d[0] for d in DELTA], [d[1] for d in DELTA], 3, 3, weight=[d[2] for d in DELTA],
                          delay=[d[3] for d in DELTA])
    net = sy.Network({"lif": sy.Population(model, 3, stimulus=np.asarray(LIF_I))},
                     {"d": sy.Projection("lif", "lif", conn, sy.Delta())})
    run = sy.run_adaptive(net, 150.0)
    for i in range(3):
        got = run.spike_times["lif"][i, : run.spike_count["lif"][i]]
        assert len(got) == len(ref[i]), (i, got, ref[i])
        np.testing.assert_allclose(got, ref[i], atol=1e-4, rtol=0)
