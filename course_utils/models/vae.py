"""The variational autoencoder: the reparameterised ``Sampling`` layer, its loss terms and the ``VAE`` model (chapter 06).

The model is p(z) = N(0, I), p(x|z) from the decoder (Bernoulli with logits, or Gaussian with a learned
scalar variance) and the approximate posterior q(z|x) = N(mean, diag exp(log_var)) from the encoder.
Training maximises the ELBO, E_q[log p(x|z)] - KL(q(z|x) || p(z)): ``compute_loss`` returns the batch
mean of (reconstruction NLL + beta * KL), in nats per image, and logs both terms. The loss functions
are pure ``keras.ops`` code that runs inside ``tf.function`` and works per example, summed over pixels
or latent dimensions, so every number is in nats per image, never per pixel.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import keras
from keras import ops

from course_utils.models.blocks import conv_decoder, conv_encoder, dense_decoder, dense_encoder
from course_utils.models.steps import ComputeLossSteps

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2.0 * math.pi)


def _as_float(values):
    """A tensor of a float dtype: floats keep theirs, anything else becomes floatx."""
    values = ops.convert_to_tensor(values)
    return values if keras.backend.is_float_dtype(values.dtype) else ops.cast(values, keras.backend.floatx())


def _same_shape(a, b, names: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _sum_per_example(values):
    """Sum over every axis but the first: (batch, ...) -> (batch,)."""
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def gaussian_kl(mean, log_var):
    """KL(N(mean, diag exp(log_var)) || N(0, I)) in nats per example, summed over latent dims (chapter 06).

    Closed form: 0.5 * sum_j (exp(log_var_j) + mean_j^2 - 1 - log_var_j); (batch, d) -> (batch,).
    """
    mean, log_var = _as_float(mean), _as_float(log_var)
    _same_shape(mean, log_var, "mean and log_var")
    if len(mean.shape) != 2:
        raise ValueError(f"mean and log_var must be (batch, latent_dim), got shape {tuple(mean.shape)}")
    return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)  # (batch,)


def gaussian_kl_per_dimension(mean, log_var):
    """KL(q || N(0, I)) per latent dimension, batch-averaged, in nats: (batch, d) -> (d,) (chapter 06).

    Summed over dimensions it is the batch mean of ``gaussian_kl``; a dimension near 0 nats carries no
    information about x (an inactive or "collapsed" unit).
    """
    mean, log_var = _as_float(mean), _as_float(log_var)
    _same_shape(mean, log_var, "mean and log_var")
    return 0.5 * ops.mean(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=0)  # (d,)


def bernoulli_log_likelihood(x, logits):
    """log p(x|z) of a Bernoulli decoder in nats per example, summed over pixels, from logits (chapter 06).

    sum_i x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i), written with softplus so that large
    logits of either sign stay finite and exact; (batch, ...) -> (batch,).
    """
    logits = _as_float(logits)
    x = ops.cast(x, logits.dtype)
    _same_shape(x, logits, "x and logits")
    return -_sum_per_example(x * ops.softplus(-logits) + (1.0 - x) * ops.softplus(logits))  # (batch,)


def gaussian_log_likelihood(x, mean, log_var):
    """log N(x; mean, exp(log_var)) in nats per example, summed over values (chapter 06).

    ``log_var`` is a scalar (one variance for every value) or has ``x``'s shape; (batch, ...) -> (batch,).
    """
    mean = _as_float(mean)
    x, log_var = ops.cast(x, mean.dtype), ops.cast(log_var, mean.dtype)
    _same_shape(x, mean, "x and mean")
    if len(log_var.shape) and tuple(log_var.shape) != tuple(x.shape):
        raise ValueError(f"log_var must be a scalar or have x's shape {tuple(x.shape)}, got {tuple(log_var.shape)}")
    log_var = ops.broadcast_to(log_var, ops.shape(x))
    return -0.5 * _sum_per_example(LOG_2PI + log_var + ops.square(x - mean) * ops.exp(-log_var))  # (batch,)


@keras.saving.register_keras_serializable(package="course_utils")
class Sampling(keras.layers.Layer):
    """The reparameterisation z = mean + exp(0.5 * log_var) * eps, eps ~ N(0, I), seeded (chapter 06).

    Gradients reach ``mean`` and ``log_var`` because the randomness sits in ``eps`` only. It samples in
    training and inference alike: the ELBO is an expectation over q(z|x) either way.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs):
        mean, log_var = inputs  # (batch, d) each
        _same_shape(mean, log_var, "mean and log_var")
        eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)  # (batch, d)
        return mean + ops.exp(0.5 * log_var) * eps  # (batch, d)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="course_utils")
