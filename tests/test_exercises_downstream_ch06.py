"""Chapter 06: passing a check means the notebook's later cells work with the learner's object.

Plausible correct answers written differently from the reference pass the check *and* survive the way the
notebook uses them afterwards (each ``use_*`` mirrors those cells: NumPy calls, and a training step inside
``tf.function`` that differentiates through the answer); plausible wrong answers are caught with a specific
message, and a NumPy-only answer, right in value but unusable in a training step, is caught with the reason.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from exercise_checks import fails_with, passes
from keras import ops
from scipy import stats
from scipy.special import logsumexp

NUMPY_IN_GRAPH = "cannot run on the symbolic tensors of a tf.function"


def _posterior(seed: int, batch: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, d)).astype(np.float32), rng.normal(0.0, 0.7, (batch, d)).astype(np.float32)


def _small_encoder(input_shape: tuple[int, ...], latent_dim: int) -> keras.Model:
    """A one-hidden-layer encoder to 2 * latent_dim numbers: the mean, then the log-variance."""
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(2 * latent_dim)])


# --- 06.1 reparameterise: NumPy samples for a histogram, then a training step that differentiates through z -------

def use_reparameterise(fn) -> None:
    """The notebook's cells: (a) 20,000 samples of one q(z|x) from NumPy arrays, (b) z inside a tf.function step."""
    mean, log_var = np.float32([0.5, -1.0]), np.float32([0.0, -2.0])
    eps = np.random.default_rng(0).standard_normal((20_000, 2)).astype(np.float32)
    z = np.asarray(fn(np.tile(mean, (20_000, 1)), np.tile(log_var, (20_000, 1)), eps), dtype=np.float64)
    np.testing.assert_allclose(z.mean(axis=0), mean, atol=4 * math.sqrt(1 / 20_000))  # 4 standard errors
    np.testing.assert_allclose(z.var(axis=0), np.exp(log_var), rtol=0.05)

    keras.utils.set_random_seed(0)
    encoder = _small_encoder((6,), 2)
    x = np.random.default_rng(1).random((8, 6)).astype(np.float32)
    weights = tf.constant(np.random.default_rng(2).normal(size=(8, 2)), tf.float32)

    @tf.function
    def step(x):
        with tf.GradientTape(persistent=True) as tape:
            mean, log_var = ops.split(encoder(x), 2, axis=-1)  # (8, 2) each
            eps = tf.random.normal(tf.shape(mean), seed=3)  # (8, 2)
            objective = tf.reduce_sum(fn(mean, log_var, eps) * weights)
        return (eps, log_var, *tape.gradient(objective, [mean, log_var]),
                tape.gradient(objective, encoder.trainable_variables))

    eps, log_var, grad_mean, grad_log_var, grad_weights = step(x)
    np.testing.assert_allclose(grad_mean, weights, rtol=1e-5)  # dz/dmean = 1
    np.testing.assert_allclose(grad_log_var, 0.5 * weights * np.exp(0.5 * log_var) * eps, rtol=1e-4, atol=1e-6)
    assert all(g is not None for g in grad_weights)


def _reparameterise_tf(mean, log_var, eps):
    return tf.math.add(mean, tf.exp(log_var / 2.0) * eps)


def _reparameterise_sqrt_of_variance(mean, log_var, eps):
    std = ops.sqrt(ops.exp(log_var))  # (batch, d)
    return ops.add(ops.multiply(eps, std), mean)


@pytest.mark.parametrize("answer", [_reparameterise_tf, _reparameterise_sqrt_of_variance],
                         ids=["tf.math", "keras.ops sqrt of the variance"])
def test_06_1_variants_pass_and_work_downstream(answer):
    use_reparameterise(passes("06.1", answer))


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda mean, log_var, eps: mean + np.exp(0.5 * log_var) * eps, NUMPY_IN_GRAPH),
    (lambda mean, log_var, eps: ops.exp(0.5 * log_var) * eps, "the mean is missing"),
    (lambda mean, log_var, eps: mean + ops.exp(log_var) * eps, "exp(log_var) is the variance"),
    (lambda mean, log_var, eps: mean + log_var * eps, "log_var is the logarithm of the variance"),
    (lambda mean, log_var, eps: mean + ops.sqrt(log_var) * eps, "NaN"),
    (lambda mean, log_var, eps: mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean)),
     "use the eps you are given"),
], ids=["numpy only", "no mean (the source article)", "variance as std", "log_var as std", "sqrt of log_var",
        "fresh noise"])
def test_06_1_wrong_answers_are_caught(answer, fragment):
    fails_with("06.1", answer, fragment)


# --- 06.2 kl_to_standard_normal: against a Monte-Carlo estimate, then as the KL term of a training step ---------

