"""A fully convolutional residual denoiser for images of any size: a small U-Net that predicts a correction (ch. 05).

``ResidualUNet`` returns ``x + f(x)``: the U-Net ``f`` estimates the negated noise (or reconstruction
artefacts) of its input, as DnCNN does, and the U-Net's contracting path gives it the large receptive
field that the spatially correlated noise of filtered back-projection needs (the design of FBPConvNet).
Its output convolution starts at zero, so an untrained model returns its input unchanged and training
starts from the noisy image's score instead of below it. Every stage pools with 'same' padding and every
skip connection crops the upsampled features to the skip's size, so any height and width work.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers, ops

from course_utils.models.blocks import apply_stack


def _convs(count: int, filters: int, kernel_size: int, name: str) -> list[layers.Layer]:
    """``count`` 'same' convolutions with ReLU, called ``name_1``, ``name_2``..."""
    return [layers.Conv2D(filters, kernel_size, padding="same", activation="relu", name=f"{name}_{i}")
            for i in range(1, count + 1)]


@keras.saving.register_keras_serializable(package="course_utils")
class ResidualUNet(keras.Model):
    """x -> x + U-Net(x): a residual denoiser for (batch, h, w, channels) images of any h and w (chapter 05).

    ``filters`` gives the width of each level (full resolution first, halved size at each next one);
    every level has ``convs_per_level`` convolutions on the way down and again on the way up. The
    default, narrow at full resolution and four levels deep, spends the compute of a 2-core CPU where it
    pays: about 34,000 multiply-adds per pixel, against 92,000 for a three-level (32, 64, 128) U-Net.
    Compile with ``loss="mse"`` and fit (noisy, clean) pairs.
    """

    def __init__(self, channels: int = 1, filters: Sequence[int] = (16, 32, 64, 96), convs_per_level: int = 2,
                 kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        filters = tuple(int(f) for f in filters)
        if int(channels) < 1 or len(filters) < 2 or min(filters) < 1 or int(convs_per_level) < 1 \
                or int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"need channels >= 1, at least two levels of filters >= 1 (e.g. (16, 32, 64, 96)), "
                             f"convs_per_level >= 1 and an odd kernel_size; got channels={channels}, filters={filters}, "
                             f"convs_per_level={convs_per_level}, kernel_size={kernel_size}")
        self.channels, self.filters = int(channels), filters
        self.convs_per_level, self.kernel_size = int(convs_per_level), int(kernel_size)
        convs = dict(count=self.convs_per_level, kernel_size=self.kernel_size)
        self.down = [_convs(filters=f, name=f"down_{i}", **convs) for i, f in enumerate(filters)]
        self.pools = [layers.MaxPooling2D(2, padding="same", name=f"pool_{i}") for i in range(len(filters) - 1)]
        self.ups = [layers.Conv2DTranspose(f, 2, strides=2, name=f"up_{i}") for i, f in enumerate(filters[:-1])]
        self.up = [_convs(filters=f, name=f"up_{i}_conv", **convs) for i, f in enumerate(filters[:-1])]
        self.head = layers.Conv2D(self.channels, 1, kernel_initializer="zeros", name="head")
        self.build((None, None, None, self.channels))

    def build(self, input_shape):
        """Build every layer by tracing a symbolic batch of any size."""
        self.call(keras.KerasTensor(tuple(input_shape)))

    def call(self, inputs):
        x, skips = inputs, []  # (batch, h, w, channels)
        for level, stack in enumerate(self.down):
            if level:
                x = self.pools[level - 1](x)  # (batch, ceil(h_prev / 2), ceil(w_prev / 2), filters[level - 1])
            x = apply_stack(stack, x)  # (batch, h_level, w_level, filters[level])
            skips.append(x)
        for level in reversed(range(len(self.up))):
            skip = skips[level]  # (batch, h_level, w_level, filters[level])
            x = self.ups[level](x)  # (batch, 2 * h_below, 2 * w_below, filters[level]), at least the skip's size
            x = x[:, :ops.shape(skip)[1], :ops.shape(skip)[2], :]  # (batch, h_level, w_level, filters[level])
            x = ops.concatenate([skip, x], axis=-1)  # (batch, h_level, w_level, 2 * filters[level])
            x = apply_stack(self.up[level], x)  # (batch, h_level, w_level, filters[level])
        return inputs + self.head(x)  # (batch, h, w, channels)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        return {**super().get_config(), "channels": self.channels, "filters": list(self.filters),
                "convs_per_level": self.convs_per_level, "kernel_size": self.kernel_size}


__all__ = ["ResidualUNet"]
