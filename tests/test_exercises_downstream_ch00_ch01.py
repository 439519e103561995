"""Chapters 00 and 01: passing a check means the rest of the notebook works.

For every exercise, plausible correct answers written with other types (NumPy, TensorFlow, keras.ops,
Python numbers, a factory instead of a class) pass the check and then survive the way the notebook's
later cells use the object; plausible answers of the wrong type are caught by the check with a specific
message instead of crashing a later cell.
"""
from __future__ import annotations

import math

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf
from exercise_checks import fails_with, passes

from course_utils.exercises import get_exercise

matplotlib.use("Agg")


# --- 00.1 prepare_images: the next cell prints shape and dtype and compares with the loader's images ----------

PREPARE_IMAGES = {
    "numpy": lambda images: (np.asarray(images).astype(np.float32) / 255.0)[..., None],
    "numpy float32 divisor": lambda images: np.expand_dims(images / np.float32(255), -1),
    "tensorflow": lambda images: tf.cast(images, tf.float32)[..., tf.newaxis] / 255.0,
    "keras.ops": lambda images: keras.ops.expand_dims(keras.ops.cast(images, "float32") / 255.0, -1),
}


@pytest.mark.parametrize("name", PREPARE_IMAGES)
def test_00_1_variants_pass_and_match_the_loader(name):
    fn = PREPARE_IMAGES[name]
    passes("00.1", fn)
    raw = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    prepared = fn(raw[:5])
    print("prepared:", prepared.shape, prepared.dtype)  # the notebook's next cell
    assert bool(np.allclose(prepared, raw[..., None] / np.float32(255)))


@pytest.mark.parametrize(("fn", "fragment"), [
    (lambda images: [image / 255.0 for image in images], "should be an array, got list"),
    (lambda images: images[..., None] / 255.0, "expect float32"),
    (lambda images: tf.cast(images, tf.float64)[..., None] / 255.0, "expect float32"),
])
def test_00_1_wrong_types_are_caught(fn, fragment):
    fails_with("00.1", fn, fragment)


# --- 00.2 compression_ratio: the next cell formats it with ':6.1f' -------------------------------------------

COMPRESSION_RATIO = {
    "float": lambda input_shape, code_size: math.prod(input_shape) / code_size,
    "numpy scalar": lambda input_shape, code_size: np.prod(input_shape) / code_size,
    "0-d array": lambda input_shape, code_size: np.array(np.prod(input_shape) / code_size),
    "tensorflow": lambda input_shape, code_size: tf.reduce_prod(input_shape) / code_size,
}


@pytest.mark.parametrize("name", COMPRESSION_RATIO)
def test_00_2_variants_pass_and_print_in_the_table(name):
    fn = COMPRESSION_RATIO[name]
    passes("00.2", fn)
    for code_size in (2, 8, 32, 64, 784):
        line = f"code of {code_size:>3} numbers: {fn((28, 28, 1), code_size):6.1f} values per code value"
        assert float(line.split(":")[1].split()[0]) == pytest.approx(784 / code_size, abs=0.051)


@pytest.mark.parametrize(("fn", "fragment"), [
    (lambda input_shape, code_size: f"{np.prod(input_shape) / code_size}", "one number, got str"),
    (lambda input_shape, code_size: np.array([np.prod(input_shape) / code_size]), "of shape (1,)"),
    (lambda input_shape, code_size: int(np.prod(input_shape)) // code_size, "integer division"),
])
def test_00_2_wrong_types_are_caught(fn, fragment):
    fails_with("00.2", fn, fragment)


# --- 01.1 binary_cross_entropy: the plot calls it with Python lists and prints it as a float ---------------------

def bce_numpy(x, x_hat, eps=1e-7):
    """NumPy, converting its inputs first."""
    x, x_hat = np.asarray(x, dtype=np.float64), np.clip(np.asarray(x_hat, dtype=np.float64), eps, 1 - eps)
    return np.mean(-(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)))


def bce_tensorflow(x, x_hat, eps=1e-7):
    """TensorFlow, in float32: returns a 0-d tensor."""
    x = tf.convert_to_tensor(x, tf.float32)
    x_hat = tf.clip_by_value(tf.convert_to_tensor(x_hat, tf.float32), eps, 1 - eps)
    return tf.reduce_mean(-(x * tf.math.log(x_hat) + (1 - x) * tf.math.log(1 - x_hat)))


def bce_keras_ops(x, x_hat, eps=1e-7):
    """keras.ops, in float64."""
    x, x_hat = keras.ops.convert_to_tensor(x, "float64"), keras.ops.convert_to_tensor(x_hat, "float64")
    x_hat = keras.ops.clip(x_hat, eps, 1 - eps)
    return keras.ops.mean(-(x * keras.ops.log(x_hat) + (1 - x) * keras.ops.log(1 - x_hat)))


def bce_operators_only(x, x_hat, eps=1e-7):
    """NumPy operators straight on the inputs: right for arrays, a TypeError for Python lists."""
    x_hat = np.clip(x_hat, eps, 1 - eps)
    return np.mean(-(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)))


