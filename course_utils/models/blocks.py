"""Encoder and decoder builders shared by every autoencoder of the course (chapters 01 onwards).

Each builder returns a named ``keras.Sequential`` that starts with an ``Input``, so it is built at
once and its layers can be addressed by name (``encoder.get_layer("down_1_act")``). Dense
builders serve chapter 01, convolutional ones chapter 02; later models (denoising, variational,
adversarial) choose among them rather than writing their own.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from course_utils.shapes import conv_transpose_output_size, halving_sizes

DOWNSAMPLING = ("stride", "max", "avg")
UPSAMPLING = ("transpose", "upsample")


def apply_stack(stack: Sequence[keras.layers.Layer], x):
    """Run ``x`` through the layers of ``stack`` in order (a functional-API or ``call``-time helper)."""
    for layer in stack:
        x = layer(x)
    return x


def _finish(name: str, activation: str | None, batch_norm: bool, dropout: float = 0.0) -> list[keras.layers.Layer]:
    """Optional batch normalisation, the activation and optional dropout after a layer called ``name``."""
    block: list[keras.layers.Layer] = []
    if batch_norm:
        block.append(keras.layers.BatchNormalization(name=f"{name}_norm"))
    block.append(keras.layers.Activation(activation or "linear", name=f"{name}_act"))
    if dropout > 0:
        block.append(keras.layers.Dropout(dropout, name=f"{name}_dropout"))
    return block


def _dense_stack(units: Sequence[int], prefix: str, activation: str | None, batch_norm: bool, dropout: float,
                 regularizer) -> list[keras.layers.Layer]:
    """Dense -> [BN] -> activation -> [dropout] for each width; no bias where BN follows."""
    stack: list[keras.layers.Layer] = []
    for i, width in enumerate(units, start=1):
        stack.append(keras.layers.Dense(width, use_bias=not batch_norm, kernel_regularizer=regularizer,
                                        name=f"{prefix}_{i}"))  # (batch, width)
        stack += _finish(f"{prefix}_{i}", activation, batch_norm, dropout)
    return stack


def dense_encoder(input_shape: Sequence[int], latent_dim: int, hidden_units: Sequence[int] = (512, 256),
                  activation: str | None = "relu", code_activation: str | None = None, batch_norm: bool = True,
                  dropout: float = 0.0, l2: float = 0.0, name: str = "encoder") -> keras.Sequential:
    """Flatten, then Dense blocks of ``hidden_units``, then the Dense ``code`` layer: (batch, *shape) -> (batch, d)."""
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    layers = [keras.layers.Flatten(name="flatten"),  # (batch, D)
              *_dense_stack(hidden_units, "hidden", activation, batch_norm, dropout, regularizer),
              keras.layers.Dense(latent_dim, activation=code_activation, kernel_regularizer=regularizer,
                                 name="code")]  # (batch, d)
    return keras.Sequential([keras.Input(tuple(input_shape)), *layers], name=name)


def dense_decoder(latent_dim: int, output_shape: Sequence[int], hidden_units: Sequence[int] = (256, 512),
                  activation: str | None = "relu", output_activation: str | None = "sigmoid", batch_norm: bool = True,
                  dropout: float = 0.0, l2: float = 0.0, code_dropout: float = 0.0,
                  name: str = "decoder") -> keras.Sequential:
    """Dense blocks of ``hidden_units``, a Dense layer to every output value, then Reshape: (batch, d) -> (batch, *shape).

    ``code_dropout`` drops code units before the first layer (the only place dropout fits a shallow autoencoder).
    """
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    dropped = [keras.layers.Dropout(code_dropout, name="code_dropout")] if code_dropout > 0 else []
    layers = [*dropped, *_dense_stack(hidden_units, "hidden", activation, batch_norm, dropout, regularizer),
              keras.layers.Dense(int(np.prod(output_shape)), activation=output_activation,
                                 kernel_regularizer=regularizer, name="output"),  # (batch, D)
              keras.layers.Reshape(tuple(output_shape), name="reshape")]  # (batch, *shape)
    return keras.Sequential([keras.Input((latent_dim,)), *layers], name=name)


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def conv_code_shape(input_shape: Sequence[int], filters: Sequence[int], latent_dim: int | None,
                    code_channels: int = 8) -> tuple[int, ...]:
    """Shape of the code of ``conv_encoder``: (latent_dim,) or the last stage's (h, w, code_channels)."""
    h, w = halving_sizes(tuple(input_shape[:2]), len(filters))[-1]
    return (latent_dim,) if latent_dim is not None else (h, w, code_channels)


