"""Chapter 03 exercises: transposed-convolution sizes, the seed's 64 -> ? layers, a 1-D transposed convolution, ICNR."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, imported, is_integer
from course_utils.exercises.judges import array_judge, integer_judge

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
    hints=(
        ("picture the stamps: each input sample places a copy of the kernel, stride apart. For 'valid', where does "
         "the last stamp end? 'same' is the adjoint of a 'same' convolution, so ask which length that convolution "
         "maps to the input length."),
        ("'valid': the last stamp starts at (input_size - 1) x stride and is kernel_size long, and Keras pads up "
         "to input_size x stride when the kernel is shorter than the stride; 'same' without output_padding gives "
         "input_size x stride. With output_padding set, the notebook's table gives the length for each padding."),
        ("'valid': (n - 1) s + k + max(s - k, 0), or (n - 1) s + k + output_padding when it is given; 'same': n s, "
         "or (n - 1) s + (k mod 2) + output_padding when it is given."),
    ),
)

# --- 03.2 how many stride-2 layers? ----------------------------------------------------------------


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
    id="03.2", name="stride2_layers_needed", title="How many stride-2 'same' layers take one size to another",
    points=1, reference=imported("course_utils.shapes", "stride2_layers_needed"),
    public=_public_stride2_layers_needed, hidden_cases=_cases_stride2_layers_needed,
    judge=integer_judge(lambda input_size, output_size: int(np.log2(output_size // input_size)),
                        "wrong number of layers"),
    hints=(
        ("what does one stride-2 'same' layer do to the size? Apply it until you reach the target, and count."),
        ("start from input_size with no layers and double the size while it is below output_size; equal sizes need "
         "no layer, and the target is input_size times a power of two."),
        ("the count is log2(output_size / input_size); a loop that doubles and counts avoids floating-point "
         "rounding, and the result must be an int."),
    ),
)

# --- 03.3 a 1-D transposed convolution -------------------------------------------------------------

_conv_transpose1d = imported("course_utils.from_scratch.transposed_conv", "conv_transpose1d")


def _signal(value: Any) -> np.ndarray:
    """The learner's result as a float array (lists and tensors are fine); else a specific failure."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    expect(out is not None and out.dtype.kind == "f",
           f"the result should be an array of numbers, got {type(value).__name__}")
    return out


def _public_conv_transpose1d(fn: Callable[..., Any]) -> None:
    out = _signal(fn(np.array([1.0, 2.0]), np.array([1.0, 10.0, 100.0]), 2))
    expect(out.ndim == 1, f"the result should be a 1-D signal, got shape {out.shape}")
    expect(out.shape == (5,), f"for 2 samples, a 3-tap kernel and stride 2 the length is {out.shape[0]}; "
           "it should be (n - 1) * stride + kernel length")
    expect(not np.allclose(out, [100, 10, 201, 20, 2]), "the kernel is reversed: stamp it as it is, do not flip it")
    expect(np.allclose(out, [1, 10, 102, 20, 200]), "the values are wrong; where stamps overlap they must add up")
    single = _signal(fn(np.array([3.0]), np.array([1.0, -1.0]), 4))
    expect(single.shape == (2,) and np.allclose(single, [3, -3]), "a single sample should give value * kernel")
    ones = _signal(fn(np.ones(4), np.ones(1), 3))
    expect(ones.shape == (10,) and np.allclose(ones, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]),
           "with stride 3 and a 1-tap kernel, inputs should land 3 apart with zeros between")
    counts = _signal(fn(np.ones(8), np.ones(3), 2))  # as the checkerboard cell uses it: flat in, counts out
    expect(counts.shape == (17,) and np.allclose(counts, _conv_transpose1d()(np.ones(8), np.ones(3), 2)),
           "a flat signal and a flat 3-tap kernel with stride 2 should give alternating overlap counts")


def _cases_conv_transpose1d(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x": rng.normal(size=int(rng.integers(1, 12))), "kernel": rng.normal(size=int(rng.integers(1, 7))),
             "stride": int(rng.integers(1, 5))} for _ in range(6)]


CONV_TRANSPOSE1D = Exercise(
    id="03.3", name="conv_transpose1d", title="A 1-D transposed convolution by stamping kernels", points=3,
    reference=_conv_transpose1d, public=_public_conv_transpose1d, hidden_cases=_cases_conv_transpose1d,
    judge=array_judge(lambda x, kernel, stride: _conv_transpose1d()(x, kernel, stride), "wrong values", atol=1e-8,
                      shape_reason="shape {shape} for input length {x.size}"),
    hints=(
        ("think of each input sample as stamping a scaled copy of the kernel onto a longer output. Where do "
         "consecutive stamps start, and what happens where they overlap?"),
        ("the output has length (n - 1) x stride + kernel length and starts at 0; the sample at index i adds "
         "sample x kernel to the stretch that starts at i x stride. Overlapping stamps add up, and the kernel is "
         "not flipped."),
        ("np.zeros for the empty output, then a loop over enumerate(x) that adds value * kernel into a slice of "
         "the output with +=; np.asarray with a float dtype lets lists in."),
    ),
)

