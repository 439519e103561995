"""Chapter 04: passing a check means the notebook's later cells work with the learner's object.

Plausible correct answers written differently from the reference pass the check *and* survive the way the
notebook uses them afterwards (each ``use_*`` mirrors those cells); plausible wrong answers are caught with
a specific message.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from exercise_checks import fails_with, passes

from course_utils.models import DenseAutoencoder

# --- 04.1 salt_and_pepper: corrupts validation images that are then scored with PSNR -----------------------

def use_salt_and_pepper(fn) -> float:
    """The notebook's cell: three levels on three float32 validation-like images, then PSNR against the clean ones."""
    from course_utils.evaluation.metrics import psnr

    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    rng = np.random.default_rng(3)
    return min(psnr(images, fn(images, level, rng)) for level in (0.05, 0.2, 0.5))


def _sp_choice(images, fraction, rng):
    images = np.array(images, copy=True)
    hit = rng.choice([True, False], size=images.shape, p=[fraction, 1 - fraction])
    images[hit] = rng.integers(0, 2, size=int(hit.sum())).astype(images.dtype)
    return images


def _sp_uniform_thirds(images, fraction, rng):
    u = rng.random(np.shape(images))
    out = np.copy(images)
    out[u < fraction / 2] = 0.0
    out[(u >= fraction / 2) & (u < fraction)] = 1.0
    return out


@pytest.mark.parametrize("answer", [_sp_choice, _sp_uniform_thirds], ids=["choice + integers", "one uniform draw"])
def test_04_1_variants_pass_and_work_downstream(answer):
    assert 3.0 < use_salt_and_pepper(passes("04.1", answer)) < 30.0


def test_04_1_global_random_state_is_caught():
    def global_state(images, fraction, rng):
        return _sp_uniform_thirds(images, fraction, np.random.default_rng(0))

    fails_with("04.1", global_state, "same corruption")


def test_04_1_salt_only_is_caught():
    def salt_only(images, fraction, rng):
        return np.where(rng.random(np.shape(images)) < fraction, 1.0, images).astype(np.float32)

    fails_with("04.1", salt_only, "equally likely")


# --- 04.3 kl_sparsity and 04.4 sigmoid_contractive_penalty: inside compute_loss, under tf.function ------------

class _PenalisedShallow(DenseAutoencoder):
    """The notebook's pattern: a one-layer sigmoid autoencoder whose compute_loss adds a penalty on its code."""

    def __init__(self, penalty, **kwargs):
        super().__init__(latent_dim=16, hidden_units=(), code_activation="sigmoid", batch_norm=False,
                         input_shape=(8, 8, 1), name="penalised_shallow", **kwargs)
        self.penalty = penalty

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        h = self.encode(x, training=training)  # (batch, 16)
        return keras.ops.mean(keras.ops.square(y - y_pred)) + 0.1 * self.penalty(self, h)


