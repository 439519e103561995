"""Low/high-resolution image pairs for super-resolution, from scikit-image's photographs (chapter 03).

``low_res`` and ``high_res`` name the two resolutions throughout (never ``lr``, which reads as a
learning rate). A fixed split keeps four photographs out of every training set.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_utils.data.datasets import NATURAL_PHOTOS, load_skimage_image
from course_utils.data.pipeline import extract_patches

HELD_OUT_PHOTOS = ("camera", "chelsea", "coffee", "rocket")
TRAIN_PHOTOS = tuple(name for name in NATURAL_PHOTOS if name not in HELD_OUT_PHOTOS)


def downscale(high_res: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic downscaling of (batch, H, W, c) by an integer factor; H, W multiples of it."""
    import tensorflow as tf

    high_res = np.asarray(high_res, dtype=np.float32)
    if high_res.shape[1] % scale or high_res.shape[2] % scale:
        raise ValueError(f"height and width {high_res.shape[1:3]} must be multiples of the scale {scale}")
    size = (high_res.shape[1] // scale, high_res.shape[2] // scale)
    low_res = tf.image.resize(high_res, size, method="bicubic", antialias=True).numpy()  # (batch, H/s, W/s, c)
    return np.clip(low_res, 0.0, 1.0)


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop an (h, w, c) image at the bottom/right so both sides are multiples of ``scale``."""
    h, w = image.shape[0] // scale * scale, image.shape[1] // scale * scale
    return image[:h, :w]


def low_high_pairs(high_res: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn high-resolution patches (n, H, W, c) into (low-res input, high-res target) training pairs."""
    high_res = np.asarray(high_res, dtype=np.float32)
    high_res = high_res[:, :high_res.shape[1] // scale * scale, :high_res.shape[2] // scale * scale]  # (n, H', W', c)
    return downscale(high_res, scale), high_res


def sr_patch_dataset(scale: int, count: int, low_res_size: int = 24, names: Sequence[str] = TRAIN_PHOTOS,
                     seed: int = 0, indices: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random grayscale high-res patches of ``low_res_size * scale`` pixels from ``names`` and their low-res inputs
    (with ``indices``, only those pairs of the same draw)."""
    overlap = set(names) & set(HELD_OUT_PHOTOS)
    if overlap:
        raise ValueError(f"{sorted(overlap)} are held out for testing; train on TRAIN_PHOTOS only")
    images = [load_skimage_image(name, gray=True) for name in names]  # each (h, w, 1)
    high_res = extract_patches(images, low_res_size * scale, count, seed=seed, indices=indices)  # (n, s*p, s*p, 1)
    return low_high_pairs(high_res, scale)
