"""Speed of the whole SAC training loop with each actor (environment step on the host, actor
forward, replay write, one jitted update per step), in environment steps per second,
measured one actor after another in this process; ratios to the ANN actor.

    python benchmarks/rl_speed.py                      # inverted double pendulum, 1,000 learning steps each
    python benchmarks/rl_speed.py --steps 3000 --backend mjx --num-envs 64

Compilation is excluded (the first `--warmup` learning steps are not timed). Writes
`results/rl/rl_speed.json`. Run it through `XLA_FLAGS` as the `hhjax` command sets them
(the script adds the same flags unless XLA_FLAGS sets them).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "rl"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="inverted-double-pendulum")
    p.add_argument("--models", default="ann,lif,4lif,hh,slif2hh")
    p.add_argument("--backend", default="mujoco")
    p.add_argument("--num-envs", type=int, default=1)
    p.add_argument("--steps", type=int, default=1000, help="timed learning steps per actor")
    p.add_argument("--warmup", type=int, default=100, help="untimed learning steps (compilation)")
    p.add_argument("--out", type=pathlib.Path, default=RESULTS / "rl_speed.json")
    a = p.parse_args(argv)

    from hhjax.cli.environment import set_xla_flags

    set_xla_flags()
    import jax

    from hhjax.cli.common import versions
    from hhjax.rl.actors import make_actor
    import numpy as np

    from hhjax.rl.environments.base import as_numpy_done, make_environment
    from hhjax.rl.loop import LoopConfig, train_sac
    from hhjax.rl.sac import SACConfig

    start = 200
    rows = {}
    for model in a.models.split(","):
        env = make_environment(a.env, a.backend, a.num_envs)
        actor = make_actor(model, env.task.state_dim, env.action_dim, key=jax.random.PRNGKey(0))
        loop = LoopConfig(steps=start + a.warmup + a.steps, start_steps=start)
        marks = {}

        def progress(t):
            if t >= start + a.warmup and "learn" not in marks:
                marks["learn"] = (t, time.perf_counter())
            marks["end"] = (t, time.perf_counter())

        train_sac(env, actor, SACConfig(), loop, seed=0, progress=progress)
        (t1, w1), (t2, w2) = marks["learn"], marks["end"]
        rows[model] = dict(learning_steps_per_s=(t2 - t1) / (w2 - w1))
        print(f"{model:8s} {rows[model]['learning_steps_per_s']:8.1f} env steps/s while learning", flush=True)
    env = make_environment(a.env, a.backend, a.num_envs)
    env.reset(0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step = env.step(rng.uniform(-1, 1, (env.num_envs, env.action_dim)))
        done = as_numpy_done(step)
        if done.any():
            env.reset_done(done)
    env_only = a.steps * env.num_envs / (time.perf_counter() - t0)
    print(f"environment alone: {env_only:.0f} steps/s")
    base = rows.get("ann", next(iter(rows.values())))["learning_steps_per_s"]
    for model, r in rows.items():
        r["relative_to_ann"] = r["learning_steps_per_s"] / base
    print("\n| actor | env steps/s (learning) | ÷ ANN |\n|---|---|---|")
    for model, r in rows.items():
        print(f"| {model} | {r['learning_steps_per_s']:.1f} | {r['relative_to_ann']:.2f} |")
    import os

    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(dict(env=a.env, backend=a.backend, num_envs=a.num_envs, timed_steps=a.steps, environment_alone_steps_per_s=env_only,
                                     rows=rows, versions=versions(), xla_flags=os.environ.get("XLA_FLAGS", ""),
                                     devices=str(jax.devices())), indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
