"""Classical baselines measured beside the networks: PCA for reconstruction (chapters 01 and 02)."""
from __future__ import annotations

import numpy as np


def _solver(n_samples: int, n_features: int) -> str:
    """An exact solver: eigen-decomposition of the covariance when samples far outnumber features (fast)."""
    return "covariance_eigh" if n_samples >= 10 * n_features else "full"


class PCABaseline:
    """PCA with ``n_components`` as an encoder/decoder pair on images of any shape (scikit-learn underneath)."""

    def __init__(self, n_components: int, seed: int = 0):
        self.n_components = int(n_components)
        self.seed = seed
        self.pca = None
        self.shape: tuple[int, ...] = ()

    def fit(self, x: np.ndarray) -> "PCABaseline":
        """Fit on (n, *shape) data; returns self."""
        from sklearn.decomposition import PCA

        x = np.asarray(x, dtype=np.float32)
        self.shape = x.shape[1:]
        self.pca = PCA(self.n_components, svd_solver=_solver(x.shape[0], int(np.prod(self.shape))),
                       random_state=self.seed).fit(x.reshape(len(x), -1))
        return self

    def _check(self):
        if self.pca is None:
            raise RuntimeError("call fit(x_train) before encode/decode")

    def encode(self, x: np.ndarray) -> np.ndarray:
        """(n, *shape) -> (n, n_components) coordinates in the principal subspace."""
        self._check()
        return self.pca.transform(np.asarray(x, dtype=np.float32).reshape(len(x), -1)).astype(np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """(n, n_components) -> (n, *shape): mean plus the weighted principal components."""
        self._check()
        return self.pca.inverse_transform(np.asarray(z)).reshape((len(z),) + self.shape).astype(np.float32)

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Project onto the subspace and back: decode(encode(x))."""
        return self.decode(self.encode(x))

    @property
    def components(self) -> np.ndarray:
        """Principal directions as images: (n_components, *shape)."""
        self._check()
        return self.pca.components_.reshape((self.n_components,) + self.shape)


def pca_reconstruct(x_train: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Reconstruct ``x`` from its projection on the top-``k`` principal subspace of ``x_train`` (NumPy SVD)."""
    x_train = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1)
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    basis = vt[:k]  # (k, D), orthonormal rows
    return ((flat - mean) @ basis.T @ basis + mean).reshape(np.shape(x))


def pca_mse_curve(x_train: np.ndarray, x_test: np.ndarray, sizes) -> dict[int, float]:
    """Test MSE of PCA for each code size, from one SVD of the training data."""
    from sklearn.decomposition import PCA

    train = np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1)
    test = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
    pca = PCA(max(sizes), svd_solver=_solver(*train.shape), random_state=0).fit(train)
    centred = test - pca.mean_
    out = {}
    for k in sizes:
        basis = pca.components_[:k]
        out[int(k)] = float(np.mean(np.square(centred - centred @ basis.T @ basis)))
    return out