# --- 03.4 ICNR: a checkerboard-free start for a sub-pixel upsampler -------------------------------

_ICNR_BASE_SHAPE = (3, 3, 2, 3)


def reference_icnr_kernel(base: np.ndarray, scale: int) -> np.ndarray:
    """Reference for 03.4: a (k, k, in, C) kernel copied to every phase: (k, k, in, scale*scale*C)."""
    return np.tile(np.asarray(base), (1, 1, 1, scale * scale))  # channel n copies channel n mod C


def _subpixel_response(kernel: np.ndarray, scale: int) -> np.ndarray:
    """A sub-pixel upsampler with this kernel applied to a constant image: (12s, 12s, C), borders included."""
    import keras

    from course_utils.models.superres import DepthToSpace

    upsampler = keras.Sequential([keras.Input((12, 12, kernel.shape[2])),
                                  keras.layers.Conv2D(kernel.shape[3], kernel.shape[0], padding="same",
                                                      use_bias=False),  # (1, 12, 12, s*s*C)
                                  DepthToSpace(scale)])  # (1, 12s, 12s, C)
    upsampler.layers[0].set_weights([kernel])
    return np.asarray(upsampler(np.full((1, 12, 12, kernel.shape[2]), 0.5, np.float32)))[0]


def _public_icnr_kernel(fn: Callable[..., Any]) -> None:
    base = np.random.default_rng(0).normal(size=_ICNR_BASE_SHAPE).astype(np.float32)  # (3, 3, 2, 3)
    out = fn(base.copy(), 2)
    expect(hasattr(out, "shape"), f"the kernel should be an array, got {type(out).__name__}")
    out = np.asarray(out, dtype=np.float32)
    expect(out.ndim == 4, f"the kernel has shape {tuple(out.shape)}; a Conv2D kernel has 4 axes "
           "(k, k, in, out): put the copies along the last axis")
    expect(out.shape == (3, 3, 2, 12), f"for a (3, 3, 2, 3) base and scale 2 the kernel has shape {out.shape}; "
           "a sub-pixel layer needs scale * scale copies of every output channel")
    expect(not np.allclose(out, np.repeat(base, 4, axis=-1)),
           "the copies are in the wrong order: depth_to_space gives each phase a block of C consecutive channels, "
           "so each block must hold a whole copy of the base kernel")
    expect(np.allclose(out, reference_icnr_kernel(base, 2)), "the kernel is not made of copies of the base kernel")
    flat = _subpixel_response(out, 2)  # (24, 24, 3), as the notebook uses it
    blocks = flat.reshape(12, 2, 12, 2, 3)
    expect(np.ptp(blocks, axis=(1, 3)).max() < 1e-5, "a constant image still comes out with a checkerboard")
    big = np.asarray(fn(np.ones((3, 3, 4, 2), np.float32), 3), dtype=np.float32)
    expect(big.shape == (3, 3, 4, 18), "the kernel is wrong for scale 3: use the scale argument, not a fixed 4 copies")


def _cases_icnr_kernel(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"base": rng.normal(size=(int(rng.choice([1, 3, 5])), 3, int(rng.integers(1, 5)),
                                      int(rng.integers(1, 5)))).astype(np.float32), "scale": int(scale)}
            for scale in (2, 3, int(rng.integers(2, 5)))]


ICNR_KERNEL = Exercise(
    id="03.4", name="icnr_kernel", title="ICNR: a sub-pixel kernel that starts without checkerboards", points=3,
    reference=lambda: reference_icnr_kernel, public=_public_icnr_kernel, hidden_cases=_cases_icnr_kernel,
    judge=array_judge(reference_icnr_kernel, "wrong kernel", atol=1e-6,
                      shape_reason="shape {shape} for a base of shape {base.shape} and scale {scale}"),
    hints=(
        ("a constant input gives a constant output only if every phase of the shuffle sees the same filter; read "
         "the depth-to-space formula to see which output channels end up in which phase."),
        ("channel (a s + b) C + c lands in phase (a, b) as channel c, so the new last axis is s x s consecutive "
         "blocks of C channels, and each block must be a whole copy of the base kernel in its own channel order "
         "(block after block, not each channel repeated in place)."),
        ("np.tile repeats the whole base kernel scale * scale times along the last axis, with reps (1, 1, 1, scale "
         "* scale); np.repeat repeats each channel in place, which is the wrong order."),
    ),
)

EXERCISES = [CONV_TRANSPOSE_OUTPUT_SIZE, STRIDE2_LAYERS_NEEDED, CONV_TRANSPOSE1D, ICNR_KERNEL]
