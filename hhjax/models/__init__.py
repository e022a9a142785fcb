"""Neuron models: parameters as equinox Modules, state as pytrees, pure vector fields."""

from .base import AbstractDiscreteNeuron, AbstractNeuron, input_current, tvlif_derivative, tvlif_derivative_by_rate
from .conductance import (LIBRARY, AbstractGate, Channel, ConductanceNeuron, ConductanceState, RateGate,
                          SteadyStateGate, TVLIFNetwork, library_model, tvlif_decompose)
from .coupling import ThresholdCoupled
from .hh import HHState, HodgkinHuxley, traub_miles
from .lif import LIF, TVLIF, AbstractIntegrateAndFire, DiscreteLIF, DiscreteLIFState, LIFState
from .rates import AbstractRate, ConstantRate, Exponential, Linoid, Sigmoid, gate_tvlif
from .slif2hh import SLIF2HH, SLIF2HHState
from .tvlif2hh import TVLIF2HH, TVLIF2HHState, TVLIFGateForm, tvlif2hh

__all__ = [
    "LIBRARY", "AbstractGate", "Channel", "ConductanceNeuron", "ConductanceState", "RateGate", "SteadyStateGate",
    "TVLIFNetwork", "library_model", "tvlif_decompose",
    "AbstractNeuron", "AbstractDiscreteNeuron", "AbstractIntegrateAndFire", "input_current",
    "tvlif_derivative", "tvlif_derivative_by_rate", "ThresholdCoupled", "HHState", "HodgkinHuxley", "traub_miles", "LIF",
    "TVLIF", "LIFState", "DiscreteLIF", "DiscreteLIFState", "AbstractRate", "ConstantRate", "Exponential", "Linoid", "Sigmoid", "gate_tvlif",
    "SLIF2HH", "SLIF2HHState", "TVLIF2HH", "TVLIF2HHState", "TVLIFGateForm", "tvlif2hh",
]
