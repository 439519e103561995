"""A VAE with an adversarial loss on what it decodes: autoencoders meeting GANs (chapter 09).

A VAE's decoder outputs the mean of p(x|z), an average over every image the code could stand for, so
its reconstructions and samples are blurred. Adding a discriminator that tells real images from decoded
ones, and a generator term that rewards the decoder for fooling it, trades some reconstruction error for
sharper images (the idea behind Larsen et al. 2016's VAE-GAN and the adversarial losses of VQ-GAN and
learned image codecs). Two optimisers: the discriminator's step (real images -> real, reconstructions and
decoded prior samples -> fake), then the VAE's step on its ELBO plus ``adversarial_weight`` times the
non-saturating generator loss on both kinds of decoded images.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from course_utils.models.gan import dcgan_discriminator, discriminator_loss, generator_loss
from course_utils.models.vae import VAE, bernoulli_log_likelihood, dense_vae
from course_utils.training.distribute import build_optimizers, descend


@keras.saving.register_keras_serializable(package="course_utils")
class AdversarialVAE(VAE):
    """A Bernoulli VAE whose decoded images also face a discriminator (chapter 09).

    ``compile(vae_optimizer=..., d_optimizer=...)`` then ``fit(x)`` with x in [0, 1]. Logs the VAE's loss,
    reconstruction_loss and kl_loss (nats per image), and d_loss, g_loss, d_real and d_fake.
    ``adversarial_weight=0`` trains the plain VAE (the discriminator still learns, to be measured).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, discriminator: keras.Model,
                 adversarial_weight: float = 1.0, beta: float = 1.0, seed: int | None = None, **kwargs):
        kwargs.pop("likelihood", None)
        super().__init__(encoder, decoder, beta=beta, likelihood="bernoulli", seed=seed, **kwargs)
        if tuple(discriminator.input_shape[1:]) != tuple(decoder.output_shape[1:]) or \
                tuple(discriminator.output_shape[1:]) != (1,):
            raise ValueError(f"the discriminator must read decoded images {decoder.output_shape[1:]} and output one "
                             f"logit, got input {discriminator.input_shape} and output {discriminator.output_shape}")
        if adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {adversarial_weight}")
        self.discriminator, self.adversarial_weight = discriminator, float(adversarial_weight)
        self.noise = keras.random.SeedGenerator(self.seed)
        self.vae_optimizer = self.d_optimizer = None
        self.gan_trackers = {name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.build(encoder.input_shape)

    def _finish_init(self) -> None:
        """Build later, once the discriminator is added."""

    def compile(self, vae_optimizer=None, d_optimizer=None, **kwargs):
        """Set the VAE's optimiser (default Adam 1e-3) and the discriminator's (default Adam 2e-4, beta_1 0.5)."""
        if "loss" in kwargs or "optimizer" in kwargs:
            raise TypeError("AdversarialVAE.compile takes vae_optimizer and d_optimizer; its losses are fixed")
        vae_optimizer = keras.optimizers.get(vae_optimizer or keras.optimizers.Adam(1e-3))
        d_optimizer = keras.optimizers.get(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if vae_optimizer is d_optimizer:
            raise ValueError("give the VAE and the discriminator two optimiser objects")
        keras.Model.compile(self, **kwargs)
        self.vae_optimizer, self.d_optimizer = vae_optimizer, d_optimizer
        build_optimizers((vae_optimizer, [self.encoder, self.decoder]), (d_optimizer, self.discriminator))

    def _decoded(self, x, training: bool):
        """Reconstructions from sampled codes and decoded prior samples, pixel probabilities, and the VAE's terms."""
        mean, log_var = self.encode(x, training=training)  # (batch, d) each
        z = self.sampling([mean, log_var])  # (batch, d)
        logits = self.decoder(z, training=training)  # (batch, *input_shape)
        prior = keras.random.normal(ops.shape(z), seed=self.noise)  # (batch, d)
        samples = ops.sigmoid(self.decoder(prior, training=training))  # (batch, *input_shape)
        return ops.sigmoid(logits), samples, logits, mean, log_var

    def discriminator_step(self, x):
        """Real images -> real, reconstructions and decoded prior samples -> fake; returns (loss, p_real, p_fake)."""
        import tensorflow as tf

        reconstructions, samples, *_ = self._decoded(x, training=True)
        fake = ops.concatenate([reconstructions, samples], axis=0)  # (2 batch, *input_shape)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(x, training=True)  # (batch, 1)
            fake_logits = self.discriminator(fake, training=True)  # (2 batch, 1)
            loss = discriminator_loss(real_logits, fake_logits)
        weights = self.discriminator.trainable_weights
        descend(self.d_optimizer, tape, loss, weights)
        return loss, ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits))

    def vae_step(self, x):
        """The ELBO plus adversarial_weight * the generator loss on reconstructions and samples; returns that term."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            reconstructions, samples, logits, mean, log_var = self._decoded(x, training=True)
            elbo_loss = self._total_loss(-ops.mean(bernoulli_log_likelihood(x, logits)), mean, log_var)
            fake = ops.concatenate([reconstructions, samples], axis=0)  # (2 batch, *input_shape)
            g_loss = generator_loss(self.discriminator(fake, training=False))
            loss = elbo_loss + self.adversarial_weight * g_loss
        weights = self.encoder.trainable_weights + self.decoder.trainable_weights
        descend(self.vae_optimizer, tape, loss, weights)
        return g_loss

    def train_step(self, data):
        """One discriminator update, then one VAE update, on one batch of images."""
        if self.vae_optimizer is None:
            raise RuntimeError("compile first: model.compile(vae_optimizer=..., d_optimizer=...)")
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        d_loss, p_real, p_fake = self.discriminator_step(x)
        g_loss = self.vae_step(x)
        for name, value in (("d_loss", d_loss), ("g_loss", g_loss), ("d_real", p_real), ("d_fake", p_fake)):
            self.gan_trackers[name].update_state(value)
        return self.get_metrics_result()

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """The VAE's three means, then d_loss, g_loss, d_real and d_fake."""
        return [*super().metrics, *self.gan_trackers.values()]

    def get_config(self) -> dict[str, Any]:
        """The VAE's configuration plus the discriminator and the adversarial weight."""
        config = {**super().get_config(), "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                  "adversarial_weight": self.adversarial_weight}
        for key in ("likelihood", "free_bits"):
            config.pop(key, None)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AdversarialVAE:
        config = dict(config)
        parts = [keras.saving.deserialize_keras_object(config.pop(name))
                 for name in ("encoder", "decoder", "discriminator")]
        return cls(*parts, **config)

    def get_compile_config(self) -> dict[str, Any]:
        """The two optimisers, serialized, so a ``.keras`` file restores them with their state."""
        if self.vae_optimizer is None:
            return {}
        return {"vae_optimizer": keras.optimizers.serialize(self.vae_optimizer),
                "d_optimizer": keras.optimizers.serialize(self.d_optimizer)}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Recompile from ``get_compile_config`` (compile builds both optimisers, so their saved state loads too)."""
        if config:
            self.compile(vae_optimizer=keras.optimizers.deserialize(config["vae_optimizer"]),
                         d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]))


def dense_adversarial_vae(input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = 16,
                          hidden_units: Sequence[int] = (256, 128), discriminator_filters: int = 32,
                          adversarial_weight: float = 1.0, seed: int | None = None) -> AdversarialVAE:
    """Chapter 06's ``dense_vae`` (no batch norm) with a DCGAN discriminator (spectral normalisation) on its images."""
    vae = dense_vae(tuple(input_shape), latent_dim, tuple(hidden_units), seed=seed)
    discriminator = dcgan_discriminator(filters=int(discriminator_filters), spectral_norm=True,
                                        input_channels=int(input_shape[-1]), seed=seed)
    return AdversarialVAE(vae.encoder, vae.decoder, discriminator, adversarial_weight=adversarial_weight, seed=seed,
                          name="dense_adversarial_vae")


__all__ = ["AdversarialVAE", "dense_adversarial_vae"]