def use_kl(fn) -> list[float]:
    """The notebook's cells: (a) the closed form beside a Monte-Carlo estimate, (b) the KL minimised in tf.function."""
    mean, log_var = _posterior(0, 3, 4)
    closed = np.asarray(fn(mean, log_var), dtype=np.float64)  # (3,)
    std = np.exp(0.5 * log_var.astype(np.float64))
    z = mean + std * np.random.default_rng(1).standard_normal((100_000, 3, 4))  # (N, 3, 4) samples of q
    log_ratio = (stats.norm.logpdf(z, mean, std) - stats.norm.logpdf(z)).sum(axis=-1)  # (N, 3)
    standard_error = log_ratio.std(axis=0) / math.sqrt(len(log_ratio))
    np.testing.assert_array_less(np.abs(closed - log_ratio.mean(axis=0)), 4 * standard_error)

    keras.utils.set_random_seed(0)
    encoder = _small_encoder((6,), 3)
    optimizer = keras.optimizers.SGD(0.1)
    x = np.random.default_rng(2).random((16, 6)).astype(np.float32)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            mean, log_var = ops.split(encoder(x), 2, axis=-1)  # (16, 3) each
            loss = ops.mean(fn(mean, log_var))
        optimizer.apply_gradients(zip(tape.gradient(loss, encoder.trainable_variables), encoder.trainable_variables))
        return loss

    return [float(step(x)) for _ in range(20)]


def _kl_tf(mean, log_var):
    return -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=1)


def _kl_ops_from_variance(mean, log_var):
    variance = ops.exp(log_var)  # (batch, d)
    return 0.5 * ops.sum(variance + mean * mean - 1.0 - ops.log(variance), axis=-1)


@pytest.mark.parametrize("answer", [_kl_tf, _kl_ops_from_variance], ids=["tf.math", "keras.ops via the variance"])
def test_06_2_variants_pass_and_work_downstream(answer):
    losses = use_kl(passes("06.2", answer))
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda mean, log_var: 0.5 * np.sum(np.exp(log_var) + mean ** 2 - 1.0 - log_var, axis=-1), NUMPY_IN_GRAPH),
    (lambda mean, log_var: 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var),
     "one number came back for the whole batch"),
    (lambda mean, log_var: 0.5 * ops.mean(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1),
     "averaged over the latent dimensions"),
    (lambda mean, log_var: 0.5 * ops.sum(log_var + ops.square(mean) - 1.0 - ops.log(log_var), axis=-1),
     "log_var is used as if it were the variance"),
    (lambda mean, log_var: ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1),
     "factor 1/2"),
], ids=["numpy only", "batch mean", "mean over dimensions", "log_var as variance", "no one half"])
def test_06_2_wrong_answers_are_caught(answer, fragment):
    fails_with("06.2", answer, fragment)


# --- 06.3 negative_elbo: the loss of a custom training step on image batches --------------------------------------

def use_negative_elbo(fn) -> list[float]:
    """The notebook's cell: a tiny dense VAE trained by a tf.function step whose loss is fn; gradients checked."""
    keras.utils.set_random_seed(0)
    latent_dim = 4
    encoder = _small_encoder((28, 28, 1), latent_dim)
    decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(16, activation="relu"),
                                keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))])
    variables = encoder.trainable_variables + decoder.trainable_variables
    optimizer = keras.optimizers.Adam(1e-2)
    x = (np.random.default_rng(0).random((16, 28, 28, 1)) < 0.3).astype(np.float32)

    @tf.function
    def train_step(x):
        with tf.GradientTape(persistent=True) as tape:
            mean, log_var = ops.split(encoder(x), 2, axis=-1)  # (16, 4) each
            z = mean + ops.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean), seed=1)  # (16, 4)
            logits = decoder(z)  # (16, 28, 28, 1)
            loss = fn(x, logits, mean, log_var, beta=0.5)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, tape.gradient(loss, [logits, mean, log_var])

    losses = []
    for _ in range(25):
        loss, direct = train_step(x)
        assert all(g is not None for g in direct)
        losses.append(float(loss))
    return losses


def _elbo_tf_cross_entropy(x, logits, mean, log_var, beta=1.0):
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(x, logits.dtype), logits=logits)
    kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1)  # (batch,)
    return tf.reduce_mean(tf.reduce_sum(per_pixel, axis=[1, 2, 3]) + beta * kl)


def _elbo_ops_flattened(x, logits, mean, log_var, beta=1.0):
    flat_x, flat_logits = (ops.reshape(v, (ops.shape(logits)[0], -1)) for v in (x, logits))  # (batch, 784)
    nll = ops.sum(ops.softplus(flat_logits) - flat_x * flat_logits, axis=1)  # (batch,)
    kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=1)  # (batch,)
    return ops.mean(nll + beta * kl)


