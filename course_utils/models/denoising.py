"""The denoising autoencoder: any autoencoder trained to map a corrupted input back to the clean one (chapter 04).

``DenoisingAutoencoder`` wraps a base ``Autoencoder`` (it reuses its encoder and decoder, so it has the
same weights) and puts a ``Corruption`` layer in front of the encoder that acts only while training:
``fit(x, x)`` with ``loss="mse"`` then minimises E ||decode(encode(x~)) - x||^2 with fresh noise x~ ~ q(x~|x)
on every batch, and at inference the model denoises whatever it is given.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from course_utils.data.corruption import Corruption
from course_utils.models.autoencoders import Autoencoder
from course_utils.models.blocks import apply_stack
from course_utils.shapes import conv_transpose_output_size, halving_sizes

MSE_FLOOR = 1e-10  # keeps log(MSE) finite for a perfect reconstruction: PSNR at most 100 dB


@keras.saving.register_keras_serializable(package="course_utils")
def psnr_loss(clean, denoised):
    """Each image's PSNR in dB, negated: (batch, h, w, c) -> (batch,); its batch mean is minus the mean PSNR.

    ``compile(loss="mse")`` minimises the mean squared error over all pixels of a batch, so its optimum is the
    best *PSNR of the mean MSE*; this loss, 10 log10(MSE_i) per image i for images in [0, 1], targets the *mean
    of each image's PSNR*, the score chapter 04 reports. Computed in float32 under a mixed precision policy.
    """
    clean = keras.ops.cast(keras.ops.convert_to_tensor(clean), "float32")
    denoised = keras.ops.cast(denoised, "float32")
    axes = tuple(range(1, len(denoised.shape)))
    per_image = keras.ops.mean(keras.ops.square(clean - denoised), axis=axes)  # (batch,)
    return 10.0 * keras.ops.log(per_image + MSE_FLOOR) / keras.ops.log(10.0)  # (batch,)


@keras.saving.register_keras_serializable(package="course_utils")
class DenoisingAutoencoder(Autoencoder):
    """An autoencoder that corrupts its input while training and reconstructs the clean image (chapter 04).

    It shares ``base``'s encoder and decoder (same weights, same parameter count); ``corruption`` acts
    only with ``training=True``. Compile with ``loss="mse"`` and fit with the clean images as targets.
    """

    def __init__(self, base: Autoencoder, corruption: Corruption, **kwargs):
        if not isinstance(base, Autoencoder):
            raise TypeError(f"base must be an Autoencoder (course_utils.models), got {type(base).__name__}")
        if not isinstance(corruption, Corruption):
            raise TypeError(f"corruption must be a course_utils.data.Corruption layer, got {type(corruption).__name__}")
        self.corruption = corruption  # set before the base class builds the model and locks its state
        self.base_config = _serialized(base)
        super().__init__(base.encoder, base.decoder, **kwargs)

    def call(self, inputs, training=None):
        """Corrupt (training only), encode, decode: (batch, *input_shape) -> (batch, *input_shape)."""
        noisy = self.corruption(inputs, training=training)  # (batch, *input_shape)
        return self.decode(self.encode(noisy, training=training), training=training)

    def get_config(self) -> dict[str, Any]:
        """The base autoencoder and the corruption, serialized, so ``load_model`` rebuilds both."""
        if self.base_config is None:
            raise ValueError("this DenoisingAutoencoder cannot be saved whole: its base autoencoder class has no "
                             "get_config. Use a registered one (DenseAutoencoder, ConvAutoencoder, ConvDenoiserBase), "
                             "or save only the weights with save_weights(...)")
        return {**super().get_config(), "base": self.base_config,
                "corruption": keras.saving.serialize_keras_object(self.corruption)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DenoisingAutoencoder:
        config = dict(config)
        base = keras.saving.deserialize_keras_object(config.pop("base"))
        corruption = keras.saving.deserialize_keras_object(config.pop("corruption"))
        return cls(base, corruption, **config)


def _serialized(base: Autoencoder) -> dict[str, Any] | None:
    """``base`` serialized by Keras, or None when its class cannot be (a plain ``Autoencoder(encoder, decoder)``)."""
    try:
        return keras.saving.serialize_keras_object(base)
    except NotImplementedError:
        return None


def _conv(name: str, filters: int, kernel_size: int, activation: str, momentum: float | None, stride: int = 1,
          upsample: tuple[tuple[int, int], tuple[int, int]] | None = None) -> list[keras.layers.Layer]:
    """A 'same' convolution, or with ``upsample=(size_in, size_out)`` a stride-2 transposed one that lands exactly
    on ``size_out``; then batch normalisation (unless ``momentum`` is None; the convolution then has no bias)
    and the activation."""
    shared = dict(padding="same", use_bias=momentum is None, name=name)
    if upsample is None:
        layers = [keras.layers.Conv2D(filters, kernel_size, strides=stride, **shared)]
    else:  # (n - 1) * 2 + 1 + output_padding = size_out for an odd kernel
        padding = tuple(out - conv_transpose_output_size(n, kernel_size, 2, "same", 0) for n, out in zip(*upsample))
        layers = [keras.layers.Conv2DTranspose(filters, kernel_size, strides=2, output_padding=padding, **shared)]
    if momentum is not None:
        layers.append(keras.layers.BatchNormalization(momentum=momentum, name=f"{name}_norm"))
    return [*layers, keras.layers.Activation(activation, name=f"{name}_act")]


@keras.saving.register_keras_serializable(package="course_utils")
class ConvDenoiserBase(Autoencoder):
    """A convolutional autoencoder with convolutions at full resolution and at every stride-2 stage (chapter 04).

    Encoder: ``convs_per_stage`` convolutions with ``filters[0]`` channels at full resolution, then for
    each further width a stride-2 convolution and ``convs_per_stage - 1`` more. The decoder mirrors it
    with stride-2 transposed convolutions that land exactly on the encoder's sizes. Without ``skips`` the
    code is the last stage's feature map, e.g. (7, 7, filters[-1]) for 28x28 inputs and three widths.
    With ``skips`` (symmetric skip connections, Mao et al. 2016's RED-Net) each upsampled decoder stage
    adds the encoder's feature map of the same size, so fine detail need not pass through the smallest
    map: ``encode`` then returns every stage's map, largest first, and the decoder reads them all; the
    parameter count is the same. Batch norm uses ``batch_norm_momentum`` 0.9 rather than Keras' 0.99,
    so its inference statistics are usable after a few dozen steps (a short lab run) as well as after
    thousands.
    """

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), filters: Sequence[int] = (32, 64, 128),
                 convs_per_stage: int = 2, kernel_size: int = 3, activation: str = "relu", batch_norm: bool = True,
                 batch_norm_momentum: float = 0.9, output_activation: str | None = "sigmoid", skips: bool = False,
                 **kwargs):
        shape, filters = tuple(int(s) for s in input_shape), tuple(int(f) for f in filters)
        if len(shape) != 3 or not filters or int(convs_per_stage) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"need input_shape (height, width, channels), at least one width, convs_per_stage >= 1 and "
                             f"an odd kernel_size; got {shape}, {filters}, {convs_per_stage}, {kernel_size}")
        self.hyperparameters = dict(
            input_shape=list(shape), filters=list(filters), convs_per_stage=int(convs_per_stage),
            kernel_size=int(kernel_size), activation=activation, batch_norm=bool(batch_norm),
            batch_norm_momentum=float(batch_norm_momentum), output_activation=output_activation, skips=bool(skips))
        sizes = halving_sizes(shape[:2], len(filters) - 1)  # ((28, 28), (14, 14), (7, 7))
        conv = dict(kernel_size=int(kernel_size), activation=activation,
                    momentum=float(batch_norm_momentum) if batch_norm else None)
        extra = range(1, int(convs_per_stage))
        x = image = keras.Input(shape)
        stages = []  # each encoder stage's output: (batch, *sizes[i], filters[i])
        for i, f in enumerate(filters):
            down = _conv(f"down_{i}" if i else "full_0", f, stride=2 if i else 1, **conv)
            x = apply_stack(down, x)  # (batch, *sizes[i], f)
            for j in extra:
                x = apply_stack(_conv(f"enc_{i}_{j}", f, **conv), x)  # (batch, *sizes[i], f)
            stages.append(x)
        codes = [keras.Input(s.shape[1:]) for s in stages] if skips else [keras.Input(stages[-1].shape[1:])]
        x = codes[-1]  # (batch, *sizes[-1], filters[-1])
        for i in reversed(range(len(filters))):
            for j in extra:
                x = apply_stack(_conv(f"dec_{i}_{j}", filters[i], **conv), x)  # (batch, *sizes[i], filters[i])
            if i:  # up to (batch, *sizes[i - 1], filters[i - 1]), plus the encoder's map of that size with skips
                x = apply_stack(_conv(f"up_{i}", filters[i - 1], upsample=(sizes[i], sizes[i - 1]), **conv), x)
                if skips:
                    x = keras.layers.Add(name=f"skip_{i - 1}")([x, codes[i - 1]])
        output = keras.layers.Conv2D(shape[-1], int(kernel_size), padding="same", activation=output_activation,
                                     name="output")(x)  # (batch, *input_shape)
        super().__init__(keras.Model(image, stages if skips else stages[-1], name="encoder"),
                         keras.Model(codes if skips else codes[0], output, name="decoder"), **kwargs)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        return {**super().get_config(), **self.hyperparameters}


def conv_denoiser(input_shape: Sequence[int] = (28, 28, 1), filters: Sequence[int] = (32, 64, 128, 256),
                  convs_per_stage: int = 2, kernel_size: int = 3, batch_norm: bool = True, skips: bool = True,
                  kind: str = "gaussian", level: float = 0.3, clip: bool = True, seed: int | None = None,
                  name: str = "conv_denoiser") -> DenoisingAutoencoder:
    """The course's convolutional denoising autoencoder, the design of the chapter 04 benchmark."""
    base = ConvDenoiserBase(input_shape, filters, convs_per_stage, kernel_size, batch_norm=batch_norm, skips=skips)
    return DenoisingAutoencoder(base, Corruption(kind, level, clip=clip, seed=seed), name=name)


__all__ = ["ConvDenoiserBase", "DenoisingAutoencoder", "conv_denoiser", "psnr_loss"]
