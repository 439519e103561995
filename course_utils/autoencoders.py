"""Reference dense and convolutional autoencoders (chapters 01 and 02), saveable in the ``.keras`` format.

Both models are ``keras.Model`` subclasses with two sub-models, ``.encoder`` (input -> code) and
``.decoder`` (code -> reconstruction), each usable on its own. Every hyperparameter is an explicit
constructor argument and comes back through ``get_config``, so ``keras.models.load_model`` rebuilds
the same architecture and loads the weights.
"""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

PADDINGS = ("valid", "same")


def output_size(size: int, kernel: int, stride: int = 1, padding: str = "valid", transposed: bool = False,
                output_padding: int | None = None) -> int:
    """Spatial size after a Keras conv/pooling layer, or a transposed conv with ``transposed=True`` (chapter 02).

    Convolution and pooling: ``valid`` -> floor((n - k) / s) + 1, ``same`` -> ceil(n / s).
    Transposed convolution without ``output_padding``: ``valid`` -> n*s + max(k - s, 0), ``same`` -> n*s;
    with it: (n - 1)*s + k - 2*p + output_padding, where p = k // 2 for ``same`` and 0 for ``valid``.
    The formulas live in ``course_utils.deconv`` (chapter 03); this adds the checks chapter 02 teaches.
    """
    from course_utils.deconv import conv_output_size, conv_transpose_output_size

    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if min(size, kernel, stride) < 1:
        raise ValueError(f"size, kernel and stride must be positive, got {size}, {kernel}, {stride}")
    if transposed:
        return conv_transpose_output_size(size, kernel, stride, padding, output_padding)
    if output_padding is not None:
        raise ValueError("output_padding only applies to transposed convolutions")
    if padding == "valid" and size < kernel:
        raise ValueError(f"a {kernel}-wide kernel does not fit in a {size}-wide input with 'valid' padding")
    return conv_output_size(size, kernel, stride, padding)


def _as_shape(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(s) for s in shape)


@keras.saving.register_keras_serializable(package="course_utils")
class DenseAutoencoder(keras.Model):
    """A fully connected autoencoder, z = f(Wx + b), x' = g(W'z + b'), any depth (chapter 01).

    ``hidden_units=()`` with ``activation=None`` and ``output_activation=None`` is a linear
    autoencoder, the one that learns PCA's subspace.
    """

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 32,
                 hidden_units: Sequence[int] = (512, 256), activation: str | None = "relu",
                 code_activation: str | None = None, output_activation: str | None = "sigmoid",
                 batch_norm: bool = True, dropout: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.input_shape_ = _as_shape(input_shape)
        self.latent_dim = int(latent_dim)
        self.hidden_units = _as_shape(hidden_units)
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)
        self.l2 = float(l2)
        n_inputs = int(np.prod(self.input_shape_))
        reg = keras.regularizers.L2(self.l2) if self.l2 > 0 else None

        def hidden_block(units: int) -> list[keras.layers.Layer]:
            block: list[keras.layers.Layer] = [keras.layers.Dense(units, use_bias=not self.batch_norm,
                                                                  kernel_regularizer=reg)]
            if self.batch_norm:
                block.append(keras.layers.BatchNormalization())
            block.append(keras.layers.Activation(self.activation or "linear"))
            if self.dropout > 0:
                block.append(keras.layers.Dropout(self.dropout))
            return block

        encoder_layers: list[keras.layers.Layer] = [keras.layers.Flatten()]  # (batch, D)
        for units in self.hidden_units:
            encoder_layers += hidden_block(units)  # (batch, units)
        encoder_layers.append(keras.layers.Dense(self.latent_dim, activation=self.code_activation,
                                                 kernel_regularizer=reg, name="code"))  # (batch, d)
        self.encoder = keras.Sequential([keras.Input(self.input_shape_), *encoder_layers], name="encoder")

        decoder_layers: list[keras.layers.Layer] = []
        for units in reversed(self.hidden_units):
            decoder_layers += hidden_block(units)  # (batch, units)
        decoder_layers += [
            keras.layers.Dense(n_inputs, activation=self.output_activation, kernel_regularizer=reg),  # (batch, D)
            keras.layers.Reshape(self.input_shape_),  # (batch, *input_shape)
        ]
        self.decoder = keras.Sequential([keras.Input((self.latent_dim,)), *decoder_layers], name="decoder")

    def call(self, inputs, training=None):
        """Encode then decode: (batch, *input_shape) -> (batch, *input_shape)."""
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def get_config(self) -> dict:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        config = super().get_config()
        config.update(input_shape=list(self.input_shape_), latent_dim=self.latent_dim,
                      hidden_units=list(self.hidden_units), activation=self.activation,
                      code_activation=self.code_activation, output_activation=self.output_activation,
                      batch_norm=self.batch_norm, dropout=self.dropout, l2=self.l2)
        return config


