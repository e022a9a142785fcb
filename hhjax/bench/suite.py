"""The benchmark suite: each section (`sections/`) returns plain dicts (JSON-ready);
`run_suite` runs the chosen sections in one process so that every ratio it reports is
measured in one run."""

from __future__ import annotations

import json
import math
import pathlib
import resource

import jax
import numpy as np

from .sections.accuracy import accuracy
from .sections.channels import channels
from .sections.compile import compile_time
from .sections.gradient import gradient
from .sections.memory import memory
from .sections.network import network
from .sections.ops import operation_counts
from .sections.peers import peers
from .sections.sharding import sharding
from .sections.throughput import throughput
from .settings import SECTIONS, Settings
from .timing import environment


def needs_x64(settings, sections) -> bool:
    """Whether `sections` with `settings` run anything in float64."""
    return "float64" in settings.dtypes or "accuracy" in sections or "gradient" in sections


def run_suite(settings: Settings | None = None, sections=SECTIONS, out: str | None = "bench.json",
              plots: str | None = "bench.png", peer_names=None, log=print) -> dict:
    """Run `sections` with `settings` (default: quick), print as it goes, write the JSON
    (`out`) and a figure (`plots`); returns the results."""
    settings = settings or Settings.quick()
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown benchmark section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    if needs_x64(settings, sections) and not jax.config.jax_enable_x64:
        raise ValueError("these benchmark sections run float64: call jax.config.update('jax_enable_x64', True) "
                         "first (the `hhjax bench` command does)")
    results = dict(environment=environment(), settings={k: getattr(settings, k) for k in settings.__dataclass_fields__})
    env = results["environment"]
    log(f"hhjax bench: jax {env['jax']} / jaxlib {env['jaxlib']}, XLA_FLAGS={env['XLA_FLAGS']!r}, "
        f"loop compiler options {env['loop_compiler_options']}, {env['device']}, {env['cpu']}, "
        f"{env['cpu_threads']} threads")
    if "throughput" in sections:
        results["throughput"] = throughput(settings, log=log)
    if "channels" in sections:
        results["channels"] = channels(settings, log=log)
    if "compile" in sections:
        results["compile"] = compile_time(settings, log=log)
    if "memory" in sections:
        results["memory"] = memory(settings, log=log)
    if "accuracy" in sections:
        results["accuracy"] = accuracy(settings, log=log)
    if "gradient" in sections:
        results["gradient"] = gradient(settings, log=log)
    if "ops" in sections:
        results["ops"] = operation_counts(results.get("throughput"), log=log)
    if "sharding" in sections:
        results["sharding"] = sharding(settings, log=log)
    if "peers" in sections:
        results["peers"] = peers(settings, peer_names, log=log)
    if "network" in sections:
        results["network"] = network(settings, peer_names, log=log)
    results["peak_rss_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if out:
        pathlib.Path(out).write_text(json.dumps(results, indent=1, default=_json_default))
        log(f"wrote {out}")
    if plots:
        from .plots import plot_results

        plot_results(results, plots)
        log(f"wrote {plots}")
    return results


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return str(x)
