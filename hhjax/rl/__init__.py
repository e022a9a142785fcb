"""Soft actor-critic (SAC) with spiking actors (He et al. Fig. 4d/4i, spec §4.4): environments,
a replay buffer, the SAC update, actors whose encoder is one hhjax spiking layer, the training
loop and the experiment that `hhjax rl` runs."""

from .actors import ACTORS, Actor, make_actor
from .environments import make_environment
from .experiment import RLExperiment, run_seed, summarise
from .loop import LoopConfig, evaluate, train_sac
from .replay import ReplayBuffer
from .rewards import LearningSignal, shaped_reward
from .sac import SACConfig, SACState, init_sac, sac_update, squashed_gaussian

__all__ = ["ACTORS", "Actor", "make_actor", "make_environment", "RLExperiment", "run_seed", "summarise",
           "LoopConfig", "evaluate", "train_sac", "ReplayBuffer", "LearningSignal", "shaped_reward", "SACConfig",
           "SACState", "init_sac", "sac_update", "squashed_gaussian"]
