"""Operation counts per neuron-step: the paper's FLOP rule and XLA's count."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ... import costs
from ...models import LIF, SLIF2HH, HodgkinHuxley, tvlif2hh


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
