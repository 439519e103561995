"""How good is a code? Sparsity, linear separability and sensitivity to the input (chapter 04).

Sparsity: the share of inactive code entries and Hoyer's measure. Separability: a linear probe,
logistic regression on the codes with few or all labels. Sensitivity: the norm of the encoder's
Jacobian and its leading right-singular vectors, the input directions the code follows most
(a contractive autoencoder should keep those along the data and flatten the rest).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np

from course_utils.models.penalties import encoder_jacobian

PROBE_SOLVER = "lbfgs"
PROBE_MAX_ITER = 100


def _code_rows(codes, dtype=np.float64) -> np.ndarray:
    """Codes as a (n, d) float array, every axis after the first flattened."""
    codes = np.asarray(codes, dtype=dtype)
    if codes.ndim < 2 or codes.shape[0] == 0:
        raise ValueError(f"codes must be (n, d) with n >= 1 (or (n, ...), flattened), got shape {codes.shape}")
    return codes.reshape(len(codes), -1)


def fraction_inactive(codes, threshold: float = 0.05) -> float:
    """Share of code entries with |h| below ``threshold`` (chapter 04).

    ReLU codes are exactly 0 when inactive; a sigmoid code never is, so there the threshold means
    "off" is an activation below 0.05, a pre-activation below about -2.9.
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    return float(np.mean(np.abs(_code_rows(codes)) < threshold))


def hoyer_sparsity(codes) -> float:
    """Hoyer's sparsity (2004), mean over examples of (sqrt(d) - L1/L2) / (sqrt(d) - 1): 0 dense, 1 one-hot (ch. 04).

    An all-zero code has no active unit and counts as 1.
    """
    codes = _code_rows(codes)
    d = codes.shape[1]
    if d < 2:
        raise ValueError(f"Hoyer's sparsity needs at least 2 code units, got {d}")
    l1 = np.abs(codes).sum(axis=1)  # (n,)
    l2 = np.sqrt(np.square(codes).sum(axis=1))  # (n,)
    ratio = np.divide(l1, l2, out=np.ones_like(l1), where=l2 > 0)  # an all-zero row counts as one-hot
    return float(np.mean((np.sqrt(d) - ratio) / (np.sqrt(d) - 1.0)))


def linear_probe(train_codes, train_labels, test_codes, test_labels, n_labels: int | None = None,
                 seed: int = 0, max_iter: int = PROBE_MAX_ITER) -> float:
    """Test accuracy of logistic regression on standardised codes, fitted on ``n_labels`` seeded examples (ch. 04).

    Scikit-learn's ``StandardScaler`` then ``LogisticRegression`` (L2, C=1, solver 'lbfgs', at most
    ``max_iter=100`` iterations, BLAS on one thread, which is far faster than two on a busy 2-core
    CPU). On 54,000 x 1024 codes that takes about 30 s on a busy 2-core CPU; the cap is part of the
    protocol: on random sigmoid features 100, 200 and 400 iterations gave 0.845, 0.846 and 0.852.
    ``n_labels=None`` uses every training code.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    train_codes, test_codes = _code_rows(train_codes, np.float32), _code_rows(test_codes, np.float32)
    train_labels, test_labels = np.asarray(train_labels).ravel(), np.asarray(test_labels).ravel()
    if len(train_codes) != len(train_labels) or len(test_codes) != len(test_labels):
        raise ValueError(f"codes and labels must have the same length, got {len(train_codes)} training codes for "
                         f"{len(train_labels)} labels and {len(test_codes)} test codes for {len(test_labels)} labels")
    if train_codes.shape[1] != test_codes.shape[1]:
        raise ValueError(f"training and test codes differ in size: {train_codes.shape[1]} and {test_codes.shape[1]}")
    if n_labels is not None:
        if not 2 <= n_labels <= len(train_codes):
            raise ValueError(f"n_labels must be between 2 and {len(train_codes)} (the training codes), got {n_labels}")
        index = np.random.default_rng(seed).permutation(len(train_codes))[:n_labels]
        train_codes, train_labels = train_codes[index], train_labels[index]
    if len(np.unique(train_labels)) < 2:
        raise ValueError("the probe's training labels hold a single class; use more labels (a larger n_labels)")
    probe = make_pipeline(StandardScaler(), LogisticRegression(solver=PROBE_SOLVER, max_iter=int(max_iter)))
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # the iteration cap is part of the protocol
        probe.fit(train_codes, train_labels)
    return float(probe.score(test_codes, test_labels))


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Hide TensorFlow's retracing warning: each new encoder is traced once, which is expected here, not a problem."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def mean_jacobian_norm(encoder, x, batch_size: int = 256) -> float:
    """Mean Frobenius norm ||dh/dx||_F (not squared) of the encoder's Jacobian over the examples ``x`` (chapter 04).

    Each batch holds a (batch, d, D) Jacobian in memory: 256 x 1024 x 784 floats is 0.8 GB, so
    lower ``batch_size`` for a large code.
    """
    import tensorflow as tf

    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0 or batch_size < 1:
        raise ValueError(f"need at least one example and batch_size >= 1, got {len(x)} examples, batch {batch_size}")

    @tf.function(reduce_retracing=True)  # traced once, not once per batch
    def norms(batch):
        jacobian = encoder_jacobian(encoder, batch)  # (batch, d, D)
        return tf.sqrt(tf.reduce_sum(tf.square(jacobian), axis=(1, 2)))  # (batch,)

    with _quiet_tracing():
        return float(np.mean(np.concatenate([norms(x[i:i + batch_size]).numpy()
                                             for i in range(0, len(x), batch_size)])))


def tangent_directions(encoder, image, k: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """The k input directions the code is most sensitive to at one image, with their gains (chapter 04).

    These are the top right-singular vectors of the Jacobian J (d, D) at ``image`` (H, W, C),
    returned as images (k, H, W, C) of unit norm, and the singular values (k,): moving the input by
    a unit step along direction i moves the code by singular_values[i]. Each direction's sign is arbitrary.
    """
    image = np.asarray(image, dtype=np.float32)
    if tuple(image.shape) != tuple(encoder.input_shape[1:]):
        raise ValueError(f"image must be one input of shape {tuple(encoder.input_shape[1:])} (no batch axis), "
                         f"got {image.shape}")
    with _quiet_tracing():
        jacobian = np.asarray(encoder_jacobian(encoder, image[None]))[0]  # (d, D)
    if not 1 <= k <= min(jacobian.shape):
        raise ValueError(f"k must be between 1 and {min(jacobian.shape)} (the Jacobian's rank bound), got {k}")
    _, singular_values, vt = np.linalg.svd(jacobian.astype(np.float64), full_matrices=False)  # vt: (r, D)
    return vt[:k].reshape((k, *image.shape)).astype(np.float32), singular_values[:k].astype(np.float32)


__all__ = ["PROBE_MAX_ITER", "PROBE_SOLVER", "fraction_inactive", "hoyer_sparsity", "linear_probe",
           "mean_jacobian_norm", "tangent_directions"]