class VAE(ComputeLossSteps, keras.Model):
    """A variational autoencoder around an encoder (x -> [mean, log_var]) and a decoder (z -> logits or mean) (ch. 06).

    The encoder outputs 2 * latent_dim numbers per example, the mean then the log-variance of q(z|x).
    With ``likelihood="bernoulli"`` the decoder outputs logits; with ``"gaussian"`` it outputs the mean
    of p(x|z), whose log-variance is one trainable scalar, ``decoder_log_var``. ``beta`` is a
    non-trainable variable: ``model.beta.assign(0.1)`` changes it between epochs (KL annealing, see
    ``BetaWarmup``) without recompiling. ``free_bits`` > 0 stops the loss from pushing any latent dimension's
    batch-mean KL below that many nats (Kingma et al. 2016); the logged kl_loss is always the true KL.
    Compile with an optimizer only; ``fit(x)`` logs loss, reconstruction_loss and kl_loss.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0,
                 likelihood: Literal["bernoulli", "gaussian"] = "bernoulli", seed: int | None = None,
                 free_bits: float = 0.0, **kwargs):
        type(self)._check_parts(encoder, decoder)
        _check_loss_arguments(beta, likelihood, free_bits)
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.likelihood, self.seed, self.free_bits = likelihood, None if seed is None else int(seed), float(free_bits)
        self.sampling = Sampling(seed=self.seed, name="sampling")
        self.beta = self.add_weight(shape=(), initializer=keras.initializers.Constant(float(beta)), trainable=False,
                                    name="beta")
        self.decoder_log_var = (self.add_weight(shape=(), initializer="zeros", name="decoder_log_var")
                                if likelihood == "gaussian" else None)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self._finish_init()

    def _finish_init(self) -> None:
        """Mark the model built (which locks its state); a subclass with more parts does this after adding them."""
        self.build(self.encoder.input_shape)

    @staticmethod
    def _check_parts(encoder: keras.Model, decoder: keras.Model) -> None:
        _check_vae_parts(encoder, decoder)

    def build(self, input_shape):
        """Nothing to create: both sub-models start with an ``Input`` and are built already."""

    @property
    def latent_dim(self) -> int:
        """The number of latent dimensions d."""
        return int(self.decoder.input_shape[-1])

    def encode(self, x, training: bool = False):
        """The parameters of q(z|x): (batch, *input_shape) -> mean (batch, d), log_var (batch, d)."""
        h = self.encoder(x, training=training)  # (batch, 2d)
        mean, log_var = ops.split(h, 2, axis=-1)  # (batch, d) each
        return mean, log_var

    def decode(self, z, training: bool = False):
        """The mean of p(x|z), pixel probabilities for a Bernoulli decoder: (batch, d) -> (batch, *input_shape)."""
        out = self.decoder(z, training=training)  # (batch, *input_shape)
        return ops.sigmoid(out) if self.likelihood == "bernoulli" else out

    def conditional_log_likelihood(self, x, z, training: bool = False):
        """log p(x|z) in nats per example: x (batch, *input_shape), z (batch, d) -> (batch,)."""
        out = self.decoder(z, training=training)  # (batch, *input_shape)
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, out)
        return gaussian_log_likelihood(x, out, self.decoder_log_var)

    def call(self, inputs, training=None):
        """The reconstruction from the posterior mean (no sampling): (batch, *input_shape) -> (batch, *input_shape)."""
        mean, _ = self.encode(inputs, training=training)
        return self.decode(mean, training=training)

    def sample(self, n: int, seed: int | None = None):
        """Decoded prior samples, z ~ N(0, I): the mean of p(x|z) for n codes, (n, *input_shape)."""
        if int(n) < 1:
            raise ValueError(f"n is the number of samples and must be at least 1, got {n}")
        z = keras.random.normal((int(n), self.latent_dim), seed=seed)  # (n, d)
        return self.decode(z)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Batch mean of -log p(x|z) + beta * KL(q(z|x) || p(z)), nats per image, with one z ~ q(z|x) per image.

        A VAE models its input, so ``y`` and ``y_pred`` are not used; the forward pass runs here.
        """
        mean, log_var = self.encode(x, training=training)  # (batch, d) each
        z = self.sampling([mean, log_var])  # (batch, d)
        reconstruction = -ops.mean(self.conditional_log_likelihood(x, z, training=training))
        return self._total_loss(reconstruction, mean, log_var)

    def _total_loss(self, reconstruction, mean, log_var):
        """reconstruction + beta * KL (with free bits), plus any layer losses; updates the three trackers."""
        kl_per_dimension = gaussian_kl_per_dimension(mean, log_var)  # (d,)
        kl = ops.sum(kl_per_dimension)  # the batch mean of gaussian_kl
        kl_term = ops.sum(ops.maximum(kl_per_dimension, self.free_bits)) if self.free_bits > 0 else kl
        return self._logged_total(reconstruction, kl, kl_term)

    def _logged_total(self, reconstruction, kl, kl_term):
        """reconstruction + beta * kl_term, plus any layer losses; logs the total, the reconstruction and the true KL."""
        total = reconstruction + ops.cast(self.beta, kl.dtype) * kl_term
        if self.losses:
            total = total + ops.sum(self.losses)
        for tracker, value in ((self.loss_tracker, total), (self.reconstruction_tracker, reconstruction),
                               (self.kl_tracker, kl)):
            tracker.update_state(value)
        return total

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """The three means Keras reports (and resets each epoch): loss, reconstruction_loss, kl_loss (nats/image)."""
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def get_config(self) -> dict[str, Any]:
        """The encoder and decoder, serialized, and the current beta, likelihood and seed."""
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "beta": float(ops.convert_to_numpy(self.beta)), "likelihood": self.likelihood, "seed": self.seed,
                "free_bits": self.free_bits}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


