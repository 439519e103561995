"""Chapter 00 exercises: preparing images for a network, and what a bottleneck costs."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises.core import CheckFailed, Exercise, expect, imported
from course_utils.exercises.judges import array_judge, number_judge

# --- 00.1 prepare_images: uint8 (n, h, w) -> float32 (n, h, w, 1) in [0, 1] ----------------------


def _public_prepare_images(fn: Callable[..., Any]) -> None:
    raw = np.array([[[0, 128], [255, 64]]], dtype=np.uint8)  # (1, 2, 2)
    out = fn(raw)
    expect(hasattr(out, "shape") and hasattr(out, "dtype"),
           f"for a uint8 array of shape (1, 2, 2) the result should be an array, got {type(out).__name__}")
    expect(tuple(out.shape) == (1, 2, 2, 1),
           f"for input shape (1, 2, 2) the result has shape {tuple(out.shape)}; it needs a trailing channel axis")
    values = np.asarray(out)
    expect(values.dtype == np.float32, f"the result has dtype {values.dtype}; networks here expect float32")
    values = values.astype(np.float64)
    expect(values.min() >= 0.0 and values.max() <= 1.0,
           f"values range over [{values.min():.3g}, {values.max():.3g}]; pixels must be scaled into [0, 1]")
    expect(np.isclose(values.max(), 1.0) and np.isclose(values.min(), 0.0),
           "the brightest possible pixel should become 1.0 and the darkest 0.0")
    expect(np.all(np.diff(values[0, :, :, 0].ravel()[[0, 3, 1, 2]]) > 0),
           "the order of pixel intensities changed; scaling must be monotone")
    expect(raw[0, 1, 0] == 255, "the function modified its input array in place; return a new array")
    batch = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)  # like raw_train[:5]
    prepared = fn(batch)
    expect(tuple(prepared.shape) == (5, 28, 28, 1), f"a batch of five 28x28 images gives shape "
           f"{tuple(prepared.shape)}, not (5, 28, 28, 1)")
    expect(np.allclose(np.asarray(prepared), batch[..., None] / 255.0, atol=1e-6),
           "wrong values for a batch of five 28x28 images")


def _cases_prepare_images(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"images": rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)} for n, h, w in [(3, 28, 28), (2, 5, 7)]]


PREPARE_IMAGES = Exercise(
    id="00.1", name="prepare_images", title="Scale uint8 images into float32 [0, 1] with a channel axis", points=2,
    reference=imported("course_utils.data", "prepare_images"),
    public=_public_prepare_images, hidden_cases=_cases_prepare_images,
    judge=array_judge(lambda images: images[..., None] / 255.0, "values are not the pixels scaled into [0, 1]",
                      atol=1e-6, dtype=np.float32, shape_reason="shape {shape} for input {images.shape}"),
    hint="a uint8 pixel can take 256 values; the network wants the same picture as float32 fractions of the "
         "brightest value, and one more axis at the end for the (single) colour channel.",
)

# --- 00.2 compression_ratio: input values per code value -----------------------------------------


def _public_compression_ratio(fn: Callable[..., Any]) -> None:
    value = fn((4, 4, 1), 2)
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - an object NumPy cannot read is not a number
        array = np.asarray(None)
    expect(array.ndim == 0 and array.dtype.kind in "iuf",
           f"the ratio should be one number, got {type(value).__name__}"
           + (f" of shape {array.shape}" if array.ndim else ""))
    try:
        format(value, "6.1f")  # the table below prints it this way
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"the ratio cannot be printed with the format '6.1f', as the table below does ({error}); "
                          "return a plain number") from None
    expect(np.isfinite(float(array)) and float(array) > 0, f"the ratio should be positive, got {value!r}")
    expect(not np.isclose(float(array), 0.125), "the ratio is upside down: input values per code value, not the "
           "reverse")
    expect(np.isclose(float(array), 8.0), "for a 4x4x1 input and a 2-number code the ratio is wrong; "
           "count every value of the input (height x width x channels)")
    expect(np.isclose(float(np.asarray(fn((2, 3, 3), 6))), 3.0), "the ratio is wrong when the input has 3 channels")
    expect(np.isclose(float(np.asarray(fn((28, 28, 1), 32))), 24.5), "the ratio is wrong for a 28x28x1 image and a "
           "32-number code: is an integer division (//) rounding it down?")


def _cases_compression_ratio(rng: np.random.Generator) -> list[dict[str, Any]]:
    shapes = [(28, 28, 1), (32, 32, 3), (int(rng.integers(5, 40)), int(rng.integers(5, 40)), 2)]
    return [{"input_shape": shape, "code_size": int(rng.integers(1, 100))} for shape in shapes]


COMPRESSION_RATIO = Exercise(
    id="00.2", name="compression_ratio", title="Compression ratio of an image bottleneck", points=1,
    reference=imported("course_utils.shapes", "compression_ratio"),
    public=_public_compression_ratio, hidden_cases=_cases_compression_ratio,
    judge=number_judge(lambda input_shape, code_size: float(np.prod(input_shape)) / code_size, "wrong ratio",
                       rtol=1e-9),
    hint="count how many numbers describe one input (every pixel of every channel) and how many describe its "
         "code; the ratio says how many input numbers each code number stands for.",
)

EXERCISES = [PREPARE_IMAGES, COMPRESSION_RATIO]