@pytest.mark.parametrize("fn", [bce_numpy, bce_tensorflow, bce_keras_ops], ids=lambda f: f.__name__)
def test_01_1_variants_pass_and_survive_the_plot(fn):
    import matplotlib.pyplot as plt

    passes("01.1", fn)
    pred = np.linspace(0.01, 0.99, 99)
    fig, ax = plt.subplots()
    for target in (0.3, 1.0):  # the notebook's plot cell, BCE panel
        ax.plot(pred, [float(fn([[target]], [[p]])) for p in pred])
    plt.close(fig)
    assert round(float(fn([[0.3]], [[0.3]])), 4) == pytest.approx(0.6109, abs=1e-4)


@pytest.mark.parametrize(("fn", "fragment"), [
    (bce_operators_only, "called with Python lists"),
    (lambda x, x_hat: np.mean(-(np.asarray(x) * np.log(np.clip(x_hat, 1e-7, 1 - 1e-7))), axis=-1), "shape"),
    (lambda x, x_hat: str(bce_numpy(x, x_hat)), "not a number"),
])
def test_01_1_wrong_types_are_caught(fn, fragment):
    fails_with("01.1", fn, fragment)


# --- 01.2 train_step: the training loop wraps it in tf.function and feeds the loss to a keras Mean ---------------

def step_with(loss_fn):
    """A correct train_step whose loss is computed by ``loss_fn(x, x_hat)``."""
    def train_step(model, optimizer, x):
        with tf.GradientTape() as tape:
            loss = loss_fn(x, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return train_step


def step_returning(convert):
    """A train_step that returns ``convert(loss)``: fine eagerly, not always inside tf.function."""
    inner = step_with(lambda x, x_hat: tf.reduce_mean(tf.square(x - x_hat)))
    return lambda model, optimizer, x: convert(inner(model, optimizer, x))


TRAIN_STEPS = {
    "keras.ops": step_with(lambda x, x_hat: keras.ops.mean(keras.ops.square(x - x_hat))),
    "tf.reduce_mean": step_with(lambda x, x_hat: tf.reduce_mean(tf.square(x_hat - x))),
    "keras MeanSquaredError": step_with(keras.losses.MeanSquaredError()),
    "course_utils mse_loss": get_exercise("01.2").reference(),
    "returns float(loss)": step_returning(float),  # AutoGraph turns float() into a cast inside tf.function
}


@pytest.mark.parametrize("name", TRAIN_STEPS)
def test_01_2_variants_pass_and_survive_the_compiled_loop(name):
    from course_utils.data import make_dataset
    from course_utils.models import DenseAutoencoder

    passes("01.2", TRAIN_STEPS[name])
    images = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    model, optimizer = DenseAutoencoder(latent_dim=8, hidden_units=(32,), batch_norm=False), keras.optimizers.Adam()
    step_fn, metric = tf.function(TRAIN_STEPS[name]), keras.metrics.Mean()  # as the hand-written loop does
    for x_batch in make_dataset(images, batch_size=16, seed=0).take(4):
        metric.update_state(step_fn(model, optimizer, x_batch))
    assert np.isfinite(float(metric.result()))


@pytest.mark.parametrize(("fn", "fragment"), [
    (step_returning(lambda loss: loss.numpy()), "wrapped in tf.function"),
    (step_returning(lambda loss: {"loss": loss}), "not a number"),
    (step_returning(lambda loss: None), "not a number"),
])
def test_01_2_wrong_types_are_caught(fn, fragment):
    fails_with("01.2", fn, fragment)


# --- 01.3 MyAutoencoder: compiled, fitted with fit_with_budget, summarised, explored --------------------------------

class SequentialParts(keras.Model):
    """The notebook's shape: two keras.Sequential parts built in __init__."""

    def __init__(self, latent_dim=32, **kwargs):
        super().__init__(**kwargs)
        self.encoder = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                         keras.layers.Dense(64, activation="relu"), keras.layers.Dense(latent_dim)])
        self.decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(64, activation="relu"),
                                         keras.layers.Dense(784, activation="sigmoid"),
                                         keras.layers.Reshape((28, 28, 1))])

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)


class FunctionalParts(SequentialParts):
    """Functional sub-models and a linear output, clipped by nothing: still a working autoencoder."""

    def __init__(self, latent_dim=32, **kwargs):
        keras.Model.__init__(self, **kwargs)
        image = keras.Input((28, 28, 1))
        self.encoder = keras.Model(image, keras.layers.Dense(latent_dim)(keras.layers.Flatten()(image)))
        code = keras.Input((latent_dim,))
        self.decoder = keras.Model(code, keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784)(code)))


def factory(latent_dim=32):
    """A function that returns the course's model: MyAutoencoder(latent_dim=...) works the same."""
    from course_utils.models import DenseAutoencoder

    return DenseAutoencoder(latent_dim=latent_dim, hidden_units=(128,), batch_norm=False)


