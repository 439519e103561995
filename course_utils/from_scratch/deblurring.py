"""Deconvolution in the signal-processing sense: blurring by a point-spread function, to undo (chapter 03).

Chapter 03 contrasts it with the transposed convolution that deep-learning code calls "deconvolution".
"""
from __future__ import annotations

import numpy as np


def gaussian_psf(size: int = 9, sigma: float = 2.0) -> np.ndarray:
    """A normalised (size, size) Gaussian point-spread function for blur demonstrations (ch. 03)."""
    axis = np.arange(size) - (size - 1) / 2
    psf = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma ** 2))
    return psf / psf.sum()


def blur_image(image: np.ndarray, psf: np.ndarray, noise_std: float = 0.0, seed: int = 0) -> np.ndarray:
    """Blur a (h, w) image with a PSF ('same' size, reflected borders) and add Gaussian noise (ch. 03)."""
    from scipy.ndimage import convolve

    blurred = convolve(np.asarray(image, dtype=np.float64), psf, mode="reflect")
    noise = np.random.default_rng(seed).normal(0.0, noise_std, size=blurred.shape)
    return np.clip(blurred + noise, 0.0, 1.0)
