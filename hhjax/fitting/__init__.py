"""Fitting neuron models to voltage traces and spike trains with optax."""

from .bijections import AbstractBijection, Bounded, Identity, Positive, default_bijection
from .diagnostics import FitDiagnostics, FitWarning, diagnose
from .loop import FitError, FitResult, FitState, fit, load_checkpoint, save_checkpoint
from .losses import (
    SummaryStatistics,
    equation_error,
    pad_spike_times,
    shooting_loss,
    simulate_trace,
    spike_times_from_trace,
    spike_timing_loss,
    summary_loss,
    summary_statistics,
    teacher_forced_gates,
    van_rossum_distance,
    voltage_mse,
)
from .problems import (
    HH_MEMBRANE,
    LOSSES,
    RATE_COEFFICIENTS,
    ModelFit,
    fit_model,
    gate_curve_errors,
    gate_curves,
    make_loss,
    visited_voltages,
)
from .space import ParameterSpace
from .synthetic import default_protocols, synthetic_traces
from .traces import Trace, load_trace, make_trace, save_trace, stack_traces

__all__ = [
    "FitDiagnostics", "FitWarning", "diagnose",
    "FitDiagnostics", "FitWarning", "diagnose",
    "AbstractBijection", "Bounded", "Identity", "Positive", "default_bijection", "FitError", "FitResult",
    "FitState", "fit", "load_checkpoint", "save_checkpoint", "SummaryStatistics", "equation_error",
    "pad_spike_times", "shooting_loss", "simulate_trace", "spike_times_from_trace", "spike_timing_loss",
    "summary_loss", "summary_statistics", "teacher_forced_gates", "van_rossum_distance", "voltage_mse",
    "HH_MEMBRANE", "LOSSES", "RATE_COEFFICIENTS", "ModelFit", "fit_model", "gate_curve_errors",
    "gate_curves", "make_loss", "visited_voltages", "ParameterSpace", "default_protocols",
    "synthetic_traces", "Trace", "load_trace", "make_trace", "save_trace", "stack_traces",
]
