"""A learned image codec: quantisers, a factorised entropy model and the rate-distortion autoencoder (chapter 07).

Training minimises rate + lambda * distortion (Balle et al. 2017): the rate is the code length in bits of
the quantised latents under a learned probability model, the distortion the reconstruction error. Rounding
has no useful gradient, so training replaces it by additive uniform noise for the rate (the noisy latent's
density is the probability model convolved with U(-0.5, 0.5), which at integers equals the probability
mass of the rounded symbol) and by the straight-through estimator for the decoder's input. At inference
the latents are rounded, and ``course_utils.compression.LearnedCodec`` turns them into bytes with the
entropy model's ``pmf_table``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from course_utils.models.steps import ComputeLossSteps

QUANTISERS = ("noise", "ste", "round")
DECODER_QUANTISERS = ("noise", "ste", "none")  # "none": the pitfall of quantising at test time only
LIKELIHOOD_BOUND = 1e-9


def quantise(y, mode: str, seed: int | keras.random.SeedGenerator | None = None):
    """Quantise latents for chapter 07: "noise" y + U(-0.5, 0.5), "ste" round with identity gradient, "round"."""
    if mode not in QUANTISERS:
        raise ValueError(f"mode must be one of {', '.join(map(repr, QUANTISERS))}, got {mode!r}")
    y = ops.convert_to_tensor(y)
    if mode == "noise":
        return y + keras.random.uniform(ops.shape(y), -0.5, 0.5, dtype=y.dtype, seed=seed)
    if mode == "ste":
        return y + ops.stop_gradient(ops.round(y) - y)
    return ops.round(y)


@keras.saving.register_keras_serializable(package="course_utils")
class FactorizedEntropyModel(keras.layers.Layer):
    """One learned univariate density per latent channel, the non-parametric cdf of Balle et al. 2018 (chapter 07).

    The cumulative c(x) of each channel is sigmoid(f(x)) with f a tiny monotone network, 1 -> filters -> 1:
    each layer multiplies by softplus(matrix) (non-negative, so f is non-decreasing) and adds a bias, and the
    hidden layers add tanh(factor) * tanh(h), a gate that keeps the slope non-negative (tanh(factor) > -1). The
    probability of the integer interval around y is c(y + 0.5) - c(y - 0.5), computed on the side of the
    median where both sigmoids are small, so tail probabilities keep their precision.
    """

    def __init__(self, channels: int, filters: Sequence[int] = (3, 3, 3), init_scale: float = 10.0,
                 likelihood_bound: float = LIKELIHOOD_BOUND, **kwargs):
        super().__init__(**kwargs)
        if int(channels) < 1 or not all(int(f) >= 1 for f in filters):
            raise ValueError(f"channels and every filter count must be >= 1, got {channels} and {tuple(filters)}")
        if not float(init_scale) > 0 or not 0 < float(likelihood_bound) < 1:
            raise ValueError(f"init_scale must be > 0 and likelihood_bound in (0, 1), got {init_scale} and "
                             f"{likelihood_bound}")
        self.channels, self.filters = int(channels), tuple(int(f) for f in filters)
        self.init_scale, self.likelihood_bound = float(init_scale), float(likelihood_bound)
        self._create_weights()

    def _create_weights(self) -> None:
        """Matrices, biases and gates per layer, initialised so the initial density spans about init_scale."""
        widths = (1, *self.filters, 1)
        scale = self.init_scale ** (1.0 / (len(self.filters) + 1))
        self.matrices, self.biases, self.factors = [], [], []
        for i in range(len(self.filters) + 1):
            init = math.log(math.expm1(1.0 / scale / widths[i + 1]))
            self.matrices.append(self.add_weight(shape=(self.channels, widths[i + 1], widths[i]), name=f"matrix_{i}",
                                                 initializer=keras.initializers.Constant(init)))
            self.biases.append(self.add_weight(shape=(self.channels, widths[i + 1], 1), name=f"bias_{i}",
                                               initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=i)))
            if i < len(self.filters):
                self.factors.append(self.add_weight(shape=(self.channels, widths[i + 1], 1), name=f"factor_{i}",
                                                    initializer="zeros"))

    def set_logistic(self, scales: np.ndarray) -> None:
        """Reset channel j's density to about a logistic of scale ``scales[j]`` centred at 0 (chapter 07).

        Every layer gets the constant initial matrix for that scale and zero biases and gates, so f(x) = x / scale.
        """
        scales = np.asarray(scales, dtype=np.float64)
        if scales.shape != (self.channels,) or not np.all(scales > 0):
            raise ValueError(f"scales must be {self.channels} positive numbers, one per channel, got shape "
                             f"{scales.shape}")
        widths, depth = (1, *self.filters, 1), len(self.filters) + 1
        for i, matrix in enumerate(self.matrices):
            raw = np.log(np.expm1(1.0 / scales ** (1.0 / depth) / widths[i + 1]))  # (channels,)
            matrix.assign(np.broadcast_to(raw[:, None, None], matrix.shape).astype("float32"))
        for weight in (*self.biases, *self.factors):
            weight.assign(np.zeros(weight.shape, dtype="float32"))

    def logits_cumulative(self, x):
        """The cdf's logit f(x) per channel: x (channels, 1, n) -> (channels, 1, n)."""
        logits = x
        for i, matrix in enumerate(self.matrices):
            logits = ops.matmul(ops.softplus(matrix), logits) + self.biases[i]  # (channels, width, n)
            if i < len(self.factors):
                logits = logits + ops.tanh(self.factors[i]) * ops.tanh(logits)
        return logits

    def _per_channel(self, y):
        """(batch, ..., channels) -> (channels, 1, n) with n = every other position."""
        if int(y.shape[-1]) != self.channels:
            raise ValueError(f"the last axis of the latents must have {self.channels} channels, got shape "
                             f"{tuple(y.shape)}")
        return ops.expand_dims(ops.transpose(ops.reshape(y, (-1, self.channels))), 1)  # (channels, 1, n)

    def likelihood(self, y_tilde):
        """P(symbol) = c(y + 0.5) - c(y - 0.5) per value, floored at ``likelihood_bound``: same shape as y_tilde."""
        y_tilde = ops.convert_to_tensor(y_tilde)
        x = self._per_channel(y_tilde)  # (channels, 1, n)
        lower, upper = self.logits_cumulative(x - 0.5), self.logits_cumulative(x + 0.5)  # (channels, 1, n) each
        sign = ops.stop_gradient(ops.where(lower + upper > 0, -1.0, 1.0))  # the tail where both sigmoids are small
        probability = ops.abs(ops.sigmoid(sign * upper) - ops.sigmoid(sign * lower))  # (channels, 1, n)
        probability = ops.reshape(ops.transpose(ops.squeeze(probability, 1)), ops.shape(y_tilde))
        return ops.maximum(probability, self.likelihood_bound)

    def bits(self, y_tilde):
        """Code length -sum log2 P in bits per example for chapter 07: (batch, ...) -> (batch,)."""
        log2_p = ops.log(self.likelihood(y_tilde)) / math.log(2.0)
        return -ops.sum(ops.reshape(log2_p, (ops.shape(log2_p)[0], -1)), axis=1)

    def call(self, y_tilde):
        return self.likelihood(y_tilde)

    def _logits_at(self, points: np.ndarray) -> np.ndarray:
        """f(points) per channel in float64: points (n,) -> (channels, n)."""
        x = np.broadcast_to(points.astype("float32"), (self.channels, 1, len(points)))
        return ops.convert_to_numpy(self.logits_cumulative(ops.convert_to_tensor(x)))[:, 0, :].astype("float64")

    def pmf_table(self, tail_mass: float = 1e-9, max_range: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
        """Integer pmf per channel for the range coder (chapter 07): pmf float64 (channels, L), offsets int32.

        Row j gives P(symbol = offsets[j] + k) for k = 0..L-1, over a support that leaves at most ``tail_mass``
        outside per channel (found from the learned cdf); the mass outside is added to the two end symbols,
        where the codec clips, so each row sums to 1.
        """
        if not 0 < float(tail_mass) < 1:
            raise ValueError(f"tail_mass is a probability in (0, 1), got {tail_mass}")
        radius = 64
        while True:
            edges = np.arange(-radius, radius + 1) - 0.5  # (2 radius + 1,) half-integers
            logits = self._logits_at(edges)  # (channels, 2 radius + 1)
            below, above = _sigmoid(logits), _sigmoid(-logits)  # cdf and 1 - cdf at each edge
            if (below[:, 0] <= tail_mass / 2).all() and (above[:, -1] <= tail_mass / 2).all():
                break
            if radius >= max_range:
                raise ValueError(f"the learned densities put more than {tail_mass} outside +-{max_range}: the latents "
                                 f"are far too spread; check the model's training")
            radius *= 2
        low = np.array([np.flatnonzero(row <= tail_mass / 2)[-1] for row in below])  # first edge index per channel
        high = np.array([np.flatnonzero(row <= tail_mass / 2)[0] for row in above])  # last edge index per channel
        width = int((high - low).max())
        start = np.minimum(low, len(edges) - 1 - width)  # every channel gets the same width
        pmf = np.empty((self.channels, width))
        for j in range(self.channels):
            lo, hi = logits[j, start[j]:start[j] + width], logits[j, start[j] + 1:start[j] + width + 1]
            pmf[j] = _interval_mass(lo, hi)
            pmf[j, 0] += below[j, start[j]]
            pmf[j, -1] += above[j, start[j] + width]
        return pmf, (start - radius).astype("int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "channels": self.channels, "filters": self.filters,
                "init_scale": self.init_scale, "likelihood_bound": self.likelihood_bound}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """A float64 sigmoid without overflow."""
    return np.exp(-np.logaddexp(0.0, -x))


def _interval_mass(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """sigmoid(upper) - sigmoid(lower), on the side of the median where both are small."""
    sign = np.where(lower + upper > 0, -1.0, 1.0)
    return np.abs(_sigmoid(sign * upper) - _sigmoid(sign * lower))


@keras.saving.register_keras_serializable(package="course_utils")
class RateDistortionCodec(ComputeLossSteps, keras.Model):
    """An autoencoder trained for rate + lmbda * distortion, with a factorised entropy model (chapter 07).

    The rate is bits per pixel: -sum log2 P(latents) / pixels per image. The distortion is the MSE on the
    0-255 scale, so lmbda is in bpp per unit of 8-bit squared error (PSNR = 10 log10(255^2 / MSE)). The
    encoder maps images to latents (batch, h, w, c); the decoder maps latents back to images in [0, 1].
    In training the rate sees y + U(-0.5, 0.5) and the decoder sees ``decoder_quantiser``'s latents ("ste":
    rounded, with an identity gradient; "noise": the same noisy latents; "none": the latents unquantised, the
    pitfall of quantising at test time only, kept to measure it); evaluation rounds both, so ``evaluate``
    reports the codec's ideal code length and its real reconstructions.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, lmbda: float = 0.01,
                 decoder_quantiser: str = "ste", entropy_filters: Sequence[int] = (3, 3, 3),
                 entropy_init_scale: float = 10.0, seed: int | None = None, **kwargs):
        _check_codec_parts(encoder, decoder)
        if not float(lmbda) > 0:
            raise ValueError(f"lmbda weighs the distortion against the rate and must be > 0, got {lmbda}")
        if decoder_quantiser not in DECODER_QUANTISERS:
            raise ValueError(f"decoder_quantiser must be one of {DECODER_QUANTISERS}, got {decoder_quantiser!r}")
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.lmbda, self.decoder_quantiser = float(lmbda), decoder_quantiser
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.entropy_model = FactorizedEntropyModel(int(encoder.output_shape[-1]), tuple(entropy_filters),
                                                    init_scale=entropy_init_scale, name="entropy_model")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "bpp", "mse", "psnr")}
        self.build(encoder.input_shape)

    def build(self, input_shape):
        """Nothing to create: the encoder and decoder start with an ``Input`` and the entropy model owns its weights."""

    @property
    def pixels(self) -> int:
        """Pixels per image, the denominator of bits per pixel (channels count once: greyscale here)."""
        return int(np.prod(self.encoder.input_shape[1:3]))

    def encode_latents(self, images):
        """The analysis transform before quantisation: images (n, 28, 28, 1) -> y (n, h, w, c)."""
        return self.encoder(ops.convert_to_tensor(images, "float32"), training=False)

    def decode_latents(self, y_hat):
        """The synthesis transform: quantised latents (n, h, w, c) -> images (n, 28, 28, 1) in [0, 1]."""
        return self.decoder(ops.convert_to_tensor(y_hat, "float32"), training=False)

    def call(self, inputs, training=None):
        """The codec's reconstruction: encode, round, decode (what the bytes decode to)."""
        y = self.encoder(inputs, training=training)  # (batch, h, w, c)
        return self.decoder(quantise(y, "round"), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """bpp + lmbda * MSE(0-255), batch means; noisy or rounded latents as the class docstring says."""
        latents = self.encoder(x, training=training)  # (batch, h, w, c)
        if training:
            noisy = quantise(latents, "noise", self.seed_generator)
            y_rate = noisy
            y_decoder = {"noise": noisy, "ste": quantise(latents, "ste"), "none": latents}[self.decoder_quantiser]
        else:
            y_rate = y_decoder = quantise(latents, "round")
        x_hat = self.decoder(y_decoder, training=training)  # (batch, 28, 28, 1)
        bpp = ops.mean(self.entropy_model.bits(y_rate)) / self.pixels
        mse_per_image = ops.mean(ops.reshape(ops.square(ops.cast(x, x_hat.dtype) - x_hat),
                                             (ops.shape(x_hat)[0], -1)), axis=1)  # (batch,) on the 0-1 scale
        mse = ops.mean(mse_per_image) * 255.0**2
        total = bpp + self.lmbda * mse
        psnr = ops.mean(-10.0 * ops.log(ops.maximum(mse_per_image, 1e-10)) / math.log(10.0))
        for name, value in (("loss", total), ("bpp", bpp), ("mse", mse), ("psnr", psnr)):
            self.trackers[name].update_state(value)
        return total

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """loss, bpp (bits per pixel), mse (0-255 scale) and psnr (dB, mean over images)."""
        return list(self.trackers.values())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder), "lmbda": self.lmbda,
                "decoder_quantiser": self.decoder_quantiser, "entropy_filters": self.entropy_model.filters,
                "entropy_init_scale": self.entropy_model.init_scale, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RateDistortionCodec:
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def _check_codec_parts(encoder: keras.Model, decoder: keras.Model) -> None:
    """Latents are (batch, h, w, c) and the decoder returns the encoder's input shape."""
    if len(encoder.output_shape) != 4:
        raise ValueError(f"the encoder must output latents (batch, h, w, c); got {encoder.output_shape} (reshape a "
                         f"vector code to (1, 1, c), as dense_codec does)")
    if tuple(decoder.input_shape[1:]) != tuple(encoder.output_shape[1:]):
        raise ValueError(f"the decoder must take the encoder's latents {tuple(encoder.output_shape[1:])}, got "
                         f"{tuple(decoder.input_shape[1:])}")
    if tuple(decoder.output_shape[1:]) != tuple(encoder.input_shape[1:]):
        raise ValueError(f"the decoder must return the encoder's input shape {tuple(encoder.input_shape[1:])}, got "
                         f"{tuple(decoder.output_shape[1:])}")


def conv_codec(input_shape: Sequence[int] = (28, 28, 1), latent_channels: int = 16, filters: int = 64,
               kernel_size: int = 5, lmbda: float = 0.01, decoder_quantiser: str = "ste",
               seed: int | None = None) -> RateDistortionCodec:
    """Balle's layout for chapter 07: two stride-2 convolutions to (h/4, w/4, latent_channels) and back."""
    k, f = int(kernel_size), int(filters)
    encoder = keras.Sequential([
        keras.Input(tuple(input_shape)),
        keras.layers.Conv2D(f, k, strides=2, padding="same", activation="relu", name="down_1"),  # (batch, 14, 14, f)
        keras.layers.Conv2D(f, k, strides=2, padding="same", activation="relu", name="down_2"),  # (batch, 7, 7, f)
        keras.layers.Conv2D(int(latent_channels), 3, padding="same", name="code"),  # (batch, 7, 7, latent_channels)
    ], name="encoder")
    decoder = keras.Sequential([
        keras.Input(tuple(encoder.output_shape[1:])),
        keras.layers.Conv2D(f, 3, padding="same", activation="relu", name="up_0"),  # (batch, 7, 7, f)
        keras.layers.Conv2DTranspose(f, k, strides=2, padding="same", activation="relu", name="up_1"),  # (b, 14, 14, f)
        keras.layers.Conv2DTranspose(f, k, strides=2, padding="same", activation="relu", name="up_2"),  # (b, 28, 28, f)
        keras.layers.Conv2D(int(input_shape[-1]), 3, padding="same", activation="sigmoid", name="output"),  # (b, 28, 28, 1)
    ], name="decoder")
    return RateDistortionCodec(encoder, decoder, lmbda=lmbda, decoder_quantiser=decoder_quantiser, seed=seed,
                               name="conv_codec")


@keras.saving.register_keras_serializable(package="course_utils")
class UnitClip(keras.layers.Layer):
    """Clip to [0, 1], an image's range, with an identity gradient so clipped pixels still learn (chapter 07)."""

    def call(self, inputs):
        return inputs + ops.stop_gradient(ops.clip(inputs, 0.0, 1.0) - inputs)


@keras.saving.register_keras_serializable(package="course_utils")
class Scale(keras.layers.Layer):
    """Multiply by a fixed (non-trainable) scalar: the quantiser step in front of chapter 07's dense decoder."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="ones", trainable=False, name="scale")

    def call(self, inputs):
        return inputs * ops.cast(self.scale, inputs.dtype)


def _mlp(inputs, units: tuple[int, ...], out_units: int, prefix: str):
    """ReLU Dense layers then a zero-initialised Dense of ``out_units``: a residual that starts at zero."""
    h = inputs
    for i, u in enumerate(units, 1):
        h = keras.layers.Dense(u, activation="relu", name=f"{prefix}_{i}")(h)  # (batch, u)
    return keras.layers.Dense(out_units, kernel_initializer="zeros", name=f"{prefix}_out")(h)  # (batch, out_units)


def dense_codec(input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 64, hidden_units: Sequence[int] = (512, 256),
                lmbda: float = 0.01, decoder_quantiser: str = "ste", entropy_init_scale: float = 10.0,
                seed: int | None = None) -> RateDistortionCodec:
    """A fully connected codec for chapter 07: a linear map plus a ReLU MLP each way, latents (1, 1, latent_dim).

    Each transform is a Dense layer named ``linear`` plus an MLP whose last layer starts at zero, so the codec
    starts as a linear transform coder; ``initialise_from_pca`` sets the linear maps to PCA's. The decoder first
    multiplies the latents by a fixed step (1 until ``initialise_from_pca`` sets it), so its weights keep the
    usual scale whatever the step; its output is clipped to [0, 1].
    """
    units, d, pixels = tuple(int(u) for u in hidden_units), int(latent_dim), int(np.prod(input_shape))
    image = keras.Input(tuple(input_shape), name="image")
    flat = keras.layers.Flatten(name="flatten")(image)  # (batch, 784)
    code = keras.layers.Add(name="code")([keras.layers.Dense(d, name="linear")(flat),
                                          _mlp(flat, units, d, "hidden")])  # (batch, d)
    encoder = keras.Model(image, keras.layers.Reshape((1, 1, d), name="as_map")(code), name="encoder")
    latents = keras.Input((1, 1, d), name="latents")
    flat_code = Scale(name="step")(keras.layers.Flatten(name="flatten")(latents))  # (batch, d) in PCA-code units
    out = keras.layers.Add(name="sum")([keras.layers.Dense(pixels, name="linear")(flat_code),
                                        _mlp(flat_code, tuple(reversed(units)), pixels, "hidden")])  # (batch, 784)
    out = UnitClip(name="clip")(out)  # (batch, 784) in [0, 1]
    decoder = keras.Model(latents, keras.layers.Reshape(tuple(input_shape), name="reshape")(out), name="decoder")
    return RateDistortionCodec(encoder, decoder, lmbda=lmbda, decoder_quantiser=decoder_quantiser,
                               entropy_init_scale=entropy_init_scale, seed=seed, name="dense_codec")


def pca_basis(images: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """The pixel mean (p,) and the first ``n_components`` principal axes (n_components, p) of images, by SVD (ch. 07)."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)  # (n, p)
    if len(flat) < n_components:
        raise ValueError(f"{n_components} principal axes need at least {n_components} images, got {len(flat)}")
    mean = flat.mean(axis=0)  # (p,)
    _, _, axes = np.linalg.svd(flat - mean, full_matrices=False)  # (min(n, p), p)
    return mean, axes[:n_components]


def initialise_from_pca(model: RateDistortionCodec, images: np.ndarray, step: float,
                        basis: tuple[np.ndarray, np.ndarray] | None = None) -> RateDistortionCodec:
    """Set a dense codec's linear maps to PCA with quantiser step ``step`` (chapter 07): latent = PCA code / step.

    With the MLPs' zero output layers untouched, rounding the latents is then PCA transform coding with a
    uniform quantiser, the classical codec the training starts from and improves on. Each channel's density
    starts as a logistic with the standard deviation of its initial latents, so the tables cover them.
    ``basis`` is ``pca_basis(images, latent_dim)`` when several codecs start from the same images.
    """
    if not float(step) > 0:
        raise ValueError(f"step is the quantiser step in PCA-code units and must be > 0, got {step}")
    encoder_linear, decoder_linear = model.encoder.get_layer("linear"), model.decoder.get_layer("linear")
    d = int(encoder_linear.units)
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)  # (n, 784)
    if flat.shape[1] != encoder_linear.kernel.shape[0] or len(flat) < d:
        raise ValueError(f"images must be at least {d} images of {encoder_linear.kernel.shape[0]} pixels, got "
                         f"shape {np.shape(images)}")
    mean, axes = pca_basis(flat, d) if basis is None else basis  # (784,), (d, 784)
    encoder_linear.set_weights([(axes.T / step).astype("float32"), (-mean @ axes.T / step).astype("float32")])
    model.decoder.get_layer("step").scale.assign(float(step))
    decoder_linear.set_weights([axes.astype("float32"), mean.astype("float32")])
    latent_std = ((flat - mean) @ axes.T / step).std(axis=0)  # (d,) of the initial latents
    model.entropy_model.set_logistic(np.maximum(latent_std * np.sqrt(3.0) / np.pi, 0.1))
    return model


def refine_latents(model: RateDistortionCodec, images: np.ndarray, latents: np.ndarray | None = None, steps: int = 300,
                   learning_rate: float = 0.02, seed: int = 0, batch_size: int = 256, context=None) -> np.ndarray:
    """Encoder-side refinement (chapter 07): Adam on each image's own bpp + lmbda * MSE over its latents, decoder fixed.

    The encoder's latents are an amortised guess, one network for every image; descending each image's own
    rate-distortion loss, with the training's noisy proxy for rounding, closes part of the gap (Campos et al. 2019,
    Yang et al. 2020). The decoder, the entropy model and the bytes' format stay as they are, so every decoder of
    this model reads the result: only encoding costs more. Returns float latents (n, h, w, c), to be rounded as
    the encoder's are. Deterministic for a given ``seed`` and ``batch_size``. The defaults (300 steps, rate 0.02) are
    the ones benchmarks/compression.py chose on validation images. With a ``context`` model
    (``models.context.ContextEntropyModel``) the rate is its code length of the flattened noisy latents instead of
    the factorised model's: the bits that codec will write.
    """
    import tensorflow as tf

    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    if not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    x_all = np.asarray(images, dtype=np.float32)  # (n, 28, 28, 1)
    y_all = np.asarray(model.encode_latents(x_all) if latents is None else latents, dtype=np.float32)  # (n, h, w, c)
    if len(y_all) != len(x_all):
        raise ValueError(f"latents must have one row per image: {len(y_all)} rows for {len(x_all)} images")
    if steps == 0:
        return y_all
    scale, rate, (beta_1, beta_2, epsilon) = float(model.lmbda) * 255.0**2, float(learning_rate), (0.9, 0.999, 1e-8)

    @tf.function(reduce_retracing=True)
    def adam_step(x, y, m, v, t):
        noise = tf.random.stateless_uniform(tf.shape(y), seed=tf.stack([int(seed), t]), minval=-0.5, maxval=0.5)
        with tf.GradientTape() as tape:
            tape.watch(y)
            noisy = y + noise  # (batch, h, w, c): the training's stand-in for rounding
            x_hat = model.decoder(noisy, training=False)  # (batch, 28, 28, 1)
            mse = tf.reduce_mean(tf.reshape(tf.square(x - x_hat), (tf.shape(x)[0], -1)), axis=1)  # (batch,)
            bits = model.entropy_model.bits(noisy) if context is None else context.bits(tf.reshape(noisy, (tf.shape(y)[0], -1)))
            loss = tf.reduce_sum(bits / model.pixels + scale * mse)  # images independent
        gradient = tape.gradient(loss, y)
        m, v = beta_1 * m + (1 - beta_1) * gradient, beta_2 * v + (1 - beta_2) * tf.square(gradient)
        done = tf.cast(t + 1, tf.float32)
        m_hat, v_hat = m / (1 - beta_1**done), v / (1 - beta_2**done)
        return y - rate * m_hat / (tf.sqrt(v_hat) + epsilon), m, v

    refined = []
    for i in range(0, len(x_all), int(batch_size)):
        x, y = tf.constant(x_all[i:i + batch_size]), tf.constant(y_all[i:i + batch_size])
        m, v = tf.zeros_like(y), tf.zeros_like(y)
        for t in range(int(steps)):
            y, m, v = adam_step(x, y, m, v, tf.constant(t))
        refined.append(y.numpy())
    return np.concatenate(refined)  # (n, h, w, c)
