"""Failed solves as errors that name the problem."""

from __future__ import annotations

import diffrax as dfx

from .results import SimulationError


def raise_on_failure(code, status, call):
    """Raise `SimulationError` for an unstable step, a step limit hit, a failed solve or
    too many spikes. `status` from `collect.collect_with_status`; `code` the diffrax result (None
    on the fixed-grid path, which cannot fail by itself), read only for a failure's message."""
    name, dt, max_steps, max_spikes, adaptive = call.name, call.dt, call.max_steps, call.max_spikes, call.adaptive
    bad, most, bad_input, step_limit, failed = (int(x) for x in status)
    if bad_input:
        raise ValueError("stimulus returns NaN or inf")
    if bad:
        raise SimulationError(
            f"the state became NaN/inf before t1: the step "
            f"dt = {dt} ms is unstable for solver {name!r}; use a smaller dt or an adaptive solver"
        )
    if step_limit:
        raise SimulationError(
            f"the solve hit its step limit (max_steps = {max_steps}) before t1"
            + ("; loosen rtol/atol or raise max_steps" if adaptive else "")
        )
    if failed:
        raise SimulationError(f"the solve failed: {dfx.RESULTS[code] if code is not None else 'unknown'}")
    if max_spikes and most > max_spikes:
        raise SimulationError(
            f"a neuron fired {most} spikes, more than max_spikes = {max_spikes}; pass a larger max_spikes"
        )
