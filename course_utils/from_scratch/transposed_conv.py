"""Transposed convolution from scratch in NumPy, three equal ways, and the overlap map behind checkerboards (ch. 03).

Layouts follow Keras: images are channels-last ``(batch, height, width, channels)`` and a
``Conv2DTranspose`` kernel is ``(kernel_h, kernel_w, out_channels, in_channels)``. Padding
follows TensorFlow: a transposed convolution is the adjoint of the strided convolution that maps
its output back to its input, so it crops the same ``pad_before`` rows and columns.
"""
from __future__ import annotations

import numpy as np

from course_utils.shapes import conv_transpose_output_size, crop_before

METHODS = ("stamp", "zeros", "adjoint")


# ---------------------------------------------------------------------------
# Three equal ways to compute a transposed convolution
# ---------------------------------------------------------------------------

def _prepare(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str, output_padding: int | None):
    """Validate inputs; return x as (n, h, w, c_in), the kernel, output size and front crops."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"expected x (batch, h, w, c_in) and kernel (kh, kw, c_out, c_in); got {x.shape}, {kernel.shape}")
    if x.shape[-1] != kernel.shape[-1]:
        raise ValueError(f"x has {x.shape[-1]} channels but the kernel expects {kernel.shape[-1]}")
    (h, w), (kh, kw) = x.shape[1:3], kernel.shape[:2]
    out_h = conv_transpose_output_size(h, kh, stride, padding, output_padding)
    out_w = conv_transpose_output_size(w, kw, stride, padding, output_padding)
    crops = (crop_before(h, out_h, kh, stride, padding), crop_before(w, out_w, kw, stride, padding))
    return x, kernel, (out_h, out_w), crops


def _crop_full(full: np.ndarray, out_hw: tuple[int, int], crops: tuple[int, int]) -> np.ndarray:
    """Cut the (out_h, out_w) window starting at ``crops`` from the full result, zero beyond its end."""
    n, full_h, full_w, c = full.shape
    out = np.zeros((n, *out_hw, c))
    top, left = crops
    rows, cols = min(out_hw[0], full_h - top), min(out_hw[1], full_w - left)
    out[:, :rows, :cols] = full[:, top:top + rows, left:left + cols]
    return out


def conv_transpose2d_stamp(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid",
                           output_padding: int | None = None) -> np.ndarray:
    """Transposed conv as a sum of stamped kernels: each input pixel adds kernel * value at stride offsets (ch. 03)."""
    x, kernel, out_hw, crops = _prepare(x, kernel, stride, padding, output_padding)
    n, h, w, _ = x.shape
    kh, kw, c_out, _ = kernel.shape
    full = np.zeros((n, (h - 1) * stride + kh, (w - 1) * stride + kw, c_out))  # (n, full_h, full_w, c_out)
    for i in range(h):
        for j in range(w):
            stamp = np.einsum("nc,aboc->nabo", x[:, i, j, :], kernel)  # (n, kh, kw, c_out)
            full[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :] += stamp
    return _crop_full(full, out_hw, crops)


def insert_zeros(x: np.ndarray, stride: int) -> np.ndarray:
    """Put ``stride - 1`` zeros between neighbouring pixels of (n, h, w, c): (n, (h-1)*s+1, (w-1)*s+1, c) (ch. 03)."""
    n, h, w, c = x.shape
    out = np.zeros((n, (h - 1) * stride + 1, (w - 1) * stride + 1, c), dtype=x.dtype)
    out[:, ::stride, ::stride, :] = x
    return out


def conv_transpose2d_zeros(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid",
                           output_padding: int | None = None) -> np.ndarray:
    """Transposed conv as 'insert zeros, pad by k-1, convolve with the flipped kernel', then crop (ch. 03)."""
    x, kernel, out_hw, crops = _prepare(x, kernel, stride, padding, output_padding)
    kh, kw = kernel.shape[:2]
    dilated = insert_zeros(x, stride)  # (n, (h-1)s+1, (w-1)s+1, c_in)
    padded = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    flipped = kernel[::-1, ::-1]  # cross-correlating with the flipped kernel is a true convolution
    full_h, full_w = padded.shape[1] - kh + 1, padded.shape[2] - kw + 1
    full = np.zeros((x.shape[0], full_h, full_w, kernel.shape[2]))  # (n, full_h, full_w, c_out)
    for a in range(kh):
        for b in range(kw):
            full += np.einsum("nhwc,oc->nhwo", padded[:, a:a + full_h, b:b + full_w, :], flipped[a, b])
    return _crop_full(full, out_hw, crops)


def conv_matrix(input_hw: tuple[int, int], kernel: np.ndarray, stride: int, pad_before: tuple[int, int],
                output_hw: tuple[int, int]) -> np.ndarray:
    """Dense matrix of a strided 2-D convolution (cross-correlation) on one image, channels last (ch. 03).

    ``kernel`` is (kh, kw, c_in, c_out) as in ``Conv2D``; the matrix maps the flattened
    (H, W, c_in) input to the flattened (h, w, c_out) output.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw, c_in, c_out = kernel.shape
    (big_h, big_w), (h, w) = input_hw, output_hw
    matrix = np.zeros((h, w, c_out, big_h, big_w, c_in))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    p, q = i * stride + a - pad_before[0], j * stride + b - pad_before[1]
                    if 0 <= p < big_h and 0 <= q < big_w:
                        matrix[i, j, :, p, q, :] += kernel[a, b].T  # (c_out, c_in)
    return matrix.reshape(h * w * c_out, big_h * big_w * c_in)


