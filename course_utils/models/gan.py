"""The generative adversarial network: its losses, the DCGAN and toy networks, and the ``GAN`` model (chapter 08).

A generator G maps noise z ~ N(0, I) to samples; a discriminator D maps a sample to one logit, the
log-odds that it is real. Training alternates two steps with two optimisers: D descends its loss on a
real and a generated batch (G fixed), then G descends its loss through D (D fixed). Every loss here
takes logits, never probabilities, so the sigmoid lives inside a numerically stable softplus:

- ``"non_saturating"`` (Goodfellow et al. 2014, the textbook default): D minimises the binary
  cross-entropy, G minimises -log D(G(z)) = softplus(-l).
- ``"saturating"``: G minimises log(1 - D(G(z))) = -softplus(l), the minimax game taken literally;
  its gradient vanishes when D confidently rejects G's samples. Where D never gets that confident
  (the course's DCGAN, ``benchmarks/gan.py``) it can train better than the non-saturating loss.
- ``"hinge"`` (Miyato et al. 2018): D minimises relu(1 - l_real) + relu(1 + l_fake), G minimises -l.
- ``"wasserstein"`` (Gulrajani et al. 2017, with ``gradient_penalty`` > 0): the critic maximises
  l_real - l_fake with a penalty that keeps its gradient norm near 1; G minimises -l.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from course_utils.training.distribute import build_optimizers, descend

GAN_LOSSES = ("non_saturating", "saturating", "hinge", "wasserstein")


def _check_loss(loss: str) -> str:
    if loss not in GAN_LOSSES:
        raise ValueError(f"loss must be one of {GAN_LOSSES}, got {loss!r}")
    return loss


def discriminator_loss(real_logits, fake_logits, loss: str = "non_saturating"):
    """The discriminator's (critic's) batch-mean loss from its logits on real (batch, 1) and fake (batch, 1) samples."""
    _check_loss(loss)
    real_logits, fake_logits = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")  # mixed precision
    if loss in ("non_saturating", "saturating"):  # binary cross-entropy: real -> 1, fake -> 0
        return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
    if loss == "hinge":
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
    return ops.mean(fake_logits) - ops.mean(real_logits)  # wasserstein


def generator_loss(fake_logits, loss: str = "non_saturating"):
    """The generator's batch-mean loss from the discriminator's logits on generated samples (batch, 1)."""
    _check_loss(loss)
    fake_logits = ops.cast(fake_logits, "float32")  # a network in mixed precision gives bfloat16 logits
    if loss == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))  # -log D(G(z))
    if loss == "saturating":
        return -ops.mean(ops.softplus(fake_logits))  # log(1 - D(G(z)))
    return -ops.mean(fake_logits)  # hinge and wasserstein


def optimal_discriminator(p_data, p_model):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the best discriminator against a fixed generator (NumPy or tensors)."""
    total = p_data + p_model
    return p_data / total


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------

def dcgan_generator(latent_dim: int = 64, filters: int = 64, batch_norm: bool = True, seed: int | None = None,
                    name: str = "generator") -> keras.Sequential:
    """DCGAN generator for 28x28x1 images in [0, 1]: Dense to 7x7, two stride-2 4x4 transposed convolutions.

    (batch, latent_dim) -> (batch, 7, 7, 2f) -> (batch, 14, 14, f) -> (batch, 28, 28, 1), sigmoid output.
    Kernel 4 with stride 2 lets every output pixel receive the same number of kernel taps (no
    checkerboard, chapter 03); ReLU inside, batch normalisation after every layer but the last.
    """
    init = keras.initializers.RandomNormal(stddev=0.02, seed=seed)

    def norm(tag: str) -> list[keras.layers.Layer]:
        return [keras.layers.BatchNormalization(name=f"{tag}_norm")] if batch_norm else []

    layers = [keras.Input((int(latent_dim),)),
              keras.layers.Dense(7 * 7 * 2 * filters, use_bias=not batch_norm, kernel_initializer=init,
                                 name="project"),  # (batch, 7*7*2f)
              *norm("project"), keras.layers.ReLU(name="project_act"),
              keras.layers.Reshape((7, 7, 2 * filters), name="to_grid"),  # (batch, 7, 7, 2f)
              keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=not batch_norm,
                                           kernel_initializer=init, name="up_1"),  # (batch, 14, 14, f)
              *norm("up_1"), keras.layers.ReLU(name="up_1_act"),
              keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid",
                                           kernel_initializer=init, name="up_2")]  # (batch, 28, 28, 1)
    return keras.Sequential(layers, name=name)


