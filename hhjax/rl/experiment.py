"""One RL experiment of the paper (Fig. 4d/4i): an actor, a task, noise, a number of steps;
trained with SAC for each seed and scored by the final deterministic return."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import jax
import numpy as np

from .actors import ACTORS, make_actor
from .environments.base import make_environment
from .loop import LoopConfig, evaluate, train_sac
from .rewards import LearningSignal
from .sac import SACConfig

NOISE_KINDS = ("state", "reward")
PAPER_NOISE = dict(state=0.002, reward=0.1)  # s.d. of the paper's Fig. 4i noise


@dataclass(frozen=True)
class RLExperiment:
    """`model` (see `ACTORS`) on `env` with `backend`; `hidden` spiking units (4lif: 4×);
    the actor sees the last `loop.window` states, each held for `repeat` layer steps;
    `critic_hidden` the same for every actor unless `critic_follows_actor` (the authors'
    setting: the critic as wide as the actor's layer, 512 for 4lif); `noise` a subset of
    ("state", "reward") at the paper's levels; `reward` see `LearningSignal`."""

    model: str = "hh"
    env: str = "inverted-double-pendulum"
    backend: str = "mujoco"
    num_envs: int = 1
    hidden: int = 128
    repeat: int = 15
    critic_follows_actor: bool = False
    noise: tuple = ()
    reward: str = "env"
    sac: SACConfig = field(default_factory=SACConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    final_episodes: int = 10

    def __post_init__(self):
        if self.model not in ACTORS:
            raise ValueError(f"unknown actor {self.model!r}; choose from {', '.join(ACTORS)}")
        unknown = set(self.noise) - set(NOISE_KINDS)
        if unknown:
            raise ValueError(f"unknown noise {sorted(unknown)}; choose from {', '.join(NOISE_KINDS)}")
        if self.hidden < 1 or self.final_episodes < 1 or self.repeat < 1:
            raise ValueError(f"need hidden, repeat, final_episodes >= 1, got {self.hidden}, {self.repeat}, "
                             f"{self.final_episodes}")

    @property
    def signal(self) -> LearningSignal:
        return LearningSignal(self.reward, PAPER_NOISE["state"] if "state" in self.noise else 0.0,
                              PAPER_NOISE["reward"] if "reward" in self.noise else 0.0)

    @property
    def layer_width(self) -> int:
        return 4 * self.hidden if self.model == "4lif" else self.hidden

    def sac_config(self) -> SACConfig:
        return replace(self.sac, critic_hidden=self.layer_width) if self.critic_follows_actor else self.sac

    def describe(self) -> dict:
        d = asdict(self)
        d["noise"] = list(self.noise)
        d["sac"] = asdict(self.sac_config())
        return d


def run_seed(exp: RLExperiment, seed: int, *, checkpoint_dir=None, resume=False, progress=None, log=None):
    """Train one agent and score it. Returns (record, final `SACState`); the record's
    `final_return` is the mean standard-reward return of `exp.final_episodes` deterministic
    episodes (state noise as in training), next to the curves, wall time and steps/s."""
    env = make_environment(exp.env, exp.backend, exp.num_envs)
    eval_env = make_environment(exp.env, exp.backend, exp.num_envs)
    actor = make_actor(exp.model, env.task.state_dim, env.action_dim, key=jax.random.PRNGKey(seed),
                       hidden=exp.hidden, window=exp.loop.window, repeat=exp.repeat)
    out = train_sac(env, actor, exp.sac_config(), exp.loop, seed=seed, signal=exp.signal, eval_env=eval_env,
                    checkpoint_dir=checkpoint_dir, resume=resume, fingerprint=repr(exp.describe()),
                    progress=progress, log=log)
    t0 = time.perf_counter()
    final = evaluate(out["state"].actor, eval_env, exp.final_episodes, exp.loop.window, signal=exp.signal,
                     seed=20_000 + seed)
    rec = out["progress"]
    return dict(seed=seed, final_return=float(np.mean(final)), final_returns=final, steps=rec.t,
                train_wall_s=rec.wall_s, eval_wall_s=time.perf_counter() - t0,
                steps_per_second=out["steps_per_second"], episode_returns=rec.episode_returns,
                evaluations=rec.evaluations, metrics=rec.metrics), out["state"]


def summarise(runs: list[dict]) -> dict:
    """Mean and s.d. (over seeds) of the final returns."""
    finals = np.asarray([r["final_return"] for r in runs])
    return dict(mean=float(finals.mean()), sd=float(finals.std(ddof=1)) if len(finals) > 1 else 0.0,
                per_seed=finals.tolist())


def moving_average(values, width: int):
    """Trailing mean over `width` points (fewer at the start)."""
    values = np.asarray(values, np.float64)
    c = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - width)
    return (c[idx] - c[lo]) / (idx - lo)