def conv_transpose2d_adjoint(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid",
                             output_padding: int | None = None) -> np.ndarray:
    """Transposed conv as the adjoint A^T of the strided convolution A that maps its output to its input (ch. 03)."""
    x, kernel, out_hw, crops = _prepare(x, kernel, stride, padding, output_padding)
    n, h, w, _ = x.shape
    forward = conv_matrix(out_hw, kernel, stride, crops, (h, w))  # Conv2D kernel layout (kh, kw, c_out, c_in)
    out = x.reshape(n, -1) @ forward  # (n, out_h * out_w * c_out): rows of x times A is A^T applied to each image
    return out.reshape(n, *out_hw, kernel.shape[2])


def conv_transpose2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid",
                     output_padding: int | None = None, method: str = "stamp") -> np.ndarray:
    """NumPy reference for Keras' Conv2DTranspose (no bias): ``method`` is 'stamp', 'zeros' or 'adjoint' (ch. 03)."""
    functions = {"stamp": conv_transpose2d_stamp, "zeros": conv_transpose2d_zeros, "adjoint": conv_transpose2d_adjoint}
    if method not in functions:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return functions[method](x, kernel, stride, padding, output_padding)


def conv_transpose1d(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Full 1-D transposed convolution of a signal: length (n - 1) * stride + k, nothing cropped (ch. 03)."""
    x, kernel = np.asarray(x, dtype=np.float64), np.asarray(kernel, dtype=np.float64)
    out = np.zeros((len(x) - 1) * stride + len(kernel))
    for i, value in enumerate(x):
        out[i * stride:i * stride + len(kernel)] += value * kernel
    return out


# ---------------------------------------------------------------------------
# Checkerboard artifacts
# ---------------------------------------------------------------------------

def overlap_map(input_hw: tuple[int, int], kernel_size: int, stride: int, padding: str = "same") -> np.ndarray:
    """How many kernel stamps cover each output pixel: transposed conv of ones with a ones kernel (ch. 03)."""
    ones = np.ones((1, *input_hw, 1))
    kernel = np.ones((kernel_size, kernel_size, 1, 1))
    return conv_transpose2d_stamp(ones, kernel, stride, padding)[0, :, :, 0]  # (out_h, out_w)
