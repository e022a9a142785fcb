"""A hand-written C kernel of the HH population (the issue's "practical ceiling"), built
with the system's C compiler on first use and called through ctypes.

Forward Euler, the textbook squid HH (six exp/expm1 per neuron-step, as in
`baselines.textbook_hh_derivatives`), one OpenMP thread per CPU core, each thread stepping
its own contiguous block of neurons through all steps (no barrier per step), the neuron
loop vectorised by the compiler (`-O3 -march=native -ffast-math`, glibc's vector exp).
Timed runs count spikes (upward crossings of 0 mV) without a branch; a recording run (for
the agreement check) keeps every crossing time, located by linear interpolation inside the
step like the other peers. Unavailable (skipped with a note) without a C compiler with
OpenMP.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import numpy as np

from ..backends.xla_flags import usable_cores
from .peer_run import PeerRun, PeerUnavailable, steady

_SOURCE = r"""
#include <math.h>
#include <omp.h>

#define STEP(EXP, EXPM1)                                                              \
    REAL v = V[i], mi = m[i], hi = h[i], ni = n[i];                                  \
    REAL am = (REAL)0.1 * (v + 40) / (-EXPM1(-(v + 40) / 10));                     \
    REAL bm = 4 * EXP(-(v + 65) / 18);                                               \
    REAL ah = (REAL)0.07 * EXP(-(v + 65) / 20);                                      \
    REAL bh = 1 / (1 + EXP(-(v + 35) / 10));                                         \
    REAL an = (REAL)0.01 * (v + 55) / (-EXPM1(-(v + 55) / 10));                    \
    REAL bn = (REAL)0.125 * EXP(-(v + 65) / 80);                                     \
    REAL m3 = mi * mi * mi, n4 = ni * ni * ni * ni;                                  \
    REAL dv = I[i] - 120 * m3 * hi * (v - 50) - 36 * n4 * (v + 77)                  \
              - (REAL)0.3 * (v + (REAL)54.387);                                      \
    REAL vn = v + dt * dv;                                                           \
    m[i] = mi + dt * (am * (1 - mi) - bm * mi);                                      \
    h[i] = hi + dt * (ah * (1 - hi) - bh * hi);                                      \
    n[i] = ni + dt * (an * (1 - ni) - bn * ni);                                      \
    V[i] = vn;                                                                       \
    int crossed = (v < 0) & (vn >= 0);

#define KERNELS(SUFFIX, REAL_T, EXP, EXPM1)                                              \
void hh_count_##SUFFIX(int N, int steps, REAL_T dt, const REAL_T *I, REAL_T *V,         \
                       REAL_T *m, REAL_T *h, REAL_T *n, int *count, int threads) {       \
    typedef REAL_T REAL;                                                                 \
    _Pragma("omp parallel num_threads(threads)") {                                       \
        int t = omp_get_thread_num(), T = omp_get_num_threads();                         \
        int lo = (int)((long)N * t / T), hi_ = (int)((long)N * (t + 1) / T);             \
        for (int k = 0; k < steps; k++) {                                                \
            _Pragma("omp simd")                                                          \
            for (int i = lo; i < hi_; i++) { STEP(EXP, EXPM1) count[i] += crossed; }     \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
void hh_record_##SUFFIX(int N, int steps, REAL_T dt, const REAL_T *I, REAL_T *V,        \
                        REAL_T *m, REAL_T *h, REAL_T *n, int *count, REAL_T *times,      \
                        int max_spikes) {                                                \
    typedef REAL_T REAL;                                                                 \
    for (int k = 0; k < steps; k++) {                                                    \
        for (int i = 0; i < N; i++) {                                                    \
            STEP(EXP, EXPM1)                                                             \
            if (crossed && count[i] < max_spikes)                                        \
                times[(long)i * max_spikes + count[i]] = (k + (-v) / (vn - v)) * dt;     \
            count[i] += crossed;                                                         \
        }                                                                                \
    }                                                                                    \
}

KERNELS(f64, double, exp, expm1)
KERNELS(f32, float, expf, expm1f)
"""

_FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC"]
_BUILT: list = []  # (the loaded library, the compiler's version line), built once per process


def _library():
    """(library, compiler version): the kernel built and loaded on first use."""
    if _BUILT:
        return _BUILT[0]
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise PeerUnavailable("no C compiler (cc/gcc) on PATH")
    with tempfile.TemporaryDirectory(prefix="hhjax_c_kernel_") as build:  # (a loaded library outlives its file)
        source, library = pathlib.Path(build) / "hh.c", pathlib.Path(build) / "hh.so"
        source.write_text(_SOURCE)
        done = subprocess.run([compiler, *_FLAGS, str(source), "-o", str(library), "-lm"], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise PeerUnavailable(f"the C kernel did not build ({compiler} {' '.join(_FLAGS)}): {done.stderr[-300:]}")
        lines = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()
        _BUILT.append((ctypes.CDLL(str(library)), lines[0] if lines else compiler))
    return _BUILT[0]


def run_c_kernel(currents, steps: int, dt: float, dtype: str = "float64", record: bool = False,
                 threads: int | None = None) -> PeerRun:
    """The C kernel on N neurons with constant `currents` (µA/cm²) from the steady state at
    −65 mV: `record` keeps spike times (single thread, not vectorised: for the agreement
    check); otherwise counts only, on `threads` threads (default: every core this process may use), timed."""
    lib, version = _library()
    real = np.float64 if dtype == "float64" else np.float32
    suffix = "f64" if dtype == "float64" else "f32"
    N = len(currents)
    I = np.ascontiguousarray(currents, real)
    state = [np.full(N, x, real) for x in (-65.0, *steady(-65.0))]
    count = np.zeros(N, np.intc)
    pointer = np.ctypeslib.as_ctypes_type(real)
    c_real = ctypes.c_double if dtype == "float64" else ctypes.c_float

    def ptr(a, kind=pointer):
        return a.ctypes.data_as(ctypes.POINTER(kind))

    args = [ctypes.c_int(N), ctypes.c_int(steps), c_real(dt), ptr(I), *map(ptr, state), ptr(count, ctypes.c_int)]
    threads = threads or usable_cores()
    if record:
        max_spikes = int(steps * dt / 4) + 8
        times = np.full((N, max_spikes), np.nan, real)
        t = time.perf_counter()
        getattr(lib, f"hh_record_{suffix}")(*args, ptr(times), ctypes.c_int(max_spikes))
        seconds = time.perf_counter() - t
        spikes = [[float(x) for x in row[: min(c, max_spikes)]] for row, c in zip(times, count)]
        return PeerRun(spikes, seconds, f"C, forward Euler, recording run (1 thread), {dtype}", version)
    t = time.perf_counter()
    getattr(lib, f"hh_count_{suffix}")(*args, ctypes.c_int(threads))
    seconds = time.perf_counter() - t
    return PeerRun(None, seconds, f"C, forward Euler, {threads} OpenMP threads, {' '.join(_FLAGS[:3])}, {dtype}",
                   version, spike_counts=[int(c) for c in count])

