"""Classical denoisers measured beside the denoising autoencoder, each with one parameter tuned on validation data (ch. 04).

``CLASSICAL_DENOISERS`` maps a name to ``(function(noisy_images, param) -> images, parameter grid)`` for
scikit-image's non-local means, total variation (Chambolle) and wavelet shrinkage. ``PCAProjection``
is the learned linear baseline: fit on clean training images, it denoises by projecting onto the top
``n`` principal components (name 'pca', with ``x_train``). ``choose_parameter`` picks the grid value with the best mean PSNR on a
validation subset (never on the test set); ``denoise`` applies a denoiser with a chosen parameter.
Images are (n, h, w) or (n, h, w, 1) arrays in [0, 1]; every denoiser returns the same shape, clipped to [0, 1].
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from course_utils.evaluation.baselines import PCABaseline
from course_utils.evaluation.metrics import per_sample_mse, psnr_from_mse

NL_MEANS_PATCH = dict(patch_size=5, patch_distance=3, fast_mode=True)  # 5x5 patches searched within 7x7 (28x28 images)
WAVELET = dict(wavelet="sym4", wavelet_levels=2, method="BayesShrink", mode="soft", rescale_sigma=False)


def _grayscale_stack(images) -> tuple[np.ndarray, tuple[int, ...]]:
    """(n, h, w) float images and the original shape, from (n, h, w) or (n, h, w, 1) arrays."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        return images[..., 0], images.shape
    if images.ndim != 3:
        raise ValueError(f"classical denoisers take grayscale images (n, h, w) or (n, h, w, 1), got shape {images.shape}")
    return images, images.shape


def _per_image(denoise_one: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Apply a function of one (h, w) image to every image of a stack; keeps the stack's shape, clips to [0, 1]."""
    def apply(images) -> np.ndarray:
        stack, shape = _grayscale_stack(images)
        out = np.stack([denoise_one(image) for image in stack]) if len(stack) else stack
        return np.clip(out, 0.0, 1.0).astype(np.float32).reshape(shape)
    return apply


def nl_means(noisy, h: float) -> np.ndarray:
    """Non-local means (``skimage.restoration.denoise_nl_means``) with filter strength ``h``, image by image (ch. 04)."""
    from skimage.restoration import denoise_nl_means

    return _per_image(lambda image: denoise_nl_means(image, h=float(h), **NL_MEANS_PATCH))(noisy)


def total_variation(noisy, weight: float) -> np.ndarray:
    """Total-variation denoising (``denoise_tv_chambolle``) with ``weight``, each image on its own (ch. 04)."""
    from skimage.restoration import denoise_tv_chambolle

    stack, shape = _grayscale_stack(noisy)
    out = denoise_tv_chambolle(np.moveaxis(stack, 0, -1), weight=float(weight), channel_axis=-1)  # (h, w, n)
    return np.clip(np.moveaxis(out, -1, 0), 0.0, 1.0).astype(np.float32).reshape(shape)


def wavelet(noisy, sigma: float) -> np.ndarray:
    """Wavelet shrinkage (``denoise_wavelet``, BayesShrink, sym4, 2 levels) for noise level ``sigma`` (ch. 04)."""
    from skimage.restoration import denoise_wavelet

    stack, shape = _grayscale_stack(noisy)
    out = denoise_wavelet(np.moveaxis(stack, 0, -1), sigma=float(sigma), channel_axis=-1, **WAVELET)  # (h, w, n)
    return np.clip(np.moveaxis(out, -1, 0), 0.0, 1.0).astype(np.float32).reshape(shape)


CLASSICAL_DENOISERS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], tuple[float, ...]]] = {
    "nl_means": (nl_means, (0.03, 0.05, 0.08, 0.12, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5)),
    "tv": (total_variation, (0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4)),
    "wavelet": (wavelet, (0.02, 0.04, 0.06, 0.09, 0.12, 0.15, 0.18, 0.22, 0.26, 0.3, 0.4)),
}


