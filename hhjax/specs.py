"""Stimuli from text specs (`const:10`, `step:0,10,50`, `paper:sine`), as the CLI and
`simulate(model, "const:10")` take them."""

from __future__ import annotations

import math

import jax.random as jr

from . import stimuli
from .stimuli import (AbstractStimulus, Constant, PulseTrain, Ramp, Sawtooth, Sine, Square, Step, Triangle,
                      ornstein_uhlenbeck)

_SPEC_KINDS = {
    "const": (Constant, ("current",)),
    "step": (Step, ("I_off", "I_on", "t_on")),
    "sine": (Sine, ("I0", "A", "period")),
    "square": (Square, ("I_low", "I_high", "period")),
    "sawtooth": (Sawtooth, ("I_low", "I_high", "period")),
    "triangle": (Triangle, ("I_low", "I_high", "period")),
    "ramp": (Ramp, ("I0", "slope", "t_start")),
    "pulses": (PulseTrain, ("amplitude", "width", "period", "start")),
}


def parse_stimulus(spec: str) -> AbstractStimulus:
    """Build a stimulus from a text spec such as `const:10`, `step:0,10,50`,
    `sine:I0,A,period`, `square:I_low,I_high,period`, `sawtooth:lo,hi,period`,
    `triangle:lo,hi,period`, `ramp:I0,slope[,t_start]`, `pulses:amp,width,period[,start]`,
    `ou:mean,sigma,tau,t1[,seed]` or `paper:{const,sine,square,sawtooth,triangle}`.
    Currents in µA/cm², times in ms.
    """
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "paper":
        from .paper.waveforms import paper_waveforms  # (at call time: paper/ builds on integrate/)

        waves = paper_waveforms()
        if rest not in waves:
            raise ValueError(f"unknown paper waveform {rest!r}; choose from {sorted(waves)}")
        return waves[rest]
    try:
        values = [float(v) for v in rest.split(",")] if rest.strip() else []
    except ValueError:
        raise ValueError(f"stimulus spec {spec!r}: parameters must be numbers") from None
    if any(not math.isfinite(v) for v in values):
        raise ValueError(f"stimulus spec {spec!r}: parameters must be finite")
    if kind == "ou":
        if len(values) not in (4, 5):
            raise ValueError("stimulus spec 'ou' takes mean,sigma,tau,t1[,seed]")
        seed = int(values[4]) if len(values) == 5 else 0
        return ornstein_uhlenbeck(
            jr.PRNGKey(seed), mean=values[0], sigma=values[1], tau=values[2], t1=values[3]
        )
    if kind not in _SPEC_KINDS:
        raise ValueError(
            f"unknown stimulus kind {kind!r} in {spec!r}; choose from "
            f"{sorted(list(_SPEC_KINDS) + ['ou', 'paper'])}"
        )
    cls, names = _SPEC_KINDS[kind]
    required = len([n for n in names if n not in ("t_start", "start")])
    if not (required <= len(values) <= len(names)):
        raise ValueError(f"stimulus spec {kind!r} takes {','.join(names)}; got {len(values)} values")
    return cls(**dict(zip(names, values)))




def as_stimulus(stimulus) -> AbstractStimulus:
    """A stimulus from a stimulus, None, a callable, a number/array or a text spec."""
    if isinstance(stimulus, str):
        return parse_stimulus(stimulus)
    return stimuli.as_stimulus(stimulus)


__all__ = ["parse_stimulus", "as_stimulus"]
