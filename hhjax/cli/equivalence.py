"""`hhjax equivalence`: the main job — HH, tv-LIF2HH and s-LIF2HH on the paper's waveforms."""

from __future__ import annotations

import json
import time

from .common import versions
from .environment import enable_x64


def cmd_equivalence(a) -> int:
    enable_x64()
    from ..equivalence import format_table, plot_equivalence, run_equivalence

    start = time.perf_counter()
    res = run_equivalence(dt=a.dt, t1=a.t1, solver=a.solver, dtype=a.dtype)
    wall = time.perf_counter() - start
    print(f"HH vs tv-LIF2HH vs s-LIF2HH on the paper's waveforms (solver {a.solver}, dt {a.dt} ms, "
          f"{a.t1} ms, {res['settings']['dtype']}; s-LIF2HH joint reset, dt 1 ms)")
    print(format_table(res["rows"]))
    print(f"wall time {wall:.1f} s")
    if a.figure:
        plot_equivalence(res, a.figure)
        print(f"wrote {a.figure}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(dict(rows=res["rows"], settings=res["settings"], versions=versions()), fh, indent=1)
        print(f"wrote {a.out}")
    return 0


def register(sub) -> None:
    e = sub.add_parser("equivalence", help="HH vs tv-LIF2HH vs s-LIF2HH table and figure (main job)")
    e.add_argument("--dt", type=float, default=0.001)
    e.add_argument("--t1", type=float, default=80.0)
    e.add_argument("--solver", default="euler")
    e.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    e.add_argument("--figure", default="equivalence.png")
    e.add_argument("--out", default=None, help="also write the table as JSON")
    e.set_defaults(func=cmd_equivalence)
