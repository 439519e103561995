"""Transposed convolution in NumPy, three ways, plus output sizes and checkerboard helpers (chapter 03).

Layouts follow Keras: images are channels-last ``(batch, height, width, channels)`` and a
``Conv2DTranspose`` kernel is ``(kernel_h, kernel_w, out_channels, in_channels)``. Padding
follows TensorFlow: a transposed convolution is the adjoint of the strided convolution that maps
its output back to its input, so it crops the same ``pad_before`` rows and columns.
"""
from __future__ import annotations

import numpy as np

PADDINGS = ("valid", "same")
METHODS = ("stamp", "zeros", "adjoint")


# ---------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------

def _check_padding(padding: str) -> str:
    padding = str(padding).lower()
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding


def conv_output_size(input_size: int, kernel_size: int, stride: int = 1, padding: str = "valid") -> int:
    """Length of a strided convolution's output along one axis, TensorFlow rules (chapter 03)."""
    if _check_padding(padding) == "same":
        return -(-input_size // stride)  # ceil(input / stride)
    return (input_size - kernel_size) // stride + 1


def conv_transpose_output_size(input_size: int, kernel_size: int, stride: int = 1, padding: str = "valid",
                               output_padding: int | None = None) -> int:
    """Length of a transposed convolution's output along one axis, as Keras' Conv2DTranspose computes it (chapter 03)."""
    padding = _check_padding(padding)
    if output_padding is not None and not 0 <= output_padding < stride:
        raise ValueError(f"output_padding must be in [0, stride) = [0, {stride}), got {output_padding}")
    if padding == "valid":
        extra = max(kernel_size, stride) - kernel_size if output_padding is None else output_padding
        return (input_size - 1) * stride + kernel_size + extra
    if output_padding is None:
        return input_size * stride
    return (input_size - 1) * stride + kernel_size % 2 + output_padding


def stride2_layers_needed(input_size: int, output_size: int) -> int:
    """How many stride-2 'same' transposed convolutions take ``input_size`` to ``output_size`` (chapter 03)."""
    layers, size = 0, input_size
    while size < output_size:
        size, layers = size * 2, layers + 1
    if size != output_size:
        raise ValueError(f"{output_size} is not {input_size} times a power of two; stride-2 layers cannot reach it")
    return layers


def crop_before(input_size: int, output_size: int, kernel_size: int, stride: int, padding: str) -> int:
    """Rows the transposed conv drops from the front of its 'full' result: the forward conv's ``pad_before``."""
    padding = _check_padding(padding)
    if conv_output_size(output_size, kernel_size, stride, padding) != input_size:
        raise ValueError(f"a {padding} convolution (kernel {kernel_size}, stride {stride}) of length {output_size} "
                         f"does not give length {input_size}, so no transposed convolution links them")
    if padding == "valid":
        return 0
    return max((input_size - 1) * stride + kernel_size - output_size, 0) // 2


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
    n, h, w, c_in = x.shape
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
# Checkerboard artifacts and classical deconvolution
# ---------------------------------------------------------------------------

def overlap_map(input_hw: tuple[int, int], kernel_size: int, stride: int, padding: str = "same") -> np.ndarray:
    """How many kernel stamps cover each output pixel: transposed conv of ones with a ones kernel (ch. 03)."""
    ones = np.ones((1, *input_hw, 1))
    kernel = np.ones((kernel_size, kernel_size, 1, 1))
    return conv_transpose2d_stamp(ones, kernel, stride, padding)[0, :, :, 0]  # (out_h, out_w)


def gaussian_psf(size: int = 9, sigma: float = 2.0) -> np.ndarray:
    """A normalised (size, size) Gaussian point-spread function for blur demonstrations (ch. 03)."""
    axis = np.arange(size) - (size - 1) / 2
    psf = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma ** 2))
    return psf / psf.sum()


def blur_image(image: np.ndarray, psf: np.ndarray, noise_std: float = 0.0, seed: int = 0) -> np.ndarray:
    """Blur a (h, w) image with a PSF ('same' size, reflected borders) and add Gaussian noise (ch. 03)."""
    from scipy.ndimage import convolve

    blurred = convolve(np.asarray(image, dtype=np.float64), psf, mode="reflect")
    noise = np.random.default_rng(seed).normal(0.0, noise_std, size=blurred.shape)
    return np.clip(blurred + noise, 0.0, 1.0)
