"""Companion package of the autoencoder course: data, run modes, checks, reference models and grader.

Importing the package is cheap: TensorFlow is only imported by the functions that need it.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info/warning chatter; set 0 to see it

from course_utils.config import budget, get_mode, is_fast
from course_utils.reproducibility import set_seed

__version__ = "0.1.0"

__all__ = ["__version__", "budget", "check_environment", "get_mode", "is_fast", "set_seed"]


def check_environment(verbose: bool = True):
    """Report Python, TensorFlow, Keras, CPU and GPU facts (chapter 00); see ``course_utils.environment``."""
    from course_utils.environment import check_environment as _check

    return _check(verbose=verbose)
