"""hhjax: differentiable Hodgkin–Huxley, LIF, tv-LIF, tv-LIF2HH and s-LIF2HH dynamics in JAX.

Units throughout: time ms, potential mV, current µA/cm², conductance mS/cm²,
capacitance µF/cm².
"""

from . import backends, costs, fitting, networks, paper, stimuli, synaptic
from .backends import Tuning, tuning_for
from ._numerics import x_over_one_minus_exp
from .integrate import *  # noqa: F401,F403
from .integrate import __all__ as _integrate_all
from .models import *  # noqa: F401,F403
from .models import __all__ as _models_all
from .stimuli import *  # noqa: F401,F403
from .stimuli import __all__ as _stimuli_all
from .paper.waveforms import PaperSawtooth, PaperSquare, PaperTriangle, paper_waveforms
from .specs import as_stimulus, parse_stimulus

__version__ = "0.2.0"

__all__ = ["backends", "costs", "fitting", "networks", "paper", "stimuli", "synaptic", "x_over_one_minus_exp", "Tuning",
           "tuning_for", "PaperSawtooth", "PaperSquare", "PaperTriangle", "paper_waveforms", "as_stimulus",
           "parse_stimulus",
           *_integrate_all, *_models_all, *_stimuli_all]
