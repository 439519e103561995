"""The reconstruction field of a denoising autoencoder on 2-D toy data (chapter 04).

A denoising autoencoder trained with small Gaussian noise sigma learns r(x~) with
r(x~) - x~ ~ sigma^2 d/dx log p(x~) (Alain & Bengio, 2014): the arrows r(x~) - x~ point back towards the
data. ``toy_manifold`` makes points on a circle or two moons, ``train_toy_denoiser`` trains a small dense
DAE on them in seconds, ``reconstruction_field`` evaluates r(x~) - x~, and ``plot_vector_field`` draws it.
"""
from __future__ import annotations

import numpy as np

MANIFOLDS = ("circle", "moons")


def toy_manifold(kind: str = "circle", n: int = 1000, noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 points on a unit circle or on two centred moons, with Gaussian ``noise`` around them (ch. 04)."""
    if kind not in MANIFOLDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, MANIFOLDS))}, got {kind!r}")
    if int(n) < 1 or noise < 0:
        raise ValueError(f"need n >= 1 points and noise >= 0, got n={n}, noise={noise}")
    rng = np.random.default_rng(seed)
    if kind == "circle":
        angle = rng.uniform(0.0, 2 * np.pi, int(n))
        points = np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (n, 2)
        return (points + noise * rng.standard_normal(points.shape)).astype(np.float32)
    from sklearn.datasets import make_moons

    points, _ = make_moons(int(n), noise=float(noise), random_state=seed)  # (n, 2) in about [-1, 2] x [-0.5, 1]
    return (points - np.array([0.5, 0.25])).astype(np.float32)


def train_toy_denoiser(points: np.ndarray, sigma: float = 0.1, epochs: int = 30, seed: int = 0,
                       hidden_units: tuple[int, ...] = (64, 64), latent_dim: int = 16, batch_size: int = 64,
                       learning_rate: float = 3e-3, repeats: int = 10):
    """A small dense denoising autoencoder trained on 2-D points with Gaussian noise ``sigma`` (seconds on a CPU, ch. 04).

    Each epoch shows every point ``repeats`` times, each time with fresh noise.
    """
    import keras

    from course_utils.data.corruption import Corruption
    from course_utils.models.autoencoders import DenseAutoencoder
    from course_utils.models.denoising import DenoisingAutoencoder

    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (n, 2), got shape {points.shape}")
    keras.utils.set_random_seed(seed)
    base = DenseAutoencoder(input_shape=(2,), latent_dim=latent_dim, hidden_units=hidden_units, activation="tanh",
                            output_activation=None, batch_norm=False)
    model = DenoisingAutoencoder(base, Corruption("gaussian", sigma, clip=False, seed=seed), name="toy_denoiser")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    data = np.tile(points, (int(repeats), 1))  # (repeats * n, 2)
    model.fit(data, data, batch_size=batch_size, epochs=int(epochs), verbose=0)
    return model


def reconstruction_field(model, positions: np.ndarray) -> np.ndarray:
    """r(x~) - x~ at each of (m, 2) positions: where the denoiser moves each point (chapter 04)."""
    positions = np.asarray(positions, dtype=np.float32)
    return np.asarray(model.predict(positions, batch_size=4096, verbose=0)) - positions  # (m, 2)


def plot_vector_field(model, points: np.ndarray, sigma: float, grid: int = 25, margin: float = 2.0, ax=None):
    """Arrows of r(x~) - x~ on a ``grid`` x ``grid`` lattice over the data (``margin`` sigmas around it) (ch. 04).

    Arrows show the direction at one length; their colour is the length |r(x~) - x~|.
    """
    import matplotlib.pyplot as plt

    points = np.asarray(points, dtype=np.float32)
    low, high = points.min(axis=0) - margin * sigma, points.max(axis=0) + margin * sigma
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], int(grid)), np.linspace(low[1], high[1], int(grid)))
    positions = np.stack([xs.ravel(), ys.ravel()], axis=1)  # (grid * grid, 2)
    field = reconstruction_field(model, positions)  # (grid * grid, 2)
    length = np.linalg.norm(field, axis=1)  # (grid * grid,)
    step = 0.8 * min((high - low) / max(int(grid) - 1, 1))
    direction = step * field / np.maximum(length, 1e-12)[:, None]  # (grid * grid, 2), all of length `step`
    if ax is None:
        width, height = high - low
        _, ax = plt.subplots(figsize=(6.0, 0.6 + 5.0 * float(height / width)))
    ax.scatter(points[:, 0], points[:, 1], s=3, color="tab:red", alpha=0.4, label="data")
    arrows = ax.quiver(positions[:, 0], positions[:, 1], direction[:, 0], direction[:, 1], length, angles="xy",
                       scale_units="xy", scale=1.0, cmap="viridis", width=0.003, headwidth=4, headlength=4,
                       headaxislength=3.5, pivot="mid")
    ax.figure.colorbar(arrows, ax=ax, fraction=0.046, pad=0.04, label="|r(x~) - x~| (arrow colour)")
    ax.set_aspect("equal")
    ax.set_title(f"where the denoiser moves x~: r(x~) - x~ (trained with sigma = {sigma:g})", fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


__all__ = ["MANIFOLDS", "plot_vector_field", "reconstruction_field", "toy_manifold", "train_toy_denoiser"]
