"""Super-resolution on whole held-out photographs: bicubic against a model, by PSNR and SSIM (chapter 03)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from course_utils.data.datasets import load_skimage_image
from course_utils.data.resolution import HELD_OUT_PHOTOS, crop_to_multiple, downscale
from course_utils.evaluation.baselines import bicubic_upsample
from course_utils.evaluation.metrics import image_quality


def super_resolve_photo(model: keras.Model | None, name: str, scale: int) -> dict[str, np.ndarray]:
    """Downscale a grayscale photo, upsample it by bicubic and by ``model``: (h, w) arrays in [0, 1]."""
    high_res = crop_to_multiple(load_skimage_image(name, gray=True), scale)[np.newaxis]  # (1, H, W, 1)
    low_res = downscale(high_res, scale)  # (1, H/s, W/s, 1)
    images = {"high_res": high_res[0, ..., 0], "low_res": low_res[0, ..., 0],
              "bicubic": np.clip(bicubic_upsample(low_res, scale), 0, 1)[0, ..., 0]}
    if model is not None:  # eager call: no retracing for each photo size
        images["model"] = np.clip(np.asarray(model(low_res, training=False)), 0.0, 1.0)[0, ..., 0]
    return images


def photo_quality(images: dict[str, np.ndarray], border: int = 0) -> dict[str, dict[str, float]]:
    """PSNR and SSIM against the original of each upsampled image of ``super_resolve_photo``'s result."""
    target = images["high_res"][None, ..., None]  # (1, H, W, 1)
    return {method: image_quality(images[method][None, ..., None], target, border=border)
            for method in ("bicubic", "model") if method in images}


def evaluate_sr(model: keras.Model | None, scale: int, names: Sequence[str] = HELD_OUT_PHOTOS) -> list[dict[str, Any]]:
    """PSNR/SSIM of bicubic and of ``model`` on each photo (a border of ``scale`` pixels ignored), a row each."""
    rows = []
    for name in names:
        row: dict[str, Any] = {"image": name, "scale": scale}
        for method, scores in photo_quality(super_resolve_photo(model, name, scale), border=scale).items():
            row.update({f"{method}_psnr": scores["psnr"], f"{method}_ssim": scores["ssim"]})
        rows.append(row)
    return rows
