"""`hhjax train`: a two-task spiking network on bundled digits."""

from __future__ import annotations

import json

from .common import ints, versions


def network_data(a):
    from ..networks import load_multitask_pickle, two_digit_dataset, upsampled_digits

    if a.data:
        return load_multitask_pickle(a.data)
    if getattr(a, "dataset", "two-digit") == "digits-28":
        return upsampled_digits(28)
    return two_digit_dataset(a.n_train, a.n_test, canvas=getattr(a, "canvas", 24))


def cmd_train(a) -> int:
    import numpy as np

    from ..networks.experiments import NOISE_LEVELS, paper_flops, parse_model_spec, step_cost
    from ..networks.train import TrainConfig, train

    if a.arch == "conv":
        from ..networks import CONV_MODELS

        name, readout = a.model, "count"
        if name not in CONV_MODELS:
            raise SystemExit(f"unknown conv model {name!r}; choose from {', '.join(CONV_MODELS)}")
    else:
        name, readout = parse_model_spec(a.model if ":" in a.model or not a.readout else f"{a.model}:{a.readout}")
    seeds = ints(a.seeds, "seeds")
    data = network_data(a)
    runs = []
    for seed in seeds:
        cfg = TrainConfig(model=name, architecture=a.arch, hidden=a.hidden, trunk=a.trunk, steps=a.steps,
                          epochs=a.epochs, batch=a.batch, lr=a.lr,
                          seed=seed, readout=readout, surrogate=a.surrogate, width=a.width, noise=a.noise,
                          bottleneck=a.bottleneck, beta=a.beta)
        r = train(cfg, data, progress=not a.no_progress, eval_noise=NOISE_LEVELS, log=print)
        r.pop("model")
        runs.append(r)
        print(f"seed {seed}: test accuracy per task {', '.join(f'{x:.4f}' for x in r['accuracy'])}")
    acc = np.asarray([r["accuracy"] for r in runs])
    mean, sd = acc.mean(0), (acc.std(0, ddof=1) if len(runs) > 1 else np.zeros(acc.shape[1]))
    print(f"{a.model}: accuracy " + ", ".join(f"task {k + 1} {m:.4f} ± {d:.4f}" for k, (m, d) in enumerate(zip(mean, sd)))
          + f" over {len(runs)} seed(s)")
    out = dict(model=a.model, readout=readout, data=data.name, accuracy=dict(mean=mean.tolist(), sd=sd.tolist()),
               architecture=a.arch, runs=runs, params=runs[0]["params"],
               flops=paper_flops(name, data.n_inputs, a.hidden, a.steps, architecture=a.arch,
                                 image_shape=data.image_shape, trunk=a.trunk),
               cost=step_cost(cfg, data), versions=versions())
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1, default=str)
    print(f"wrote {a.out}")
    if a.figure:
        _plot_training(runs, a.model, a.figure)
        print(f"wrote {a.figure}")
    return 0


def _plot_training(runs, model, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in runs:
        h = r["accuracy_history"]
        for k in range(len(h[0])):
            ax.plot(range(1, len(h) + 1), [e[k] for e in h], "-o" if k == 0 else "--s", ms=3,
                    label=f"seed {r['config']['seed']} task {k + 1}")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=f"{model}")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(sub) -> None:
    t = sub.add_parser("train", help="train a two-task spiking network (He et al. Fig. 4) on bundled digits")
    t.add_argument("--model", default="hh", help="lif, hh, hh-paper, slif2hh, slif2hh-joint, 4lif, ann "
                                                 "(optionally NAME:READOUT, e.g. hh:voltage)")
    t.add_argument("--readout", default=None, help="count (spike counts, default), membrane or voltage")
    t.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (mean ± s.d. over them)")
    t.add_argument("--arch", choices=("fc", "conv"), default="fc",
                   help="fc: one hidden layer; conv: the paper's two spiking conv layers (10 channels, 4lif 40)")
    t.add_argument("--hidden", type=int, default=64, help="hidden units (4lif: 4× this many neurons)")
    t.add_argument("--trunk", type=int, default=50, help="width of the Linear after the readout (0: none, "
                                                         "e.g. the 784–128–10 network)")
    t.add_argument("--steps", type=int, default=15, help="time steps T")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=4e-3, help="Adam learning rate (the same for every model)")
    t.add_argument("--surrogate", default=None, help="rectangular, triangle, sigmoid, fast-sigmoid or atan")
    t.add_argument("--width", type=float, default=None, help="surrogate width (layer units)")
    t.add_argument("--noise", type=float, default=0.0, help="fixed noise pattern amplitude A (train and test)")
    t.add_argument("--bottleneck", type=int, default=0, help="VIB readout with this many latent dimensions")
    t.add_argument("--beta", type=float, default=1e-3, help="VIB weight of KL in the loss")
    t.add_argument("--data", default=None, help="the authors' multi-task pickle (default: bundled digits)")
    t.add_argument("--dataset", choices=("two-digit", "digits-28"), default="two-digit",
                   help="bundled data: two overlaid digits, two tasks (default), or one 10-class task on "
                        "digits upsampled to 28×28 (784 inputs)")
    t.add_argument("--canvas", type=int, default=24, help="two-digit image side (36: the paper's 36×36)")
    t.add_argument("--n-train", type=int, default=4000)
    t.add_argument("--n-test", type=int, default=1000)
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--out", default="train.json")
    t.add_argument("--figure", default="train.png", help="accuracy per epoch ('' for none)")
    t.set_defaults(func=cmd_train)
