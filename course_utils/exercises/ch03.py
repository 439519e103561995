"""Chapter 03 exercises: transposed-convolution sizes, a 1-D transposed convolution, PSNR, the seed's 64 -> ? layers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, imported, is_integer, is_number
from course_utils.exercises.judges import array_judge, integer_judge, number_judge

# --- 03.1 output size of a transposed convolution --------------------------------------------------

_conv_transpose_output_size = imported("course_utils.shapes", "conv_transpose_output_size")


def _public_conv_transpose_output_size(fn: Callable[..., Any]) -> None:
    value = fn(5, 3, 2, "valid")
    expect(is_integer(value), f"the size should be an integer, got {type(value).__name__}")
    expect(value != 5 * 2, "for 'valid' padding the kernel sticks out past the last stride: the size is not input * stride")
    expect(value == 11, "the 'valid' size is wrong for input 5, kernel 3, stride 2; count where the last stamp ends")
    expect(fn(4, 1, 3, "valid") == 12, "'valid' with a kernel smaller than the stride is wrong: the output is never "
           "shorter than input * stride")
    expect(fn(7, 4, 2, "same") == 14, "the 'same' size without output_padding is wrong for input 7, stride 2")
    expect(fn(7, 3, 2, "same", 1) == 14 and fn(7, 3, 2, "same", 0) == 13,
           "'same' with output_padding set is wrong; Keras then uses (n - 1) * stride + (kernel mod 2) + output_padding")
    expect(fn(5, 3, 2, "valid", 1) == 12, "'valid' with output_padding set is wrong: the padding adds to the full length")


def _cases_conv_transpose_output_size(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for padding in ("valid", "same"):
        for _ in range(6):
            stride = int(rng.integers(1, 5))
            output_padding = None if rng.random() < 0.5 else int(rng.integers(0, stride))
            cases.append({"input_size": int(rng.integers(1, 70)), "kernel_size": int(rng.integers(1, 8)),
                          "stride": stride, "padding": padding, "output_padding": output_padding})
    return cases


CONV_TRANSPOSE_OUTPUT_SIZE = Exercise(
    id="03.1", name="conv_transpose_output_size", title="Output size of a transposed convolution", points=2,
    reference=_conv_transpose_output_size, public=_public_conv_transpose_output_size,
    hidden_cases=_cases_conv_transpose_output_size,
    judge=integer_judge(lambda **case: _conv_transpose_output_size()(**case), "wrong output size"),
    hint="handle 'valid' and 'same' separately, and output_padding=None separately from a given value.",
)

# --- 03.2 a 1-D transposed convolution -------------------------------------------------------------

_conv_transpose1d = imported("course_utils.from_scratch.transposed_conv", "conv_transpose1d")


def _public_conv_transpose1d(fn: Callable[..., Any]) -> None:
    out = np.asarray(fn(np.array([1.0, 2.0]), np.array([1.0, 10.0, 100.0]), 2))
    expect(out.ndim == 1, f"the result should be a 1-D signal, got shape {out.shape}")
    expect(out.shape == (5,), f"for 2 samples, a 3-tap kernel and stride 2 the length is {out.shape[0]}; "
           "it should be (n - 1) * stride + kernel length")
    expect(not np.allclose(out, [100, 10, 201, 20, 2]), "the kernel is reversed: stamp it as it is, do not flip it")
    expect(np.allclose(out, [1, 10, 102, 20, 200]), "the values are wrong; where stamps overlap they must add up")
    single = np.asarray(fn(np.array([3.0]), np.array([1.0, -1.0]), 4))
    expect(single.shape == (2,) and np.allclose(single, [3, -3]), "a single sample should give value * kernel")
    ones = np.asarray(fn(np.ones(4), np.ones(1), 3))
    expect(ones.shape == (10,) and np.allclose(ones, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]),
           "with stride 3 and a 1-tap kernel, inputs should land 3 apart with zeros between")


def _cases_conv_transpose1d(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x": rng.normal(size=int(rng.integers(1, 12))), "kernel": rng.normal(size=int(rng.integers(1, 7))),
             "stride": int(rng.integers(1, 5))} for _ in range(6)]


CONV_TRANSPOSE1D = Exercise(
    id="03.2", name="conv_transpose1d", title="A 1-D transposed convolution by stamping kernels", points=3,
    reference=_conv_transpose1d, public=_public_conv_transpose1d, hidden_cases=_cases_conv_transpose1d,
    judge=array_judge(lambda x, kernel, stride: _conv_transpose1d()(x, kernel, stride), "wrong values", atol=1e-8,
                      shape_reason="shape {shape} for input length {x.size}"),
    hint="start from zeros of the full length and add x[i] * kernel at offset i * stride.",
)

# --- 03.3 PSNR from MSE ----------------------------------------------------------------------------


def _public_psnr_from_mse(fn: Callable[..., Any]) -> None:
    value = fn(0.01, 1.0)
    expect(is_number(value), f"PSNR should be a number, got {type(value).__name__}")
    expect(not np.isclose(float(value), -20.0), "the sign is flipped: a smaller error must give a larger PSNR")
    expect(not np.isclose(float(value), 2.0), "PSNR is in decibels: 10 * log10 of a ratio, not log10 alone")
    expect(not np.isclose(float(value), 40.0), "PSNR uses the squared peak over the MSE, and 10 (not 20) * log10 of it")
    expect(np.isclose(float(value), 20.0), "PSNR for MSE 0.01 and peak 1 is wrong")
    expect(np.isclose(float(fn(1.0, 255.0)), 10 * np.log10(255.0 ** 2)),
           "the result is wrong for 8-bit images (peak 255): square the peak value")


def _cases_psnr_from_mse(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"mse": float(10 ** rng.uniform(-5, 0)), "max_val": float(rng.choice([1.0, 2.0, 255.0]))} for _ in range(5)]


PSNR_FROM_MSE = Exercise(
    id="03.3", name="psnr_from_mse", title="PSNR in decibels from a mean squared error", points=1,
    reference=imported("course_utils.evaluation.metrics", "psnr_from_mse"), public=_public_psnr_from_mse,
    hidden_cases=_cases_psnr_from_mse,
    judge=number_judge(lambda mse, max_val: 10 * np.log10(max_val ** 2 / mse), "wrong PSNR", rtol=1e-6),
    hint="PSNR = 10 * log10(peak**2 / MSE).",
)

# --- 03.4 how many stride-2 layers? ----------------------------------------------------------------


def _public_stride2_layers_needed(fn: Callable[..., Any]) -> None:
    value = fn(64, 128)
    expect(is_integer(value), f"the number of layers should be an integer, got {type(value).__name__}")
    expect(value != 2, "two stride-2 'same' layers take 64 to 256, not to 128")
    expect(value == 1, "the count for 64 -> 128 is wrong")
    expect(fn(64, 256) == 2, "the count for 64 -> 256 is wrong; each layer doubles the size")
    expect(fn(28, 28) == 0, "no layer is needed when the sizes are already equal")
    expect(fn(7, 224) == 5, "the count for 7 -> 224 is wrong")


def _cases_stride2_layers_needed(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(5):
        size = int(rng.integers(1, 50))
        cases.append({"input_size": size, "output_size": size * 2 ** int(rng.integers(0, 7))})
    return cases


STRIDE2_LAYERS_NEEDED = Exercise(
    id="03.4", name="stride2_layers_needed", title="How many stride-2 'same' layers take one size to another",
    points=1, reference=imported("course_utils.shapes", "stride2_layers_needed"),
    public=_public_stride2_layers_needed, hidden_cases=_cases_stride2_layers_needed,
    judge=integer_judge(lambda input_size, output_size: int(np.log2(output_size // input_size)),
                        "wrong number of layers"),
    hint="each stride-2 'same' transposed convolution doubles the size; count doublings.",
)

EXERCISES = [CONV_TRANSPOSE_OUTPUT_SIZE, CONV_TRANSPOSE1D, PSNR_FROM_MSE, STRIDE2_LAYERS_NEEDED]
