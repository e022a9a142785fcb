"""Conductance-based neurons from channels, a library of published models, and their tv-LIF
decomposition."""

from .channel import Channel
from .decompose import TVLIFNetwork, tvlif_decompose
from .functions import Boltzmann, CoshTau, SigmoidTau, SlowPotassiumTau, TanhSteady
from .gates import AbstractGate, RateGate, SteadyStateGate
from .library import LIBRARY, library_model
from .neuron import ConductanceNeuron, ConductanceState

__all__ = ["AbstractGate", "Boltzmann", "Channel", "ConductanceNeuron", "ConductanceState", "CoshTau", "LIBRARY",
           "RateGate", "SigmoidTau", "SlowPotassiumTau", "SteadyStateGate", "TVLIFNetwork", "TanhSteady",
           "library_model", "tvlif_decompose"]
