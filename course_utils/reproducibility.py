"""Seeding Python, NumPy and TensorFlow/Keras in one call, with optional op determinism (chapter 00)."""
from __future__ import annotations

import numpy as np

DEFAULT_SEED = 42


def set_seed(seed: int = DEFAULT_SEED, deterministic: bool = False) -> int:
    """Seed Python, NumPy and Keras/TensorFlow; with ``deterministic`` also force deterministic TF ops."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))  # seeds Python's random, NumPy and the TensorFlow backend
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return int(seed)
