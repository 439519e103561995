"""The corruption process q(x~|x) of a denoising autoencoder: Gaussian, masking and salt-and-pepper noise (chapter 04).

The NumPy functions make fixed, seeded noisy sets (a test set that every method sees identically); the
``Corruption`` layer draws fresh noise on every training batch inside a model and is the identity at
inference. Images are expected in [0, 1].
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

KINDS = ("gaussian", "masking", "salt_and_pepper")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")


def _check_level(kind: str, level: float) -> float:
    """``level`` as a float: sigma >= 0 for Gaussian noise, a fraction in [0, 1] for the others."""
    level = float(level)
    if kind == "gaussian" and not level >= 0:
        raise ValueError(f"Gaussian noise needs a standard deviation sigma >= 0, got {level}")
    if kind != "gaussian" and not 0 <= level <= 1:
        raise ValueError(f"{kind} noise needs a fraction of pixels between 0 and 1, got {level}")
    return level


def _as_images(x) -> np.ndarray:
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def gaussian_noise(x, sigma: float, rng: np.random.Generator, clip: bool = True) -> np.ndarray:
    """x + sigma * n with n ~ N(0, 1) per pixel, clipped into [0, 1] by default (chapter 04)."""
    sigma = _check_level("gaussian", sigma)
    x = _as_images(x)
    noisy = x + sigma * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def masking_noise(x, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Set a random ``fraction`` of the pixels to 0, each pixel independently (chapter 04)."""
    fraction = _check_level("masking", fraction)
    x = _as_images(x)
    return np.where(rng.random(x.shape) < fraction, 0.0, x).astype(x.dtype)


def salt_and_pepper(x, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Set a random ``fraction`` of the pixels to 0 or 1, with equal probability (chapter 04)."""
    fraction = _check_level("salt_and_pepper", fraction)
    x = _as_images(x)
    u = rng.random(x.shape)  # u < fraction/2: pepper (0); fraction/2 <= u < fraction: salt (1)
    return np.where(u < fraction / 2, 0.0, np.where(u < fraction, 1.0, x)).astype(x.dtype)


def corrupt(x, kind: str, level: float, rng: int | np.random.Generator | None = None, clip: bool = True) -> np.ndarray:
    """A corrupted copy of images ``x``: ``kind`` noise of strength ``level`` (sigma or a fraction), seeded (ch. 04).

    ``rng``: a seed or a ``numpy.random.Generator`` (None: fresh entropy). ``clip`` applies to Gaussian
    noise; masking and salt-and-pepper keep [0, 1] images inside [0, 1] by construction.
    """
    _check_kind(kind)
    if rng is not None and not isinstance(rng, (int, np.integer, np.random.Generator)):
        raise ValueError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")
    rng = np.random.default_rng(rng)
    if kind == "gaussian":
        return gaussian_noise(x, level, rng, clip=clip)
    return masking_noise(x, level, rng) if kind == "masking" else salt_and_pepper(x, level, rng)


@keras.saving.register_keras_serializable(package="course_utils")
class Corruption(keras.layers.Layer):
    """Corrupt the input with fresh noise on every training call, identity at inference (chapter 04)."""

    def __init__(self, kind: str = "gaussian", level: float = 0.3, clip: bool = True, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        _check_kind(kind)
        self.kind = kind
        self.level = _check_level(kind, level)
        self.clip = bool(clip)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True  # no weights to create

    def corrupt(self, x):
        """The corrupted batch, always (whatever the training flag): (batch, ...) -> (batch, ...)."""
        x = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        if self.kind == "gaussian":
            noisy = x + self.level * keras.random.normal(ops.shape(x), seed=self.seed_generator, dtype=x.dtype)
            return ops.clip(noisy, 0.0, 1.0) if self.clip else noisy
        u = keras.random.uniform(ops.shape(x), seed=self.seed_generator, dtype=x.dtype)
        if self.kind == "masking":
            return ops.where(u < self.level, ops.zeros_like(x), x)
        return ops.where(u < self.level / 2, ops.zeros_like(x), ops.where(u < self.level, ops.ones_like(x), x))

    def call(self, inputs, training=None):
        return self.corrupt(inputs) if training else inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kind": self.kind, "level": self.level, "clip": self.clip, "seed": self.seed}


__all__ = ["KINDS", "Corruption", "corrupt", "gaussian_noise", "masking_noise", "salt_and_pepper"]
