"""PCA from scratch with NumPy's SVD: the projection a linear autoencoder learns (chapter 01)."""
from __future__ import annotations

import numpy as np


def pca_reconstruct(x_train: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Reconstruct ``x`` from its projection on the top-``k`` principal subspace of ``x_train`` (NumPy SVD)."""
    x_train = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1)
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    basis = vt[:k]  # (k, D), orthonormal rows
    return ((flat - mean) @ basis.T @ basis + mean).reshape(np.shape(x))
