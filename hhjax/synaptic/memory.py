"""Memory estimates made before a network is allocated, so that a network too large for the
machine fails at once with a named error instead of deep inside an allocation."""

from __future__ import annotations

import os


class NetworkMemoryError(MemoryError):
    """The network (or its connectivity) would need more memory than is available."""


def available_bytes() -> int:
    """Memory available to this process (bytes): MemAvailable from /proc/meminfo, else the
    physical memory reported by sysconf."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(n_bytes: float, what: str, limit: float | None = None) -> None:
    """Raise `NetworkMemoryError` when `n_bytes` exceeds `limit` (default: the available
    memory)."""
    limit = available_bytes() if limit is None else limit
    if n_bytes > limit:
        raise NetworkMemoryError(f"{what} needs about {n_bytes / 2**30:.2f} GiB, more than the "
                                 f"{limit / 2**30:.2f} GiB available; use fewer neurons or synapses")