class LayersInCall(SequentialParts):
    """Layers created inside call: no weights to train, ever."""

    def __init__(self, latent_dim=32, **kwargs):
        keras.Model.__init__(self, **kwargs)
        self.latent_dim = latent_dim

    def call(self, x, training=False):
        code = keras.layers.Dense(self.latent_dim)(keras.layers.Flatten()(x))
        return keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784, activation="sigmoid")(code))


class LayerParts(SequentialParts):
    """Encoder and decoder as bare layers: the model runs, but `.encoder.predict` does not exist."""

    def __init__(self, latent_dim=32, **kwargs):
        keras.Model.__init__(self, **kwargs)
        self.encoder = keras.layers.Dense(latent_dim)
        self.decoder = keras.layers.Dense(784, activation="sigmoid")

    def call(self, x, training=False):
        flat = keras.ops.reshape(x, (-1, 784))
        return keras.ops.reshape(self.decoder(self.encoder(flat)), (-1, 28, 28, 1))


class FlatOutput(SequentialParts):
    """Forgets the final Reshape: reconstructions of shape (batch, 784)."""

    def call(self, x, training=False):
        return keras.ops.reshape(super().call(x, training=training), (-1, 784))


@pytest.mark.parametrize("cls", [SequentialParts, FunctionalParts, factory], ids=lambda c: c.__name__)
def test_01_3_variants_pass_and_survive_training_and_the_explorer(cls):
    from course_utils.data import make_dataset
    from course_utils.evaluation.metrics import mse
    from course_utils.training import CosineByProgress, fit_with_budget
    from course_utils.viz.widgets import explore_autoencoder

    passes("01.3", cls)
    images = np.random.default_rng(0).random((96, 28, 28, 1)).astype(np.float32)
    model = cls(latent_dim=32)  # the notebook's headline cells, on a tiny budget
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    result = fit_with_budget(model, make_dataset(images, images, 32), epochs=1, time_budget_s=30,
                             validation_data=(images[:32], images[:32]), callbacks=[CosineByProgress(2e-3, 30)])
    assert "val_loss" in result.history and model.count_params() > 0
    model.summary()
    assert np.isfinite(mse(images, model.predict(images, verbose=0)))
    explore_autoencoder(model, images[:20])


@pytest.mark.parametrize(("cls", "fragment"), [
    (LayersInCall, "no trainable variables"),
    (LayerParts, "needs a `.encoder` that is a keras.Model"),
    (FlatOutput, "a reconstruction has the shape of its input"),
    (SequentialParts(latent_dim=8), "not the class that makes one"),
    (lambda latent_dim=32: None, "not a keras.Model"),
], ids=["layers in call", "bare layers", "flat output", "an instance", "returns None"])
def test_01_3_wrong_types_are_caught(cls, fragment):
    fails_with("01.3", cls, fragment)


# --- 01.4 pca_reconstruct: the next cell reconstructs flattened float32 test images and takes the MSE ----------

def pca_float32(x_train, x, k):
    """NumPy in float32, returning float32."""
    train = np.asarray(x_train, np.float32).reshape(len(x_train), -1)
    mean = train.mean(0)
    basis = np.linalg.svd(train - mean, full_matrices=False)[2][:k]
    flat = np.asarray(x, np.float32).reshape(len(x), -1)
    return ((flat - mean) @ basis.T @ basis + mean).reshape(np.shape(x))


def pca_sklearn(x_train, x, k):
    """scikit-learn's PCA: transform then inverse_transform."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, svd_solver="full").fit(np.reshape(x_train, (len(x_train), -1)))
    return pca.inverse_transform(pca.transform(np.reshape(x, (len(x), -1)))).reshape(np.shape(x))


def pca_in_place(x_train, x, k):
    """Centres the caller's training data in place."""
    x_train -= x_train.mean(0)
    return pca_float32(x_train, x, k)


@pytest.mark.parametrize("fn", [pca_float32, pca_sklearn, get_exercise("01.4").reference()],
                         ids=["float32", "sklearn", "reference"])
def test_01_4_variants_pass_and_survive_the_comparison(fn):
    from course_utils.evaluation.metrics import mse

    passes("01.4", fn)
    rng = np.random.default_rng(0)
    subset, x_test_flat = rng.random((200, 784)).astype(np.float32), rng.random((20, 784)).astype(np.float32)
    kept = subset.copy()
    assert np.isfinite(mse(x_test_flat, fn(subset, x_test_flat, 16)))
    assert np.array_equal(subset, kept)  # the linear autoencoder is trained on the same subset next


@pytest.mark.parametrize(("fn", "fragment"), [
    (pca_in_place, "changed x_train in place"),
    (lambda x_train, x, k: pca_float32(x_train, x, k).reshape(len(x), -1), "flatten each image"),
    (lambda x_train, x, k: pca_float32(x_train, x, k).tolist(), "should be an array, got list"),
])
def test_01_4_wrong_types_are_caught(fn, fragment):
    fails_with("01.4", fn, fragment)