def linear_autoencoder(input_shape: Sequence[int], latent_dim: int) -> DenseAutoencoder:
    """A linear autoencoder (no hidden layers, no activations): the neural twin of PCA (chapter 01)."""
    return DenseAutoencoder(input_shape=input_shape, latent_dim=latent_dim, hidden_units=(), activation=None,
                            output_activation=None, batch_norm=False, name="linear_autoencoder")


@keras.saving.register_keras_serializable(package="course_utils")
class ConvAutoencoder(keras.Model):
    """A convolutional autoencoder whose decoder returns exactly the input size (chapter 02).

    Each encoder stage halves the spatial size (a strided convolution, or a convolution followed by
    max/average pooling); the decoder mirrors it with transposed convolutions or upsampling and picks
    ``output_padding`` (or a crop) so that odd sizes such as 7 -> 14 -> 28 come back exactly.
    With ``latent_dim`` an int the code is a vector from a Dense bottleneck; with ``latent_dim=None``
    the code is a feature map with ``code_channels`` channels made by a 1x1 convolution.
    """

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), latent_dim: int | None = 32,
                 filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3, downsample: str = "stride",
                 upsample: str = "transpose", activation: str = "relu", batch_norm: bool = False,
                 dropout: float = 0.0, code_channels: int = 8, output_activation: str | None = "sigmoid",
                 **kwargs):
        super().__init__(**kwargs)
        if downsample not in ("stride", "max", "avg"):
            raise ValueError(f"downsample must be 'stride', 'max' or 'avg', got {downsample!r}")
        if upsample not in ("transpose", "upsample"):
            raise ValueError(f"upsample must be 'transpose' or 'upsample', got {upsample!r}")
        self.input_shape_ = _as_shape(input_shape)
        if len(self.input_shape_) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {self.input_shape_}")
        self.latent_dim = None if latent_dim is None else int(latent_dim)
        self.filters = _as_shape(filters)
        self.kernel_size = int(kernel_size)
        self.downsample = downsample
        self.upsample = upsample
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)
        self.code_channels = int(code_channels)
        self.output_activation = output_activation
        height, width, channels = self.input_shape_
        k = self.kernel_size

        # Spatial sizes after each stage: 28 -> 14 -> 7 -> 4 for the default three stages.
        sizes = [(height, width)]
        for _ in self.filters:
            h, w = sizes[-1]
            sizes.append((output_size(h, 2, 2, "same"), output_size(w, 2, 2, "same")))
        self.stage_sizes = tuple(sizes)

        def post(block: list) -> list:
            if self.batch_norm:
                block.append(keras.layers.BatchNormalization())
            block.append(keras.layers.Activation(self.activation))
            return block

        encoder_layers: list[keras.layers.Layer] = []
        for f in self.filters:
            if self.downsample == "stride":
                encoder_layers += post([keras.layers.Conv2D(f, k, strides=2, padding="same")])  # (batch, h/2, w/2, f)
            else:
                encoder_layers += post([keras.layers.Conv2D(f, k, padding="same")])  # (batch, h, w, f)
                pool = keras.layers.MaxPooling2D if self.downsample == "max" else keras.layers.AveragePooling2D
                encoder_layers.append(pool(2, padding="same"))  # (batch, h/2, w/2, f)
            if self.dropout > 0:
                encoder_layers.append(keras.layers.Dropout(self.dropout))
        h_code, w_code = sizes[-1]
        if self.latent_dim is not None:
            encoder_layers += [keras.layers.Flatten(),  # (batch, h_code * w_code * filters[-1])
                               keras.layers.Dense(self.latent_dim, name="code")]  # (batch, latent_dim)
            code_shape: tuple[int, ...] = (self.latent_dim,)
        else:
            encoder_layers.append(keras.layers.Conv2D(self.code_channels, 1, name="code"))  # (batch, 4, 4, c)
            code_shape = (h_code, w_code, self.code_channels)
        self.code_shape = code_shape
        self.encoder = keras.Sequential([keras.Input(self.input_shape_), *encoder_layers], name="encoder")

        decoder_layers: list[keras.layers.Layer] = []
        if self.latent_dim is not None:
            decoder_layers += post([keras.layers.Dense(h_code * w_code * self.filters[-1])])  # (batch, h*w*f)
            decoder_layers.append(keras.layers.Reshape((h_code, w_code, self.filters[-1])))  # (batch, 4, 4, 128)
        for stage in reversed(range(len(self.filters))):
            (h_in, w_in), (h_out, w_out) = sizes[stage + 1], sizes[stage]
            f = self.filters[stage]
            if self.upsample == "transpose":
                # output_padding makes (n - 1) * 2 + k - 2 * (k // 2) + op hit the encoder's size exactly.
                op_h = h_out - output_size(h_in, k, 2, "same", transposed=True, output_padding=0)
                op_w = w_out - output_size(w_in, k, 2, "same", transposed=True, output_padding=0)
                if 0 <= op_h < 2 and 0 <= op_w < 2:
                    decoder_layers += post([keras.layers.Conv2DTranspose(f, k, strides=2, padding="same",
                                                                         output_padding=(op_h, op_w))])
                else:  # even kernels: upsample to 2n and crop the extra row/column
                    decoder_layers += post([keras.layers.Conv2DTranspose(f, k, strides=2, padding="same")])
                    decoder_layers.append(keras.layers.Cropping2D(((0, 2 * h_in - h_out), (0, 2 * w_in - w_out))))
            else:
                decoder_layers.append(keras.layers.UpSampling2D(2))  # (batch, 2h, 2w, f)
                if (2 * h_in, 2 * w_in) != (h_out, w_out):
                    decoder_layers.append(keras.layers.Cropping2D(((0, 2 * h_in - h_out), (0, 2 * w_in - w_out))))
                decoder_layers += post([keras.layers.Conv2D(f, k, padding="same")])
            # (batch, h_out, w_out, f)
        decoder_layers.append(keras.layers.Conv2D(channels, k, padding="same",
                                                  activation=self.output_activation))  # (batch, 28, 28, 1)
        self.decoder = keras.Sequential([keras.Input(code_shape), *decoder_layers], name="decoder")

    def call(self, inputs, training=None):
        """Encode then decode: (batch, h, w, c) -> (batch, h, w, c)."""
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def get_config(self) -> dict:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        config = super().get_config()
        config.update(input_shape=list(self.input_shape_), latent_dim=self.latent_dim, filters=list(self.filters),
                      kernel_size=self.kernel_size, downsample=self.downsample, upsample=self.upsample,
                      activation=self.activation, batch_norm=self.batch_norm, dropout=self.dropout,
                      code_channels=self.code_channels, output_activation=self.output_activation)
        return config


def count_params(model: keras.Model) -> int:
    """Number of weights (trainable and not) of a built model or sub-model."""
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


def encode_in_batches(encoder: keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Run an encoder (or any model) over an array in batches and return a NumPy array."""
    return np.asarray(encoder.predict(x, batch_size=batch_size, verbose=0))
