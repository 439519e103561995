"""Size arithmetic (chapters 02-03): every formula against Keras' own shapes and hand values."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from course_utils import shapes

KERNELS, STRIDES, PADDINGS = (1, 2, 3, 4, 5), (1, 2, 3), ("valid", "same")


def _keras_accepts(kernel: int, stride: int, padding: str, output_padding: int | None) -> bool:
    """TensorFlow rejects 'same' with an even kernel and output_padding=0 (no matching forward conv)."""
    return not (padding == "same" and kernel % 2 == 0 and output_padding == 0)


CASES = [(k, s, p, op) for k, s, p, op in itertools.product(KERNELS, STRIDES, PADDINGS, (None, 0, 1, 2))
         if (op is None or op < s) and _keras_accepts(k, s, p, op)]


@pytest.mark.parametrize("size,kernel,stride,padding,expected", [
    (28, 3, 1, "same", 28), (28, 3, 1, "valid", 26), (28, 2, 2, "same", 14), (7, 2, 2, "same", 4),
    (7, 3, 2, "valid", 3), (28, 5, 2, "valid", 12),
])
def test_conv_output_size_by_hand(size, kernel, stride, padding, expected):
    assert shapes.conv_output_size(size, kernel, stride, padding) == expected


@pytest.mark.parametrize("kernel,stride,padding", list(itertools.product(KERNELS, STRIDES, PADDINGS)))
@pytest.mark.parametrize("size", (5, 8, 28))
def test_conv_output_size_matches_keras(kernel, stride, padding, size):
    import keras

    conv = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding)
    pool = keras.layers.MaxPooling2D(kernel, strides=stride, padding=padding)
    expected = shapes.conv_output_size(size, kernel, stride, padding)
    assert conv.compute_output_shape((None, size, size, 1))[1] == expected
    assert pool.compute_output_shape((None, size, size, 1))[1] == expected


def test_conv_output_size_rejects_bad_arguments():
    with pytest.raises(ValueError, match="padding"):
        shapes.conv_output_size(28, 3, 1, "full")
    with pytest.raises(ValueError, match="does not fit"):
        shapes.conv_output_size(2, 3, 1, "valid")
    with pytest.raises(ValueError, match="positive"):
        shapes.conv_output_size(28, 3, 0, "same")


@pytest.mark.parametrize("kernel,stride,padding,output_padding", CASES)
@pytest.mark.parametrize("size", (1, 3, 7, 8))
def test_size_formula_matches_keras_shapes(kernel, stride, padding, output_padding, size):
    import keras

    layer = keras.layers.Conv2DTranspose(1, kernel, strides=stride, padding=padding, output_padding=output_padding)
    shape = layer.compute_output_shape((None, size, size + 1, 1))
    assert shape[1] == shapes.conv_transpose_output_size(size, kernel, stride, padding, output_padding)
    assert shape[2] == shapes.conv_transpose_output_size(size + 1, kernel, stride, padding, output_padding)


def test_size_formula_hand_values_and_seed_example():
    # The seed's two stride-2 'same' layers take 64 to 256, not 128.
    size = 64
    for _ in range(2):
        size = shapes.conv_transpose_output_size(size, 4, 2, "same")
    assert size == 256
    assert shapes.conv_transpose_output_size(5, 3, 2, "valid") == 11  # (5-1)*2 + 3
    assert shapes.conv_transpose_output_size(5, 3, 2, "same", output_padding=1) == 10
    with pytest.raises(ValueError, match="output_padding"):
        shapes.conv_transpose_output_size(5, 3, 2, "same", output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        shapes.conv_transpose_output_size(5, 3, 2, "full")



def test_stride2_layers_needed():
    assert shapes.stride2_layers_needed(64, 128) == 1
    assert shapes.stride2_layers_needed(64, 256) == 2
    assert shapes.stride2_layers_needed(5, 5) == 0
    with pytest.raises(ValueError, match="power of two"):
        shapes.stride2_layers_needed(64, 192)


def test_halving_sizes_round_up_odd_sizes():
    assert shapes.halving_sizes((28, 28), 3) == ((28, 28), (14, 14), (7, 7), (4, 4))
    assert shapes.halving_sizes((30, 22), 2) == ((30, 22), (15, 11), (8, 6))


def test_compression_ratio():
    assert shapes.compression_ratio((28, 28, 1), 32) == pytest.approx(24.5)
    assert shapes.compression_ratio(np.array([2, 3, 3]), 6) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive"):
        shapes.compression_ratio((28, 28, 1), 0)
