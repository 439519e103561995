"""Chapter 02 exercises: conv output sizes, a decoder designed and trained under a parameter budget, storage ratio."""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, is_integer, is_number
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.judges import integer_judge, number_judge

# --- 02.1 conv_output_size -------------------------------------------------------------------------


def reference_conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Reference for 02.1: spatial size after a Keras Conv2D/pooling layer ('valid' or 'same' padding)."""
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


def _public_conv_output_size(fn: Callable[..., Any]) -> None:
    value = fn(28, 3, 1, "same")
    expect(is_integer(value), f"a size is a whole number (the notebook feeds it back in as the next layer's "
           f"input size); got {type(value).__name__}")
    expect(value == 28, "with padding='same' and stride 1 the size should not change")
    expect(fn(28, 3, 1, "valid") == 26, "with padding='valid' a 3-wide kernel cannot be centred on the border "
           "pixels; the size shrinks by kernel - 1")
    expect(fn(28, 2, 2, "same") == 14, "a stride of 2 with padding='same' should halve an even size")
    expect(fn(7, 2, 2, "same") == 4, "with padding='same' an odd size divided by the stride rounds up, not down")
    expect(fn(28, 5, 2, "valid") == 12, "with padding='valid' and stride > 1 the count of kernel positions is wrong; "
           "count how many starting positions fit, stepping by the stride")
    expect(fn(7, 3, 2, "valid") == 3, "wrong for size 7, kernel 3, stride 2, padding='valid'")
    sizes = [28]
    for _ in range(3):  # as the notebook traces an encoder: each output is the next input
        sizes.append(fn(sizes[-1], 3, 2, "same"))
    expect(all(is_integer(s) for s in sizes), "feeding a size back in must give a whole number again")


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
    hints=(
        ("'same' pads the border so that only the stride shrinks the map; 'valid' counts the positions where the "
         "whole kernel fits inside the input, stepping by the stride. Try both on paper with a 7-pixel row before "
         "coding."),
        ("for 'same' divide the size by the stride and round up (7 with stride 2 gives 4); for 'valid' the last "
         "possible start is size - kernel, so count the starts 0, stride, 2 stride, ... up to it. Return a Python "
         "int: the notebook feeds it back in."),
        ("'same' is the ceiling of size / stride (math.ceil, or integer division of the negated size); 'valid' is "
         "the floor of (size - kernel) / stride, plus 1."),
    ),
)

# --- 02.2 build_decoder: design and train under a parameter budget --------------------------------

PARAM_BUDGET = 60_000  # parameters of build_decoder(16)
TARGET_FIT_MSE = 0.045  # about half the error of always predicting the mean image (0.088)
FIT_TRAIN, FIT_VAL, FIT_EPOCHS = 800, 200, 6


def reference_build_decoder(latent_dim: int) -> Any:
    """Reference for 02.2: 51,425 parameters at latent_dim=16, kernels a multiple of the stride."""
    import keras

    return keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(7 * 7 * 32, activation="relu"),  # (batch, 1568)
        keras.layers.Reshape((7, 7, 32)),  # (batch, 7, 7, 32)
        keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu"),  # (batch, 14, 14, 32)
        keras.layers.Conv2DTranspose(16, 4, strides=2, padding="same", activation="relu"),  # (batch, 28, 28, 16)
        keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid"),  # (batch, 28, 28, 1)
    ], name="decoder")


@functools.lru_cache(maxsize=4)
def _pca_codes(latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (n, latent_dim) and images (n, 28, 28, 1): 1,000 Fashion-MNIST images and their scaled PCA codes."""
    from course_utils.data import load_fashion_mnist, take_subset

    (x, _), _ = load_fashion_mnist()
    (x,) = take_subset([x], FIT_TRAIN + FIT_VAL, seed=0)  # (1000, 28, 28, 1)
    flat = x.reshape(len(x), -1)  # (1000, 784)
    mean = flat[:FIT_TRAIN].mean(axis=0)
    _, _, vt = np.linalg.svd(flat[:FIT_TRAIN] - mean, full_matrices=False)
    codes = (flat - mean) @ vt[:latent_dim].T  # (1000, latent_dim)
    return (codes / codes[:FIT_TRAIN].std()).astype(np.float32), x


