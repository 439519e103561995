"""Chapter 00 exercises: preparing images for a network, and what a bottleneck costs."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, imported, is_number
from course_utils.exercises.judges import array_judge, number_judge

# --- 00.1 prepare_images: uint8 (n, h, w) -> float32 (n, h, w, 1) in [0, 1] ----------------------


def _public_prepare_images(fn: Callable[..., Any]) -> None:
    raw = np.array([[[0, 128], [255, 64]]], dtype=np.uint8)  # (1, 2, 2)
    out = fn(raw)
    expect(hasattr(out, "shape") and hasattr(out, "dtype"),
           f"for a uint8 array of shape (1, 2, 2) the result should be an array, got {type(out).__name__}")
    expect(tuple(out.shape) == (1, 2, 2, 1),
           f"for input shape (1, 2, 2) the result has shape {tuple(out.shape)}; it needs a trailing channel axis")
    expect(out.dtype == np.float32, f"the result has dtype {out.dtype}; networks here expect float32")
    values = np.asarray(out, dtype=np.float64)
    expect(values.min() >= 0.0 and values.max() <= 1.0,
           f"values range over [{values.min():.3g}, {values.max():.3g}]; pixels must be scaled into [0, 1]")
    expect(np.isclose(values.max(), 1.0) and np.isclose(values.min(), 0.0),
           "255 should map to 1.0 and 0 to 0.0: divide by the largest possible uint8 value")
    expect(np.all(np.diff(values[0, :, :, 0].ravel()[[0, 3, 1, 2]]) > 0),
           "the order of pixel intensities changed; scaling must be monotone")
    expect(raw[0, 1, 0] == 255, "the function modified its input array in place; return a new array")


def _cases_prepare_images(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"images": rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)} for n, h, w in [(3, 28, 28), (2, 5, 7)]]


PREPARE_IMAGES = Exercise(
    id="00.1", name="prepare_images", title="Scale uint8 images into float32 [0, 1] with a channel axis", points=2,
    reference=imported("course_utils.data", "prepare_images"),
    public=_public_prepare_images, hidden_cases=_cases_prepare_images,
    judge=array_judge(lambda images: images[..., None] / 255.0, "values are not the pixels scaled into [0, 1]",
                      atol=1e-6, dtype=np.float32, shape_reason="shape {shape} for input {images.shape}"),
    hint="uint8 pixels run from 0 to 255; add the channel axis with x[..., None] or np.expand_dims.",
)

# --- 00.2 compression_ratio: input values per code value -----------------------------------------


def _public_compression_ratio(fn: Callable[..., Any]) -> None:
    value = fn((4, 4, 1), 2)
    expect(is_number(value), f"the ratio should be a number, got {type(value).__name__}")
    expect(np.isfinite(float(value)) and float(value) > 0, f"the ratio should be positive, got {value!r}")
    expect(not np.isclose(float(value), 0.125), "the ratio is upside down: input values per code value, not the reverse")
    expect(np.isclose(float(value), 8.0), "for a 4x4x1 input and a 2-number code the ratio is wrong; "
           "count every value of the input (height x width x channels)")
    expect(np.isclose(float(fn((2, 3, 3), 6)), 3.0), "the ratio is wrong when the input has 3 channels")


def _cases_compression_ratio(rng: np.random.Generator) -> list[dict[str, Any]]:
    shapes = [(28, 28, 1), (32, 32, 3), (int(rng.integers(5, 40)), int(rng.integers(5, 40)), 2)]
    return [{"input_shape": shape, "code_size": int(rng.integers(1, 100))} for shape in shapes]


COMPRESSION_RATIO = Exercise(
    id="00.2", name="compression_ratio", title="Compression ratio of an image bottleneck", points=1,
    reference=imported("course_utils.shapes", "compression_ratio"),
    public=_public_compression_ratio, hidden_cases=_cases_compression_ratio,
    judge=number_judge(lambda input_shape, code_size: float(np.prod(input_shape)) / code_size, "wrong ratio",
                       rtol=1e-9),
    hint="number of values in the input divided by the number of values in the code",
)

EXERCISES = [PREPARE_IMAGES, COMPRESSION_RATIO]
