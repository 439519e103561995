"""Chapter 00 exercises: preparing images for a network, what a bottleneck costs, and a first autoencoder."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import CheckFailed, Exercise, expect, imported
from course_utils.exercises.fresh import fresh_copy
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
    hints=(
        ("a network wants the same picture as fractions of the brightest possible value, stored as floating-point "
         "numbers, with one more axis at the end for the single colour channel; the caller's array must stay as it "
         "was."),
        ("a uint8 pixel runs from 0 to 255: convert to a 32-bit float type (which makes a new array, so the input "
         "is untouched), divide by the largest value, then add a trailing axis of length 1."),
        ("astype with np.float32, a division by 255.0, and np.newaxis (or np.expand_dims with axis=-1) for the "
         "channel axis."),
    ),
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
    hints=(
        ("count how many numbers describe one input (every pixel of every channel) and how many describe its code; "
         "the ratio says how many input numbers each code number stands for."),
        ("the input count is the product of all the entries of input_shape (height times width times channels); "
         "divide it by code_size with true division, so that 784 / 32 keeps its fraction."),
        ("np.prod multiplies a shape's entries; convert that count to a float before dividing by code_size, and "
         "use / rather than //."),
    ),
)

# --- 00.3 build_autoencoder: a first autoencoder, designed under a budget and trained to a target -----

DIGIT_SHAPE = (8, 8, 1)
PARAM_BUDGET = 5_000  # encoder and decoder together, at code_size=8
TARGET_VAL_MSE = 0.035  # predicting the average digit scores about 0.073, PCA with 8 components about 0.024
FIT = {"epochs": 6, "batch_size": 32, "learning_rate": 1e-2, "validation_fraction": 0.2}


def reference_build_autoencoder(code_size: int) -> tuple[Any, Any]:
    """Reference for 00.3: a 64-32-code-32-64 dense encoder and decoder, 4,744 parameters at code_size=8."""
    from course_utils.models.blocks import dense_decoder, dense_encoder

    encoder = dense_encoder(DIGIT_SHAPE, code_size, hidden_units=(32,), batch_norm=False)  # (batch, code_size)
    decoder = dense_decoder(code_size, DIGIT_SHAPE, hidden_units=(32,), batch_norm=False)  # (batch, 8, 8, 1)
    return encoder, decoder


@functools.lru_cache(maxsize=4)
def _digit_split(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits split by ``seed``: training (1438, 8, 8, 1) and validation (359, 8, 8, 1) in [0, 1]."""
    from course_utils.data import load_digits, split_validation

    images, _ = load_digits()
    (train,), (val,) = split_validation([images], fraction=FIT["validation_fraction"], seed=seed)
    return train, val


def _as_pair(models: Any) -> tuple[Any, Any]:
    """The learner's (encoder, decoder) if both are Keras layers or models; else a specific failure."""
    import keras

    expect(isinstance(models, (tuple, list)) and len(models) == 2,
           f"build_autoencoder should return two models, (encoder, decoder), got {type(models).__name__}: the cells "
           "below use the encoder on its own to look at the codes")
    for part, model in zip(("encoder", "decoder"), models):
        expect(isinstance(model, keras.layers.Layer), f"the {part} should be a Keras model (keras.Sequential works), "
               f"got {type(model).__name__}")
    return models[0], models[1]


def _seeded_models(fn: Callable[..., Any], code_size: int, seed: int) -> tuple[Any, Any]:
    """The learner's models built after seeding Keras, so their first weights repeat from run to run."""
    fn(code_size)  # an unattempted exercise raises NotImplementedError here, before TensorFlow loads
    import keras

    keras.utils.set_random_seed(seed)
    return _as_pair(fn(code_size))


def _call(model: Any, x: np.ndarray, part: str, takes: str) -> np.ndarray:
    """``model(x)`` as a float64 array; an error becomes a failure that says what the model must take."""
    try:
        return np.asarray(model(x), dtype=np.float64)
    except Exception as error:  # noqa: BLE001 - Keras' messages print whole arrays: say what went in instead
        raise CheckFailed(f"calling the {part} on an array of shape {x.shape} raised {type(error).__name__}; the "
                          f"{part} takes {takes} (call it on such an array yourself to read the full error)") from None


def _validation_mse(encoder: Any, decoder: Any, train: np.ndarray, val: np.ndarray) -> float:
    """Stack fresh copies of the two models as the notebook does, fit them briefly on ``train``; the MSE on ``val``."""
    import keras

    codes = np.asarray(encoder(val[:16]))  # (16, code_size): a batch the decoder takes
    encoder, decoder = fresh_copy(encoder, val[:16], "encoder"), fresh_copy(decoder, codes, "decoder")
    autoencoder = keras.Sequential([encoder, decoder])  # (batch, 8, 8, 1) -> (batch, 8, 8, 1)
    autoencoder.compile(optimizer=keras.optimizers.Adam(FIT["learning_rate"]), loss="mse")
    autoencoder.fit(train, train, batch_size=FIT["batch_size"], epochs=FIT["epochs"], verbose=0)
    predicted = np.asarray(autoencoder.predict(val, verbose=0), dtype=np.float64)  # (359, 8, 8, 1)
    return float(np.mean((predicted - val) ** 2))