def _elbo_keras_losses(x, logits, mean, log_var, beta=1.0):
    per_pixel = keras.losses.binary_crossentropy(x, logits, from_logits=True)  # (batch, 28, 28): channel averaged
    kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)
    return ops.mean(ops.sum(per_pixel, axis=(1, 2)) + beta * kl)


@pytest.mark.parametrize("answer", [_elbo_tf_cross_entropy, _elbo_ops_flattened, _elbo_keras_losses],
                         ids=["tf.nn cross-entropy", "keras.ops softplus", "keras.losses"])
def test_06_3_variants_pass_and_work_downstream(answer):
    losses = use_negative_elbo(passes("06.3", answer))
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def _kl(mean, log_var):
    return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)


def _elbo_clipped_log(x, logits, mean, log_var, beta=1.0):
    p = ops.sigmoid(logits)
    nll = -ops.sum(x * ops.log(p + 1e-7) + (1.0 - x) * ops.log(1.0 - p + 1e-7), axis=(1, 2, 3))
    return ops.mean(nll + beta * _kl(mean, log_var))


def _elbo_per_pixel(x, logits, mean, log_var, beta=1.0):
    nll = ops.mean(ops.softplus(logits) - x * logits, axis=(1, 2, 3))  # nats per pixel
    return ops.mean(nll + beta * _kl(mean, log_var))


def _elbo_squared_error(x, logits, mean, log_var, beta=1.0):
    return ops.mean(ops.sum(ops.square(x - ops.sigmoid(logits)), axis=(1, 2, 3)) + beta * _kl(mean, log_var))


def _elbo_without_beta(x, logits, mean, log_var, beta=1.0):
    return _elbo_ops_flattened(x, logits, mean, log_var)


def _elbo_numpy(x, logits, mean, log_var, beta=1.0):
    nll = np.sum(np.logaddexp(0.0, logits) - x * logits, axis=(1, 2, 3))
    return np.mean(nll + beta * 0.5 * np.sum(np.exp(log_var) + mean ** 2 - 1.0 - log_var, axis=-1))


@pytest.mark.parametrize(("answer", "fragment"), [
    (_elbo_clipped_log, "not exact"), (_elbo_per_pixel, "factor 784"), (_elbo_squared_error, "squared error"),
    (_elbo_without_beta, "beta is ignored"), (_elbo_numpy, NUMPY_IN_GRAPH),
], ids=["sigmoid, epsilon, log", "per-pixel mean", "squared error", "beta ignored", "numpy only"])
def test_06_3_wrong_answers_are_caught(answer, fragment):
    fails_with("06.3", answer, fragment)


# --- 06.4 log_mean_exp: IWAE bounds from float64 log-weights --------------------------------------------------------

