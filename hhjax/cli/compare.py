"""`hhjax compare` and `hhjax report`: every network model side by side."""

from __future__ import annotations

import argparse
import json

from .common import ints
from .train import network_data


def cmd_compare(a) -> int:
    import dataclasses

    from ..networks.experiments import ComparisonSettings, report_table, run_comparison

    settings = ComparisonSettings.quick() if a.quick else ComparisonSettings()
    changes = {}
    if a.models:
        changes["models"] = tuple(x.strip() for x in a.models.split(","))
    if a.seeds:
        changes["seeds"] = ints(a.seeds, "seeds")
    for name in ("hidden", "epochs"):
        if getattr(a, name) is not None:
            changes[name] = getattr(a, name)
    settings = dataclasses.replace(settings, **changes)
    data = network_data(argparse.Namespace(data=a.data, n_train=settings.n_train, n_test=settings.n_test))
    res = run_comparison(settings, data, out=a.out, figure=a.figure or None, progress=not a.no_progress)
    print(report_table(res))
    print(f"wall time {res['wall_s']:.0f} s; wrote {a.out}" + (f" and {a.figure}" if a.figure else ""))
    return 0


def cmd_report(a) -> int:
    from ..networks.experiments import plot_comparison, report_table

    try:
        with open(a.results) as fh:
            res = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read comparison results {a.results!r}: {e}") from None
    if "models" not in res:
        raise ValueError(f"{a.results}: not a `hhjax compare` result (no 'models')")
    print(report_table(res))
    if a.figure:
        plot_comparison(res, a.figure)
        print(f"wrote {a.figure}")
    return 0


def register(sub) -> None:
    c = sub.add_parser("compare", help="every model: accuracy over seeds, robustness, cost, information")
    c.add_argument("--quick", action="store_true", help="small sizes (about two minutes)")
    c.add_argument("--models", default=None, help="comma-separated, e.g. lif,4lif,hh,hh:voltage,slif2hh")
    c.add_argument("--seeds", default=None)
    c.add_argument("--hidden", type=int, default=None)
    c.add_argument("--epochs", type=int, default=None)
    c.add_argument("--data", default=None, help="the authors' multi-task pickle (default: bundled digits)")
    c.add_argument("--no-progress", action="store_true")
    c.add_argument("--out", default="comparison.json")
    c.add_argument("--figure", default="comparison.png")
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("report", help="the table (and figure) of a `hhjax compare` result")
    r.add_argument("results", nargs="?", default="comparison.json")
    r.add_argument("--figure", default=None)
    r.set_defaults(func=cmd_report)
