"""Chapter 02 exercises: conv output sizes, conv parameter counts, a decoder that returns 28x28, storage ratio."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, is_integer, is_number
from course_utils.exercises.judges import integer_judge, number_judge

# --- 02.1 conv_output_size -------------------------------------------------------------------------


def reference_conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Reference for 02.1: spatial size after a Keras Conv2D/pooling layer ('valid' or 'same' padding)."""
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


def _public_conv_output_size(fn: Callable[..., Any]) -> None:
    value = fn(28, 3, 1, "same")
    expect(is_integer(value), f"a size is a whole number; got {type(value).__name__}")
    expect(value == 28, "with padding='same' and stride 1 the size should not change")
    expect(fn(28, 3, 1, "valid") == 26, "with padding='valid' a 3-wide kernel cannot be centred on the border "
           "pixels; the size shrinks by kernel - 1")
    expect(fn(28, 2, 2, "same") == 14, "a stride of 2 with padding='same' should halve an even size")
    expect(fn(7, 2, 2, "same") == 4, "with padding='same' an odd size divided by the stride rounds up, not down")
    expect(fn(28, 5, 2, "valid") == 12, "with padding='valid' and stride > 1 the count of kernel positions is wrong; "
           "count how many starting positions fit, stepping by the stride")
    expect(fn(7, 3, 2, "valid") == 3, "wrong for size 7, kernel 3, stride 2, padding='valid'")


def _cases_conv_output_size(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(6):
        kernel = int(rng.integers(1, 6))
        cases.append({"size": int(rng.integers(kernel, 64)), "kernel": kernel, "stride": int(rng.integers(1, 4)),
                      "padding": str(rng.choice(["valid", "same"]))})
    return cases


CONV_OUTPUT_SIZE = Exercise(
    id="02.1", name="conv_output_size", title="Output size of a convolution or pooling layer", points=2,
    reference=lambda: reference_conv_output_size, public=_public_conv_output_size,
    hidden_cases=_cases_conv_output_size,
    judge=integer_judge(reference_conv_output_size, "wrong size"),
    hint="'same' pads so that only the stride shrinks the map; 'valid' counts the positions where the "
         "whole kernel fits.",
)

# --- 02.2 conv_param_count -------------------------------------------------------------------------


def reference_conv_param_count(kernel_size: int, in_channels: int, out_channels: int, use_bias: bool = True) -> int:
    """Reference for 02.2: weights of a Conv2D layer, k*k*in*out plus one bias per output channel."""
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if use_bias else 0)


def _public_conv_param_count(fn: Callable[..., Any]) -> None:
    value = fn(3, 1, 32)
    expect(is_integer(value), f"a parameter count is a whole number; got {type(value).__name__}")
    expect(value != 9 * 32, "the biases are missing: one per output channel")
    expect(value != 9 * 32 + 1, "there is one bias per output channel, not one per layer")
    expect(value == 320, "wrong count for a 3x3 kernel, 1 input channel, 32 filters")
    expect(fn(3, 32, 64) != 9 * 64 + 64, "each filter sees every input channel: the input channels multiply the count")
    expect(fn(3, 32, 64) == 18496, "wrong count for a 3x3 kernel, 32 input channels, 64 filters")
    expect(fn(5, 2, 4, use_bias=False) == 200, "with use_bias=False there are no bias terms")


def _cases_conv_param_count(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"kernel_size": int(rng.integers(1, 8)), "in_channels": int(rng.integers(1, 130)),
             "out_channels": int(rng.integers(1, 130)), "use_bias": bool(b)} for b in (True, False, True)]


CONV_PARAM_COUNT = Exercise(
    id="02.2", name="conv_param_count", title="Parameters of a Conv2D layer", points=1,
    reference=lambda: reference_conv_param_count, public=_public_conv_param_count,
    hidden_cases=_cases_conv_param_count, judge=integer_judge(reference_conv_param_count, "wrong count"),
    hint="each of the out_channels filters is a k x k x in_channels block of weights, plus a bias.",
)

# --- 02.3 build_decoder: (batch, latent_dim) -> (batch, 28, 28, 1) -------------------------------


def reference_build_decoder(latent_dim: int) -> Any:
    """Reference for 02.3: a decoder from a latent_dim code to a (28, 28, 1) image in [0, 1]."""
    import keras

    return keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(7 * 7 * 32, activation="relu"),  # (batch, 1568)
        keras.layers.Reshape((7, 7, 32)),  # (batch, 7, 7, 32)
        keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),  # (batch, 14, 14, 32)
        keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu"),  # (batch, 28, 28, 16)
        keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid"),  # (batch, 28, 28, 1)
    ], name="decoder")


