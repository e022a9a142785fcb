"""`hhjax rl`: SAC with a spiking actor on MuJoCo's inverted (double) pendulum (He et al.
Fig. 4d/4i)."""

from __future__ import annotations

import json
import os

from .common import ints, versions


def _experiment(a):
    """The `RLExperiment` the options describe."""
    from ..rl.environments.tasks import get_task
    from ..rl.experiment import RLExperiment
    from ..rl.loop import LoopConfig
    from ..rl.sac import SACConfig

    noise = tuple(x for x in a.noise.split(",") if x) if a.noise else ()
    sac = SACConfig(gamma=a.gamma, tau=a.tau, lr=a.lr, batch=a.batch, alpha=a.alpha, auto_alpha=a.auto_alpha,
                    critic_hidden=a.critic_hidden)
    steps = get_task(a.env).default_steps if a.steps is None else a.steps
    loop = LoopConfig(steps=steps, start_steps=a.start_steps, eval_every=a.eval_every, eval_episodes=a.eval_episodes,
                      checkpoint_every=a.checkpoint_every, window=a.window)
    return RLExperiment(model=a.model, env=a.env, backend=a.backend, num_envs=a.num_envs, hidden=a.hidden,
                        repeat=a.repeat, critic_follows_actor=a.critic_follows_actor, noise=noise, reward=a.reward,
                        sac=sac, loop=loop)


def cmd_rl(a) -> int:
    from ..rl.experiment import run_seed, summarise

    exp = _experiment(a)
    if a.resume and not a.checkpoint:
        raise ValueError("--resume needs --checkpoint DIR")
    runs = []
    for seed in ints(a.seeds, "seeds"):
        bar = None
        if not a.no_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=exp.loop.steps, desc=f"{exp.model} seed {seed}", unit="step", mininterval=2.0)

        def progress(t, bar=bar):
            bar.update(t - bar.n)

        log = (bar.write if bar is not None else print)
        ckpt = os.path.join(a.checkpoint, f"seed{seed}") if a.checkpoint else None
        run, _ = run_seed(exp, seed, checkpoint_dir=ckpt, resume=a.resume, progress=progress if bar else None,
                          log=log)
        if bar is not None:
            bar.close()
        runs.append(run)
        print(f"seed {seed}: final return {run['final_return']:.1f} after {run['steps']} steps "
              f"({run['train_wall_s']:.0f} s, {run['steps_per_second']:.0f} steps/s)")
    final = summarise(runs)
    print(f"{exp.model} on {exp.env}: final return {final['mean']:.1f} ± {final['sd']:.1f} over {len(runs)} seed(s)")
    out = dict(experiment=exp.describe(), final_return=final, runs=runs, versions=versions(),
               xla_flags=os.environ.get("XLA_FLAGS", ""))
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1, default=str)
    print(f"wrote {a.out}")
    if a.figure:
        plot_learning_curves([out], a.figure)
        print(f"wrote {a.figure}")
    return 0


