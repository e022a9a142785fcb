"""Compile time: first calls in this process and in fresh ones, with and without the persistent cache."""

from __future__ import annotations

import json

import jax

from ...integrate import simulate
from ..timing import best_time, first_call_time
from ..settings import Settings
from .throughput import population


_COMPILE_CASES = (("hh", "euler", (("dt", 0.01),)), ("hh", "rk4", (("dt", 0.025),)), ("hh", "tsit5", ()),
                  ("lif", "euler", (("dt", 0.01),)), ("tvlif2hh", "euler", (("dt", 0.01),)),
                  # the call behind a plotted trace: the default solver, V sampled every 0.1 ms
                  ("hh", "tsit5", (("save_every", 0.1),)))


def _compile_case_call(index: int):
    """(the `simulate` call of compile case `index` (N = 100, float32), its t1): a t1 of its
    own, so that no other case's compilation is reused."""
    model_name, solver, kw = _COMPILE_CASES[index]
    model, stim, _ = population(model_name, 100, "float32")
    t1 = 50.0 + 0.123 * index

    def call():
        return simulate(model, stim, t1=t1, solver=solver, dtype="float32", **dict(kw)).spike_counts

    return call, t1


def first_calls_in_this_process() -> list[float]:
    """First-call time (s) of every compile case, in order (run by `compile_time` in fresh
    processes)."""
    return [first_call_time(_compile_case_call(i)[0]) for i in range(len(_COMPILE_CASES))]


def _first_calls_in_fresh_process(cache_dir: str) -> list[float]:
    """`first_calls_in_this_process` in a new Python process whose JAX keeps compiled
    programs in the persistent cache `cache_dir` (every compilation cached)."""
    import os
    import subprocess
    import sys

    code = ("import json, jax; jax.config.update('jax_compilation_cache_dir', %r); "
            "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0); "
            "from hhjax.bench.sections.compile import first_calls_in_this_process as f; print(json.dumps(f()))" % cache_dir)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, JAX_PLATFORMS=jax.default_backend()))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _compile_label(row: dict) -> str:
    """'hh tsit5', or 'hh tsit5 save 0.1 ms' for a case that saves a trace."""
    saves = row.get("save_every")
    return f"{row['model']} {row['solver']}" + (f" save {saves:g} ms" if saves else "")


def compile_time(settings: Settings, log=print) -> list[dict]:
    """First-call time minus steady-state time of a fresh `simulate` call (tracing and XLA
    compilation), for the solvers users reach for first; and the first call of each in a
    new process whose persistent compilation cache already holds it (what a second run of
    a script or of the `hhjax` command pays: tracing and loading, no XLA compile)."""
    import tempfile

    rows = []
    for i, (model_name, solver, kw) in enumerate(_COMPILE_CASES):
        call, t1 = _compile_case_call(i)
        first = first_call_time(call)
        steady = best_time(call, 2)
        save_every = dict(kw).get("save_every")
        rows.append(dict(model=model_name, solver=solver, N=100, t1=t1, save_every=save_every,
                         compile_s=first - steady, run_s=steady))
        log(f"[compile] {_compile_label(rows[-1])}: {first - steady:.2f} s to trace and compile "
            f"(run {steady * 1e3:.1f} ms)")
    with tempfile.TemporaryDirectory() as cache:
        try:
            _first_calls_in_fresh_process(cache)  # fills the cache
            warm = _first_calls_in_fresh_process(cache)
        except Exception as e:  # a failing child process must not lose the section
            log(f"[compile] persistent-cache measurement skipped ({type(e).__name__}: {e})")
            warm = None
    for row, t in zip(rows, warm or ()):
        row["first_call_warm_cache_s"] = t
        log(f"[compile] {_compile_label(row)}: first call in a new process with a warm persistent "
            f"cache {t:.2f} s")
    return rows
