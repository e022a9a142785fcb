"""The `hhjax` command line (`hhjax --help`)."""

from .common import MODELS, build_model
from .main import build_parser, main

__all__ = ["MODELS", "build_model", "build_parser", "main"]