def conv_encoder(input_shape: Sequence[int], filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3,
                 latent_dim: int | None = 32, downsample: str = "stride", activation: str = "relu",
                 batch_norm: bool = False, dropout: float = 0.0, code_channels: int = 8,
                 name: str = "encoder") -> keras.Sequential:
    """Stages ``down_1``... that each halve the size, then a Dense ``code`` (vector) or a 1x1 conv ``code`` (map).

    ``downsample``: 'stride' (a stride-2 convolution), 'max' or 'avg' (a convolution, then 2x2 pooling).
    """
    _check_choice(downsample, DOWNSAMPLING, "downsample")
    layers: list[keras.layers.Layer] = []
    for i, f in enumerate(filters, start=1):
        stride = 2 if downsample == "stride" else 1
        layers.append(keras.layers.Conv2D(f, kernel_size, strides=stride, padding="same", name=f"down_{i}"))
        layers += _finish(f"down_{i}", activation, batch_norm)  # (batch, h/stride, w/stride, f)
        if downsample != "stride":
            pool = keras.layers.MaxPooling2D if downsample == "max" else keras.layers.AveragePooling2D
            layers.append(pool(2, padding="same", name=f"down_{i}_pool"))  # (batch, h/2, w/2, f)
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout, name=f"down_{i}_dropout"))
    if latent_dim is not None:
        layers += [keras.layers.Flatten(name="flatten"),  # (batch, h_code * w_code * filters[-1])
                   keras.layers.Dense(latent_dim, name="code")]  # (batch, latent_dim)
    else:
        layers.append(keras.layers.Conv2D(code_channels, 1, name="code"))  # (batch, h_code, w_code, code_channels)
    return keras.Sequential([keras.Input(tuple(input_shape)), *layers], name=name)


def _upsampling_stage(i: int, f: int, kernel_size: int, size_in: tuple[int, int], size_out: tuple[int, int],
                      upsample: str, activation: str, batch_norm: bool) -> list[keras.layers.Layer]:
    """Layers that double (h, w) = ``size_in`` and land exactly on ``size_out`` (odd sizes included)."""
    (h_in, w_in), (h_out, w_out) = size_in, size_out
    crop = keras.layers.Cropping2D(((0, 2 * h_in - h_out), (0, 2 * w_in - w_out)), name=f"up_{i}_crop")
    needs_crop = (2 * h_in, 2 * w_in) != (h_out, w_out)
    if upsample == "upsample":
        layers = [keras.layers.UpSampling2D(2, name=f"up_{i}_resize"), *([crop] if needs_crop else []),
                  keras.layers.Conv2D(f, kernel_size, padding="same", name=f"up_{i}")]
        return layers + _finish(f"up_{i}", activation, batch_norm)
    # output_padding makes (n - 1) * 2 + k - 2 * (k // 2) + op hit the encoder's size exactly.
    op_h = h_out - conv_transpose_output_size(h_in, kernel_size, 2, "same", 0)
    op_w = w_out - conv_transpose_output_size(w_in, kernel_size, 2, "same", 0)
    if 0 <= op_h < 2 and 0 <= op_w < 2:
        return [keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same", output_padding=(op_h, op_w),
                                             name=f"up_{i}"), *_finish(f"up_{i}", activation, batch_norm)]
    # even kernels: upsample to 2n, then crop the extra row/column
    return [keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same", name=f"up_{i}"),
            *_finish(f"up_{i}", activation, batch_norm), *([crop] if needs_crop else [])]


def conv_decoder(output_shape: Sequence[int], filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3,
                 latent_dim: int | None = 32, upsample: str = "transpose", activation: str = "relu",
                 batch_norm: bool = False, code_channels: int = 8, output_activation: str | None = "sigmoid",
                 name: str = "decoder") -> keras.Sequential:
    """Mirror of ``conv_encoder``: stages ``up_N``...``up_1`` that return exactly ``output_shape``, then ``output``.

    ``upsample``: 'transpose' (a stride-2 transposed convolution) or 'upsample' (nearest-neighbour
    resize, then a convolution). A vector code first goes through a Dense ``expand`` layer.
    """
    _check_choice(upsample, UPSAMPLING, "upsample")
    sizes = halving_sizes(tuple(output_shape[:2]), len(filters))
    h_code, w_code = sizes[-1]
    layers: list[keras.layers.Layer] = []
    if latent_dim is not None:
        layers.append(keras.layers.Dense(h_code * w_code * filters[-1], name="expand"))  # (batch, h*w*f)
        layers += _finish("expand", activation, batch_norm)
        layers.append(keras.layers.Reshape((h_code, w_code, filters[-1]), name="reshape"))  # (batch, h, w, f)
    for stage in reversed(range(len(filters))):
        layers += _upsampling_stage(stage + 1, filters[stage], kernel_size, sizes[stage + 1], sizes[stage],
                                    upsample, activation, batch_norm)  # (batch, h_out, w_out, f)
    layers.append(keras.layers.Conv2D(output_shape[-1], kernel_size, padding="same", activation=output_activation,
                                      name="output"))  # (batch, *output_shape)
    code_shape = conv_code_shape(output_shape, filters, latent_dim, code_channels)
    return keras.Sequential([keras.Input(code_shape), *layers], name=name)
