"""Chapter 00 exercises: preparing images for a network, and what a bottleneck costs."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from course_utils.exercises.core import Exercise, expect


def _ref_prepare_images():
    from course_utils.data import prepare_images

    return prepare_images


def _public_prepare_images(fn) -> None:
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


def _judge_prepare_images(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    images = case["images"]
    out = outputs["output"]
    if out.shape != images.shape + (1,):
        return f"shape {out.shape} for input {images.shape}"
    if out.dtype != np.float32:
        return f"dtype {out.dtype}"
    if not np.allclose(out[..., 0], images / 255.0, atol=1e-6):
        return "values are not the pixels scaled into [0, 1]"
    return None


def _ref_compression_ratio():
    from course_utils.data import compression_ratio

    return compression_ratio


def _public_compression_ratio(fn) -> None:
    value = fn((4, 4, 1), 2)
    expect(isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool),
           f"the ratio should be a number, got {type(value).__name__}")
    expect(np.isfinite(float(value)) and float(value) > 0, f"the ratio should be positive, got {value!r}")
    expect(not np.isclose(float(value), 0.125), "the ratio is upside down: input values per code value, not the reverse")
    expect(np.isclose(float(value), 8.0), "for a 4x4x1 input and a 2-number code the ratio is wrong; "
           "count every value of the input (height x width x channels)")
    expect(np.isclose(float(fn((2, 3, 3), 6)), 3.0), "the ratio is wrong when the input has 3 channels")


def _cases_compression_ratio(rng: np.random.Generator) -> list[dict[str, Any]]:
    shapes = [(28, 28, 1), (32, 32, 3), (int(rng.integers(5, 40)), int(rng.integers(5, 40)), 2)]
    return [{"input_shape": shape, "code_size": int(rng.integers(1, 100))} for shape in shapes]


def _judge_compression_ratio(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    expected = float(np.prod(case["input_shape"])) / case["code_size"]
    out = outputs["output"]
    if out.shape != () or not np.issubdtype(out.dtype, np.number) or out.dtype == np.bool_:
        return f"returned an array of shape {out.shape} and dtype {out.dtype}, not a number"
    return None if np.isclose(float(out), expected, rtol=1e-9) else "wrong ratio"


EXERCISES = [
    Exercise(
        id="00.1", name="prepare_images", title="Scale uint8 images into float32 [0, 1] with a channel axis",
        points=2, reference=_ref_prepare_images, public=_public_prepare_images,
        hidden_cases=_cases_prepare_images, judge=_judge_prepare_images,
        hint="uint8 pixels run from 0 to 255; add the channel axis with x[..., None] or np.expand_dims.",
    ),
    Exercise(
        id="00.2", name="compression_ratio", title="Compression ratio of an image bottleneck",
        points=1, reference=_ref_compression_ratio, public=_public_compression_ratio,
        hidden_cases=_cases_compression_ratio, judge=_judge_compression_ratio,
        hint="number of values in the input divided by the number of values in the code",
    ),
]