def dcgan_discriminator(filters: int = 64, spectral_norm: bool = False, dropout: float = 0.0, input_channels: int = 1,
                        seed: int | None = None, name: str = "discriminator") -> keras.Sequential:
    """DCGAN discriminator: two stride-2 4x4 convolutions with LeakyReLU(0.2), then one logit.

    (batch, 28, 28, 1) -> (batch, 14, 14, f) -> (batch, 7, 7, 2f) -> (batch, 1). No batch
    normalisation: its statistics would mix or split real and fake batches (a pitfall of chapter 08).
    ``spectral_norm`` wraps every weight layer in ``keras.layers.SpectralNormalization`` (Miyato et al. 2018);
    ``input_channels`` > 1 reads images stacked along the channels (a packing ``GAN``).
    """
    init = keras.initializers.RandomNormal(stddev=0.02, seed=seed)

    def weighted(layer: keras.layers.Layer) -> keras.layers.Layer:
        return keras.layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer

    layers: list[keras.layers.Layer] = [keras.Input((28, 28, int(input_channels)))]
    for i, width in enumerate((filters, 2 * filters), start=1):
        layers += [weighted(keras.layers.Conv2D(width, 4, strides=2, padding="same", kernel_initializer=init,
                                                name=f"down_{i}")),  # (batch, 14, 14, f), then (batch, 7, 7, 2f)
                   keras.layers.LeakyReLU(0.2, name=f"down_{i}_act")]
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout, name=f"down_{i}_dropout"))
    layers += [keras.layers.Flatten(name="flatten"),  # (batch, 7*7*2f)
               weighted(keras.layers.Dense(1, kernel_initializer=init, name="logit"))]  # (batch, 1)
    return keras.Sequential(layers, name=name)


def mlp_generator(latent_dim: int = 2, output_dim: int = 2, hidden_units: Sequence[int] = (128, 128),
                  seed: int | None = None, name: str = "generator") -> keras.Sequential:
    """A small ReLU MLP generator for 2-D toy data: (batch, latent_dim) -> (batch, output_dim), linear output."""
    init = keras.initializers.GlorotUniform(seed=seed)
    layers = [keras.Input((int(latent_dim),))]
    layers += [keras.layers.Dense(width, activation="relu", kernel_initializer=init, name=f"hidden_{i}")
               for i, width in enumerate(hidden_units, start=1)]  # (batch, width)
    layers.append(keras.layers.Dense(int(output_dim), kernel_initializer=init, name="sample"))  # (batch, output_dim)
    return keras.Sequential(layers, name=name)


def mlp_discriminator(input_dim: int = 2, hidden_units: Sequence[int] = (128, 128), seed: int | None = None,
                      name: str = "discriminator") -> keras.Sequential:
    """A small LeakyReLU MLP discriminator for 2-D toy data: (batch, input_dim) -> (batch, 1) logits."""
    init = keras.initializers.GlorotUniform(seed=seed)
    layers: list[keras.layers.Layer] = [keras.Input((int(input_dim),))]
    for i, width in enumerate(hidden_units, start=1):
        layers += [keras.layers.Dense(width, kernel_initializer=init, name=f"hidden_{i}"),  # (batch, width)
                   keras.layers.LeakyReLU(0.2, name=f"hidden_{i}_act")]
    layers.append(keras.layers.Dense(1, kernel_initializer=init, name="logit"))  # (batch, 1)
    return keras.Sequential(layers, name=name)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="course_utils")
