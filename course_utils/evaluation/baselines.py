"""Classical baselines measured beside the networks: PCA for reconstruction, bicubic for upsampling."""
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

    def fit(self, x: np.ndarray) -> PCABaseline:
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


def pca_mse_curve(x_train: np.ndarray, x_test: np.ndarray, sizes) -> dict[int, float]:
    """Test MSE of PCA for each code size, from one fit with the largest size (leading components are nested)."""
    pca = PCABaseline(max(sizes)).fit(x_train).pca
    centred = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1) - pca.mean_
    out = {}
    for k in sizes:
        basis = pca.components_[:k]
        out[int(k)] = float(np.mean(np.square(centred - centred @ basis.T @ basis)))
    return out


def bicubic_upsample(low_res: np.ndarray, scale: int) -> np.ndarray:
    """The classical upsampling baseline: bicubic interpolation, (batch, h, w, c) -> (batch, s*h, s*w, c) (ch. 03)."""
    import tensorflow as tf

    low_res = np.asarray(low_res, dtype=np.float32)
    size = (low_res.shape[1] * scale, low_res.shape[2] * scale)
    return tf.image.resize(low_res, size, method="bicubic").numpy()  # (batch, s*h, s*w, c)
