"""The adversarial autoencoder (Makhzani et al. 2016) (chapter 09).

A deterministic encoder maps x to a code z = E(x) and a decoder maps it back. A VAE pulls each image's
posterior q(z|x) towards the prior through a KL term; an adversarial autoencoder instead asks a
discriminator on codes whether a code came from the prior or from the encoder, and trains the encoder to
fool it, so the *aggregate* distribution of codes, over all images, matches the prior. Each training step
has three updates with three optimisers:

1. reconstruction: encoder and decoder descend the reconstruction loss (Bernoulli cross-entropy of the
   image given the decoder's logits, in nats per image);
2. regularisation, discriminator: D learns prior samples -> real, encoder codes -> fake;
3. regularisation, generator: the encoder learns to make D call its codes real (the non-saturating loss).

With ``n_classes`` set, label information enters the prior (Makhzani et al., section 2.3): the
discriminator also reads a one-hot vector with ``n_classes + 1`` slots; an image with label k >= 0 is
paired with a prior sample from mixture component k and slot k, an unlabelled image (label -1) with a
sample from any component and the last slot. Labelled codes are then pulled onto their class's component.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from course_utils.models.blocks import dense_decoder, dense_encoder
from course_utils.models.gan import discriminator_loss, generator_loss, mlp_discriminator
from course_utils.models.priors import GaussianMixturePrior, GaussianPrior, prior_from_config
from course_utils.models.vae import bernoulli_log_likelihood
from course_utils.training.distribute import build_optimizers, descend

PHASES = ("reconstruction", "discriminator", "generator")


@keras.saving.register_keras_serializable(package="course_utils")
class AdversarialAutoencoder(keras.Model):
    """An encoder, a decoder (image logits) and a discriminator on codes, trained in three phases (chapter 09).

    ``compile(ae_optimizer=..., d_optimizer=..., g_optimizer=...)``, then ``fit(x)`` or, with ``n_classes``,
    ``fit(x, labels)`` (-1 marks an unlabelled image). Logs reconstruction_loss (nats per image), d_loss,
    g_loss and the discriminator's mean probability that prior samples (d_prior) and codes (d_codes) are real.
    ``call(x)`` reconstructs (pixel probabilities), ``encode``/``decode`` expose the two halves and ``sample``
    decodes prior samples.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, discriminator: keras.Model, prior,
                 n_classes: int | None = None, seed: int | None = None, **kwargs):
        prior = prior_from_config(prior) if isinstance(prior, dict) else prior
        _check_aae_parts(encoder, decoder, discriminator, prior, n_classes)
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.discriminator, self.prior = encoder, decoder, discriminator, prior
        self.n_classes = None if n_classes is None else int(n_classes)
        self.seed = None if seed is None else int(seed)
        self.noise = keras.random.SeedGenerator(self.seed)
        self.ae_optimizer = self.d_optimizer = self.g_optimizer = None
        names = ("reconstruction_loss", "d_loss", "g_loss", "d_prior", "d_codes")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.build(encoder.input_shape)

    def build(self, input_shape):
        """Nothing to create: the three networks start with an ``Input`` and are built already."""

    @property
    def latent_dim(self) -> int:
        """The dimension of the code."""
        return int(self.encoder.output_shape[-1])

    def compile(self, ae_optimizer=None, d_optimizer=None, g_optimizer=None, **kwargs):
        """Set the three optimisers: reconstruction (default Adam 1e-3), discriminator and generator (Adam 2e-4, beta_1 0.5)."""
        if "loss" in kwargs or "optimizer" in kwargs:
            raise TypeError("AdversarialAutoencoder.compile takes ae_optimizer, d_optimizer and g_optimizer; its "
                            "losses are fixed by the model")
        optimizers = [keras.optimizers.get(ae_optimizer or keras.optimizers.Adam(1e-3)),
                      keras.optimizers.get(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)),
                      keras.optimizers.get(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))]
        if len({id(optimizer) for optimizer in optimizers}) < 3:
            raise ValueError("give each phase its own optimiser object: a shared one mixes their moment estimates")
        super().compile(**kwargs)
        self.ae_optimizer, self.d_optimizer, self.g_optimizer = optimizers
        build_optimizers((self.ae_optimizer, [self.encoder, self.decoder]), (self.d_optimizer, self.discriminator),
                         (self.g_optimizer, self.encoder))

    def encode(self, x, training: bool = False):
        """The code of each image: (batch, *input_shape) -> (batch, d)."""
        return self.encoder(x, training=training)

    def decode(self, z, training: bool = False):
        """Pixel probabilities from codes: (batch, d) -> (batch, *input_shape)."""
        return ops.sigmoid(self.decoder(z, training=training))

    def call(self, x, training=None):
        """The reconstruction, pixel probabilities: (batch, *input_shape) -> (batch, *input_shape)."""
        return self.decode(self.encode(x, training=training), training=training)

    def sample(self, n: int, seed: int | None = None, labels=None):
        """Decoded prior samples (n, *input_shape); with ``labels`` (n,), each from its class's component."""
        if int(n) < 1:
            raise ValueError(f"n is the number of samples and must be at least 1, got {n}")
        return self.decode(self.prior.sample(int(n), seed=seed, labels=labels))

    def judge(self, codes, labels=None, training: bool = False):
        """The discriminator's logits for codes (batch, d), with the label slots when ``n_classes`` is set: (batch, 1)."""
        if self.n_classes is None:
            return self.discriminator(codes, training=training)
        slots = ops.where(labels >= 0, labels, self.n_classes)  # (batch,) the last slot means "no label"
        one_hot = ops.one_hot(slots, self.n_classes + 1, dtype=codes.dtype)  # (batch, n_classes + 1)
        return self.discriminator(ops.concatenate([codes, one_hot], axis=-1), training=training)

    def reconstruction_step(self, x):
        """Phase 1: encoder and decoder descend the reconstruction loss; returns it (nats per image)."""
        import tensorflow as tf

        weights = self.encoder.trainable_weights + self.decoder.trainable_weights
        with tf.GradientTape() as tape:
            logits = self.decoder(self.encoder(x, training=True), training=True)  # (batch, *input_shape)
            loss = -ops.mean(bernoulli_log_likelihood(x, logits))
        descend(self.ae_optimizer, tape, loss, weights)
        return loss

    def discriminator_step(self, x, labels):
        """Phase 2: D learns prior samples -> real, codes -> fake; returns (loss, p(real) on prior, on codes)."""
        import tensorflow as tf

        codes = self.encoder(x, training=True)  # (batch, d)
        prior = ops.cast(self.prior.sample(tf.shape(x)[0], seed=self.noise, labels=labels), codes.dtype)  # (batch, d)
        with tf.GradientTape() as tape:
            prior_logits = self.judge(prior, labels, training=True)  # (batch, 1)
            code_logits = self.judge(codes, labels, training=True)  # (batch, 1)
            loss = discriminator_loss(prior_logits, code_logits)
        weights = self.discriminator.trainable_weights
        descend(self.d_optimizer, tape, loss, weights)
        return loss, ops.mean(ops.sigmoid(prior_logits)), ops.mean(ops.sigmoid(code_logits))

    def generator_step(self, x, labels):
        """Phase 3: the encoder learns to make D call its codes real (D in inference mode); returns the loss."""
        import tensorflow as tf

        weights = self.encoder.trainable_weights
        with tf.GradientTape() as tape:
            loss = generator_loss(self.judge(self.encoder(x, training=True), labels, training=False))
        descend(self.g_optimizer, tape, loss, weights)
        return loss

    def _labels(self, x, y):
        """Integer labels (batch,), -1 for unlabelled; all -1 without ``n_classes`` or ``y``."""
        import tensorflow as tf

        if self.n_classes is None or y is None:
            return -tf.ones(tf.shape(x)[:1], dtype="int32")
        return ops.cast(ops.reshape(y, (-1,)), "int32")

    def train_step(self, data):
        """Reconstruction, then the discriminator, then the encoder as generator, on one batch."""
        if self.ae_optimizer is None:
            raise RuntimeError("compile the adversarial autoencoder first: "
                               "aae.compile(ae_optimizer=..., d_optimizer=..., g_optimizer=...)")
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        labels = self._labels(x, y)
        reconstruction = self.reconstruction_step(x)
        d_loss, p_prior, p_codes = self.discriminator_step(x, labels)
        g_loss = self.generator_step(x, labels)
        return self._log(reconstruction, d_loss, g_loss, p_prior, p_codes)

    def test_step(self, data):
        """The same five numbers on a held-out batch, without updates."""
        import tensorflow as tf

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        labels = self._labels(x, y)
        codes = self.encoder(x)  # (batch, d)
        reconstruction = -ops.mean(bernoulli_log_likelihood(x, self.decoder(codes)))
        prior = ops.cast(self.prior.sample(tf.shape(x)[0], seed=self.noise, labels=labels), codes.dtype)
        prior_logits, code_logits = self.judge(prior, labels), self.judge(codes, labels)
        return self._log(reconstruction, discriminator_loss(prior_logits, code_logits), generator_loss(code_logits),
                         ops.mean(ops.sigmoid(prior_logits)), ops.mean(ops.sigmoid(code_logits)))

    def _log(self, *values) -> dict[str, Any]:
        for tracker, value in zip(self.trackers.values(), values):
            tracker.update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """The five means Keras reports and resets each epoch."""
        return list(self.trackers.values())

    def get_config(self) -> dict[str, Any]:
        """The three networks, serialized, the prior's arguments, the number of classes and the seed."""
        networks = {name: keras.saving.serialize_keras_object(getattr(self, name))
                    for name in ("encoder", "decoder", "discriminator")}
        return {**super().get_config(), **networks, "prior": self.prior.get_config(), "n_classes": self.n_classes,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AdversarialAutoencoder:
        config = dict(config)
        networks = [keras.saving.deserialize_keras_object(config.pop(name))
                    for name in ("encoder", "decoder", "discriminator")]
        return cls(*networks, **config)

    def get_compile_config(self) -> dict[str, Any]:
        """The three optimisers, serialized, so a ``.keras`` file restores them with their state."""
        if self.ae_optimizer is None:
            return {}
        return {f"{name}_optimizer": keras.optimizers.serialize(getattr(self, f"{name}_optimizer"))
                for name in ("ae", "d", "g")}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Recompile from ``get_compile_config`` (compile builds the optimisers, so their saved state loads too)."""
        if config:
            self.compile(**{key: keras.optimizers.deserialize(value) for key, value in config.items()})


def _check_aae_parts(encoder, decoder, discriminator, prior, n_classes: int | None) -> None:
    """The encoder's code, the decoder's input, the prior and the discriminator's input must agree."""
    for part, name in ((encoder, "encoder"), (decoder, "decoder"), (discriminator, "discriminator")):
        if not isinstance(part, keras.Model) or not part.built:
            raise TypeError(f"the {name} must be a built keras.Model (start it with keras.Input), got {type(part)!r}")
    d = int(encoder.output_shape[-1])
    if int(decoder.input_shape[-1]) != d or prior.dim != d:
        raise ValueError(f"the encoder makes {d}-D codes but the decoder reads {decoder.input_shape[-1]}-D codes and "
                         f"the prior has {prior.dim} dimensions")
    if tuple(decoder.output_shape[1:]) != tuple(encoder.input_shape[1:]):
        raise ValueError(f"the decoder makes {decoder.output_shape[1:]} but the encoder reads {encoder.input_shape[1:]}")
    extra = 0 if n_classes is None else int(n_classes) + 1
    if n_classes is not None and (int(n_classes) < 2 or int(n_classes) > prior.n_components):
        raise ValueError(f"n_classes must be between 2 and the prior's {prior.n_components} components (one per "
                         f"class), got {n_classes}")
    if int(discriminator.input_shape[-1]) != d + extra or tuple(discriminator.output_shape[1:]) != (1,):
        raise ValueError(f"the discriminator must read {d + extra} numbers (the code" + (
            f" and {extra} label slots" if extra else "") + f") and output one logit, got input "
            f"{discriminator.input_shape} and output {discriminator.output_shape}")


def repeat_labelled(x, labels, repeats: int = 10):
    """The images and labels with every labelled image (label >= 0) appended ``repeats`` more times.

    With a few labels among many images, an epoch shows the discriminator almost only the "no label" slot and
    the labelled codes never find their components; repeating them gives every batch a share of labelled codes.
    """
    import numpy as np

    x, labels = np.asarray(x), np.asarray(labels).astype(np.int64)
    if len(x) != len(labels) or int(repeats) < 0:
        raise ValueError(f"need as many labels as images and repeats >= 0, got {len(x)} images, {len(labels)} labels "
                         f"and repeats={repeats}")
    labelled = labels >= 0
    return (np.concatenate([x] + [x[labelled]] * int(repeats)),
            np.concatenate([labels] + [labels[labelled]] * int(repeats)))


def dense_aae(input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 2, hidden_units: Sequence[int] = (256, 128),
              prior: str = "mixture", n_classes: int | None = None, discriminator_units: Sequence[int] = (256, 256),
              batch_norm: bool = True, seed: int | None = None) -> AdversarialAutoencoder:
    """A fully connected AAE (the layout of chapter 06's ``dense_vae``) with an MLP discriminator on codes.

    ``prior`` is "mixture" (10 Gaussians on a circle of radius 4, std 0.5) or "gaussian" (N(0, I)).
    """
    priors = {"mixture": lambda: GaussianMixturePrior(10, int(latent_dim)), "gaussian": lambda: GaussianPrior(int(latent_dim))}
    if prior not in priors:
        raise ValueError(f"prior must be one of {sorted(priors)}, got {prior!r}")
    units = tuple(int(u) for u in hidden_units)
    encoder = dense_encoder(tuple(input_shape), int(latent_dim), units, batch_norm=bool(batch_norm))  # (batch, d)
    decoder = dense_decoder(int(latent_dim), tuple(input_shape), tuple(reversed(units)), output_activation=None,
                            batch_norm=bool(batch_norm))  # (batch, *input_shape) logits
    extra = 0 if n_classes is None else int(n_classes) + 1
    discriminator = mlp_discriminator(int(latent_dim) + extra, tuple(discriminator_units), seed=seed)
    return AdversarialAutoencoder(encoder, decoder, discriminator, priors[prior](), n_classes=n_classes, seed=seed,
                                  name="dense_aae")


__all__ = ["PHASES", "AdversarialAutoencoder", "dense_aae", "repeat_labelled"]
