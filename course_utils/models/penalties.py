"""Penalties on an autoencoder's code and on its encoder's Jacobian, as small pure functions (chapter 04).

Each function takes tensors or NumPy arrays, runs inside ``tf.function`` and can be differentiated,
so a model's ``compute_loss`` adds it to the reconstruction loss. Sparsity penalties act on a
code (batch, d); contractive penalties measure how strongly the code moves when the input moves,
the squared Frobenius norm of the Jacobian dh/dx (Rifai et al. 2011).
"""
from __future__ import annotations

import math

import keras
from keras import ops

EPSILON = 1e-6


def _as_float(values):
    """A tensor of a float dtype: NumPy float64 stays float64, anything else not float becomes floatx."""
    values = ops.convert_to_tensor(values)
    return values if keras.backend.is_float_dtype(values.dtype) else ops.cast(values, keras.backend.floatx())


def _rows(codes):
    """A code batch as a (batch, d) float tensor: every axis after the first flattened."""
    codes = _as_float(codes)
    if len(codes.shape) < 2:
        raise ValueError(f"codes must have a batch axis and at least one code axis, got shape {tuple(codes.shape)}")
    if len(codes.shape) == 2:
        return codes  # (batch, d)
    return ops.reshape(codes, (-1, math.prod(codes.shape[1:])))  # (batch, d)


def l1_activity(codes):
    """L1 sparsity penalty (chapter 04): mean over the batch of sum_j |h_j|."""
    return ops.mean(ops.sum(ops.abs(_rows(codes)), axis=1))


def kl_sparsity(codes, rho: float):
    """KL sparsity penalty (chapter 04): sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of unit j.

    The codes must lie in (0, 1), as a sigmoid code does. rho_hat is clipped into
    [1e-6, 1 - 1e-6] so that a unit that is always off (or always on) gives a large finite
    penalty instead of an infinite one.
    """
    if not 0.0 < float(rho) < 1.0:
        raise ValueError(f"rho is a target mean activation and must lie strictly between 0 and 1, got {rho}")
    rho_hat = ops.clip(ops.mean(_rows(codes), axis=0), EPSILON, 1.0 - EPSILON)  # (d,)
    kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))  # (d,)
    return ops.sum(kl)


def top_k(codes, k: int):
    """k-sparse code (chapter 04): keep the k largest entries of each row, zero the rest; (batch, d) -> (batch, d).

    Exactly k entries survive per row (ties go to the lower index); the gradient flows to them only.
    """
    codes = _as_float(codes)
    if len(codes.shape) != 2:
        raise ValueError(f"top_k needs codes of shape (batch, d), got {tuple(codes.shape)}")
    d = codes.shape[-1]
    if not 1 <= int(k) <= d:
        raise ValueError(f"k must be between 1 and the code size {d}, got {k}")
    _, index = ops.top_k(codes, int(k))  # (batch, k)
    mask = ops.sum(ops.one_hot(index, d, dtype=codes.dtype), axis=1)  # (batch, d), k ones per row
    return codes * ops.stop_gradient(mask)


def sigmoid_contractive_penalty(h, kernel):
    """Closed-form contractive penalty of h = sigmoid(x W + b) (chapter 04): batch mean of ||J||_F^2.

    J_ji = h_j (1 - h_j) W_ij, so ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2; ``kernel`` is W, (D, d).
    """
    h = _rows(h)  # (batch, d)
    kernel = ops.cast(kernel, h.dtype)  # (D, d)
    if len(kernel.shape) != 2 or kernel.shape[1] != h.shape[1]:
        raise ValueError(f"kernel must be (D, d) with d = {h.shape[1]} code units, got shape {tuple(kernel.shape)}")
    column_norms = ops.sum(ops.square(kernel), axis=0)  # (d,)
    return ops.mean(ops.sum(ops.square(h * (1.0 - h)) * column_norms, axis=1))


def encoder_jacobian(encoder, x, training: bool = False):
    """Jacobian of the flattened code wrt the flattened input at each example (chapter 04): (batch, d, D).

    Uses ``tf.GradientTape.batch_jacobian``, so it works for an encoder of any depth; called inside an
    outer tape (a training step), the result can itself be differentiated wrt the weights.
    """
    import tensorflow as tf

    x = _as_float(x)  # float64 input stays float64, for a float64 encoder and finite-difference checks
    with tf.GradientTape() as tape:
        tape.watch(x)
        code = encoder(x, training=training)
        code = tf.reshape(code, (tf.shape(code)[0], -1))  # (batch, d)
    jacobian = tape.batch_jacobian(code, x)  # (batch, d, *input_shape)
    return tf.reshape(jacobian, (tf.shape(x)[0], tf.shape(code)[1], -1))  # (batch, d, D)


def jacobian_penalty(encoder, x, training: bool = False):
    """Contractive penalty of any encoder (chapter 04): batch mean of ||dh/dx||_F^2, by automatic differentiation."""
    jacobian = encoder_jacobian(encoder, x, training=training)  # (batch, d, D)
    return ops.mean(ops.sum(ops.square(jacobian), axis=(1, 2)))


__all__ = ["encoder_jacobian", "jacobian_penalty", "kl_sparsity", "l1_activity", "sigmoid_contractive_penalty",
           "top_k"]
