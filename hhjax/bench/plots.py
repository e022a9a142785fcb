"""One figure summarising a suite run (panels for the sections that ran)."""

from __future__ import annotations

import math


def plot_results(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in (_throughput, _overhead, _compile, _memory, _accuracy, _gradient)
              if p.__name__.strip("_") in results or (p is _overhead and "throughput" in results)]
    if not panels:
        return
    cols = 3
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        panel(ax, results)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    env = results["environment"]
    fig.suptitle(f"hhjax bench — jax {env['jax']}, {env['device']}, {env['cpu']}, XLA_FLAGS={env['XLA_FLAGS']!r}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _throughput(ax, results):
    rows = results["throughput"]
    for model in sorted({r["model"] for r in rows}):
        for dtype, style in (("float32", "-o"), ("float64", "--s")):
            sel = sorted((r for r in rows if r["model"] == model and r["dtype"] == dtype), key=lambda r: r["N"])
            if sel:
                ax.plot([r["N"] for r in sel], [r["per_s"] for r in sel], style, label=f"{model} {dtype}", ms=3)
    for dtype, style in (("float32", ":"), ("float64", "-.")):
        sel = sorted((r for r in rows if r["model"] == "hh" and r["dtype"] == dtype), key=lambda r: r["N"])
        if sel:
            ax.plot([r["N"] for r in sel], [r["textbook_scan_per_s"] for r in sel], style, color="k",
                    label=f"textbook scan {dtype}")
    for name, peer in results.get("peers", {}).items():
        for dtype in ("float32", "float64"):
            sel = sorted((r for r in peer.get("rows", []) if r.get("dtype") == dtype and "per_s" in r),
                         key=lambda r: r["N"])
            if sel:
                ax.plot([r["N"] for r in sel], [r["per_s"] for r in sel], "x", label=f"{name} {dtype}")
    ax.set(xscale="log", yscale="log", xlabel="N neurons", ylabel="neuron-steps / s", title="throughput")
    ax.legend(fontsize=6)


def _overhead(ax, results):
    rows = [r for r in results["throughput"] if r["model"] == "hh"]
    for dtype in ("float32", "float64"):
        sel = sorted((r for r in rows if r["dtype"] == dtype), key=lambda r: r["N"])
        if sel:
            ax.plot([r["N"] for r in sel], [r["ratio_vs_textbook_scan"] for r in sel], "-o", label=f"vs textbook scan {dtype}")
            ax.plot([r["N"] for r in sel], [r["ratio_vs_same_vf_scan"] for r in sel], "--s", label=f"vs same-vf scan {dtype}")
    ax.axhline(0.9, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="N neurons", ylabel="simulate / scan throughput", title="diffrax + spikes vs scan")
    ax.legend(fontsize=6)


def _compile(ax, results):
    rows = results["compile"]
    ax.bar(range(len(rows)), [r["compile_s"] for r in rows])
    ax.set_xticks(range(len(rows)), [f"{r['model']}\n{r['solver']}" + ("\nsaves V" if r.get("save_every") else "")
                                     for r in rows], fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(ylabel="s", title="trace + compile time of simulate")


def _memory(ax, results):
    rows = [r for r in results["memory"] if r["record"] == "spikes"]
    ax.plot([r["steps"] for r in rows], [r["total_MiB"] for r in rows], "-o", label="spikes only")
    for r in results["memory"]:
        if r["record"] != "spikes":
            ax.plot([r["steps"]], [r["total_MiB"]], "s", label=r["record"])
    ax.set(xscale="log", yscale="log", xlabel="steps", ylabel="MiB (XLA buffers)",
           title=f"memory, N = {rows[0]['N'] if rows else '?'}")
    ax.legend(fontsize=7)


def _accuracy(ax, results):
    for r in results["accuracy"]:
        if not math.isfinite(r["max_err_ms"]):
            continue
        label = r["solver"] + " " + ",".join(f"{k}={v:g}" for k, v in r["settings"].items())
        ax.plot(r["wall_s"], r["max_err_ms"], "o" if r["pareto"] else "x", color="C3" if r["default"] else None)
        ax.annotate(label, (r["wall_s"], r["max_err_ms"]), fontsize=6)
    ax.set(xscale="log", yscale="log", xlabel="wall s", ylabel="max spike-time error (ms)",
           title="accuracy vs cost (o: Pareto front, red: default)")


def _gradient(ax, results):
    for label in sorted({r["adjoint"] for r in results["gradient"]}):
        sel = [r for r in results["gradient"] if r["adjoint"] == label]
        ax.plot([r["simulated_ms"] for r in sel], [r["grad_temp_MiB"] for r in sel], "-o", label=label)
    solver = results["gradient"][0].get("solver", "rk4") if results["gradient"] else ""
    ax.set(xscale="log", yscale="log", xlabel=f"simulated ms ({solver}, dt 0.01)", ylabel="MiB",
           title="gradient memory vs simulated time")
    ax.legend(fontsize=7)