@keras.saving.register_keras_serializable(package="course_utils")
class ConditionalVAE(VAE):
    """A VAE told the class: q(z|x, y) and p(x|z, y) with y one-hot, so ``sample`` draws a chosen class (ch. 06).

    The encoder takes [images, one-hot labels] and outputs 2 * latent_dim numbers; the decoder takes
    [z, one-hot labels]. Train with ``fit(images, labels)`` (integer labels); the KL term still pulls every
    posterior towards N(0, I), so z is free to encode what the label does not (style, thickness, shape).
    """

    @staticmethod
    def _check_parts(encoder: keras.Model, decoder: keras.Model) -> None:
        shapes = (encoder.input_shape, decoder.input_shape)
        if not all(isinstance(shape, list) and len(shape) == 2 for shape in shapes):
            raise ValueError("a ConditionalVAE's encoder takes [images, one-hot labels] and its decoder [z, one-hot "
                             "labels]: build both with two Inputs (see conditional_dense_vae)")
        if encoder.input_shape[1][-1] != decoder.input_shape[1][-1]:
            raise ValueError(f"the encoder and decoder must take the same number of classes, got "
                             f"{encoder.input_shape[1][-1]} and {decoder.input_shape[1][-1]}")
        latent_dim = int(decoder.input_shape[0][-1])
        if tuple(encoder.output_shape[1:]) != (2 * latent_dim,):
            raise ValueError(f"the encoder must output 2 * latent_dim = {2 * latent_dim} numbers per example, got "
                             f"{tuple(encoder.output_shape[1:])}")
        if tuple(decoder.output_shape[1:]) != tuple(encoder.input_shape[0][1:]):
            raise ValueError(f"the decoder must return the image shape {tuple(encoder.input_shape[0][1:])}, got "
                             f"{tuple(decoder.output_shape[1:])}")

    @property
    def latent_dim(self) -> int:
        """The number of latent dimensions d."""
        return int(self.decoder.input_shape[0][-1])

    @property
    def n_classes(self) -> int:
        """The number of classes C of the one-hot condition."""
        return int(self.decoder.input_shape[1][-1])

    def one_hot(self, labels):
        """Integer labels (batch,) -> one-hot (batch, C) in the model's float type; rejects labels out of range."""
        labels = ops.convert_to_tensor(labels)
        if keras.backend.is_float_dtype(labels.dtype) and len(labels.shape) == 2:
            return labels  # already one-hot
        return ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), self.n_classes)  # (batch, C)

    def encode(self, x, labels=None, training: bool = False):
        """q(z|x, y): images (batch, *shape), labels (batch,) -> mean (batch, d), log_var (batch, d)."""
        if labels is None:
            raise ValueError("a ConditionalVAE encodes an image together with its label: encode(x, labels)")
        h = self.encoder([_as_float(x), self.one_hot(labels)], training=training)  # (batch, 2d)
        return ops.split(h, 2, axis=-1)

    def decode(self, z, labels=None, training: bool = False):
        """The mean of p(x|z, y): z (batch, d), labels (batch,) -> (batch, *shape)."""
        if labels is None:
            raise ValueError("a ConditionalVAE decodes a code together with a label: decode(z, labels)")
        out = self.decoder([_as_float(z), self.one_hot(labels)], training=training)  # (batch, *shape)
        return ops.sigmoid(out) if self.likelihood == "bernoulli" else out

    def conditional_log_likelihood(self, x, z, labels=None, training: bool = False):
        """log p(x|z, y) in nats per example -> (batch,)."""
        out = self.decoder([z, self.one_hot(labels)], training=training)  # (batch, *shape)
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, out)
        return gaussian_log_likelihood(x, out, self.decoder_log_var)

    def call(self, inputs, training=None):
        """Reconstruction from the posterior mean: [images, labels] -> (batch, *shape)."""
        x, labels = inputs
        mean, _ = self.encode(x, labels, training=training)
        return self.decode(mean, labels, training=training)

    def sample(self, labels, seed: int | None = None):
        """One decoded prior sample per label, z ~ N(0, I): labels (n,) -> (n, *shape)."""
        labels = ops.convert_to_tensor(labels)
        if int(ops.size(labels)) < 1:
            raise ValueError("sample(labels) draws one image per label: pass at least one label, e.g. [3, 3, 7]")
        z = keras.random.normal((int(ops.size(labels)), self.latent_dim), seed=seed)  # (n, d)
        return self.decode(z, labels)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The negative ELBO of log p(x|y), batch mean in nats per image; ``y`` holds the integer labels."""
        if y is None:
            raise ValueError("train a ConditionalVAE with fit(images, labels): the labels are the condition")
        mean, log_var = self.encode(x, y, training=training)  # (batch, d) each
        z = self.sampling([mean, log_var])  # (batch, d)
        reconstruction = -ops.mean(self.conditional_log_likelihood(x, z, y, training=training))
        return self._total_loss(reconstruction, mean, log_var)


@keras.saving.register_keras_serializable(package="course_utils")
class VAEWithPrior(VAE):
    """A VAE whose prior p(z) is any prior of ``models.priors`` (chapter 09: the VAE beside the adversarial AE).

    The KL term has no closed form for a mixture, so it is estimated at the sampled code:
    log q(z|x) - log p(z), an unbiased one-sample Monte Carlo estimate of KL(q(z|x) || p(z)) (the logged
    kl_loss). ``sample`` decodes codes drawn from the prior.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, prior, beta: float = 1.0,
                 likelihood: Literal["bernoulli", "gaussian"] = "bernoulli", seed: int | None = None, **kwargs):
        from course_utils.models.priors import prior_from_config

        if kwargs.pop("free_bits", 0.0):
            raise ValueError("free bits need a KL per dimension in closed form; a VAEWithPrior has none")
        prior = prior_from_config(prior) if isinstance(prior, dict) else prior
        if prior.dim != int(decoder.input_shape[-1]):
            raise ValueError(f"the prior has {prior.dim} dimensions but the decoder reads {decoder.input_shape[-1]}")
        super().__init__(encoder, decoder, beta=beta, likelihood=likelihood, seed=seed, **kwargs)
        self.prior = prior

    def sample(self, n: int, seed: int | None = None):
        """Decoded prior samples: the mean of p(x|z) for n codes z ~ p(z), (n, *input_shape)."""
        if int(n) < 1:
            raise ValueError(f"n is the number of samples and must be at least 1, got {n}")
        return self.decode(self.prior.sample(int(n), seed=seed))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Batch mean of -log p(x|z) + beta * (log q(z|x) - log p(z)) at one z ~ q(z|x) per image, nats per image."""
        mean, log_var = self.encode(x, training=training)  # (batch, d) each
        z = self.sampling([mean, log_var])  # (batch, d)
        reconstruction = -ops.mean(self.conditional_log_likelihood(x, z, training=training))
        log_q = -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)  # (batch,)
        kl = ops.mean(log_q - self.prior.log_prob(z))
        return self._logged_total(reconstruction, kl, kl)

    def get_config(self) -> dict[str, Any]:
        """The VAE's configuration and the prior's arguments."""
        config = {**super().get_config(), "prior": self.prior.get_config()}
        config.pop("free_bits", None)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAEWithPrior:
        config = dict(config)
        parts = [keras.saving.deserialize_keras_object(config.pop(name)) for name in ("encoder", "decoder")]
        return cls(*parts, **config)


class BetaWarmup(keras.callbacks.Callback):
    """KL annealing: beta rises linearly from 0 to ``target`` over ``warmup_steps`` batches, then stays (ch. 06).

    Early in training the decoder is weak and the KL term alone would push every posterior onto the
    prior (posterior collapse); starting with a small beta lets the code carry information first.
    """

    def __init__(self, target: float = 1.0, warmup_steps: int = 1000):
        super().__init__()
        if not float(target) >= 0.0 or int(warmup_steps) < 1:
            raise ValueError(f"target must be >= 0 and warmup_steps >= 1, got {target} and {warmup_steps}")
        self.target, self.warmup_steps, self.step = float(target), int(warmup_steps), 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.beta.assign(self.target * min(1.0, self.step / self.warmup_steps))
        self.step += 1


def _check_loss_arguments(beta: float, likelihood: str, free_bits: float) -> None:
    """beta >= 0, free_bits >= 0 and a known likelihood."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {', '.join(map(repr, LIKELIHOODS))}, got {likelihood!r}")
    if not float(beta) >= 0.0:
        raise ValueError(f"beta weighs the KL term and must be >= 0 (1 is the ELBO), got {beta}")
    if not float(free_bits) >= 0.0:
        raise ValueError(f"free_bits is a floor in nats per latent dimension and must be >= 0 (0: off), got {free_bits}")


