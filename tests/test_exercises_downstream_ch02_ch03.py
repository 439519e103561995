"""Chapters 02-03: passing a check means the notebook's later cells work with the learner's object.

For every exercise, plausible correct answers of other types pass the check *and* survive the way the
notebook uses the object afterwards (each ``use_*`` below mirrors those cells); plausible answers of
the wrong type are caught by the check with a specific message.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from exercise_checks import fails_with, passes

from course_utils.exercises import get_exercise

# --- 02.1 conv_output_size: chained through an encoder, printed, compared with Keras -------------------

def use_conv_output_size(fn) -> str:
    """Chapter 02's size trace: each output size is the next input; then Keras builds a map of that size."""
    import keras

    sizes = [28]
    for _ in range(3):
        sizes.append(fn(sizes[-1], 3, 2, "same"))
    assert keras.layers.MaxPooling2D(2, padding="same").compute_output_shape((None, sizes[-2], sizes[-2], 1)) == (None, 4, 4, 1)
    assert tuple(keras.Input((sizes[-1], sizes[-1], 1)).shape) == (None, 4, 4, 1)
    return " -> ".join(map(str, sizes))


@pytest.mark.parametrize("answer", [
    lambda size, kernel, stride, padding: -(-size // stride) if padding == "same" else (size - kernel) // stride + 1,
    lambda size, kernel, stride, padding: math.ceil(size / stride) if padding == "same" else (size - kernel) // stride + 1,
    lambda size, kernel, stride, padding: np.int64(np.ceil(size / stride) if padding == "same"
                                                   else (size - kernel) // stride + 1),
], ids=["floor division", "math.ceil", "numpy int64"])
def test_02_1_variants_pass_and_work_downstream(answer):
    assert use_conv_output_size(passes("02.1", answer)) == "28 -> 14 -> 7 -> 4"


def test_02_1_float_sizes_are_caught():
    fails_with("02.1", lambda size, kernel, stride, padding: np.ceil(size / stride) if padding == "same"
               else (size - kernel) / stride + 1, "whole number")


# --- 02.2 build_decoder: stacked behind the reference encoder, trained, evaluated ----------------------

def use_build_decoder(fn) -> float:
    """Chapter 02: the learner's decoder behind a reference encoder, compiled, fitted a little, scored."""
    import keras

    from course_utils.evaluation.metrics import mse
    from course_utils.models import ConvAutoencoder

    x = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    encoder = ConvAutoencoder(latent_dim=16, filters=(8, 16)).encoder  # (batch, 28, 28, 1) -> (batch, 16)
    model = keras.Sequential([encoder, fn(16)], name="my_conv_ae")
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(x, x, batch_size=32, epochs=1, verbose=0)
    return mse(x, model.predict(x, verbose=0))


def functional_decoder(latent_dim):
    import keras

    codes = keras.Input((latent_dim,))
    x = keras.layers.Reshape((7, 7, 16))(keras.layers.Dense(7 * 7 * 16, activation="relu")(codes))
    x = keras.layers.Conv2DTranspose(16, 4, strides=2, padding="same", activation="relu")(x)  # (batch, 14, 14, 16)
    x = keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same", activation="relu")(x)  # (batch, 28, 28, 8)
    return keras.Model(codes, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x))


def subclassed_decoder(latent_dim):
    """An unbuilt subclassed model with resize + conv upsampling: no parameters until first called."""
    import keras

    class Decoder(keras.Model):
        def __init__(self):
            super().__init__()
            self.expand = keras.layers.Dense(7 * 7 * 16, activation="relu")
            self.body = [keras.layers.UpSampling2D(2), keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                         keras.layers.UpSampling2D(2), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                         keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")]

        def call(self, z):
            x = keras.ops.reshape(self.expand(z), (-1, 7, 7, 16))  # (batch, 7, 7, 16)
            for layer in self.body:
                x = layer(x)  # (batch, 28, 28, 1) at the end
            return x

    return Decoder()


@pytest.mark.parametrize("answer", [get_exercise("02.2").reference(), functional_decoder, subclassed_decoder],
                         ids=["Sequential", "functional", "subclassed"])
def test_02_2_variants_pass_and_work_downstream(answer):
    assert 0 <= use_build_decoder(passes("02.2", answer)) < 1


def test_02_2_a_list_of_layers_is_caught():
    import keras

    def layers_only(latent_dim):
        return [keras.layers.Dense(7 * 7 * 8), keras.layers.Reshape((7, 7, 8)), keras.layers.UpSampling2D(4),
                keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")]

    fails_with("02.2", layers_only, "list of layers")


def test_02_2_a_decoder_that_cannot_learn_is_caught():
    import keras

    def blind(latent_dim):  # ignores its code: a constant image, right shape, in budget
        return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(7 * 7 * 4, kernel_initializer="zeros",
                                                                                trainable=False),
                                 keras.layers.Reshape((7, 7, 4)), keras.layers.UpSampling2D(4),
                                 keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])

    fails_with("02.2", blind, "validation MSE")


# --- 02.3 storage_ratio: fed a model's code shape, printed with a format, plotted -----------------------

def use_storage_ratio(fn) -> str:
    """Chapter 02's compression table: a ratio from a model's code shape, as a float, formatted and plotted."""
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.models import ConvAutoencoder
    from course_utils.viz.plots import plot_curves

    ratios = [float(fn((28, 28, 1), ConvAutoencoder(filters=(8, 16), **kw).code_shape))
              for kw in ({"latent_dim": 32}, {"latent_dim": None, "code_channels": 4})]
    plot_curves(ratios, {"AE": [0.02, 0.01]}, "storage ratio", "MSE", logx=True)
    return " ".join(f"{r:13.2f}" for r in ratios)


@pytest.mark.parametrize("answer", [
    get_exercise("02.3").reference(),
    lambda input_shape, code_shape, input_bits=8, code_bits=32: np.prod(input_shape) * input_bits / (
        np.prod(code_shape) * code_bits),
    lambda input_shape, code_shape, input_bits=8, code_bits=32: np.asarray(
        np.prod(input_shape) * input_bits / (np.prod(code_shape) * code_bits)),
], ids=["float", "numpy float64", "0-d array"])
def test_02_3_variants_pass_and_work_downstream(answer):
    assert use_storage_ratio(passes("02.3", answer)).split() == ["6.12", "1.00"]


def test_02_3_a_pair_of_bit_counts_is_caught():
    fails_with("02.3", lambda input_shape, code_shape, input_bits=8, code_bits=32: (
        np.prod(input_shape) * input_bits, np.prod(code_shape) * code_bits), "one number")


# --- 03.1 conv_transpose_output_size: chained and printed with an integer format ----------------------

def use_conv_transpose_output_size(fn) -> str:
    """Chapter 03: the comparison table (``:7d``) and the seed's 64 -> ? puzzle (sizes chained)."""
    size = 64
    for _ in range(2):
        size = fn(size, 4, 2, "same")
    return f"{fn(7, 3, 2, 'same', 1):7d} {size:5d}"


def _transpose_size(input_size, kernel_size, stride=1, padding="valid", output_padding=None):
    if padding == "valid":
        extra = max(stride - kernel_size, 0) if output_padding is None else output_padding
        return (input_size - 1) * stride + kernel_size + extra
    return input_size * stride if output_padding is None else (input_size - 1) * stride + kernel_size % 2 + output_padding


@pytest.mark.parametrize("answer", [_transpose_size, lambda *a, **k: np.int64(_transpose_size(*a, **k))],
                         ids=["int", "numpy int64"])
def test_03_1_variants_pass_and_work_downstream(answer):
    assert use_conv_transpose_output_size(passes("03.1", answer)).split() == ["14", "256"]


def test_03_1_float_sizes_are_caught():
    fails_with("03.1", lambda *a, **k: float(_transpose_size(*a, **k)), "should be an integer")


# --- 03.2 stride2_layers_needed: the number of layers of a Keras model --------------------------------

def use_stride2_layers_needed(fn) -> tuple:
    """Chapter 03's fix of the seed model: ``range(n_layers)`` stride-2 layers, then a shape check."""
    import keras

    n_layers = fn(64, 128)
    fixed = keras.Sequential([keras.Input((64, 64, 3))]
                             + [keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same") for _ in range(n_layers)])
    return fixed.output_shape


@pytest.mark.parametrize("answer", [
    get_exercise("03.2").reference(),
    lambda input_size, output_size: round(math.log2(output_size / input_size)),
    lambda input_size, output_size: np.int64(np.log2(output_size // input_size)),
], ids=["loop", "round(log2)", "numpy int64"])
def test_03_2_variants_pass_and_work_downstream(answer):
    assert use_stride2_layers_needed(passes("03.2", answer)) == (None, 128, 128, 4)


def test_03_2_float_counts_are_caught():
    fails_with("03.2", lambda input_size, output_size: math.log2(output_size / input_size), "should be an integer")


# --- 03.3 conv_transpose1d: overlap counts of a flat signal, sliced and cast ---------------------------

def use_conv_transpose1d(fn) -> list:
    """Chapter 03's checkerboard cell: the stamp counts of a flat signal, interior only, as integers."""
    return [np.asarray(fn(np.ones(8), np.ones(k), s))[k:-k].astype(int).tolist() for k, s in [(3, 2), (4, 2)]]


def _stamp(x, kernel, stride):
    out = [0.0] * ((len(x) - 1) * stride + len(kernel))
    for i, value in enumerate(x):
        for t, w in enumerate(kernel):
            out[i * stride + t] += float(value) * float(w)
    return out


@pytest.mark.parametrize("answer", [
    get_exercise("03.3").reference(), _stamp, lambda x, kernel, stride: tuple(_stamp(x, kernel, stride)),
    lambda x, kernel, stride: __import__("tensorflow").constant(_stamp(x, kernel, stride)),
], ids=["ndarray", "list", "tuple", "tf tensor"])
def test_03_3_variants_pass_and_work_downstream(answer):
    counts = use_conv_transpose1d(passes("03.3", answer))
    assert counts[0] == [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1] and set(counts[1]) == {2}


def test_03_3_wrong_types_are_caught():
    fails_with("03.3", lambda x, kernel, stride: np.asarray(_stamp(x, kernel, stride))[:, None], "1-D signal")
    fails_with("03.3", lambda x, kernel, stride: {"output": _stamp(x, kernel, stride)}, "array of numbers")


# --- 03.4 icnr_kernel: assigned to a sub-pixel SR model's upsampler -----------------------------------

def use_icnr_kernel(fn) -> np.ndarray:
    """Chapter 03: the learner's ICNR kernel becomes the sub-pixel model's upsampler before training."""
    import keras

    from course_utils.models import make_sr_model

    model = make_sr_model("subpixel", 2, filters=8, depth=1)
    layer = model.upsampler[0]
    base = keras.initializers.GlorotUniform(seed=0)((3, 3, 8, 8))  # (3, 3, filters, filters)
    layer.kernel.assign(fn(np.asarray(base), 2))
    return np.asarray(model(np.full((1, 6, 6, 1), 0.5, np.float32)))


@pytest.mark.parametrize("answer", [
    get_exercise("03.4").reference(),
    lambda base, scale: __import__("tensorflow").tile(base, [1, 1, 1, scale * scale]),
    lambda base, scale: __import__("keras").ops.tile(base, (1, 1, 1, scale ** 2)),
    lambda base, scale: np.concatenate([np.asarray(base, np.float64)] * scale ** 2, axis=-1),
], ids=["np.tile", "tf.tile", "keras.ops.tile", "float64 concatenate"])
def test_03_4_variants_pass_and_work_downstream(answer):
    assert use_icnr_kernel(passes("03.4", answer)).shape == (1, 12, 12, 1)


def test_03_4_wrong_types_are_caught():
    fails_with("03.4", lambda base, scale: np.stack([base] * scale ** 2, axis=-1), "4 axes")
    fails_with("03.4", lambda base, scale: [base] * scale ** 2, "should be an array")
    fails_with("03.4", lambda base, scale: np.tile(base, (1, 1, 1, 4)), "use the scale argument")


# --- headings: "Exercise NN.k — title (P points, difficulty)", in notebook order ----------------------

@pytest.mark.parametrize("notebook", ["02_convolutional_autoencoder.ipynb", "03_deconvolution_super_resolution.ipynb"])
def test_exercise_headings_match_the_specs_in_notebook_order(notebook):
    import re
    from pathlib import Path

    import nbformat

    from course_utils.exercises import chapter_exercises

    path = Path(__file__).resolve().parents[1] / "solutions" / notebook
    heading = re.compile(r"^### Exercise (\d{2}\.\d+) — (.+) \((\d+) points?, (easy|medium|hard)\)$", re.MULTILINE)
    found, cells = [], []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            found += [(m[1], m[2], int(m[3])) for m in heading.finditer(cell.source)]
        elif "exercise" in cell.metadata.get("tags", []):
            cells.append(cell.metadata["course"]["exercise"])
            assert found and found[-1][0] == cells[-1], f"exercise cell {cells[-1]} has no heading right before it"
    specs = chapter_exercises(notebook[:2])
    assert found == [(e.id, e.title, e.points) for e in specs]
    assert cells == [e.id for e in specs]