def use_penalty(penalty) -> list[float]:
    """Two epochs of fit with the penalty in compute_loss (graph mode), as the notebook's models train."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype(np.float32)
    model = _PenalisedShallow(penalty)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, x, batch_size=16, epochs=2, verbose=0)
    return history.history["loss"]


def _kl_tf(codes, rho):
    rho_hat = tf.reduce_mean(tf.cast(codes, tf.float32), axis=0)
    return tf.reduce_sum(rho * tf.math.log(rho / rho_hat) + (1 - rho) * tf.math.log((1 - rho) / (1 - rho_hat)))


def _kl_ops_entropy_form(codes, rho):
    ops = keras.ops  # -H(rho) minus the cross-entropy terms, written as a difference of logs
    p = ops.mean(ops.convert_to_tensor(codes, "float32"), axis=0)
    return ops.sum(rho * (np.log(rho) - ops.log(p)) + (1 - rho) * (np.log(1 - rho) - ops.log(1 - p)))


@pytest.mark.parametrize("answer", [_kl_tf, _kl_ops_entropy_form], ids=["tf.math", "keras.ops log difference"])
def test_04_3_variants_pass_and_train_inside_compute_loss(answer):
    fn = passes("04.3", answer)
    losses = use_penalty(lambda model, h: fn(h, 0.05))
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_04_3_numpy_answer_is_caught_before_compute_loss():
    def numpy_kl(codes, rho):
        rho_hat = np.mean(codes, axis=0)
        return float(np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))))

    fails_with("04.3", numpy_kl, "tf.function")


def test_04_3_per_unit_mean_is_caught():
    fails_with("04.3", lambda codes, rho: _kl_tf(codes, rho) / np.shape(codes)[1], "sums KL")


def _cp_einsum(h, kernel):
    slope = tf.square(h * (1.0 - h))
    return tf.reduce_mean(tf.einsum("bj,ij->b", slope, tf.square(kernel)))


def _cp_matmul(h, kernel):
    ops = keras.ops
    column = ops.transpose(ops.sum(kernel * kernel, axis=0, keepdims=True))  # (d, 1): sum_i W_ij^2
    return ops.mean(ops.matmul(ops.square(h - h * h), column))


@pytest.mark.parametrize("answer", [_cp_einsum, _cp_matmul], ids=["einsum", "matmul"])
def test_04_4_variants_pass_and_train_inside_compute_loss(answer):
    fn = passes("04.4", answer)
    losses = use_penalty(lambda model, h: fn(h, model.encoder.get_layer("code").kernel))
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    model = _PenalisedShallow(lambda m, h: 0.0)
    x = np.random.default_rng(1).random((4, 8, 8, 1)).astype(np.float32)
    assert np.isfinite(float(fn(model.encode(x), model.encoder.get_layer("code").kernel)))  # the eager comparison cell


def test_04_4_unsquared_slope_is_caught():
    fails_with("04.4", lambda h, kernel: tf.reduce_mean(tf.reduce_sum(h * (1 - h) * tf.reduce_sum(kernel ** 2, 0), 1)),
               "squared too")


def test_04_4_wrong_axis_is_caught():
    fails_with("04.4", lambda h, kernel: tf.reduce_mean(tf.reduce_sum(tf.square(h * (1 - h)), 1))
               * tf.reduce_mean(tf.reduce_sum(tf.square(kernel), 0)), "wrong value")


# --- 04.2 make_denoiser: trained with the notebook's trainer, then asked to denoise ------------------------

def use_make_denoiser(fn) -> float:
    """The notebook's cell: build for sigma 0.3, compile, fit_with_budget on clean images, PSNR on noisy ones."""
    from course_utils.data.corruption import corrupt
    from course_utils.evaluation.metrics import psnr
    from course_utils.training import fit_with_budget

    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    model = fn(0.3)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    fit_with_budget(model, tf.data.Dataset.from_tensor_slices((x, x)).batch(32), epochs=1, progress="none")
    return psnr(x, model.predict(corrupt(x, "gaussian", 0.3, rng=1), verbose=0))


def _noise_layer_denoiser(clip: bool):
    """A Sequential denoiser built on keras.layers.GaussianNoise (active only in training), optionally clipped."""
    def make_denoiser(sigma):
        clipping = [keras.layers.Lambda(lambda t: keras.ops.clip(t, 0.0, 1.0))] if clip else []
        return keras.Sequential([
            keras.Input((28, 28, 1)), keras.layers.GaussianNoise(sigma), *clipping, keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"), keras.layers.Dense(784, activation="sigmoid"),
            keras.layers.Reshape((28, 28, 1))])

    return make_denoiser


def test_04_2_keras_noise_layer_passes_and_works_downstream():
    assert np.isfinite(use_make_denoiser(passes("04.2", _noise_layer_denoiser(clip=True))))


def test_04_2_unclipped_training_noise_misses_the_target():
    fails_with("04.2", _noise_layer_denoiser(clip=False), "clipped")


def test_04_2_noise_at_inference_is_caught():
    class AlwaysNoisy(keras.Model):
        def __init__(self, sigma):
            super().__init__()
            self.sigma, self.seeds = sigma, keras.random.SeedGenerator(0)
            self.net = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(784, activation="sigmoid"),
                                         keras.layers.Reshape((28, 28, 1))])

        def call(self, x, training=False):
            return self.net(x + keras.random.normal(keras.ops.shape(x), stddev=self.sigma, seed=self.seeds))

    fails_with("04.2", AlwaysNoisy, "only while training")


def test_04_2_no_noise_is_caught():
    fails_with("04.2", lambda sigma: keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(784, activation="sigmoid"), keras.layers.Reshape((28, 28, 1))]), "fresh noise")
