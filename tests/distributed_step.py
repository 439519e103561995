"""One training step of a course model on one device and under MirroredStrategy on two logical CPUs; prints JSON.

Run as a script (the CPU must be split before TensorFlow starts): ``python tests/distributed_step.py KIND...``.
Both runs start from the same weights on the same global batch of 8, with the model's random draws (sampling
noise, latents, prior samples) replaced by fixed values, so the two updates must agree to float precision when each
replica's loss is its share of the batch mean (tests/test_distribute.py).
"""
from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_utils.training.distribute import split_cpu

DEVICES = split_cpu(2)

import keras
import numpy as np
import tensorflow as tf
from keras import ops

BATCH = 8


def _data(kind: str) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 28, 28, 1)).astype("float32")
    if kind == "gan":
        x = rng.normal(size=(BATCH, 2)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, x) if kind == "autoencoder" else x).batch(BATCH)


def _model(kind: str) -> keras.Model:
    """A small model of ``kind``, compiled, its random draws fixed; built on one example."""
    from course_utils.models import DenseAutoencoder, gan, regularised
    from course_utils.models.aae import dense_aae
    from course_utils.models.vae import dense_vae

    keras.utils.set_random_seed(0)
    sgd = lambda: keras.optimizers.SGD(0.05)
    if kind == "autoencoder":  # Keras' own loss and step, through the course's trainer
        model = DenseAutoencoder(latent_dim=4, hidden_units=(16,), batch_norm=False)
        model.compile(optimizer=sgd(), loss="mse")
    elif kind == "sparse":  # compute_loss with a penalty, Keras' step
        model = regularised.SparseAutoencoder(penalty="l1", weight=0.01, latent_dim=8, hidden_units=(16,), batch_norm=False)
        model.compile(optimizer=sgd())
    elif kind == "vae":  # the VAE's own train_step
        model = dense_vae(latent_dim=2, hidden_units=(16,))
        fixed = lambda inputs, training=None: inputs[0] + 0.5 * ops.exp(0.5 * inputs[1])
        object.__setattr__(model.sampling, "call", fixed)
        model.compile(optimizer=sgd())
    elif kind == "gan":  # two optimisers, hand-written steps
        model = gan.GAN(gan.mlp_generator(2, 2, (16,)), gan.mlp_discriminator(2, (16,)))
        model._latent = lambda batch: ops.ones((batch, model.latent_dim)) * 0.3
        model.compile(d_optimizer=sgd(), g_optimizer=sgd())
    elif kind == "aae":  # three optimisers, three phases
        model = dense_aae(latent_dim=2, hidden_units=(16,), discriminator_units=(16,), batch_norm=False)
        model.prior.sample = lambda n, seed=None, labels=None: ops.ones((n, 2)) * 0.7
        model.compile(ae_optimizer=sgd(), d_optimizer=sgd(), g_optimizer=sgd())
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return model


def step(kind: str, strategy: tf.distribute.Strategy, start: list[np.ndarray] | None) -> tuple[list, list]:
    """The weights before and after one step of ``fit_with_budget`` (one epoch of one batch) under ``strategy``."""
    from course_utils.training import fit_with_budget

    data = _data(kind)
    with strategy.scope():
        model = _model(kind)
        model(next(iter(data))[0][:1] if kind == "autoencoder" else next(iter(data))[:1])
    if start is not None:
        model.set_weights(start)
    before = [np.array(weight) for weight in model.get_weights()]
    fit_with_budget(model, data, epochs=1, progress="none")
    return before, [np.array(weight) for weight in model.get_weights()]


def adam_gan(strategy: tf.distribute.Strategy) -> dict:
    """A toy GAN with Adam and a weight average, three epochs under ``strategy``: its losses, epoch by epoch."""
    from course_utils.models import gan

    points = np.random.default_rng(1).normal(size=(64, 2)).astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = gan.GAN(gan.mlp_generator(2, 2, (16,)), gan.mlp_discriminator(2, (16,)), ema_decay=0.9)
        model.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(tf.data.Dataset.from_tensor_slices(points).batch(16), epochs=3, verbose=0).history
    return {name: [float(value) for value in values] for name, values in history.items()}


def main(kinds: list[str]) -> None:
    mirrored = tf.distribute.MirroredStrategy(DEVICES)  # one instance for every kind: collectives are keyed by it
    single = tf.distribute.OneDeviceStrategy(DEVICES[0])
    results = {}
    for kind in kinds:
        if kind == "adam_gan":
            results[kind] = adam_gan(mirrored)
            continue
        before, one = step(kind, single, None)
        _, two = step(kind, mirrored, before)
        results[kind] = {"step": max(float(np.abs(a - b).max()) for a, b in zip(one, before)),
                         "difference": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
                         "replicas": mirrored.num_replicas_in_sync}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
