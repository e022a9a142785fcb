"""Soft actor-critic (SAC) with spiking actors (He et al. Fig. 4d/4i, spec §4.4): a replay
buffer, the SAC losses and update, and actors whose encoder is one hhjax spiking layer."""

from .actors import ACTORS, Actor, make_actor
from .replay import ReplayBuffer
from .sac import SACConfig, SACState, init_sac, sac_update, squashed_gaussian

__all__ = ["ACTORS", "Actor", "make_actor", "ReplayBuffer", "SACConfig", "SACState", "init_sac", "sac_update",
           "squashed_gaussian"]
