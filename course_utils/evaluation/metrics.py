"""Reconstruction losses and image-quality metrics as small pure functions (chapters 01-03).

The NumPy versions (``mse``, ``binary_cross_entropy``, ``psnr``) and ``ssim`` (``tf.image.ssim``) measure; the ``*_loss`` versions
use ``keras.ops`` so they also run on tensors inside a training step and can be differentiated.
"""
from __future__ import annotations

import numpy as np

EPSILON = 1e-7


def _pair(x, x_hat) -> tuple[np.ndarray, np.ndarray]:
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}")
    return x, x_hat


def per_sample_mse(x, x_hat) -> np.ndarray:
    """Mean squared error of each sample (mean over every axis but the first): shape (batch,)."""
    x, x_hat = _pair(x, x_hat)
    return np.square(x - x_hat).reshape(len(x), -1).mean(axis=1)


def mse(x, x_hat) -> float:
    """Mean squared error over every value: (1/n) sum_i (x_i - x'_i)^2."""
    x, x_hat = _pair(x, x_hat)
    return float(np.mean(np.square(x - x_hat)))


def binary_cross_entropy(x, x_hat, eps: float = EPSILON) -> float:
    """Mean binary cross-entropy -[x log x' + (1 - x) log(1 - x')], with x' clipped into [eps, 1 - eps]."""
    x, x_hat = _pair(x, x_hat)
    x_hat = np.clip(x_hat, eps, 1.0 - eps)
    return float(np.mean(-(x * np.log(x_hat) + (1.0 - x) * np.log(1.0 - x_hat))))


def psnr_from_mse(mse: float, max_val: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB from a mean squared error: 10 log10(max^2 / mse), inf when mse is 0."""
    return float("inf") if mse == 0 else float(10.0 * np.log10(max_val ** 2 / mse))


def psnr(x, x_hat, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB from the MSE over every value of two arrays (inf when they are equal)."""
    return psnr_from_mse(mse(x, x_hat), max_value)


def ssim(x, x_hat, max_value: float = 1.0) -> float:
    """Mean structural similarity of two (batch, h, w, c) image arrays, with ``tf.image.ssim`` (chapter 03)."""
    import tensorflow as tf

    x, x_hat = _pair(x, x_hat)
    if x.ndim != 4:
        raise ValueError(f"ssim needs (batch, height, width, channels) images, got shape {x.shape}")
    return float(tf.reduce_mean(tf.image.ssim(x.astype(np.float32), x_hat.astype(np.float32), max_val=max_value)))


def image_quality(pred, target, border: int = 0) -> dict[str, float]:
    """PSNR (dB) and SSIM of (batch, h, w, c) predictions in [0, 1] (clipped), ignoring ``border`` pixels (ch. 03)."""
    pred, target = _pair(np.clip(np.asarray(pred, dtype=np.float64), 0.0, 1.0), target)
    if border:
        pred, target = pred[:, border:-border, border:-border], target[:, border:-border, border:-border]
    return {"psnr": psnr(target, pred), "ssim": ssim(target, pred)}


def mse_loss(x, x_hat):
    """MSE as a differentiable ``keras.ops`` scalar, for a hand-written training step."""
    from keras import ops

    return ops.mean(ops.square(ops.convert_to_tensor(x) - x_hat))


def bce_loss(x, x_hat, eps: float = EPSILON):
    """Binary cross-entropy as a differentiable ``keras.ops`` scalar (x' clipped into [eps, 1 - eps])."""
    from keras import ops

    x_hat = ops.clip(x_hat, eps, 1.0 - eps)
    x = ops.convert_to_tensor(x)
    return ops.mean(-(x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat)))
