"""What several commands share: model names, `--param` parsing, version records."""

from __future__ import annotations

import sys

from ..parameters import set_params


from ..models.conductance.library import LIBRARY

CORE_MODELS = ("hh", "hh-shifted", "lif", "tvlif2hh", "tvlif2hh-gates", "slif2hh")
# The core models, the channel library's models and their tv-LIF decompositions (tvlif:NAME).
MODELS = CORE_MODELS + tuple(LIBRARY) + tuple(f"tvlif:{name}" for name in LIBRARY)


def build_model(name: str, params: dict):
    """A model by CLI name, with `params` overriding its fields (for library models: the
    keyword arguments of its constructor, e.g. g_Na)."""
    import hhjax as hj

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if name.startswith("tvlif:"):
        return hj.tvlif_decompose(hj.library_model(name.split(":", 1)[1], **params))
    if name in LIBRARY:
        return hj.library_model(name, **params)
    if name in ("hh", "hh-shifted", "tvlif2hh", "tvlif2hh-gates"):
        base = hj.HodgkinHuxley.shifted() if name == "hh-shifted" else hj.HodgkinHuxley()
        base = set_params(base, params)
        if name.startswith("tvlif2hh"):
            return hj.tvlif2hh(base, "gates" if name.endswith("gates") else "channels")
        return base
    if name == "lif":
        return set_params(hj.LIF(), params)
    params = dict(params)
    dt = params.pop("dt", None)  # the unit's step (static): `--param dt=0.25`
    return set_params(hj.SLIF2HH() if dt is None else hj.SLIF2HH.matlab(dt), params)


def parse_params(items) -> dict:
    """`--param NAME=VALUE` options as {name: float}."""
    params = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        params[key.strip()] = float(val)
    return params


def versions() -> dict:
    import diffrax
    import equinox
    import jax
    import jaxlib

    import hhjax

    return dict(hhjax=hhjax.__version__, jax=jax.__version__, jaxlib=jaxlib.__version__,
                diffrax=diffrax.__version__, equinox=equinox.__version__, python=sys.version.split()[0])


def ints(text, what):
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--{what} must be comma-separated integers, got {text!r}") from None
