"""2-D Gaussian mixtures with well-separated modes, the toy data of the GAN chapter (chapter 08).

``gaussian_ring`` puts the modes on a circle (Metz et al. 2017), ``gaussian_grid`` on a square grid
(Srivastava et al. 2017); both return the points and the mode centres, so that
``course_utils.evaluation.generative.mode_coverage`` can count which modes a generator reaches.
"""
from __future__ import annotations

import numpy as np


def _check(n: int, n_modes: int, std: float) -> None:
    if int(n) < 1 or int(n_modes) < 1 or std <= 0:
        raise ValueError(f"need n >= 1 points, at least one mode and std > 0, got n={n}, modes={n_modes}, std={std}")


def _sample_modes(centres: np.ndarray, n: int, std: float, seed: int) -> np.ndarray:
    """n points, each from a uniformly chosen mode plus isotropic Gaussian noise: (n, 2) float32."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(centres), int(n))  # (n,)
    return (centres[which] + std * rng.standard_normal((int(n), 2))).astype(np.float32)


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The centres of ``n_modes`` modes evenly spaced on a circle: (n_modes, 2) float32."""
    angle = 2 * np.pi * np.arange(int(n_modes)) / int(n_modes)
    return (radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)).astype(np.float32)


def grid_centres(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    """The centres of a side x side grid of modes, centred on the origin: (side**2, 2) float32."""
    axis = spacing * (np.arange(int(side)) - (int(side) - 1) / 2)
    return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2).astype(np.float32)


def gaussian_ring(n: int = 10_000, n_modes: int = 8, radius: float = 2.0, std: float = 0.05,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points from ``n_modes`` equal Gaussians on a circle, and the centres: (n, 2), (n_modes, 2) float32."""
    _check(n, n_modes, std)
    centres = ring_centres(n_modes, radius)
    return _sample_modes(centres, n, std, seed), centres


def gaussian_grid(n: int = 10_000, side: int = 5, spacing: float = 2.0, std: float = 0.05,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points from side x side equal Gaussians on a grid, and the centres: (n, 2), (side**2, 2) float32."""
    _check(n, int(side) ** 2, std)
    centres = grid_centres(side, spacing)
    return _sample_modes(centres, n, std, seed), centres
