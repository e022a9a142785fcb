"""Spiking networks of HH, LIF, s-LIF2HH and 4×LIF neurons for He et al.'s learning,
robustness, cost and information experiments (layers on the core models, two-task data,
training, experiments)."""

from .conv import CONV_MODELS, ConvMultiTaskNet
from .data import MultiTaskData, load_multitask_pickle, two_digit_dataset, upsampled_digits
from .layers import HHLayer, LIFLayer, PaperHHLayer, SLIF2HHLayer, SpikingLayer, count_trainable
from .model import MODELS, READOUTS, MultiTaskNet, make_layer
from .surrogates import SURROGATES, spike, spike_function
from .train import TrainConfig, accuracy, information, train

__all__ = [
    "CONV_MODELS", "ConvMultiTaskNet", "upsampled_digits",
    "MultiTaskData", "load_multitask_pickle", "two_digit_dataset", "HHLayer", "LIFLayer", "PaperHHLayer",
    "SLIF2HHLayer", "SpikingLayer", "count_trainable", "MODELS", "READOUTS", "MultiTaskNet", "make_layer",
    "SURROGATES", "spike", "spike_function", "TrainConfig", "accuracy", "information", "train",
]
