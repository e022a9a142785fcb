"""Published conductance-based models, one module each, with their published defaults."""

from __future__ import annotations

from ..neuron import ConductanceNeuron
from .connor_stevens import connor_stevens
from .hodgkin_huxley import hodgkin_huxley
from .morris_lecar import morris_lecar
from .pospischil import pospischil_fs, pospischil_rs
from .traub_miles import traub_miles
from .wang_buzsaki import wang_buzsaki

# Models by the names the command line takes.
LIBRARY = {
    "hodgkin-huxley": hodgkin_huxley,
    "wang-buzsaki": wang_buzsaki,
    "traub-miles": traub_miles,
    "connor-stevens": connor_stevens,
    "pospischil-rs": pospischil_rs,
    "pospischil-fs": pospischil_fs,
    "morris-lecar": morris_lecar,
}


def library_model(name: str, **params) -> ConductanceNeuron:
    """A library model by name, with `params` overriding its published values (keyword
    arguments of its constructor, e.g. `g_Na=40.0`)."""
    if name not in LIBRARY:
        raise ValueError(f"unknown conductance model {name!r}; choose from {', '.join(LIBRARY)}")
    try:
        return LIBRARY[name](**params)
    except TypeError as e:
        raise ValueError(f"{name}: {e}") from None


__all__ = ["LIBRARY", "library_model", "connor_stevens", "hodgkin_huxley", "morris_lecar", "pospischil_fs",
           "pospischil_rs", "traub_miles", "wang_buzsaki"]