def plot_learning_curves(results: list[dict], path: str, average: int = 5) -> None:
    """Per result (one `hhjax rl` JSON): the standard-reward return of training episodes
    (moving average over `average` episodes, mean ± s.d. over seeds on a common step grid)
    and the deterministic evaluations."""
    import warnings

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..rl.experiment import moving_average

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6))
    for res in results:
        exp = res["experiment"]
        label = exp["model"] + (f" +{'+'.join(exp['noise'])} noise" if exp["noise"] else "")
        steps = max(r["steps"] for r in res["runs"])
        grid = np.linspace(0, steps, 200)
        curves = []
        for r in res["runs"]:
            ep = np.asarray([(s, ret) for s, ret, _ in r["episode_returns"]]) if r["episode_returns"] else np.zeros((0, 2))
            if len(ep) < 2:
                continue
            curves.append(np.interp(grid, ep[:, 0], moving_average(ep[:, 1], average), left=np.nan))
        if curves:
            with warnings.catch_warnings():  # grid points before a seed's first episode are NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                m, s = np.nanmean(curves, 0), np.nanstd(curves, 0)
            (line,) = ax.plot(grid, m, label=label)
            ax.fill_between(grid, m - s, m + s, color=line.get_color(), alpha=0.2)
        evals = [np.asarray(r["evaluations"]) for r in res["runs"] if r["evaluations"]]
        if evals:
            n = min(len(e) for e in evals)
            e = np.stack([x[:n] for x in evals])
            bx.errorbar(e[0, :, 0], e[:, :, 1].mean(0), yerr=e[:, :, 1].std(0), label=label, capsize=2)
    ax.set(xlabel="environment steps", ylabel=f"episode return (moving average of {average})",
           title="training episodes (standard reward)")
    bx.set(xlabel="environment steps", ylabel="mean return, deterministic policy", title="evaluations")
    for x in (ax, bx):
        x.legend(fontsize=7)
        x.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(sub) -> None:
    from ..rl.actors import ACTORS
    from ..rl.environments.base import BACKENDS
    from ..rl.environments.tasks import TASKS
    from ..rl.rewards import REWARDS

    r = sub.add_parser("rl", help="SAC with a spiking actor on the inverted (double) pendulum (He et al. Fig. 4d/4i)")
    r.add_argument("--model", choices=ACTORS, default="hh", help="the actor's layer (ann: binarised ANN)")
    r.add_argument("--env", choices=tuple(TASKS), default="inverted-double-pendulum")
    r.add_argument("--backend", choices=BACKENDS, default="mujoco",
                   help="mujoco: gymnasium + MuJoCo on the host (default, fast on a CPU); mjx: MuJoCo XLA, "
                        "--num-envs copies as one JAX computation (for accelerators)")
    r.add_argument("--num-envs", type=int, default=1, help="environment copies (mjx backend)")
    r.add_argument("--seeds", default="1", help="comma-separated seeds (mean ± s.d. of the final return)")
    r.add_argument("--steps", type=int, default=None,
                   help="environment steps per seed (default: 40,000 on the double pendulum, 20,000 on the pendulum)")
    r.add_argument("--start-steps", type=int, default=2_000, help="uniform-random actions first")
    r.add_argument("--noise", default="", help="comma-separated: state (0.002·N(0,1)), reward (0.1·N(0,1))")
    r.add_argument("--reward", choices=REWARDS, default="env",
                   help="what the agent learns from: the standard reward, the paper's shaped reward, or the "
                        "shaped reward with the authors' observation unpacking (evaluation: standard reward)")
    r.add_argument("--window", type=int, default=1,
                   help="the actor sees the last WINDOW states (default: the latest only, as the ANN; the paper: 5)")
    r.add_argument("--repeat", type=int, default=15,
                   help="layer steps per state (default 15; the paper: 3, so 5 × 3 = 15 steps either way)")
    r.add_argument("--hidden", type=int, default=128, help="spiking units (4lif: 4× this many)")
    r.add_argument("--critic-hidden", type=int, default=256, help="critic width, the same for every actor")
    r.add_argument("--critic-follows-actor", action="store_true",
                   help="the authors' setting: critic as wide as the actor's layer (512 for 4lif)")
    r.add_argument("--gamma", type=float, default=0.99)
    r.add_argument("--tau", type=float, default=0.005)
    r.add_argument("--lr", type=float, default=3e-4)
    r.add_argument("--batch", type=int, default=64)
    r.add_argument("--alpha", type=float, default=0.2, help="entropy temperature (fixed unless --auto-alpha)")
    r.add_argument("--auto-alpha", action="store_true", help="tune α towards entropy −|A|")
    r.add_argument("--eval-every", type=int, default=5_000, help="steps between evaluations (0: none)")
    r.add_argument("--eval-episodes", type=int, default=10)
    r.add_argument("--checkpoint", default=None, help="directory for checkpoints (one per seed)")
    r.add_argument("--checkpoint-every", type=int, default=5_000)
    r.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--out", default="rl.json")
    r.add_argument("--figure", default="rl.png", help="learning curves ('' for none)")
    r.set_defaults(func=cmd_rl)