def _as_model(model: Any) -> Any:
    """The learner's decoder if it is a Keras layer or model; else a specific failure."""
    import keras

    if isinstance(model, (list, tuple)):
        expect(False, f"build_decoder returned a {type(model).__name__} of layers; the notebook stacks it behind an "
               "encoder, so it must return one Keras model that holds them")
    expect(isinstance(model, keras.layers.Layer),
           f"build_decoder should return a Keras model, got {type(model).__name__}")
    return model


def _probe_build_decoder(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Output shape, range and parameter count on random codes; with ``fit``, validation MSE after a short fit."""
    import keras

    latent_dim = int(case["latent_dim"])
    model = _as_model(fn(latent_dim))
    codes = np.random.default_rng(int(case["seed"])).normal(size=(int(case["batch"]), latent_dim))
    out = np.asarray(model(codes.astype(np.float32)), dtype=np.float64)  # builds a subclassed model too
    probed = {"shape": np.asarray(out.shape), "min": np.asarray(out.min()), "max": np.asarray(out.max()),
              "params": np.asarray(model.count_params()), "val_mse": np.asarray(np.nan)}
    within_budget = latent_dim != 16 or model.count_params() <= PARAM_BUDGET
    if case.get("fit") and out.shape[1:] == (28, 28, 1) and within_budget:  # else the shape or budget fails
        codes, images = _pca_codes(latent_dim)
        keras.utils.set_random_seed(int(case["seed"]))
        model = fresh_copy(model, codes[:4], "decoder")  # new weights: no head start from trained ones
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
        model.fit(codes[:FIT_TRAIN], images[:FIT_TRAIN], batch_size=32, epochs=FIT_EPOCHS, verbose=0)
        predicted = np.asarray(model.predict(codes[FIT_TRAIN:], verbose=0))  # (200, 28, 28, 1)
        probed["val_mse"] = np.asarray(np.mean((predicted - images[FIT_TRAIN:]) ** 2))
    return probed


def _wrong_size_message(shape: tuple[int, ...]) -> str:
    """Why a decoder's images are not 28x28: too few upsamplings, or doubling from an odd size."""
    if shape[1] < 28:
        return (f"the decoder returns {shape[1]}x{shape[2]} images, smaller than 28x28: it upsamples too "
                "few times or a 'valid' layer shrinks the map")
    return (f"the decoder returns {shape[1]}x{shape[2]} images, larger than 28x28: doubling from an "
            "odd size overshoots (4 -> 8 -> 16 -> 32); start from a size that doubles to 28, or crop")


def _problem(case: Mapping[str, Any], probed: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with a probed decoder, as a message for the learner, or None."""
    shape = tuple(int(s) for s in probed["shape"])
    if len(shape) != 4:
        return f"the output has shape {shape}; images need 4 axes (batch, height, width, channels)"
    if shape[0] != case["batch"]:
        return f"{case['batch']} codes in gave {shape[0]} images out"
    if shape[1:3] != (28, 28):
        return _wrong_size_message(shape)
    if shape[3] != 1:
        return f"the output has {shape[3]} channels; a grey-scale image has 1"
    if float(probed["min"]) < 0.0 or float(probed["max"]) > 1.0:
        return "pixel values fall outside [0, 1]: the last layer must squash its output into that range"
    if case["latent_dim"] == 16 and int(probed["params"]) > PARAM_BUDGET:
        return (f"build_decoder(16) has {int(probed['params']):,} parameters, over the budget of {PARAM_BUDGET:,}: "
                "the Dense layer into the first feature map is usually the largest; make that map thinner")
    if case.get("fit") and not float(probed["val_mse"]) < TARGET_FIT_MSE:
        return (f"after a short fit on 800 images the validation MSE is {float(probed['val_mse']):.4f}, not below "
                f"{TARGET_FIT_MSE}: the decoder cannot learn to draw from its code; check the activations "
                "and that every layer passes the code's information on")
    return None


def _public_build_decoder(fn: Callable[..., Any]) -> None:
    for case in ({"latent_dim": 16, "batch": 3, "seed": 0, "fit": True}, {"latent_dim": 3, "batch": 2, "seed": 1}):
        problem = _problem(case, _probe_build_decoder(fn, case))
        if problem and case["latent_dim"] == 3:
            problem = f"build_decoder(3) fails: {problem}; use the argument for the code size"
        expect(problem is None, problem or "")


def _cases_build_decoder(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"latent_dim": 16, "batch": int(rng.integers(1, 5)), "seed": int(rng.integers(0, 1000)), "fit": True},
            {"latent_dim": int(rng.integers(2, 64)), "batch": int(rng.integers(1, 5)), "seed": int(rng.integers(0, 1000))}]


def _judge_build_decoder(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _problem(case, outputs)
    return None if problem is None else problem.split(":")[0]


BUILD_DECODER = Exercise(
    id="02.2", name="build_decoder", title="Design and train a decoder under a parameter budget", points=4,
    reference=lambda: reference_build_decoder, public=_public_build_decoder, hidden_cases=_cases_build_decoder,
    judge=_judge_build_decoder, probe=_probe_build_decoder,
    hints=(
        ("work backwards from 28x28: which small size doubles exactly to 28, and what turns a flat code into a "
         "small feature map of that size? Count the parameters of each layer before training."),
        ("start from a 7x7 map: a fully connected layer to 7 x 7 x c values reshaped into c channels, two stride-2 "
         "upsampling steps to 14 and 28, and a last layer with one channel squashed into [0, 1]. That first layer "
         "costs (latent_dim + 1) x 49 x c weights, so keep c small (16 to 32)."),
        ("keras.Sequential with keras.Input, Dense and Reshape to (7, 7, c), two Conv2DTranspose layers with "
         "strides=2, padding='same' and a kernel size divisible by the stride (4), then a Conv2D with one filter "
         "and the sigmoid activation."),
    ),
)

# --- 02.3 storage_ratio ----------------------------------------------------------------------------


def reference_storage_ratio(input_shape: Sequence[int], code_shape: Sequence[int], input_bits: int = 8,
                            code_bits: int = 32) -> float:
    """Reference for 02.3: bits needed for the input divided by bits needed for its code."""
    return float(np.prod(input_shape) * input_bits) / float(np.prod(code_shape) * code_bits)


def _as_number(value: Any) -> float:
    """A Python, NumPy or 0-d array number as a float; else a specific failure."""
    scalar = isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf"
    expect(is_number(value) or scalar, f"the ratio should be one number, got {type(value).__name__}"
           + (f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""))
    return float(value)


def _public_storage_ratio(fn: Callable[..., Any]) -> None:
    value = _as_number(fn((28, 28, 1), (32,)))
    expect(not np.isclose(value, 24.5), "the ratio counts values, not bits: an 8-bit pixel is smaller than a "
           "32-bit float code value")
    expect(not np.isclose(value, 1 / 6.125), "the ratio is upside down: input bits per code bit")
    expect(np.isclose(value, 6.125), "wrong ratio for a 28x28x1 uint8 image and a 32-number float32 code")
    expect(np.isclose(_as_number(fn((28, 28, 1), (4, 4, 8), 8, 16)), 784 * 8 / (128 * 16)),
           "wrong ratio for a feature-map code (4, 4, 8) stored in 16 bits: multiply every axis of both shapes")
    expect(np.isclose(_as_number(fn([28, 28, 1], [4, 4, 8])), 784 * 8 / (128 * 32)),
           "shapes given as lists (as Keras reports them) should work as tuples do")


def _cases_storage_ratio(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"input_shape": (28, 28, 1), "code_shape": (int(rng.integers(2, 100)),), "input_bits": 8, "code_bits": 32},
            {"input_shape": (32, 32, 3), "code_shape": (4, 4, int(rng.integers(1, 16))), "input_bits": 8,
             "code_bits": int(rng.choice([8, 16]))}]


STORAGE_RATIO = Exercise(
    id="02.3", name="storage_ratio", title="Storage ratio of a code, counting bits", points=1,
    reference=lambda: reference_storage_ratio, public=_public_storage_ratio, hidden_cases=_cases_storage_ratio,
    judge=number_judge(reference_storage_ratio, "wrong ratio", rtol=1e-9),
    hints=(
        ("a ratio of sizes in bits: how many bits does one input take, and how many does its code take? Count the "
         "values of each shape and the bits one value needs."),
        ("input bits = number of input values x input_bits, code bits = number of code values x code_bits; the "
         "number of values of a shape is the product of its entries, and lists should work as tuples do."),
        ("np.prod gives the number of values of a shape, tuple or list; return (input count x input_bits) divided "
         "by (code count x code_bits) as a float."),
    ),
)

EXERCISES = [CONV_OUTPUT_SIZE, BUILD_DECODER, STORAGE_RATIO]
