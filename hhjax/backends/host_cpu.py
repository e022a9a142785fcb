"""What the host CPU offers that changes how XLA should compile for it.

Read once per process from the operating system (Linux's /proc/cpuinfo); elsewhere
nothing is known and XLA's defaults stand.
"""

from __future__ import annotations

import functools
import pathlib


@functools.lru_cache(maxsize=1)
def host_simd_bits() -> int | None:
    """Width in bits of the host CPU's widest SIMD registers that LLVM can use for
    floating point (512 with AVX-512F, 256 with AVX, 128 with SSE2 or NEON; None where the
    CPU's features cannot be read)."""
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags = set(value.split())
            if "avx512f" in flags:
                return 512
            if "avx" in flags:
                return 256
            if flags & {"sse2", "asimd", "neon"}:
                return 128
            return None
    return None
