"""The paper's network experiments end to end (spec §4.2–4.7), on the bundled two-digit data:

- learning: each model, several seeds → test accuracy per task, mean ± s.d.;
- robustness: the fixed-pattern test (A·N(0,1) added to train and test, retrained per level)
  and fresh per-sample noise at test time on the clean-trained networks;
- cost: trainable parameters, FLOPs under the paper's rule, XLA's temporary memory of one
  training step, wall time per training step;
- information: the VIB readout (β·KL in the loss) → I(Z;X), I(Z;Y).

`run_comparison` writes one JSON; `report_table` formats it like the paper's Fig. 4–5.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import costs
from .data import MultiTaskData, two_digit_dataset
from .layers import trainable_filter
from .train import TrainConfig, build, make_optimizer, make_step, model_dtype, train

# A levels of the authors' test, 25/50/75 on 0–255 images, scaled to data in [0, 1]
NOISE_LEVELS = (25 / 255, 50 / 255, 75 / 255)
DEFAULT_MODELS = ("lif", "4lif", "hh", "hh:voltage", "hh-paper", "slif2hh", "ann")


def parse_model_spec(spec: str) -> tuple[str, str]:
    """"name" or "name:readout" (e.g. "hh:voltage") → (name, readout)."""
    from .model import MODELS, READOUTS

    name, _, readout = spec.partition(":")
    readout = readout or "count"
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if readout not in READOUTS:
        raise ValueError(f"unknown readout {readout!r} in {spec!r}; choose from {', '.join(READOUTS)}")
    return name, readout


@dataclasses.dataclass(frozen=True)
class ComparisonSettings:
    models: tuple = DEFAULT_MODELS
    seeds: tuple = (0, 1, 2)
    hidden: int = 64
    epochs: int = 5
    n_train: int = 4000
    n_test: int = 1000
    noise_levels: tuple = NOISE_LEVELS
    robustness_seeds: tuple = (0,)
    bottleneck: int = 32
    info_epochs: int = 5

    @classmethod
    def quick(cls):
        """Small enough for CI and the notebook (a minute or two)."""
        return cls(models=("lif", "4lif", "hh", "slif2hh"), seeds=(0, 1), hidden=16, epochs=2, n_train=512,
                   n_test=200, noise_levels=(NOISE_LEVELS[1],), robustness_seeds=(0,), bottleneck=8, info_epochs=1)


def paper_flops(model: str, n_in: int, hidden: int, steps: int, trunk: int = 50, architecture: str = "fc",
                image_shape=None) -> dict:
    """FLOPs of one forward pass under the paper's counting rule (spec §4.5); conv
    networks: square `image_shape` images, 10 channels (4lif 40). `trunk=0`: the first
    head (10 outputs) is the output Linear."""
    kind = {"lif": "lif", "hh": "hh", "hh-paper": "hh", "slif2hh": "slif2hh", "slif2hh-joint": "slif2hh",
            "4lif": "4lif"}.get(model)
    n_out = trunk or 10
    if architecture == "conv":
        if kind is None:
            return {}  # the CNN: not in the paper's table
        side = int(image_shape[0]) if image_shape else int(round(n_in ** 0.5))
        c = costs.paper_conv_flops(kind, image=side, steps=steps, n_out=n_out)
        return dict(mul=c.mul, add=c.add)
    if kind is None:  # the ANN: one step, dense layers only
        mul = n_in * hidden + hidden * n_out
        add = (n_in - 1) * hidden + (hidden - 1) * n_out
        return dict(mul=mul, add=add)
    c = costs.paper_fc_flops(kind, hidden=hidden, n_in=n_in, steps=steps, n_out=n_out)
    return dict(mul=c.mul, add=c.add)


def step_cost(config: TrainConfig, data: MultiTaskData, repeats: int = 5) -> dict:
    """XLA's temporary memory of one training step and its wall time (compiled; median)."""
    model = build(config, data)
    params, static = eqx.partition(model, trainable_filter(model))
    opt = make_optimizer(config)
    state = opt.init(params)
    step = make_step(opt, config.beta)
    x = jnp.asarray(data.x_train[: config.batch], model_dtype(model))
    y = jnp.asarray(data.y_train[: config.batch])
    key = jax.random.PRNGKey(0)
    mem = step.lower(params, static, state, x, y, key).compile().compiled.memory_analysis()
    jax.block_until_ready(step(params, static, state, x, y, key))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(step(params, static, state, x, y, key))
        times.append(time.perf_counter() - t)
    return dict(temp_MiB=mem.temp_size_in_bytes / 2**20, seconds_per_step=float(np.median(times)))


def mean_sd(values) -> dict:
    """Mean and sample s.d. (0 for one value) over the first axis, as lists."""
    a = np.asarray(values, float)
    return dict(mean=a.mean(axis=0).tolist(), sd=(a.std(axis=0, ddof=1) if len(a) > 1 else 0 * a[0]).tolist())


