"""The paper's network experiments at their scale (He et al. Fig. 4c, 4h, Suppl. Fig. 2.2, and
the cost claims of Fig. 5), on bundled data:

- cost: time and XLA temporary memory of one training step (batch 128, float32) of every
  fully connected model at the default size (24×24 two-digit images, hidden 64) and the
  paper's (36×36, hidden 512: HH 512 vs 4LIF 2048), and of the conv models; ratios to 4LIF;
- flops: the paper's counting rule for the fc and conv networks, next to the spec's numbers;
- fig4c: two-task accuracy of the fc and conv models over seeds;
- fig4h: accuracy with the authors' fixed Gaussian pattern A·N(0, 1) added to train and
  test images (A = 25, 50, 75 on 0–255 images), retrained per level;
- fc784: one-task 784–128–10 networks on scikit-learn's digits upsampled to 28×28.

    python benchmarks/paper_networks.py                 # quick: small sizes, one seed (minutes)
    python benchmarks/paper_networks.py --full          # paper sizes, seeds 1–3 (hours on 2 cores)
    python benchmarks/paper_networks.py --full --sections cost,flops,fc784

Runs with the `hhjax` command's XLA settings. Writes `--out` (JSON) and a figure beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
SECTIONS = ("flops", "cost", "fc784", "fig4c", "fig4h")
FC_MODELS = ("lif", "4lif", "hh", "slif2hh", "ann")
CONV_MODELS = ("lif", "4lif", "hh", "slif2hh", "cnn")
# the spec's FLOP table (§4.5, M = 1e6; the s-LIF2HH conv MUL contains the authors' bug)
SPEC_FLOPS_M = {
    ("fc", "lif"): (9.99419, 10.00192), ("fc", "hh"): (10.09403, 10.15552),
    ("fc", "slif2hh"): (30.04667, 30.07744), ("fc", "4lif"): (39.97691, 40.00768),
    ("conv", "lif"): (6.65005, 6.89310), ("conv", "hh"): (9.80905, 11.75310),
    ("conv", "slif2hh"): (21.20575, 22.03200), ("conv", "4lif"): (79.08835, 80.06040),
}


@dataclasses.dataclass(frozen=True)
class Scale:
    seeds: tuple
    fc_canvas: int
    fc_hidden: int
    conv_canvas: int
    n_train: int
    n_test: int
    epochs: int
    conv_n_train: int
    conv_epochs: int
    fc784_epochs: int
    cost_repeats: int
    noise_seeds: tuple = (1,)  # Fig. 4h retrains every model at every level: one seed
    models: tuple = ()  # only these models (all when empty)

    def fc_models(self):
        return tuple(m for m in FC_MODELS if not self.models or m in self.models)

    def conv_models(self):
        return tuple(m for m in CONV_MODELS if not self.models or m in self.models)

    @classmethod
    def quick(cls):
        return cls(seeds=(1,), fc_canvas=24, fc_hidden=64, conv_canvas=24, n_train=1024, n_test=500, epochs=3,
                   conv_n_train=256, conv_epochs=1, fc784_epochs=5, cost_repeats=3)

    @classmethod
    def full(cls):
        return cls(seeds=(1, 2, 3), fc_canvas=36, fc_hidden=512, conv_canvas=36, n_train=4000, n_test=1000,
                   epochs=5, conv_n_train=4000, conv_epochs=5, fc784_epochs=20, cost_repeats=5)


def cost_section(scale, log):
    from hhjax.networks import two_digit_dataset
    from hhjax.networks.experiments import step_cost
    from hhjax.networks.train import TrainConfig

    out = {}
    sizes = [("default", 24, 64), ("paper", 36, 512)]
    for label, canvas, hidden in sizes:
        data = two_digit_dataset(256, 64, canvas=canvas)
        rows = {}
        for model in FC_MODELS:
            rows[model] = step_cost(TrainConfig(model=model, hidden=hidden), data, repeats=scale.cost_repeats)
            log(f"cost fc {label} {model}: {rows[model]}")
        out[f"fc_{label}"] = dict(canvas=canvas, hidden=hidden, models=rows, ratios=_ratios(rows))
    data = two_digit_dataset(256, 64, canvas=scale.conv_canvas)
    rows = {}
    for model in CONV_MODELS:
        rows[model] = step_cost(TrainConfig(model=model, architecture="conv"), data, repeats=max(1, scale.cost_repeats // 2))
        log(f"cost conv {model}: {rows[model]}")
    out["conv"] = dict(canvas=scale.conv_canvas, channels=10, models=rows, ratios=_ratios(rows))
    return out


def _ratios(rows):
    base = rows["4lif"]
    return {m: dict(time=r["seconds_per_step"] / base["seconds_per_step"], memory=r["temp_MiB"] / base["temp_MiB"])
            for m, r in rows.items() if m in ("hh", "slif2hh")}


def flops_section():
    from hhjax.costs import paper_conv_flops, paper_fc_flops

    rows = {}
    for (arch, model), (add_m, mul_m) in SPEC_FLOPS_M.items():
        c = paper_fc_flops(model) if arch == "fc" else paper_conv_flops(model)
        rows[f"{arch} {model}"] = dict(add=c.add, mul=c.mul, spec_add=round(add_m * 1e6), spec_mul=round(mul_m * 1e6))
    return rows


def _train_runs(configs_by_model, data, seeds, log, eval_noise=()):
    from hhjax.networks.experiments import mean_sd
    from hhjax.networks.train import train

    out = {}
    for model, config in configs_by_model.items():
        runs = []
        for seed in seeds:
            t = time.perf_counter()
            r = train(dataclasses.replace(config, seed=seed), data, progress=False, eval_noise=eval_noise)
            r.pop("model")
            r["wall_s"] = time.perf_counter() - t
            runs.append(r)
            log(f"{config.architecture} {model} seed {seed}: accuracy {r['accuracy']} ({r['wall_s']:.0f} s)")
        out[model] = dict(runs=runs, accuracy=mean_sd([r["accuracy"] for r in runs]), params=runs[0]["params"])
    return out


def fig4c_section(scale, log):
    from hhjax.networks import two_digit_dataset
    from hhjax.networks.train import TrainConfig

    fc_data = two_digit_dataset(scale.n_train, scale.n_test, canvas=scale.fc_canvas)
    fc = _train_runs({m: TrainConfig(model=m, hidden=scale.fc_hidden, epochs=scale.epochs) for m in scale.fc_models()},
                     fc_data, scale.seeds, log)
    conv_data = two_digit_dataset(scale.conv_n_train, scale.n_test, canvas=scale.conv_canvas)
    conv = _train_runs({m: TrainConfig(model=m, architecture="conv", epochs=scale.conv_epochs)
                        for m in scale.conv_models()},
                       conv_data, scale.seeds, log)
    return dict(fc=dict(canvas=scale.fc_canvas, hidden=scale.fc_hidden, models=fc),
                conv=dict(canvas=scale.conv_canvas, n_train=scale.conv_n_train, epochs=scale.conv_epochs, models=conv))


def fig4h_section(scale, log):
    from hhjax.networks import two_digit_dataset
    from hhjax.networks.experiments import NOISE_LEVELS
    from hhjax.networks.train import TrainConfig

    data = two_digit_dataset(scale.n_train, scale.n_test, canvas=scale.fc_canvas)
    out = {}
    for level in NOISE_LEVELS:
        configs = {m: TrainConfig(model=m, hidden=scale.fc_hidden, epochs=scale.epochs, noise=level)
                   for m in scale.fc_models()}
        out[f"{level:.4f}"] = _train_runs(configs, data, scale.noise_seeds, log)
    return dict(levels=list(NOISE_LEVELS), models=scale.fc_models(), by_level=out)


def fc784_section(scale, log):
    from hhjax.networks import upsampled_digits
    from hhjax.networks.train import TrainConfig

    data = upsampled_digits(28)
    configs = {m: TrainConfig(model=m, hidden=128, trunk=0, epochs=scale.fc784_epochs) for m in scale.fc_models()}
    return dict(n_train=int(data.x_train.shape[0]), n_test=int(data.x_test.shape[0]),
                models=_train_runs(configs, data, scale.seeds, log))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = [k for k in ("fig4c", "fig4h", "fc784", "cost") if k in results]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, key in zip(axes[0], panels):
        if key == "fig4c":
            for k, arch in enumerate(("fc", "conv")):
                models = results[key][arch]["models"]
                names = list(models)
                m = [np.mean(models[n]["accuracy"]["mean"]) for n in names]
                s = [np.mean(models[n]["accuracy"]["sd"]) for n in names]
                ax.bar(np.arange(len(names)) + 0.4 * k - 0.2, m, 0.4, yerr=s, label=arch)
            ax.set_xticks(np.arange(len(FC_MODELS)), [f"{a}/{b}" for a, b in zip(FC_MODELS, CONV_MODELS)], rotation=30)
            ax.set(ylabel="mean test accuracy (2 tasks)", title="Fig. 4c: fc / conv", ylim=(0.5, 1.0))
            ax.legend()
        elif key == "fig4h":
            levels = results[key]["levels"]
            for model in results[key]["models"]:
                acc = [np.mean(results[key]["by_level"][f"{lv:.4f}"][model]["accuracy"]["mean"]) for lv in levels]
                ax.plot(np.asarray(levels) * 255, acc, "-o", label=model)
            ax.set(xlabel="A (0–255 scale)", ylabel="mean test accuracy", title="Fig. 4h: fixed noise pattern")
            ax.legend(fontsize=7)
        elif key == "fc784":
            models = results[key]["models"]
            names = list(models)
            ax.bar(names, [models[n]["accuracy"]["mean"][0] for n in names],
                   yerr=[models[n]["accuracy"]["sd"][0] for n in names])
            ax.set(ylabel="test accuracy", title="784–128–10 (digits 28×28)", ylim=(0.5, 1.0))
        else:
            for k, size in enumerate(("fc_default", "fc_paper", "conv")):
                ratios = results[key][size]["ratios"]
                ax.bar(np.arange(2) + 0.27 * k - 0.27, [ratios["hh"]["time"], ratios["hh"]["memory"]], 0.27,
                       label=f"HH/4LIF {size}")
            ax.axhline(2.0, color="k", ls="--", lw=0.8)
            ax.set_xticks([0, 1], ["time per step", "temporary memory"])
            ax.set(ylabel="ratio to 4LIF", title="cost of a training step")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="paper sizes, seeds 1–3")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    p.add_argument("--seeds", default=None, help="override the seeds (comma-separated)")
    p.add_argument("--models", default=None, help="only these models (comma-separated), e.g. to rerun one")
    p.add_argument("--conv-n-train", type=int, default=None, help="override the conv models' training set size")
    p.add_argument("--conv-epochs", type=int, default=None, help="override the conv models' epochs")
    p.add_argument("--out", default=str(RESULTS / "paper_networks.json"))
    a = p.parse_args(argv)
    from hhjax.cli.environment import set_xla_flags

    set_xla_flags()  # the hhjax command's settings, before JAX starts
    import jax

    scale = Scale.full() if a.full else Scale.quick()
    if a.seeds:
        scale = dataclasses.replace(scale, seeds=tuple(int(s) for s in a.seeds.split(",")))
    if a.models:
        scale = dataclasses.replace(scale, models=tuple(a.models.split(",")))
    if a.conv_n_train:
        scale = dataclasses.replace(scale, conv_n_train=a.conv_n_train)
    if a.conv_epochs:
        scale = dataclasses.replace(scale, conv_epochs=a.conv_epochs)
    sections = [s for s in a.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    import os
    import platform

    results = dict(scale=dataclasses.asdict(scale), full=a.full, jax=jax.__version__,
                   xla_flags=os.environ.get("XLA_FLAGS", ""), machine=platform.processor() or platform.machine(),
                   cpus=os.cpu_count())
    start = time.perf_counter()
    runners = dict(cost=lambda: cost_section(scale, print), flops=flops_section,
                   fig4c=lambda: fig4c_section(scale, print), fig4h=lambda: fig4h_section(scale, print),
                   fc784=lambda: fc784_section(scale, print))
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in sections:
        results[name] = runners[name]()
        results["wall_s"] = time.perf_counter() - start
        out.write_text(json.dumps(results, indent=1, default=str))  # after every section: nothing lost
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')} ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
