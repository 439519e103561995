"""Single-image super-resolution models: three upsampling designs on one shared body (chapter 03).

Every model sees a low-resolution luminance image (batch, h, w, 1) and returns (batch, s*h, s*w, 1).
By default it predicts a *residual* that is added to the bicubic upsample, so training only has to
learn the detail bicubic interpolation misses. The head that makes the residual starts at zero, so an
untrained residual model returns exactly the bicubic upsample (a random head would start 0.2-2 dB
below bicubic); the sub-pixel upsampler starts with ICNR, free of checkerboards.
"""
from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from course_utils.models.initializers import ICNR

DESIGNS = ("transposed", "resize", "subpixel")


@keras.saving.register_keras_serializable(package="course_utils")
class BicubicUpsample(layers.Layer):
    """Bicubic resize by an integer factor that also works on images of any size in graph mode (ch. 03).

    ``UpSampling2D(interpolation="bicubic")`` would be the obvious choice, but it fails in graph mode
    when height and width are unknown, as they are for photographs of any size.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        import tensorflow as tf

        size = tf.shape(x)[1:3] * self.scale
        return tf.image.resize(x, size, method="bicubic")  # (batch, s*h, s*w, c)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h * self.scale, None if w is None else w * self.scale, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="course_utils")
class DepthToSpace(layers.Layer):
    """Sub-pixel shuffle as a layer: ``keras.ops.depth_to_space``, (batch, h, w, s*s*c) -> (batch, s*h, s*w, c) (ch. 03)."""

    def __init__(self, block_size: int, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        return ops.depth_to_space(x, self.block_size)  # (batch, s*h, s*w, c)

    def compute_output_shape(self, input_shape):
        s = self.block_size
        b, h, w, c = input_shape
        return (b, None if h is None else h * s, None if w is None else w * s, c // (s * s))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


class SuperResolution(keras.Model):
    """Shared body: conv features at low resolution, an upsampler, a zero-initialised conv head, a bicubic skip (ch. 03)."""

    def __init__(self, scale: int = 2, filters: int = 32, depth: int = 4, channels: int = 1,
                 residual: bool = True, **kwargs):
        super().__init__(**kwargs)
        if int(scale) < 2:
            raise ValueError(f"scale must be an integer >= 2, got {scale}")
        self.scale, self.filters, self.depth = int(scale), int(filters), int(depth)
        self.channels, self.residual = int(channels), bool(residual)
        self.body = [layers.Conv2D(self.filters, 3, padding="same", activation="relu", name=f"feature_{i}")
                     for i in range(self.depth)]
        self.upsampler = self.make_upsampler()
        self.head = layers.Conv2D(self.channels, 3, padding="same", kernel_initializer="zeros", name="head")
        self.bicubic = BicubicUpsample(self.scale, name="bicubic")
        self.build((None, None, None, self.channels))  # fully convolutional: any image size

    def make_upsampler(self) -> list[layers.Layer]:
        """Layers taking (batch, h, w, filters) to (batch, s*h, s*w, filters); set by each design."""
        raise NotImplementedError

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in [*self.body, *self.upsampler, self.head]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.bicubic.build(input_shape)

    def call(self, low_res):
        x = low_res  # (batch, h, w, channels)
        for layer in self.body:
            x = layer(x)  # (batch, h, w, filters)
        for layer in self.upsampler:
            x = layer(x)  # (batch, s*h, s*w, filters)
        out = self.head(x)  # (batch, s*h, s*w, channels)
        return out + self.bicubic(low_res) if self.residual else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "filters": self.filters, "depth": self.depth,
                "channels": self.channels, "residual": self.residual}


@keras.saving.register_keras_serializable(package="course_utils")
class TransposedConvSR(SuperResolution):
    """Upsampling by a learned stride-s transposed convolution (kernel 2s by default: no uneven overlap) (ch. 03)."""

    def __init__(self, scale: int = 2, kernel_size: int | None = None, **kwargs):
        self.kernel_size = int(kernel_size or 2 * scale)
        super().__init__(scale=scale, **kwargs)

    def make_upsampler(self) -> list[layers.Layer]:
        return [layers.Conv2DTranspose(self.filters, self.kernel_size, strides=self.scale, padding="same",
                                       activation="relu", name="transposed_conv")]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="course_utils")
class ResizeConvSR(SuperResolution):
    """Upsampling by nearest-neighbour resize followed by a 3x3 convolution (ch. 03)."""

    def make_upsampler(self) -> list[layers.Layer]:
        return [layers.UpSampling2D(self.scale, interpolation="nearest", name="resize"),
                layers.Conv2D(self.filters, 3, padding="same", activation="relu", name="resize_conv")]


@keras.saving.register_keras_serializable(package="course_utils")
class SubPixelSR(SuperResolution):
    """Upsampling by an ICNR-initialised convolution to s*s*filters channels and a depth-to-space shuffle (ch. 03)."""

    def make_upsampler(self) -> list[layers.Layer]:
        return [layers.Conv2D(self.filters * self.scale ** 2, 3, padding="same", activation="relu",
                              kernel_initializer=ICNR(self.scale), name="subpixel_conv"),
                DepthToSpace(self.scale, name="depth_to_space")]


def make_sr_model(design: str, scale: int = 2, **kwargs) -> SuperResolution:
    """Build a super-resolution model by design name: 'transposed', 'resize' or 'subpixel' (ch. 03)."""
    classes = {"transposed": TransposedConvSR, "resize": ResizeConvSR, "subpixel": SubPixelSR}
    if design not in classes:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    return classes[design](scale=scale, **kwargs)