def use_log_mean_exp(fn) -> list[float]:
    """The notebook's cell: IWAE bounds for k = 1 ... 1000 on a model whose log p(x) is exact, and shifted weights.

    p(z) = N(0, 1), p(x|z) = N(z, 1), so p(x) = N(0, 2); q(z|x) = N(0, 2) ignores x, so the bound tightens a lot.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, math.sqrt(2.0), (200, 1))  # (200, 1)
    z = math.sqrt(2.0) * rng.standard_normal((200, 1000))  # (200, 1000) samples of q
    log_w = stats.norm.logpdf(x, z, 1.0) + stats.norm.logpdf(z) - stats.norm.logpdf(z, 0.0, math.sqrt(2.0))
    log_px = float(np.mean(stats.norm.logpdf(x, 0.0, math.sqrt(2.0))))
    bounds = [float(np.mean(np.asarray(fn(log_w[:, :k])))) for k in (1, 10, 100, 1000)]
    assert bounds == sorted(bounds) and log_px - bounds[0] > 1.0  # the ELBO is far below, IWAE closes the gap
    assert bounds[-1] <= log_px + 1e-3 and log_px - bounds[-1] < 0.01
    shifted = np.asarray(fn(log_w - 800.0), dtype=np.float64)  # a 784-pixel image has log-weights near -800
    np.testing.assert_allclose(shifted, np.asarray(fn(log_w), dtype=np.float64) - 800.0, atol=1e-6)
    return bounds


def _log_mean_exp_max_shift(log_w):
    top = np.max(log_w, axis=1, keepdims=True)  # (n, 1)
    return np.squeeze(top, axis=1) + np.log(np.sum(np.exp(log_w - top), axis=1) / log_w.shape[1])


def _log_mean_exp_keras(log_w):
    return ops.logsumexp(log_w, axis=-1) - np.log(np.shape(log_w)[-1])


def _log_mean_exp_scipy_weights(log_w):
    return logsumexp(log_w, axis=-1, b=1.0 / np.shape(log_w)[-1])


@pytest.mark.parametrize("answer", [_log_mean_exp_max_shift, _log_mean_exp_keras, _log_mean_exp_scipy_weights],
                         ids=["numpy max shift", "keras.ops.logsumexp", "scipy with weights"])
def test_06_4_variants_pass_and_work_downstream(answer):
    use_log_mean_exp(passes("06.4", answer))


def _log_mean_exp_naive(log_w):
    with np.errstate(over="ignore", divide="ignore"):  # the learner sees a warning at most, then infinities
        return np.log(np.mean(np.exp(log_w), axis=-1))


@pytest.mark.parametrize(("answer", "fragment"), [
    (_log_mean_exp_naive, "overflows"),
    (lambda log_w: np.mean(log_w, axis=-1), "a looser bound"),
    (lambda log_w: logsumexp(log_w, axis=-1), "too large by log k"),
    (lambda log_w: logsumexp(log_w, axis=0) - np.log(np.shape(log_w)[0]), "wrong axis"),
], ids=["naive", "mean of log-weights", "no log k", "wrong axis"])
def test_06_4_wrong_answers_are_caught(answer, fragment):
    fails_with("06.4", answer, fragment)


def test_06_4_in_place_shift_is_caught():
    def shifts_in_place(log_w):
        top = log_w.max(axis=-1, keepdims=True)
        log_w -= top  # changes the caller's array
        return top[:, 0] + np.log(np.mean(np.exp(log_w), axis=-1))

    fails_with("06.4", shifts_in_place, "in place")


# --- 06.5 make_vae: trained with the notebook's trainer, sampled, scored with the IWAE bound -------------------------

def use_vae(fn) -> None:
    """The notebook's cells: compile, fit_with_budget on binarised images, prior samples, reconstructions, IWAE."""
    from course_utils.data import make_dataset
    from course_utils.evaluation.likelihood import iwae_bound
    from course_utils.training import fit_with_budget

    x = (np.random.default_rng(0).random((32, 28, 28, 1)) < 0.3).astype(np.float32)
    model = fn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    fit_with_budget(model, make_dataset(x, batch_size=16), epochs=1, progress="none")
    samples, reconstructions = np.asarray(model.sample(8, seed=0)), np.asarray(model(x[:4]))
    assert samples.shape == (8, 28, 28, 1) and reconstructions.shape == (4, 28, 28, 1)
    assert 0.0 <= samples.min() and samples.max() <= 1.0
    assert np.all(np.isfinite(iwae_bound(model, x[:4], k=8)))


def _conv_vae():
    from course_utils.models import VAE

    latent_dim = 16
    encoder = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),  # 14x14x8
        keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),  # (batch, 7, 7, 16)
        keras.layers.Flatten(), keras.layers.Dense(2 * latent_dim)])  # (batch, 32)
    decoder = keras.Sequential([
        keras.Input((latent_dim,)), keras.layers.Dense(7 * 7 * 16, activation="relu"),
        keras.layers.Reshape((7, 7, 16)),
        keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu"),  # (batch, 14, 14, 8)
        keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")])  # (batch, 28, 28, 1) logits
    return VAE(encoder, decoder)


def test_06_5_conv_design_passes_and_works_downstream():
    use_vae(passes("06.5", _conv_vae))


def test_06_5_trivial_design_misses_the_target():
    from course_utils.models import dense_vae

    fails_with("06.5", lambda: dense_vae(latent_dim=1, hidden_units=()), "above the target")


def _sigmoid_decoder_vae():
    from course_utils.models import VAE

    encoder = _small_encoder((28, 28, 1), 8)
    decoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(784, activation="sigmoid"),
                                keras.layers.Reshape((28, 28, 1))])
    return VAE(encoder, decoder)


def _flat_input_vae():
    from course_utils.models import dense_vae

    return dense_vae(input_shape=(784,), latent_dim=16, hidden_units=(256,))


def _plain_autoencoder():
    from course_utils.models import DenseAutoencoder

    return DenseAutoencoder(latent_dim=16, hidden_units=(256,))


@pytest.mark.parametrize(("answer", "fragment"), [
    (_sigmoid_decoder_vae, "all in [0, 1]"), (_flat_input_vae, "must take Fashion-MNIST images of shape (28, 28, 1)"),
    (_plain_autoencoder, "should return a course_utils.models.VAE"),
], ids=["sigmoid decoder", "flat input", "plain autoencoder"])
def test_06_5_wrong_designs_are_caught_before_training(answer, fragment):
    fails_with("06.5", answer, fragment)
