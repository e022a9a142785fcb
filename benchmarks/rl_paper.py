"""The paper's RL comparison (He et al. Fig. 4d/4i): SAC with each actor on the inverted
double pendulum, over seeds, with and without the paper's state + reward noise. Each run is
one `hhjax rl` process (its own JAX, the command's XLA settings); `--jobs` run at once.

    python benchmarks/rl_paper.py                                   # 3 seeds, 15,000 steps, 5 actors
    python benchmarks/rl_paper.py --steps 40000 --seeds 1 --models ann,hh --noise none

Writes one JSON per run under `--dir` (kept: a rerun skips finished runs), then a table
(`rl_paper.md`), `rl_paper.json` and the learning curves (`rl_paper.png`) there.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "rl"
MODELS = ("ann", "lif", "4lif", "hh", "slif2hh")


def run_name(model, noise, seed, steps, env, window=1, repeat=15):
    return f"{env}_{model}_{noise or 'none'}_seed{seed}_{steps}_w{window}r{repeat}"


def one_run(args, model, noise, seed):
    name = run_name(model, noise, seed, args.steps, args.env, args.window, args.repeat)
    out = args.dir / f"{name}.json"
    if out.exists():
        return out
    cmd = [sys.executable, "-m", "hhjax.cli", "rl", "--model", model, "--env", args.env, "--seeds", str(seed),
           "--steps", str(args.steps), "--window", str(args.window), "--repeat", str(args.repeat), "--no-progress", "--out", str(out), "--figure", "",
           "--checkpoint", str(args.dir / "checkpoints" / name), "--resume"]
    if noise:
        cmd += ["--noise", noise.replace("+", ",")]
    with open(args.dir / f"{name}.log", "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)
    return out


def table(args, results):
    import numpy as np

    lines = [f"{args.env}, {args.steps} steps, actor input {args.window} state(s) × {args.repeat} steps, final return (mean ± s.d. over seeds; 10 deterministic episodes "
             f"each, standard reward)", "", "| actor | " + " | ".join(f"noise: {n or 'none'}" for n in args.noise)
             + " | steps/s |", "|---|" + "---|" * (len(args.noise) + 1)]
    summary = {}
    for model in args.models:
        cells, speed = [], []
        for noise in args.noise:
            runs = [results[(model, noise, s)] for s in args.seeds if (model, noise, s) in results]
            finals = np.asarray([r["final_return"]["mean"] for r in runs])
            speed += [r["runs"][0]["steps_per_second"] for r in runs]
            summary[f"{model}/{noise or 'none'}"] = dict(per_seed=finals.tolist(), mean=float(finals.mean()) if len(
                finals) else None, sd=float(finals.std(ddof=1)) if len(finals) > 1 else None)
            cells.append(f"{finals.mean():.0f} ± {finals.std(ddof=1) if len(finals) > 1 else 0:.0f} (n={len(finals)})"
                         if len(finals) else "—")
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {np.mean(speed):.0f} |")
    return "\n".join(lines) + "\n", summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="inverted-double-pendulum")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--steps", type=int, default=15_000)
    p.add_argument("--noise", default="none,state+reward", help="comma-separated: none, state, reward, state+reward")
    p.add_argument("--window", type=int, default=1, help="states the actor sees (the paper: 5)")
    p.add_argument("--repeat", type=int, default=15, help="layer steps per state (the paper: 3)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--report-only", action="store_true", help="tabulate the finished runs in --dir, run nothing")
    p.add_argument("--dir", type=pathlib.Path, default=RESULTS)
    a = p.parse_args(argv)
    a.models = a.models.split(",")
    a.seeds = [int(s) for s in a.seeds.split(",")]
    a.noise = ["" if n == "none" else n for n in a.noise.split(",")]
    a.dir.mkdir(parents=True, exist_ok=True)
    jobs = [(m, n, s) for n in a.noise for s in a.seeds for m in a.models]
    if a.report_only:
        paths = {j: a.dir / f"{run_name(*j[:2], j[2], a.steps, a.env, a.window, a.repeat)}.json" for j in jobs}
        paths = {j: p for j, p in paths.items() if p.exists()}
    else:
        with ThreadPoolExecutor(a.jobs) as pool:
            paths = dict(zip(jobs, pool.map(lambda j: one_run(a, *j), jobs)))
    results = {j: json.loads(path.read_text()) for j, path in paths.items()}
    text, summary = table(a, results)
    print(text)
    stem = a.dir / f"rl_paper_{a.env}_{a.steps}_w{a.window}r{a.repeat}"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(dict(env=a.env, steps=a.steps, seeds=a.seeds, final_return=summary,
                                                         versions=next(iter(results.values()))["versions"],
                                                         xla_flags=next(iter(results.values()))["xla_flags"]),
                                                    indent=1))
    from hhjax.cli.rl import plot_learning_curves

    merged = []
    for m in a.models:
        for n in a.noise:
            runs = [results[(m, n, s)] for s in a.seeds if (m, n, s) in results]
            if runs:
                merged.append(dict(experiment=runs[0]["experiment"], runs=[r["runs"][0] for r in runs]))
    plot_learning_curves(merged, str(stem.with_suffix(".png")))
    print(f"wrote {stem}.md/.json/.png")


if __name__ == "__main__":
    main()
