"""Chapter 03 from scratch: NumPy transposed convolution three ways vs Keras and TensorFlow, overlaps, blur."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from course_utils import shapes
from course_utils.from_scratch import deblurring
from course_utils.from_scratch import transposed_conv as tc

KERNELS, STRIDES, PADDINGS = (1, 2, 3, 4, 5), (1, 2, 3), ("valid", "same")


def _keras_accepts(kernel: int, stride: int, padding: str, output_padding: int | None) -> bool:
    """TensorFlow rejects 'same' with an even kernel and output_padding=0 (no matching forward conv)."""
    return not (padding == "same" and kernel % 2 == 0 and output_padding == 0)


CASES = [(k, s, p, op) for k, s, p, op in itertools.product(KERNELS, STRIDES, PADDINGS, (None, 0, 1, 2))
         if (op is None or op < s) and _keras_accepts(k, s, p, op)]


def _keras_transpose(x: np.ndarray, kernel: int, stride: int, padding: str, output_padding, c_out: int = 2):
    import keras

    layer = keras.layers.Conv2DTranspose(c_out, kernel, strides=stride, padding=padding,
                                         output_padding=output_padding, use_bias=False)
    y = np.asarray(layer(x))
    return y, np.asarray(layer.kernel)


@pytest.mark.parametrize("kernel,stride,padding,output_padding", CASES)
@pytest.mark.parametrize("method", tc.METHODS)
def test_numpy_equals_keras(kernel, stride, padding, output_padding, method):
    x = np.random.default_rng(kernel * 100 + stride).normal(size=(2, 4, 5, 3)).astype(np.float32)
    expected, weights = _keras_transpose(x, kernel, stride, padding, output_padding)
    got = tc.conv_transpose2d(x, weights, stride, padding, output_padding, method=method)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("kernel,stride,padding", [(3, 2, "valid"), (4, 2, "same"), (3, 3, "same"), (2, 3, "valid")])
def test_three_views_agree(kernel, stride, padding):
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(1, 3, 4, 2)), rng.normal(size=(kernel, kernel, 3, 2))
    outs = [tc.conv_transpose2d(x, w, stride, padding, method=m) for m in tc.METHODS]
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], atol=1e-10)


def test_adjoint_identity_and_tf_gradient():
    """<A u, v> == <u, A^T v>, and A^T is TensorFlow's gradient of the strided convolution."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    w = rng.normal(size=(3, 3, 2, 4))  # Conv2D layout (kh, kw, c_in, c_out) = transposed (kh, kw, c_out, c_in)
    big, small = (8, 8), (4, 4)
    pad = (shapes.crop_before(4, 8, 3, 2, "same"),) * 2
    matrix = tc.conv_matrix(big, w, 2, pad, small)
    u, v = rng.normal(size=(1, 8, 8, 2)), rng.normal(size=(1, 4, 4, 4))
    forward = (matrix @ u.ravel()).reshape(v.shape)
    np.testing.assert_allclose(forward, tf.nn.conv2d(u, w, 2, "SAME").numpy(), atol=1e-10)
    assert np.isclose(np.sum(forward * v), np.sum(u * tc.conv_transpose2d(v, w, 2, "same", method="adjoint")))
    u_var = tf.Variable(u)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.conv2d(u_var, w, 2, "SAME") * v)
    np.testing.assert_allclose(tape.gradient(loss, u_var).numpy(),
                               tc.conv_transpose2d(v, w, 2, "same"), atol=1e-10)


def test_conv_transpose1d_by_hand():
    out = tc.conv_transpose1d([1.0, 2.0], [1.0, 10.0, 100.0], stride=2)
    np.testing.assert_allclose(out, [1, 10, 102, 20, 200])


def test_insert_zeros_and_input_checks():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    z = tc.insert_zeros(x, 3)
    assert z.shape == (1, 4, 4, 1) and z[0, 3, 3, 0] == 3 and z.sum() == x.sum()
    with pytest.raises(ValueError, match="channels"):
        tc.conv_transpose2d(np.ones((1, 2, 2, 3)), np.ones((3, 3, 1, 2)))
    with pytest.raises(ValueError, match="method"):
        tc.conv_transpose2d(np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1)), method="magic")


def test_overlap_map_shows_checkerboard_only_when_kernel_not_divisible():
    uneven = tc.overlap_map((6, 6), kernel_size=3, stride=2)
    even = tc.overlap_map((6, 6), kernel_size=4, stride=2)
    inner = (slice(2, -2), slice(2, -2))
    assert set(np.unique(uneven[inner])) == {1.0, 2.0, 4.0}
    assert set(np.unique(even[inner])) == {4.0}


def test_blur_helpers():
    psf = deblurring.gaussian_psf(7, 1.5)
    assert psf.shape == (7, 7) and np.isclose(psf.sum(), 1.0) and psf[3, 3] == psf.max()
    image = np.zeros((16, 16))
    image[8, 8] = 1.0
    blurred = deblurring.blur_image(image, psf)
    np.testing.assert_allclose(blurred[5:12, 5:12], psf, atol=1e-12)