def _probe_build_decoder(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    model = fn(int(case["latent_dim"]))
    codes = np.random.default_rng(int(case["seed"])).normal(size=(int(case["batch"]), int(case["latent_dim"])))
    out = np.asarray(model(codes.astype(np.float32)), dtype=np.float64)
    return {"shape": np.asarray(out.shape), "min": np.asarray(out.min()), "max": np.asarray(out.max()),
            "params": np.asarray(model.count_params())}


def _decoded_shape(fn: Callable[..., Any], latent_dim: int, batch: int, seed: int) -> tuple[int, ...]:
    """The shape of the images the learner's decoder makes from ``batch`` random codes."""
    probed = _probe_build_decoder(fn, {"latent_dim": latent_dim, "batch": batch, "seed": seed})
    return tuple(int(s) for s in probed["shape"])


def _wrong_size_message(shape: tuple[int, ...]) -> str:
    """Why a decoder's images are not 28x28: too few upsamplings, or doubling from an odd size."""
    if shape[1] < 28:
        return (f"the decoder returns {shape[1]}x{shape[2]} images, smaller than 28x28: it upsamples too "
                "few times or a 'valid' layer shrinks the map")
    return (f"the decoder returns {shape[1]}x{shape[2]} images, larger than 28x28: doubling from an "
            "odd size overshoots (4 -> 8 -> 16 -> 32); start from 7x7 or use output_padding/cropping")


def _public_build_decoder(fn: Callable[..., Any]) -> None:
    import keras

    model = fn(8)
    expect(isinstance(model, keras.Model), f"build_decoder should return a Keras model, got {type(model).__name__}")
    out = _probe_build_decoder(fn, {"latent_dim": 8, "batch": 3, "seed": 0})
    shape = tuple(int(s) for s in out["shape"])
    expect(len(shape) == 4, f"the output has shape {shape}; images need 4 axes (batch, height, width, channels)")
    expect(shape[0] == 3, f"3 codes in gave {shape[0]} images out")
    expect(shape[1:3] == (28, 28), _wrong_size_message(shape))
    expect(shape[3] == 1, f"the output has {shape[3]} channels; a grey-scale image has 1")
    expect(float(out["min"]) >= 0.0 and float(out["max"]) <= 1.0,
           "pixel values fall outside [0, 1]: end with a sigmoid activation")
    expect(_decoded_shape(fn, latent_dim=3, batch=2, seed=1) == (2, 28, 28, 1),
           "the decoder only works for latent_dim=8; use the argument for the input size")


def _cases_build_decoder(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"latent_dim": int(d), "batch": int(rng.integers(1, 5)), "seed": int(rng.integers(0, 1000))}
            for d in (2, int(rng.integers(10, 64)))]


def _judge_build_decoder(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    shape = tuple(int(s) for s in outputs["shape"])
    if shape != (case["batch"], 28, 28, 1):
        return f"output shape {shape}"
    if float(outputs["min"]) < 0 or float(outputs["max"]) > 1:
        return "values outside [0, 1]"
    return None


BUILD_DECODER = Exercise(
    id="02.3", name="build_decoder", title="A convolutional decoder that returns exactly 28x28x1", points=3,
    reference=lambda: reference_build_decoder, public=_public_build_decoder, hidden_cases=_cases_build_decoder,
    judge=_judge_build_decoder, probe=_probe_build_decoder,
    hint="Dense to 7*7*C, Reshape to (7, 7, C), two stride-2 transposed convolutions (7 -> 14 -> 28), "
         "then a 1-filter sigmoid convolution.",
)

# --- 02.4 storage_ratio ----------------------------------------------------------------------------


def reference_storage_ratio(input_shape: Sequence[int], code_shape: Sequence[int], input_bits: int = 8,
                            code_bits: int = 32) -> float:
    """Reference for 02.4: bits needed for the input divided by bits needed for its code."""
    return float(np.prod(input_shape) * input_bits) / float(np.prod(code_shape) * code_bits)


def _public_storage_ratio(fn: Callable[..., Any]) -> None:
    value = fn((28, 28, 1), (32,))
    expect(is_number(value), f"the ratio should be a number, got {type(value).__name__}")
    value = float(value)
    expect(not np.isclose(value, 24.5), "the ratio counts values, not bits: an 8-bit pixel is smaller than a "
           "32-bit float code value")
    expect(not np.isclose(value, 1 / 6.125), "the ratio is upside down: input bits per code bit")
    expect(np.isclose(value, 6.125), "wrong ratio for a 28x28x1 uint8 image and a 32-number float32 code")
    expect(np.isclose(float(fn((28, 28, 1), (4, 4, 8), 8, 16)), 784 * 8 / (128 * 16)),
           "wrong ratio for a feature-map code (4, 4, 8) stored in 16 bits: multiply every axis of both shapes")


def _cases_storage_ratio(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"input_shape": (28, 28, 1), "code_shape": (int(rng.integers(2, 100)),), "input_bits": 8, "code_bits": 32},
            {"input_shape": (32, 32, 3), "code_shape": (4, 4, int(rng.integers(1, 16))), "input_bits": 8,
             "code_bits": int(rng.choice([8, 16]))}]


STORAGE_RATIO = Exercise(
    id="02.4", name="storage_ratio", title="Storage ratio of a code, counting bits", points=1,
    reference=lambda: reference_storage_ratio, public=_public_storage_ratio, hidden_cases=_cases_storage_ratio,
    judge=number_judge(reference_storage_ratio, "wrong ratio", rtol=1e-9),
    hint="bits = number of values x bits per value, for the input and for the code.",
)

EXERCISES = [CONV_OUTPUT_SIZE, CONV_PARAM_COUNT, BUILD_DECODER, STORAGE_RATIO]
