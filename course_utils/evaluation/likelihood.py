"""Likelihoods you can compare: the importance-weighted bound on log p(x) and a fixed binarisation (chapter 06).

The IWAE bound (Burda et al. 2016) with k samples z_1..z_k ~ q(z|x) is
log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x) <= log p(x); k = 1 is the ELBO, and the bound tightens as k
grows. Everything is in nats per example. The noise is drawn from NumPy with one generator per
example (``seed``, index), so a result does not depend on ``batch_size``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

LOG_2PI = math.log(2.0 * math.pi)


def binarise(x, seed: int) -> np.ndarray:
    """A fixed, seeded binarisation of images in [0, 1]: each value becomes 1 with probability x (chapter 06)."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0 or not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        raise ValueError("binarise needs a non-empty array of probabilities in [0, 1] (scale images by 1/255 first)")
    return (np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _checked_input(model, x) -> np.ndarray:
    """``x`` as float32 with the model's input shape; binary when the decoder is Bernoulli."""
    if not all(hasattr(model, name) for name in ("encode", "conditional_log_likelihood", "latent_dim")):
        raise TypeError(f"model must be a VAE (course_utils.models.VAE), got {type(model).__name__}")
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(model.encoder.input_shape[1:])
    if x.ndim < 1 or len(x) == 0 or x.shape[1:] != expected:
        raise ValueError(f"x must be a non-empty batch of shape (n, {', '.join(map(str, expected))}), got {x.shape}")
    if model.likelihood == "bernoulli" and not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("a Bernoulli decoder gives a likelihood only for binary data: pass binarise(x, seed) "
                         "(a fixed binarisation), not grey levels")
    return x


def _log_weights(model, x: np.ndarray, mean: np.ndarray, log_var: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """log p(x|z) + log p(z) - log q(z|x) for z = mean + std * eps: x (m, ...), eps (m, c, d) -> (m, c)."""
    m, c, d = eps.shape
    z = mean[:, None, :] + np.exp(0.5 * log_var)[:, None, :] * eps  # (m, c, d)
    repeated = np.repeat(x, c, axis=0)  # (m * c, ...)
    log_px_z = np.asarray(model.conditional_log_likelihood(repeated, z.reshape(m * c, d).astype(np.float32)))
    log_pz = -0.5 * np.sum(np.square(z) + LOG_2PI, axis=-1)  # (m, c)
    log_qz = -0.5 * np.sum(np.square(eps) + log_var[:, None, :] + LOG_2PI, axis=-1)  # (m, c)
    return log_px_z.reshape(m, c).astype(np.float64) + log_pz - log_qz


def iwae_bound(model, x, k: int = 1000, batch_size: int = 2000, seed: int = 0) -> np.ndarray:
    """Per-example IWAE lower bound on log p(x) in nats with k importance samples from q(z|x) (chapter 06).

    ``batch_size`` is how many (example, sample) pairs the decoder sees at once; it changes the
    memory used, not the result. Returns a float64 array of shape (n,).
    """
    x = _checked_input(model, x)
    if int(k) < 1 or int(batch_size) < 1:
        raise ValueError(f"k (samples per example) and batch_size must be at least 1, got k={k}, "
                         f"batch_size={batch_size}")
    k, d = int(k), model.latent_dim
    per_step, chunk = max(1, int(batch_size) // k), min(k, int(batch_size))
    bounds = np.empty(len(x))
    for start in range(0, len(x), per_step):
        batch = x[start:start + per_step]  # (m, ...)
        mean, log_var = (np.asarray(t, dtype=np.float64) for t in model.encode(batch))  # (m, d) each
        eps = np.stack([np.random.default_rng([seed, start + i]).standard_normal((k, d))
                        for i in range(len(batch))])  # (m, k, d)
        log_w = np.concatenate([_log_weights(model, batch, mean, log_var, eps[:, s:s + chunk])
                                for s in range(0, k, chunk)], axis=1)  # (m, k)
        bounds[start:start + len(batch)] = logsumexp(log_w, axis=1) - math.log(k)
    return bounds


def elbo(model, x, seed: int = 0, batch_size: int = 2000) -> np.ndarray:
    """Per-example single-sample ELBO estimate in nats, the IWAE bound with k = 1 (chapter 06)."""
    return iwae_bound(model, x, k=1, batch_size=batch_size, seed=seed)


__all__ = ["binarise", "elbo", "iwae_bound"]
