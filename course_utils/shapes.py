"""Size arithmetic of convolutional layers, in one place: conv, pooling and transposed-conv output sizes.

Chapter 02 uses the convolution and pooling sizes, chapter 03 the transposed-convolution ones;
the models use them to make a decoder return exactly the input size. TensorFlow's rules throughout.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PADDINGS = ("valid", "same")


def check_padding(padding: str) -> str:
    """The padding name in lower case; ValueError unless it is 'valid' or 'same'."""
    padding = str(padding).lower()
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding


def conv_output_size(input_size: int, kernel_size: int, stride: int = 1, padding: str = "valid") -> int:
    """Length after a Conv2D or pooling layer along one axis: 'valid' floor((n-k)/s)+1, 'same' ceil(n/s) (ch. 02)."""
    padding = check_padding(padding)
    if min(input_size, kernel_size, stride) < 1:
        raise ValueError(f"size, kernel and stride must be positive, got {input_size}, {kernel_size}, {stride}")
    if padding == "same":
        return -(-input_size // stride)  # ceil(input / stride)
    if input_size < kernel_size:
        raise ValueError(f"a {kernel_size}-wide kernel does not fit in a {input_size}-wide input with 'valid' padding")
    return (input_size - kernel_size) // stride + 1


def conv_transpose_output_size(input_size: int, kernel_size: int, stride: int = 1, padding: str = "valid",
                               output_padding: int | None = None) -> int:
    """Length after Keras' Conv2DTranspose along one axis (ch. 03).

    Without ``output_padding``: 'valid' n*s + max(k - s, 0), 'same' n*s. With it:
    (n - 1)*s + k - 2p + output_padding, where p = k // 2 for 'same' and 0 for 'valid'.
    """
    padding = check_padding(padding)
    if output_padding is not None and not 0 <= output_padding < stride:
        raise ValueError(f"output_padding must be in [0, stride) = [0, {stride}), got {output_padding}")
    if padding == "valid":
        extra = max(kernel_size, stride) - kernel_size if output_padding is None else output_padding
        return (input_size - 1) * stride + kernel_size + extra
    if output_padding is None:
        return input_size * stride
    return (input_size - 1) * stride + kernel_size % 2 + output_padding


def stride2_layers_needed(input_size: int, output_size: int) -> int:
    """How many stride-2 'same' transposed convolutions take ``input_size`` to ``output_size`` (ch. 03)."""
    layers, size = 0, input_size
    while size < output_size:
        size, layers = size * 2, layers + 1
    if size != output_size:
        raise ValueError(f"{output_size} is not {input_size} times a power of two; stride-2 layers cannot reach it")
    return layers


def crop_before(input_size: int, output_size: int, kernel_size: int, stride: int, padding: str) -> int:
    """Rows a transposed conv drops from the front of its 'full' result: the forward conv's ``pad_before`` (ch. 03)."""
    padding = check_padding(padding)
    if conv_output_size(output_size, kernel_size, stride, padding) != input_size:
        raise ValueError(f"a {padding} convolution (kernel {kernel_size}, stride {stride}) of length {output_size} "
                         f"does not give length {input_size}, so no transposed convolution links them")
    if padding == "valid":
        return 0
    return max((input_size - 1) * stride + kernel_size - output_size, 0) // 2


def halving_sizes(size: tuple[int, int], stages: int) -> tuple[tuple[int, int], ...]:
    """Spatial sizes after each of ``stages`` stride-2 'same' stages: (28, 28) -> (14, 14) -> (7, 7) -> (4, 4)."""
    sizes = [tuple(size)]
    for _ in range(stages):
        sizes.append(tuple(conv_output_size(n, 2, 2, "same") for n in sizes[-1]))
    return tuple(sizes)


def compression_ratio(input_shape: Sequence[int], code_size: int) -> float:
    """How many input values each code value stands for: prod(input_shape) / code_size (ch. 00)."""
    if code_size <= 0:
        raise ValueError(f"code_size must be positive, got {code_size}")
    return float(np.prod(input_shape)) / float(code_size)