class PCAProjection:
    """Denoise by projecting onto the top ``n`` principal components of clean training images (chapter 04)."""

    def __init__(self, grid: Sequence[int] = (8, 16, 32, 48, 64, 96, 128, 192), seed: int = 0):
        self.grid = tuple(int(n) for n in grid)
        if not self.grid or min(self.grid) < 1:
            raise ValueError(f"grid must list numbers of components >= 1, got {grid}")
        self.baseline = PCABaseline(max(self.grid), seed=seed)

    def fit(self, clean_images) -> PCAProjection:
        """Fit the principal components on clean images (n, h, w[, 1]); returns self."""
        clean = np.asarray(clean_images, dtype=np.float32)
        limit = min(len(clean), int(np.prod(clean.shape[1:])))
        if max(self.grid) > limit:
            raise ValueError(f"{max(self.grid)} components need at least that many images and pixels; got {len(clean)} "
                             f"images of {int(np.prod(clean.shape[1:]))} pixels: use a smaller grid")
        self.baseline.fit(clean)
        return self

    def __call__(self, noisy, n_components: int) -> np.ndarray:
        """Project noisy images onto the first ``n_components`` components and back, clipped to [0, 1]."""
        pca = self.baseline.pca
        if pca is None:
            raise ValueError("PCAProjection is not fitted: call .fit(clean_training_images) first")
        n = int(n_components)
        if not 1 <= n <= pca.n_components_:
            raise ValueError(f"n_components must be between 1 and {pca.n_components_} (the largest of the grid), got {n}")
        noisy = np.asarray(noisy, dtype=np.float32)
        centred = noisy.reshape(len(noisy), -1) - pca.mean_  # (batch, pixels)
        basis = pca.components_[:n]  # (n, pixels)
        projected = pca.mean_ + centred @ basis.T @ basis  # (batch, pixels)
        return np.clip(projected, 0.0, 1.0).astype(np.float32).reshape(noisy.shape)


def mean_psnr(clean, denoised) -> float:
    """Mean over images of each image's PSNR in dB (images in [0, 1]), the score of every denoiser (chapter 04)."""
    return float(np.mean([psnr_from_mse(m) for m in per_sample_mse(clean, denoised)]))


def _lookup(name: str, grid: Sequence | None, x_train) -> tuple[Callable[[np.ndarray, float], np.ndarray], tuple]:
    """The denoising function of ``name`` and the grid to search (``grid``, or the default one)."""
    if name == "pca":
        if x_train is None:
            raise ValueError("'pca' learns its components from clean images: pass x_train=<clean training images>")
        projection = PCAProjection(*(() if grid is None else (grid,))).fit(x_train)
        return projection, projection.grid
    if name not in CLASSICAL_DENOISERS:
        raise ValueError(f"unknown denoiser {name!r}; choose one of {', '.join(map(repr, [*CLASSICAL_DENOISERS, 'pca']))}")
    function, default_grid = CLASSICAL_DENOISERS[name]
    return function, tuple(default_grid if grid is None else grid)


def denoise(name: str, noisy, param, x_train=None) -> np.ndarray:
    """Denoise images with ``name`` ('nl_means', 'tv', 'wavelet', or 'pca' fitted on ``x_train``) at ``param`` (ch. 04)."""
    function, _ = _lookup(name, None if name != "pca" else (int(param),), x_train)
    return function(noisy, param)


def choose_parameter(name: str, noisy_val, clean_val, grid: Sequence | None = None,
                     x_train=None) -> tuple[float, dict[float, float]]:
    """The grid value with the best mean PSNR on validation images, and every value's PSNR (chapter 04).

    ``x_train``: clean training images, needed by 'pca' (its components), ignored by the others.
    """
    function, grid = _lookup(name, grid, x_train)
    if not grid:
        raise ValueError("grid must hold at least one parameter value")
    scores = {param: mean_psnr(clean_val, function(noisy_val, param)) for param in grid}
    return max(scores, key=scores.get), scores


def mirror_averaged(model, noisy) -> np.ndarray:
    """Test-time mirroring: the mean of ``model``'s output and of its output on the mirror images, flipped back.

    (batch, h, w, c) -> (batch, h, w, c); it helps only where the data looks the same mirrored (chapter 04).
    """
    noisy = np.asarray(noisy)
    plain = np.asarray(model.predict(noisy, verbose=0))  # (batch, h, w, c)
    mirrored = np.asarray(model.predict(noisy[:, :, ::-1], verbose=0))[:, :, ::-1]  # left-right flipped back
    return (plain + mirrored) / 2


__all__ = ["CLASSICAL_DENOISERS", "PCAProjection", "choose_parameter", "denoise", "mean_psnr", "mirror_averaged",
           "nl_means", "total_variation", "wavelet"]
