"""Gradients: value-and-grad cost against the forward solve, per checkpoint policy."""

from __future__ import annotations

import math

import diffrax as dfx
import jax
import jax.numpy as jnp

from ...integrate import simulate
from ...models import HodgkinHuxley
from ...stimuli import Step
from ..timing import best_times_interleaved
from ..settings import DT, Settings
from .memory import buffer_bytes


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
            mem_g = buffer_bytes(vg)["temp"] / 2**20
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