def _check_vae_parts(encoder: keras.Model, decoder: keras.Model) -> None:
    """The encoder gives 2 * latent_dim numbers and the decoder returns the encoder's input shape."""
    latent_dim = int(decoder.input_shape[-1])
    if tuple(encoder.output_shape[1:]) != (2 * latent_dim,):
        raise ValueError(f"the encoder must output 2 * latent_dim = {2 * latent_dim} numbers per example (the mean, "
                         f"then the log-variance) for a decoder that takes {latent_dim}; got "
                         f"{tuple(encoder.output_shape[1:])}")
    if tuple(decoder.output_shape[1:]) != tuple(encoder.input_shape[1:]):
        raise ValueError(f"the decoder must return the encoder's input shape {tuple(encoder.input_shape[1:])}, got "
                         f"{tuple(decoder.output_shape[1:])}")


def _check_latent_dim(latent_dim: int) -> int:
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim is the size of z and must be at least 1, got {latent_dim}")
    return int(latent_dim)


def dense_vae(input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 16, hidden_units: Sequence[int] = (512, 256),
              activation: str | None = "relu", batch_norm: bool = False, beta: float = 1.0,
              likelihood: Literal["bernoulli", "gaussian"] = "bernoulli", seed: int | None = None,
              prior=None) -> VAE:
    """A fully connected VAE from ``blocks.dense_encoder``/``dense_decoder``; the decoder mirrors the encoder (ch. 06).

    With ``prior`` (a prior of ``models.priors`` or its config) it is a ``VAEWithPrior`` (chapter 09).
    """
    d = _check_latent_dim(latent_dim)
    shared = dict(activation=activation, batch_norm=bool(batch_norm))
    encoder = dense_encoder(input_shape, 2 * d, tuple(hidden_units), **shared)  # (batch, 2d)
    decoder = dense_decoder(d, input_shape, tuple(reversed(tuple(hidden_units))), output_activation=None,
                            **shared)  # (batch, *input_shape) logits or means
    if prior is not None:
        return VAEWithPrior(encoder, decoder, prior, beta=beta, likelihood=likelihood, seed=seed, name="dense_vae")
    return VAE(encoder, decoder, beta=beta, likelihood=likelihood, seed=seed, name="dense_vae")


