"""The standard network benchmarks of Brette et al. (2007, J. Comput. Neurosci. 23:349):
COBAHH (benchmark 3, as in Brian2's example of it), COBA and CUBA (Vogels & Abbott 2005
LIF networks). One population "neurons", the first 80 % excitatory (projection "exc"), the
rest inhibitory ("inh"); p = 0.02, or, when scaled up, the
same mean in-degree for every neuron (`connect="in-degree"`).

All values per cm² of membrane (area 20,000 µm²: 1 nS = 0.005 mS/cm²).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..models.conductance.library.traub_miles import traub_miles
from ..models.lif import LIF
from .connectivity import from_arrays, in_degree_pairs, probability_pairs
from .network import Network, NetworkState
from .population import Population
from .projection import Projection
from .synapses import Exponential

AREA_CM2 = 20_000e-8
NS = 1e-6 / AREA_CM2  # 1 nS in mS/cm² for the benchmark cell


def per_cm2(nanosiemens: float) -> float:
    """A conductance of the 20,000 µm² benchmark cell (nS) per cm² (mS/cm²)."""
    return nanosiemens * NS


BENCHMARKS = ("cobahh", "coba", "cuba")


def _pairs(n_pre, n_post, n_total, p, connect, rng):
    if connect == "probability":
        return probability_pairs(n_pre, n_post, p, seed=rng)
    if connect == "in-degree":
        return in_degree_pairs(n_pre, n_post, int(round(p * 4000 * n_pre / n_total)), seed=rng)
    raise ValueError(f"connect must be 'probability' or 'in-degree', got {connect!r}")


def _ei_projections(n, p, connect, seed, exc: Exponential, inh: Exponential, w_exc, w_inh):
    """One population of n neurons, the first 80 % excitatory: two projections, "exc" from
    the excitatory and "inh" from the inhibitory neurons onto all (as Brian2's example)."""
    n_e = int(round(0.8 * n))
    rng = np.random.default_rng(seed)
    projections = {}
    for name, lo, hi, syn, w in (("exc", 0, n_e, exc, w_exc), ("inh", n_e, n, inh, w_inh)):
        pre, post = _pairs(hi - lo, n, n, p, connect, rng)
        projections[name] = Projection("neurons", "neurons", from_arrays(pre + lo, post, n, n, weight=w), syn)
    return n_e, projections


def default_connect(n: int) -> str:
    """Fixed probability up to the original 4,000 neurons, fixed in-degree beyond."""
    return "probability" if n <= 4000 else "in-degree"


def cobahh(n: int = 4000, *, seed: int = 0, p: float = 0.02, connect: str | None = None,
           dtype=None) -> tuple[Network, NetworkState]:
    """COBAHH: Traub–Miles neurons (threshold −20 mV, refractory 3 ms), exponential
    conductances τe 5 ms, τi 10 ms, Ee 0, Ei −80 mV, we 6 nS, wi 67 nS. Initial V = El + N(−5, 5)
    mV, ge ~ N(40, 15) nS, gi ~ N(200, 120) nS, gates 0 (as in Brian2's example).
    Returns (network, initial state)."""
    connect = default_connect(n) if connect is None else connect
    n_e, projections = _ei_projections(n, p, connect, seed, Exponential(5.0, 0.0), Exponential(10.0, -80.0),
                                       per_cm2(6.0), per_cm2(67.0))
    net = Network({"neurons": Population(traub_miles(), n, threshold=-20.0, refractory=3.0)}, projections)
    state = net.initial_state(dtype)
    kv, ke, ki = jax.random.split(jax.random.PRNGKey(seed), 3)
    y = state.neurons["neurons"]
    dt_ = y.V.dtype
    V = -60.0 + jax.random.normal(kv, (n,), dt_) * 5 - 5
    neurons = {"neurons": type(y)(V=V, gates=jax.tree.map(jnp.zeros_like, y.gates))}
    synapses = {"exc": per_cm2(jax.random.normal(ke, (1, n), dt_) * 15 + 40),
                "inh": per_cm2(jax.random.normal(ki, (1, n), dt_) * 120 + 200)}
    return net, NetworkState(neurons=neurons, synapses=synapses)


def _lif_network(n, seed, p, connect, dtype, *, V_rest, exc, inh, w_exc, w_inh, V0, initial_g):
    connect = default_connect(n) if connect is None else connect
    n_e, projections = _ei_projections(n, p, connect, seed, exc, inh, w_exc, w_inh)
    model = LIF(tau=20.0, V_rest=V_rest, V_reset=-60.0, V_th=-50.0, R=20.0, t_ref=5.0)
    net = Network({"neurons": Population(model, n)}, projections)
    state = net.initial_state(dtype)
    kv, ke, ki = jax.random.split(jax.random.PRNGKey(seed), 3)
    y = state.neurons["neurons"]
    neurons = {"neurons": type(y)(V=V0(kv, n, y.V.dtype), t_free=y.t_free)}
    synapses = dict(state.synapses)
    if initial_g:
        synapses = {"exc": per_cm2(jax.random.normal(ke, (1, n), y.V.dtype) * 15 + 40),
                    "inh": per_cm2(jax.random.normal(ki, (1, n), y.V.dtype) * 120 + 200)}
    return net, NetworkState(neurons=neurons, synapses=synapses)


def coba(n: int = 4000, *, seed: int = 0, p: float = 0.02, connect: str | None = None,
         dtype=None) -> tuple[Network, NetworkState]:
    """COBA (Vogels–Abbott): LIF τm 20 ms, El −60, Vt −50, Vr −60 mV, refractory 5 ms,
    gL 10 nS; exponential conductances as COBAHH (we 6 nS, wi 67 nS). V0 ~ N(−55, 5) mV."""
    return _lif_network(n, seed, p, connect, dtype, V_rest=-60.0, exc=Exponential(5.0, 0.0),
                        inh=Exponential(10.0, -80.0), w_exc=per_cm2(6.0), w_inh=per_cm2(67.0),
                        V0=lambda k, m, dt: jax.random.normal(k, (m,), dt) * 5 - 55, initial_g=True)


def cuba(n: int = 4000, *, seed: int = 0, p: float = 0.02, connect: str | None = None,
         dtype=None) -> tuple[Network, NetworkState]:
    """CUBA (Vogels–Abbott, as Brian2's example): LIF τm 20 ms, El −49, Vt −50, Vr −60 mV,
    refractory 5 ms; exponential currents τe 5, τi 10 ms with jumps of 1.62 mV and −9 mV
    (R = 20 kΩ·cm²: 0.081 and −0.45 µA/cm²). V0 uniform in [Vr, Vt]."""
    R = 20.0
    return _lif_network(n, seed, p, connect, dtype, V_rest=-49.0, exc=Exponential(5.0), inh=Exponential(10.0),
                        w_exc=1.62 / R, w_inh=-9.0 / R,
                        V0=lambda k, m, dt: -60.0 + 10.0 * jax.random.uniform(k, (m,), dt), initial_g=False)


BUILDERS = {"cobahh": cobahh, "coba": coba, "cuba": cuba}
