"""The ``Autoencoder`` base and the reference dense and convolutional autoencoders (chapters 01 and 02).

Every autoencoder is a ``keras.Model`` with two built sub-models, ``.encoder`` (input -> code) and
``.decoder`` (code -> reconstruction), and ``encode``/``decode`` methods. It is built in
``__init__``, so ``count_params()`` and ``summary()`` work at once. Every hyperparameter is an
explicit constructor argument that comes back through ``get_config``, so ``keras.models.load_model``
rebuilds the same architecture and loads the weights. Each model owns its objective: plain
autoencoders are compiled with a reconstruction loss (``model.compile(loss="mse")``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from course_utils.models.blocks import conv_decoder, conv_encoder, dense_decoder, dense_encoder


def _as_shape(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(s) for s in shape)


class Autoencoder(keras.Model):
    """An encoder and a decoder sub-model, built in ``__init__``: x -> z = encode(x) -> x' = decode(z)."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.build((None, *encoder.input_shape[1:]))

    def build(self, input_shape):
        """Nothing to create: both sub-models start with an ``Input`` and are built already."""

    def encode(self, x, training: bool = False):
        """The code of a batch: (batch, *input_shape) -> (batch, *code_shape)."""
        return self.encoder(x, training=training)

    def decode(self, z, training: bool = False):
        """The reconstruction of a batch of codes: (batch, *code_shape) -> (batch, *input_shape)."""
        return self.decoder(z, training=training)

    def call(self, inputs, training=None):
        """Encode then decode: (batch, *input_shape) -> (batch, *input_shape)."""
        return self.decode(self.encode(inputs, training=training), training=training)

    @property
    def code_shape(self) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
        """Shape of one code without the batch axis; for an encoder with several outputs, one shape per output."""
        shape = self.encoder.output_shape
        if isinstance(shape, list):  # several outputs, e.g. the stages of a skip-connected encoder
            return tuple(tuple(s[1:]) for s in shape)
        return tuple(shape[1:])


@keras.saving.register_keras_serializable(package="course_utils")
class DenseAutoencoder(Autoencoder):
    """A fully connected autoencoder, z = f(Wx + b), x' = g(W'z + b'), any depth (chapter 01).

    ``hidden_units=()`` with ``activation=None`` and ``output_activation=None`` is a linear
    autoencoder, the one that learns PCA's subspace. ``dropout`` drops hidden units; ``code_dropout`` drops
    code units before the decoder (chapter 04's regularised autoencoder).
    """

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 32,
                 hidden_units: Sequence[int] = (512, 256), activation: str | None = "relu",
                 code_activation: str | None = None, output_activation: str | None = "sigmoid",
                 batch_norm: bool = True, dropout: float = 0.0, l2: float = 0.0, code_dropout: float = 0.0,
                 **kwargs):
        self.hyperparameters = dict(
            input_shape=list(_as_shape(input_shape)), latent_dim=int(latent_dim),
            hidden_units=list(_as_shape(hidden_units)), activation=activation, code_activation=code_activation,
            output_activation=output_activation, batch_norm=bool(batch_norm), dropout=float(dropout), l2=float(l2),
            code_dropout=float(code_dropout))
        shared = dict(activation=activation, batch_norm=bool(batch_norm), dropout=float(dropout), l2=float(l2))
        encoder = dense_encoder(input_shape, latent_dim, hidden_units, code_activation=code_activation, **shared)
        decoder = dense_decoder(latent_dim, input_shape, tuple(reversed(tuple(hidden_units))),
                                output_activation=output_activation, code_dropout=float(code_dropout), **shared)
        super().__init__(encoder, decoder, **kwargs)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        return {**super().get_config(), **self.hyperparameters}


def linear_autoencoder(input_shape: Sequence[int], latent_dim: int) -> DenseAutoencoder:
    """A linear autoencoder (no hidden layers, no activations): the neural twin of PCA (chapter 01)."""
    return DenseAutoencoder(input_shape=input_shape, latent_dim=latent_dim, hidden_units=(), activation=None,
                            output_activation=None, batch_norm=False, name="linear_autoencoder")


@keras.saving.register_keras_serializable(package="course_utils")
class ConvAutoencoder(Autoencoder):
    """A convolutional autoencoder whose decoder returns exactly the input size (chapter 02).

    Each encoder stage halves the spatial size (a strided convolution, or a convolution followed by
    max/average pooling); the decoder mirrors it with transposed convolutions or upsampling and picks
    ``output_padding`` (or a crop) so that odd sizes such as 7 -> 14 -> 28 come back exactly.
    With ``latent_dim`` an int the code is a vector from a Dense bottleneck; with ``latent_dim=None``
    the code is a feature map with ``code_channels`` channels made by a 1x1 convolution.
    ``decoder_kernel_size`` (default: ``kernel_size``) sets the decoder's kernels alone.
    """

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), latent_dim: int | None = 32,
                 filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3, downsample: str = "stride",
                 upsample: str = "transpose", activation: str = "relu", batch_norm: bool = False,
                 dropout: float = 0.0, code_channels: int = 8, output_activation: str | None = "sigmoid",
                 decoder_kernel_size: int | None = None, **kwargs):
        shape = _as_shape(input_shape)
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {shape}")
        latent_dim = None if latent_dim is None else int(latent_dim)
        self.hyperparameters = dict(
            input_shape=list(shape), latent_dim=latent_dim, filters=list(_as_shape(filters)),
            kernel_size=int(kernel_size), downsample=downsample, upsample=upsample, activation=activation,
            batch_norm=bool(batch_norm), dropout=float(dropout), code_channels=int(code_channels),
            output_activation=output_activation,
            decoder_kernel_size=None if decoder_kernel_size is None else int(decoder_kernel_size))
        shared = dict(filters=_as_shape(filters), kernel_size=int(kernel_size), latent_dim=latent_dim,
                      activation=activation, batch_norm=bool(batch_norm), code_channels=int(code_channels))
        encoder = conv_encoder(shape, downsample=downsample, dropout=float(dropout), **shared)
        if decoder_kernel_size is not None:  # e.g. 4x4 transposed kernels behind a 3x3 encoder: one variable changed
            shared["kernel_size"] = int(decoder_kernel_size)
        decoder = conv_decoder(shape, upsample=upsample, output_activation=output_activation, **shared)
        super().__init__(encoder, decoder, **kwargs)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        return {**super().get_config(), **self.hyperparameters}


__all__ = ["Autoencoder", "ConvAutoencoder", "DenseAutoencoder", "linear_autoencoder"]