def _probe_build_autoencoder(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Code and output shapes, range and parameter count; with ``fit``, the validation MSE after a short fit."""
    code_size, seed = int(case["code_size"]), int(case["seed"])
    encoder, decoder = _seeded_models(fn, code_size, seed)
    train, val = _digit_split(seed)
    codes = _call(encoder, val[:16], "encoder", "digits of shape (batch, 8, 8, 1)")  # (16, code_size)
    probed = {"code_shape": np.asarray(codes.shape), "shape": np.zeros(0, int), "min": np.asarray(np.nan),
              "max": np.asarray(np.nan), "params": np.asarray(0), "val_mse": np.asarray(np.nan)}
    if codes.shape != (16, code_size):
        return probed  # the codes are wrong, so the decoder cannot be judged on them
    takes = "codes of shape (batch, code_size)"
    out = _call(decoder, codes.astype(np.float32), "decoder", takes)  # (16, 8, 8, 1); builds a subclassed model
    far = np.random.default_rng(seed).normal(0.0, 10.0, size=codes.shape).astype(np.float32)  # codes far out
    pixels = np.concatenate([out.ravel(), _call(decoder, far, "decoder", takes).ravel()])
    probed.update(shape=np.asarray(out.shape), min=np.asarray(pixels.min()), max=np.asarray(pixels.max()),
                  params=np.asarray(encoder.count_params() + decoder.count_params()))
    if case.get("fit") and _problem({**case, "fit": False}, probed) is None:  # else shapes, range or budget fail
        probed["val_mse"] = np.asarray(_validation_mse(encoder, decoder, train, val))
    return probed


def _problem(case: Mapping[str, Any], probed: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with a probed autoencoder, as a message for the learner, or None."""
    code_size = int(case["code_size"])
    code_shape, shape = (tuple(int(s) for s in probed[key]) for key in ("code_shape", "shape"))
    if code_shape != (16, code_size):
        return (f"the encoder maps 16 digits to shape {code_shape}, not (16, {code_size}): the code of each digit is "
                "code_size numbers in a flat vector")
    if shape != (16, *DIGIT_SHAPE):
        return (f"the decoder maps codes of shape {code_shape} to shape {shape}, not (16, 8, 8, 1): a reconstruction "
                "has the shape of the digit it came from")
    if float(probed["min"]) < 0.0 or float(probed["max"]) > 1.0:
        return ("pixel values fall outside [0, 1] (for the codes of real digits or for codes far from them): the "
                "decoder's last layer must squash every pixel into that range, whatever the code")
    if code_size == 8 and int(probed["params"]) > PARAM_BUDGET:
        return (f"build_autoencoder(8) has {int(probed['params']):,} parameters, over the budget of {PARAM_BUDGET:,}: "
                "the layers next to the 64 pixels are the largest; make them narrower")
    if case.get("fit") and not float(probed["val_mse"]) < TARGET_VAL_MSE:
        return (f"after a short fit on 1,438 digits the validation MSE is {float(probed['val_mse']):.4f}, not below "
                f"{TARGET_VAL_MSE} (always drawing the average digit scores about 0.073): can every pixel of the "
                "output take any value in [0, 1] on its own, and does every layer pass the code on?")
    return None


def _public_build_autoencoder(fn: Callable[..., Any]) -> None:
    for case in ({"code_size": 8, "seed": 0, "fit": True}, {"code_size": 3, "seed": 1}):
        problem = _problem(case, _probe_build_autoencoder(fn, case))
        if problem and case["code_size"] == 3:
            problem = f"build_autoencoder(3) fails: {problem}; use the argument for the code size"
        expect(problem is None, problem or "")


def _cases_build_autoencoder(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"code_size": 8, "seed": int(rng.integers(0, 1000)), "fit": True},
            {"code_size": int(rng.integers(2, 33)), "seed": int(rng.integers(0, 1000))}]


def _judge_build_autoencoder(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _problem(case, outputs)
    return None if problem is None else problem.split(":")[0]


BUILD_AUTOENCODER = Exercise(
    id="00.3", name="build_autoencoder", title="Design and train a first autoencoder for 8x8 digits under a budget",
    points=3, reference=lambda: reference_build_autoencoder, public=_public_build_autoencoder,
    hidden_cases=_cases_build_autoencoder, judge=_judge_build_autoencoder, probe=_probe_build_autoencoder,
    hints=(
        ("an autoencoder is two networks: the encoder squeezes the 64 pixels of a digit into code_size numbers, "
         "the decoder turns those numbers back into a digit. Only the code has to be narrow, and every weight on "
         "either side counts against the budget."),
        ("stack a few fully connected layers on each side: from the flattened 64 pixels down to code_size numbers, "
         "then back up to 64 values reshaped into an 8x8 image with one channel. A layer of n units next to the 64 "
         "pixels costs about 65 n weights, so keep the hidden layers to a few dozen units."),
        ("two keras.Sequential models, each starting with keras.Input: Flatten, then Dense layers down to "
         "code_size units for the encoder; Dense layers up to 64 units with the sigmoid activation, then Reshape, "
         "for the decoder. The sigmoid squashes each pixel on its own, while softmax would make the 64 pixels "
         "share one unit of brightness."),
    ),
)

EXERCISES = [PREPARE_IMAGES, COMPRESSION_RATIO, BUILD_AUTOENCODER]
