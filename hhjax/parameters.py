"""Model parameters by name: dotted paths into a model's fields and dict entries
(`alpha_m.v_half`, `hh.g_Na`, a channel model's `channels.na.g`), read and replaced
functionally."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import numpy as np


def _fields(obj) -> list[str]:
    """The named children of a module (non-static fields) or a dict (its string keys)."""
    if isinstance(obj, dict):
        return [k for k in obj if isinstance(k, str)]
    if not dataclasses.is_dataclass(obj):
        return []
    return [f.name for f in dataclasses.fields(obj) if not f.metadata.get("static", False)]


def _child(obj, part: str):
    return obj[part] if isinstance(obj, dict) else getattr(obj, part)


def _is_container(obj) -> bool:
    return isinstance(obj, dict) or dataclasses.is_dataclass(obj)


def resolve_name(model, name: str) -> str:
    """The full dotted path of `name` in `model`. A name missing at the top level of a
    wrapper (tv-LIF2HH's `hh`) is looked up inside it: `g_Na` → `hh.g_Na`. Raises a
    `ValueError` naming the fields that do exist."""
    candidates = [name] + [f"{outer}.{name}" for outer in _fields(model) if _is_container(_child(model, outer))]
    for full in candidates:
        obj = model
        for part in full.split("."):
            if part not in _fields(obj):
                break
            obj = _child(obj, part)
        else:
            if _is_container(obj):
                raise ValueError(f"parameter {name!r} is a module ({type(obj).__name__}), not a number; "
                                 f"name one of its fields: {_fields(obj)}")
            return full
    raise ValueError(f"unknown parameter {name!r} for {type(model).__name__}; "
                     f"known: {', '.join(parameter_names(model))}")


def get_param(model, name: str):
    """The value of the parameter `name` (dotted)."""
    obj = model
    for part in resolve_name(model, name).split("."):
        obj = _child(obj, part)
    return obj


def set_params(model, params: dict):
    """A copy of `model` with the named parameters replaced."""
    for name, value in params.items():
        parts = resolve_name(model, name).split(".")

        def at(m, parts=parts):
            for part in parts:
                m = _child(m, part)
            return m

        model = eqx.tree_at(at, model, value)
    return model


def parameter_names(model, prefix: str = "") -> list[str]:
    """Every numeric parameter's dotted name (static fields such as `dt` excluded)."""
    out = []
    for name in _fields(model):
        value = _child(model, name)
        if _is_container(value):
            out += parameter_names(value, prefix + name + ".")
        elif isinstance(value, (int, float)) or hasattr(value, "shape"):
            out.append(prefix + name)
    return out


def model_params(model) -> dict:
    """Flat {dotted name: value} of a model's numeric parameters (JSON-ready lists/floats)."""
    out = {}
    for name in parameter_names(model):
        a = np.asarray(get_param(model, name))
        out[name] = a.tolist()
    return out