class GAN(keras.Model):
    """A generator and a discriminator trained in alternation with two optimisers (chapter 08).

    ``compile(d_optimizer=..., g_optimizer=...)``, then ``fit(real_images)``: each ``train_step`` makes
    ``discriminator_steps`` discriminator updates (fresh noise each, the same real batch), then one
    generator update, and logs d_loss, g_loss, and the discriminator's mean probability on real
    (d_real) and generated (d_fake) samples. ``call(z)`` and ``sample(n)`` run the generator only.
    With ``pack`` > 1 the discriminator judges ``pack`` samples at once, stacked along the last axis, all real or
    all generated (PacGAN, Lin et al. 2018): a generator that repeats itself is easier to catch in a set than one
    by one, so packing penalises mode collapse. Batches are cut to a multiple of ``pack``.
    With ``ema_decay`` > 0 the model also keeps an exponential moving average of the generator's weights
    (Yazici et al. 2019), ``ema_generator``, and ``call`` and ``sample`` use it: the average of the
    last few hundred generators, which the game makes circle around a good one, is smoother than any of them.
    The discriminator runs in inference mode during the generator step, so layers that behave
    differently in training (dropout, normalisation statistics) never see a fake-only batch there.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, loss: str = "non_saturating",
                 gradient_penalty: float = 0.0, discriminator_steps: int = 1, ema_decay: float = 0.0,
                 pack: int = 1, seed: int | None = None, **kwargs):
        if int(pack) < 1:
            raise ValueError(f"pack is the number of samples the discriminator judges at once, at least 1, got {pack}")
        _check_gan_parts(generator, discriminator, int(pack))
        _check_loss(loss)
        if gradient_penalty < 0 or int(discriminator_steps) < 1 or not 0 <= ema_decay < 1:
            raise ValueError(f"need gradient_penalty >= 0, discriminator_steps >= 1 and 0 <= ema_decay < 1, got "
                             f"{gradient_penalty}, {discriminator_steps} and {ema_decay}")
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.loss_name, self.gradient_penalty = loss, float(gradient_penalty)
        self.discriminator_steps, self.seed = int(discriminator_steps), None if seed is None else int(seed)
        self.ema_decay, self.pack = float(ema_decay), int(pack)
        self.ema_generator = _copy_of(generator) if self.ema_decay > 0 else None
        self.ema_updates = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ema_updates")
        self.noise = keras.random.SeedGenerator(self.seed)
        self.d_optimizer = self.g_optimizer = None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.build(generator.input_shape)

    def build(self, input_shape):
        """Nothing to create: both networks start with an ``Input`` and are built already."""

    @property
    def latent_dim(self) -> int:
        """The dimension of the generator's noise input."""
        return int(self.generator.input_shape[-1])

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Set the two optimisers (default Adam(2e-4, beta_1=0.5) each, the DCGAN recipe); no ``loss``."""
        if "loss" in kwargs or "optimizer" in kwargs:
            raise TypeError("GAN.compile takes d_optimizer and g_optimizer; its losses are chosen by GAN(loss=...)")
        d_optimizer = keras.optimizers.get(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        g_optimizer = keras.optimizers.get(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if d_optimizer is g_optimizer:
            raise ValueError("give the discriminator and the generator two optimiser objects: one holds the "
                             "other's moment estimates otherwise")
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        build_optimizers((d_optimizer, self.discriminator), (g_optimizer, self.generator))

    @property
    def sampler(self) -> keras.Model:
        """The network that makes samples: the weight average when there is one, else the generator."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, z, training=None):
        """Generated samples from noise: (batch, latent_dim) -> (batch, *sample_shape)."""
        return self.sampler(z, training=False)

    def sample(self, n: int, seed: int | None = None):
        """n generated samples from z ~ N(0, I): (n, *sample_shape)."""
        if int(n) < 1:
            raise ValueError(f"n is the number of samples and must be at least 1, got {n}")
        return self.sampler(keras.random.normal((int(n), self.latent_dim), seed=seed), training=False)

    def _latent(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.noise)  # (batch, latent_dim)

    def critic(self, samples, training: bool = False):
        """The discriminator's logits for samples, ``pack`` at a time: (batch, *shape) -> (batch // pack, 1)."""
        if self.pack == 1:
            return self.discriminator(samples, training=training)
        shape = tuple(samples.shape[1:])
        kept = (ops.shape(samples)[0] // self.pack) * self.pack
        grouped = ops.reshape(samples[:kept], (-1, self.pack, *shape))  # (batch // pack, pack, *shape)
        moved = ops.moveaxis(grouped, 1, -1)  # (batch // pack, *shape, pack)
        packed = ops.reshape(moved, (-1, *shape[:-1], shape[-1] * self.pack))  # (batch // pack, ..., last * pack)
        return self.discriminator(packed, training=training)

    def _penalty(self, real, fake):
        """Gulrajani et al.'s penalty: mean (||grad_x D(x)|| - 1)^2 at random points between real and fake."""
        import tensorflow as tf

        shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
        mix = ops.cast(keras.random.uniform(shape, seed=self.noise), real.dtype)  # (batch, 1, ...)
        between = mix * real + (1.0 - mix) * fake  # (batch, *sample_shape)
        with tf.GradientTape() as tape:
            tape.watch(between)
            logits = self.critic(between, training=True)  # (batch // pack, 1)
        gradients = tape.gradient(logits, between)  # (batch, *sample_shape)
        norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=list(range(1, len(real.shape)))) + 1e-12)  # (batch,)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def discriminator_step(self, real):
        """One discriminator update on a real batch and a fresh generated batch; returns (loss, p_real, p_fake)."""
        import tensorflow as tf

        batch = tf.shape(real)[0]
        fake = self.generator(self._latent(batch), training=True)  # (batch, *sample_shape)
        with tf.GradientTape() as tape:
            real_logits = self.critic(real, training=True)  # (batch // pack, 1)
            fake_logits = self.critic(fake, training=True)  # (batch // pack, 1)
            loss = discriminator_loss(real_logits, fake_logits, self.loss_name)
            if self.gradient_penalty > 0:
                loss = loss + self.gradient_penalty * self._penalty(real, fake)
        descend(self.d_optimizer, tape, loss, self.discriminator.trainable_weights)
        return loss, ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits))

    def generator_step(self, batch):
        """One generator update through the discriminator (in inference mode); returns the generator's loss."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            fake = self.generator(self._latent(batch), training=True)  # (batch, *sample_shape)
            loss = generator_loss(self.critic(fake, training=False), self.loss_name)
        descend(self.g_optimizer, tape, loss, self.generator.trainable_weights)
        return loss

    def train_step(self, data):
        """``discriminator_steps`` discriminator updates, then one generator update, on one real batch."""
        import tensorflow as tf

        if self.d_optimizer is None:
            raise RuntimeError("compile the GAN first: gan.compile(d_optimizer=..., g_optimizer=...)")
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        for _ in range(self.discriminator_steps):
            d_loss, p_real, p_fake = self.discriminator_step(real)
        g_loss = self.generator_step(tf.shape(real)[0])
        if self.ema_generator is not None:
            self.update_average()
        for name, value in (("d_loss", d_loss), ("g_loss", g_loss), ("d_real", p_real), ("d_fake", p_fake)):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def update_average(self) -> None:
        """w_avg <- d * w_avg + (1 - d) * w for every generator weight; d ramps up over the first 1/(1 - d) steps."""
        self.ema_updates.assign_add(1.0)
        decay = ops.minimum(self.ema_decay, (1.0 + self.ema_updates) / (10.0 + self.ema_updates))
        for average, current in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * ops.cast(current, average.dtype))

    def test_step(self, data):
        """The two losses and probabilities on a held-out real batch, without updates."""
        import tensorflow as tf

        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        fake_logits = self.critic(self.generator(self._latent(tf.shape(real)[0])))
        real_logits = self.critic(real)
        values = {"d_loss": discriminator_loss(real_logits, fake_logits, self.loss_name),
                  "g_loss": generator_loss(fake_logits, self.loss_name),
                  "d_real": ops.mean(ops.sigmoid(real_logits)), "d_fake": ops.mean(ops.sigmoid(fake_logits))}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """The four means Keras reports and resets each epoch: d_loss, g_loss, d_real, d_fake."""
        return list(self.trackers.values())

    def get_config(self) -> dict[str, Any]:
        """Both networks, serialized, and the loss, penalty weight, discriminator steps and seed."""
        return {**super().get_config(), "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator), "loss": self.loss_name,
                "gradient_penalty": self.gradient_penalty, "discriminator_steps": self.discriminator_steps,
                "ema_decay": self.ema_decay, "pack": self.pack, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GAN:
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)

    def get_compile_config(self) -> dict[str, Any]:
        """The two optimisers, serialized, so a ``.keras`` file restores them with their state."""
        if self.d_optimizer is None:
            return {}
        return {"d_optimizer": keras.optimizers.serialize(self.d_optimizer),
                "g_optimizer": keras.optimizers.serialize(self.g_optimizer)}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Recompile from ``get_compile_config`` (compile builds both optimisers, so their saved state loads too)."""
        if config:
            self.compile(d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
                         g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]))


def _copy_of(model: keras.Model) -> keras.Model:
    """A new network of the same architecture holding a copy of ``model``'s current weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _check_gan_parts(generator: keras.Model, discriminator: keras.Model, pack: int = 1) -> None:
    """D must read what G makes (``pack`` samples stacked along the last axis) and output one logit."""
    for part, name in ((generator, "generator"), (discriminator, "discriminator")):
        if not isinstance(part, keras.Model) or not part.built:
            raise TypeError(f"the {name} must be a built keras.Model (start it with keras.Input), got {type(part)!r}")
    produced, expected = tuple(generator.output_shape[1:]), tuple(discriminator.input_shape[1:])
    packed = (*produced[:-1], produced[-1] * pack)
    if packed != expected:
        stacked = f" ({pack} of them stacked along the last axis: {packed})" if pack > 1 else ""
        raise ValueError(f"the generator makes samples of shape {produced}{stacked} but the discriminator reads "
                         f"{expected}")
    if tuple(discriminator.output_shape[1:]) != (1,):
        raise ValueError(f"the discriminator must output one logit per sample, shape (batch, 1), got "
                         f"{discriminator.output_shape}")