def run_comparison(settings: ComparisonSettings | None = None, data: MultiTaskData | None = None, out=None,
                   figure=None, progress: bool = True, log=print) -> dict:
    """All experiments for every model in `settings`; returns (and writes) the results."""
    settings = settings or ComparisonSettings()
    for spec in settings.models:
        parse_model_spec(spec)  # bad names fail before any training
    data = data or two_digit_dataset(settings.n_train, settings.n_test)
    start = time.perf_counter()
    results = dict(settings=dataclasses.asdict(settings), data=data.name, jax=jax.__version__, models={})
    specs = [parse_model_spec(m) for m in settings.models]
    for spec, (name, readout) in zip(settings.models, specs):
        base = TrainConfig(model=name, hidden=settings.hidden, epochs=settings.epochs, readout=readout)
        entry = dict(runs=[])
        for seed in settings.seeds:
            r = train(dataclasses.replace(base, seed=seed), data, progress=progress, eval_noise=settings.noise_levels)
            r.pop("model")
            entry["runs"].append(r)
            log(f"[{spec}] seed {seed}: accuracy {r['accuracy']}, {r['seconds_per_step'] * 1e3:.1f} ms/step")
        entry["accuracy"] = mean_sd([r["accuracy"] for r in entry["runs"]])
        entry["fresh_noise"] = {lvl: mean_sd([r["accuracy_fresh_noise"][str(lvl)] for r in entry["runs"]])
                                for lvl in settings.noise_levels}
        fixed = {}
        for lvl in settings.noise_levels:
            accs = []
            for seed in settings.robustness_seeds:
                r = train(dataclasses.replace(base, seed=seed, noise=lvl), data, progress=progress)
                accs.append(r["accuracy"])
            fixed[lvl] = mean_sd(accs)
            log(f"[{spec}] fixed noise A={lvl:.3f}: accuracy {fixed[lvl]['mean']}")
        entry["fixed_noise"] = fixed
        entry["params"] = entry["runs"][0]["params"]
        entry["flops"] = paper_flops(name, data.n_inputs, settings.hidden, base.steps)
        entry["cost"] = step_cost(base, data)
        vib = train(dataclasses.replace(base, bottleneck=settings.bottleneck, epochs=settings.info_epochs), data,
                    progress=progress)
        entry["information"] = vib["information"]
        entry["information"]["accuracy"] = vib["accuracy"]
        log(f"[{spec}] params {entry['params']}, FLOPs {entry['flops']}, step {entry['cost']}, "
            f"information {entry['information']}")
        results["models"][spec] = entry
    results["wall_s"] = time.perf_counter() - start
    if out:
        pathlib.Path(out).write_text(json.dumps(results, indent=1, default=str))
    if figure:
        plot_comparison(results, figure)
    return results


def report_table(results: dict) -> str:
    """One table like the paper's Fig. 4–5: accuracy ± s.d. per task, robustness per level,
    parameters, FLOPs, memory and time per step, I(Z;X), I(Z;Y)."""
    models = results["models"]
    levels = results["settings"]["noise_levels"]
    head = ["model", "task 1", "task 2"]
    head += [f"fixed A={float(lv):.2f}" for lv in levels] + [f"fresh A={float(lv):.2f}" for lv in levels]
    head += ["params", "MFLOP", "MiB/step", "ms/step", "I(Z;X)", "I(Z;Y)"]
    rows = [head]
    for name, e in models.items():
        acc = e["accuracy"]
        row = [name] + [f"{m:.3f}±{s:.3f}" for m, s in zip(acc["mean"], acc["sd"])]
        for kind in ("fixed_noise", "fresh_noise"):
            for lv in levels:
                v = e[kind].get(lv) or e[kind].get(str(lv)) or e[kind].get(float(lv))
                row.append(f"{np.mean(v['mean']):.3f}")
        fl = e["flops"]
        row += [str(e["params"]), f"{(fl['mul'] + fl['add']) / 1e6:.2f}", f"{e['cost']['temp_MiB']:.1f}",
                f"{e['cost']['seconds_per_step'] * 1e3:.1f}", f"{e['information']['I_ZX_bits']:.1f}",
                f"{e['information']['I_ZY_bits']:.2f}"]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [" ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def plot_comparison(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results["models"])
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    x = np.arange(len(models))
    for k in range(2):
        m = [results["models"][n]["accuracy"]["mean"][k] for n in models]
        s = [results["models"][n]["accuracy"]["sd"][k] for n in models]
        axes[0].bar(x + 0.4 * k - 0.2, m, 0.4, yerr=s, label=f"task {k + 1}")
    axes[0].set_xticks(x, models, rotation=30)
    axes[0].set(ylabel="test accuracy", title="two-task accuracy (mean ± s.d.)")
    axes[0].legend()
    levels = results["settings"]["noise_levels"]
    for n in models:
        e = results["models"][n]
        fixed = [np.mean((e["fixed_noise"].get(lv) or e["fixed_noise"][str(lv)])["mean"]) for lv in levels]
        fresh = [np.mean((e["fresh_noise"].get(lv) or e["fresh_noise"][str(lv)])["mean"]) for lv in levels]
        axes[1].plot(levels, fixed, "-o", label=n)
        axes[2].plot(levels, fresh, "--s", label=n)
    axes[1].set(xlabel="A", ylabel="mean accuracy", title="fixed noise pattern (train + test)")
    axes[2].set(xlabel="A", title="fresh noise per test image")
    axes[1].legend(fontsize=7)
    izx = [results["models"][n]["information"]["I_ZX_bits"] for n in models]
    izy = [results["models"][n]["information"]["I_ZY_bits"] for n in models]
    axes[3].scatter(izx, izy)
    for n, a, b in zip(models, izx, izy):
        axes[3].annotate(n, (a, b))
    axes[3].set(xlabel="I(Z;X) bits", ylabel="I(Z;Y) bits", title="information plane (VIB)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