def conv_vae(input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 16, filters: Sequence[int] = (32, 64),
             kernel_size: int = 3, activation: str = "relu", batch_norm: bool = False, beta: float = 1.0,
             likelihood: Literal["bernoulli", "gaussian"] = "bernoulli", seed: int | None = None) -> VAE:
    """A convolutional VAE from ``blocks.conv_encoder``/``conv_decoder``: stride-2 stages, a Dense code (ch. 06)."""
    d = _check_latent_dim(latent_dim)
    shared = dict(filters=tuple(filters), kernel_size=int(kernel_size), activation=activation,
                  batch_norm=bool(batch_norm))
    encoder = conv_encoder(tuple(input_shape), latent_dim=2 * d, **shared)  # (batch, 2d)
    decoder = conv_decoder(tuple(input_shape), latent_dim=d, output_activation=None,
                           **shared)  # (batch, *input_shape) logits or means
    return VAE(encoder, decoder, beta=beta, likelihood=likelihood, seed=seed, name="conv_vae")


def conditional_dense_vae(input_shape: Sequence[int] = (28, 28, 1), n_classes: int = 10, latent_dim: int = 2,
                          hidden_units: Sequence[int] = (512, 256), activation: str = "relu", beta: float = 1.0,
                          seed: int | None = None) -> ConditionalVAE:
    """A fully connected conditional VAE: the one-hot label joins the flattened image and the code (ch. 06)."""
    d, units = _check_latent_dim(latent_dim), tuple(int(u) for u in hidden_units)
    image, label = keras.Input(tuple(input_shape), name="image"), keras.Input((int(n_classes),), name="label")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(image), label])  # (batch, D + C)
    for i, units_i in enumerate(units):
        h = keras.layers.Dense(units_i, activation=activation, name=f"hidden_{i}")(h)
    encoder = keras.Model([image, label], keras.layers.Dense(2 * d, name="code")(h), name="encoder")  # (batch, 2d)
    z, label_in = keras.Input((d,), name="z"), keras.Input((int(n_classes),), name="label")
    h = keras.layers.Concatenate()([z, label_in])  # (batch, d + C)
    for i, units_i in enumerate(reversed(units)):
        h = keras.layers.Dense(units_i, activation=activation, name=f"hidden_{i}")(h)
    logits = keras.layers.Dense(int(math.prod(input_shape)), name="output")(h)  # (batch, D)
    decoder = keras.Model([z, label_in], keras.layers.Reshape(tuple(input_shape))(logits), name="decoder")
    return ConditionalVAE(encoder, decoder, beta=beta, seed=seed, name="conditional_dense_vae")


__all__ = ["LIKELIHOODS", "VAE", "BetaWarmup", "ConditionalVAE", "Sampling", "VAEWithPrior", "bernoulli_log_likelihood",
           "conditional_dense_vae", "conv_vae", "dense_vae", "gaussian_kl", "gaussian_kl_per_dimension",
           "gaussian_log_likelihood"]
