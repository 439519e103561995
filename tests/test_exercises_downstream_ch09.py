"""Chapter 09: passing a check means the notebook's later cells work with the learner's object.

Plausible correct answers written differently from the reference pass the check *and* survive the way the
notebook uses them afterwards (each ``use_*`` mirrors those cells: MMD^2 of float32 codes against prior samples beside
the package's ``mmd2``, the prior's log-density on a 200 x 200 grid for a contour plot and at a tensor of prior
samples, the regularisation step compiled and run on the chapter's dense AAE, an AAE trained, sampled and saved);
plausible wrong answers are caught with a message that names the mistake.
"""
from __future__ import annotations

import math

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf
from exercise_checks import fails_with, passes
from keras import ops
from scipy.spatial.distance import cdist
from scipy.special import logsumexp

from course_utils.evaluation.two_sample import median_bandwidth, mmd2
from course_utils.exercises import ch09
from course_utils.models.aae import AdversarialAutoencoder, dense_aae
from course_utils.models.gan import discriminator_loss, generator_loss
from course_utils.models.priors import GaussianMixturePrior, GaussianPrior

matplotlib.use("Agg")

PRIOR = GaussianMixturePrior(10, 2)


# --- 09.1 gaussian_mmd2: float32 codes against prior samples, beside the package's mmd2 --------------------------

def _codes(n: int, seed: int) -> np.ndarray:
    """Codes that are not quite the prior: its ring, shrunk and smeared, float32 (n, 2)."""
    return (0.8 * np.asarray(PRIOR.sample(n, seed=seed)) + np.random.default_rng(seed).normal(0.0, 0.4, (n, 2))).astype(
        np.float32)


def use_gaussian_mmd2(fn) -> None:
    """The notebook's cells: MMD^2 of 2,000 codes to 2,000 prior samples at the median bandwidth, compared with the
    package; unequal sample sizes; the prior against itself scatters around 0."""
    codes, prior_samples = _codes(2000, 0), np.asarray(PRIOR.sample(2000, seed=1), dtype=np.float32)
    h = median_bandwidth(codes, prior_samples)  # a Python float
    value = float(fn(codes, prior_samples, bandwidth=h))
    assert math.isclose(value, mmd2(codes, prior_samples, h), rel_tol=1e-3, abs_tol=1e-5)
    assert value > 0.005  # the codes are visibly not the prior
    unequal = float(fn(codes[:1500], prior_samples, bandwidth=h))
    assert math.isclose(unequal, mmd2(codes[:1500], prior_samples, h), rel_tol=1e-3, abs_tol=1e-5)
    other = np.asarray(PRIOR.sample(1500, seed=2), dtype=np.float32)
    assert abs(float(fn(other, prior_samples, bandwidth=1.0))) < 2e-3  # two draws of the prior


def mmd2_cdist(x, y, bandwidth):
    k_xx, k_yy, k_xy = (np.exp(-cdist(a, b, "sqeuclidean") / (2 * bandwidth**2)) for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    np.fill_diagonal(k_xx, 0.0)
    np.fill_diagonal(k_yy, 0.0)
    return k_xx.sum() / (n * (n - 1)) + k_yy.sum() / (m * (m - 1)) - 2 * k_xy.mean()


def _gram(a, b, bandwidth):
    squared = ops.sum(a * a, axis=1)[:, None] - 2 * ops.matmul(a, ops.transpose(b)) + ops.sum(b * b, axis=1)[None, :]
    return ops.exp(-ops.maximum(squared, 0.0) / (2 * bandwidth**2))


def mmd2_keras_ops(x, y, bandwidth):
    """keras.ops in the inputs' dtype (float32 for the notebook's codes); returns a 0-d tensor."""
    x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    n, m = x.shape[0], y.shape[0]
    k_xx, k_yy = _gram(x, x, bandwidth), _gram(y, y, bandwidth)
    within = (ops.sum(k_xx) - ops.trace(k_xx)) / (n * (n - 1)) + (ops.sum(k_yy) - ops.trace(k_yy)) / (m * (m - 1))
    return within - 2 * ops.mean(_gram(x, y, bandwidth))


def mmd2_broadcast_loops(x, y, bandwidth):
    """Broadcast differences, one term at a time, masks instead of traces."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    terms = []
    for a, b, same in ((x, x, True), (y, y, True), (x, y, False)):
        k = np.exp(-np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1) / (2.0 * bandwidth * bandwidth))
        terms.append(k[~np.eye(len(a), dtype=bool)].mean() if same else k.mean())
    return terms[0] + terms[1] - 2.0 * terms[2]


@pytest.mark.parametrize("answer", [mmd2_cdist, mmd2_keras_ops, mmd2_broadcast_loops],
                         ids=["scipy cdist", "keras ops float32", "broadcasting with masks"])
def test_09_1_variants_pass_and_work_downstream(answer):
    use_gaussian_mmd2(passes("09.1", answer))


def _kernels(x, y, bandwidth, scale=2.0):
    return (np.exp(-cdist(a, b, "sqeuclidean") / (scale * bandwidth**2)) for a, b in ((x, x), (y, y), (x, y)))


def _unbiased(k_xx, k_yy, k_xy, y_pairs=None, cross=None):
    n, m = len(k_xx), len(k_yy)
    within_y = (k_yy.sum() - np.trace(k_yy)) / (y_pairs or m * (m - 1))
    return (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1)) + within_y - 2 * (k_xy.mean() if cross is None else cross)


def mmd2_plus_expansion(x, y, bandwidth):
    sq = [(a * a).sum(1)[:, None] + 2 * a @ b.T + (b * b).sum(1)[None] for a, b in ((x, x), (y, y), (x, y))]
    return _unbiased(*(np.exp(-d / (2 * bandwidth**2)) for d in sq))


def mmd2_stacked(x, y, bandwidth):
    both = np.stack([x, y])  # (2, n, d): only when n == m
    k = np.exp(-cdist(both.reshape(-1, both.shape[-1]), both.reshape(-1, both.shape[-1]), "sqeuclidean")
               / (2 * bandwidth**2))
    n = len(x)
    return _unbiased(k[:n, :n], k[n:, n:], k[:n, n:])


def mmd2_cross_over_within_pairs(x, y, bandwidth):
    k_xx, k_yy, k_xy = _kernels(x, y, bandwidth)
    return _unbiased(k_xx, k_yy, k_xy, cross=k_xy.sum() / (len(x) * (len(x) - 1)))


def mmd2_named_h(x, y, h):
    return mmd2_cdist(x, y, h)


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda x, y, bandwidth: float(sum(w * k.mean() for w, k in zip((1, 1, -2), _kernels(x, y, bandwidth)))),
     "biased estimate"),
    (lambda x, y, bandwidth: _unbiased(*_kernels(x, y, bandwidth, scale=1.0)), "by h^2"),
    (lambda x, y, bandwidth: _unbiased(*_kernels(x, y, bandwidth, scale=-2.0)), "minus sign"),
    (mmd2_plus_expansion, "wrong sign on the cross product"),
    (lambda x, y, bandwidth: math.sqrt(max(mmd2_cdist(x, y, bandwidth), 0.0)), "square root"),
    (mmd2_cross_over_within_pairs, "all n * m pairs"),
    (lambda x, y, bandwidth: _unbiased(*_kernels(x, y, bandwidth), y_pairs=len(x) * (len(x) - 1)),
     "within-y average divides by n(n-1)"),
    (lambda x, y, bandwidth: float(mmd2_cdist(x, y, bandwidth) + np.mean(list(_kernels(x, y, bandwidth))[2])),
     "counts twice"),
    (lambda x, y, bandwidth: _unbiased(*(np.exp(-cdist(a, b) / (2 * bandwidth**2)) for a, b in ((x, x), (y, y), (x, y)))),
     "distance itself"),
    (mmd2_stacked, "different numbers of points"),
    (mmd2_named_h, "name the third parameter bandwidth"),
    (lambda x, y, bandwidth: list(_kernels(x, y, bandwidth))[2], "MMD^2 is one number"),
], ids=["biased", "h^2", "exp(+)", "|a + b|^2", "sqrt", "cross over n(n-1)", "y over n(n-1)", "cross once",
        "distance not squared", "n == m assumed", "parameter named h", "a matrix"])
def test_09_1_wrong_answers_are_caught(answer, fragment):
    fails_with("09.1", answer, fragment)


def test_09_1_reference_agrees_with_the_independent_computation():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(37, 3)), rng.normal(0.5, 1.2, size=(52, 3))
    assert math.isclose(ch09.reference_gaussian_mmd2(x, y, 1.3), ch09._np_mmd2(x, y, 1.3), rel_tol=1e-10)


# --- 09.2 mixture_log_density: a contour plot of the prior on a grid, and prior samples as a tensor ---------------

def use_mixture_log_density(fn) -> None:
    """The notebook's cells: the density on a 200 x 200 grid for plt.contourf, and at 500 prior samples (a tensor)."""
    import matplotlib.pyplot as plt

    axis = np.linspace(-7.0, 7.0, 200)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)  # (40000, 2) float64
    density = np.asarray(fn(grid, PRIOR.centres, PRIOR.std)).reshape(200, 200)
    assert np.all(np.isfinite(density))
    np.testing.assert_allclose(density.ravel(), PRIOR.log_density(grid), rtol=1e-5, atol=1e-4)
    fig, ax = plt.subplots()
    ax.contourf(axis, axis, np.exp(density), levels=20)
    plt.close(fig)
    samples = PRIOR.sample(500, seed=0)  # a float32 tensor
    at_samples = np.asarray(fn(samples, PRIOR.centres, PRIOR.std))
    assert at_samples.shape == (500,)
    np.testing.assert_allclose(at_samples, PRIOR.log_density(samples), rtol=1e-5, atol=1e-4)
    assert at_samples.mean() > density.mean()  # the samples sit where the density is high


def density_scipy_logsumexp(z, centres, std):
    z, centres = np.asarray(z, dtype=float), np.asarray(centres, dtype=float)
    d = z.shape[1]
    log_each = -cdist(z, centres, "sqeuclidean") / (2 * std**2) - d * np.log(std) - d / 2 * np.log(2 * np.pi)
    return logsumexp(log_each, axis=1) - np.log(len(centres))


def density_max_shift(z, centres, std):
    z = np.array(z, dtype=np.float64)
    centres = np.array(centres, dtype=np.float64)
    n_components, d = centres.shape
    log_each = np.empty((len(z), n_components))
    for k, centre in enumerate(centres):
        log_each[:, k] = -0.5 * np.sum(((z - centre) / std) ** 2, axis=1) - d * math.log(std * math.sqrt(2 * math.pi))
    top = log_each.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.mean(np.exp(log_each - top), axis=1))


def density_tensorflow(z, centres, std):
    """tf.reduce_logsumexp in float64; returns a tensor."""
    z, centres = tf.cast(z, tf.float64), tf.cast(centres, tf.float64)
    d = tf.cast(tf.shape(z)[1], tf.float64)
    squared = tf.reduce_sum(tf.square(z[:, None, :] - centres[None]), axis=-1)
    log_each = -squared / (2 * std**2) - d * tf.math.log(tf.constant(std, tf.float64)) - d / 2 * math.log(2 * math.pi)
    return tf.reduce_logsumexp(log_each, axis=1) - tf.math.log(tf.cast(tf.shape(centres)[0], tf.float64))


@pytest.mark.parametrize("answer", [density_scipy_logsumexp, density_max_shift, density_tensorflow],
                         ids=["scipy logsumexp", "manual max shift", "tf reduce_logsumexp"])
def test_09_2_variants_pass_and_work_downstream(answer):
    use_mixture_log_density(passes("09.2", answer))


def _log_each(z, centres, std, exponent_scale=0.5, variance=None, constant=True, dims=None):
    z, centres = np.asarray(z, dtype=float), np.asarray(centres, dtype=float)
    d = centres.shape[1] if dims is None else dims
    var = std**2 if variance is None else variance
    log_norm = -0.5 * d * np.log(var) - d / 2 * np.log(2 * np.pi) if constant else 0.0
    return -exponent_scale * cdist(z, centres, "sqeuclidean") / var + log_norm


def density_naive(z, centres, std):
    with np.errstate(divide="ignore"):  # the learner sees a warning at most, then -inf
        return np.log(np.mean(np.exp(_log_each(z, centres, std)), axis=1))


def density_astype(z, centres, std):
    return density_scipy_logsumexp(z.astype(np.float64), centres, std)  # a tensor has no astype


@pytest.mark.parametrize(("answer", "fragment"), [
    (density_naive, "-inf or NaN"),
    (lambda z, centres, std: logsumexp(_log_each(z, centres, std), axis=1), "mixture weights are missing"),
    (lambda z, centres, std: logsumexp(_log_each(z, centres, std, variance=std), axis=1) - np.log(len(centres)),
     "std was used as the variance"),
    (lambda z, centres, std: logsumexp(_log_each(z, centres, std, constant=False), axis=1) - np.log(len(centres)),
     "normalising constant of each Gaussian is missing"),
    (lambda z, centres, std: logsumexp(_log_each(z, centres, std, dims=1), axis=1) - np.log(len(centres)),
     "counts one dimension"),
    (lambda z, centres, std: logsumexp(_log_each(z, centres, std, exponent_scale=1.0), axis=1) - np.log(len(centres)),
     "factor 1/2 is missing"),
    (lambda z, centres, std: np.mean(_log_each(z, centres, std), axis=1), "averages the components' log-densities"),
    (lambda z, centres, std: logsumexp(_log_each(z, centres, std), axis=1, keepdims=True) - np.log(len(centres)),
     "one log-density per point"),
    (density_astype, "convert z first"),
], ids=["naive log mean exp", "no log K", "std as variance", "no constant", "constant for one dimension",
        "no 1/2", "mean of logs", "keepdims", "astype on a tensor"])
def test_09_2_wrong_answers_are_caught(answer, fragment):
    fails_with("09.2", answer, fragment)


def test_09_2_reference_agrees_with_scipy():
    rng = np.random.default_rng(2)
    z, centres = rng.normal(0.0, 3.0, (20, 3)), rng.normal(0.0, 2.0, (5, 3))
    np.testing.assert_allclose(ch09.reference_mixture_log_density(z, centres, 0.7),
                               ch09._np_mixture_log_density(z, centres, 0.7), rtol=1e-10)


# --- 09.3 regularisation_step: compiled and run on the chapter's dense AAE ----------------------------------------

def _flat(weights) -> np.ndarray:
    return np.concatenate([np.asarray(w).ravel() for w in weights])


def use_regularisation_step(fn) -> None:
    """The notebook's loop: tf.function(regularisation_step) on dense_aae(hidden_units=(64, 32)) with Fashion-MNIST
    batches (NumPy float32) and prior samples (tensors); finite losses, the encoder and the discriminator move, and
    nothing else does."""
    from course_utils.data import load_fashion_mnist

    (x_train, _), _ = load_fashion_mnist()
    keras.utils.set_random_seed(0)
    aae = dense_aae(hidden_units=(64, 32), seed=3)
    d_opt, g_opt = keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5)
    before = {name: _flat(getattr(aae, name).trainable_weights) for name in ("encoder", "decoder", "discriminator")}
    step = tf.function(fn)
    for k in range(5):
        x_batch = x_train[128 * k:128 * (k + 1)]  # (128, 28, 28, 1) float32
        prior_batch = aae.prior.sample(128, seed=k)  # (128, 2) float32 tensor
        d_loss, g_loss = step(aae.encoder, aae.discriminator, d_opt, g_opt, x_batch, prior_batch)
        assert math.isfinite(float(d_loss)) and math.isfinite(float(g_loss)), k
    after = {name: _flat(getattr(aae, name).trainable_weights) for name in before}
    assert not np.array_equal(before["encoder"], after["encoder"])
    assert not np.array_equal(before["discriminator"], after["discriminator"])
    assert np.array_equal(before["decoder"], after["decoder"])


BCE = keras.losses.BinaryCrossentropy(from_logits=True)


def step_two_tapes_keras_bce(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    """Two GradientTapes, Keras' cross-entropy with explicit labels, the codes made inside the first tape."""
    with tf.GradientTape() as tape:
        prior_logits, code_logits = discriminator(prior_codes), discriminator(encoder(x))
        d_loss = BCE(tf.ones_like(prior_logits), prior_logits) + BCE(tf.zeros_like(code_logits), code_logits)
    grads = tape.gradient(d_loss, discriminator.trainable_variables)
    d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
    with tf.GradientTape() as tape:
        code_logits = discriminator(encoder(x, training=True), training=False)
        g_loss = BCE(tf.ones_like(code_logits), code_logits)
    grads = tape.gradient(g_loss, encoder.trainable_variables)
    g_optimizer.apply_gradients(zip(grads, encoder.trainable_variables))
    return d_loss, g_loss


def step_one_persistent_tape(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    """One persistent tape: the discriminator's update applied inside it, the encoder's loss recorded after that."""
    with tf.GradientTape(persistent=True) as tape:
        codes = encoder(x, training=True)
        d_loss = (ops.mean(ops.softplus(-discriminator(prior_codes, training=True)))
                  + ops.mean(ops.softplus(discriminator(codes, training=True))))
        d_grads = tape.gradient(d_loss, discriminator.trainable_weights)
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_weights))
        g_loss = ops.mean(ops.softplus(-discriminator(codes, training=False)))  # D after its update
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, encoder.trainable_weights), encoder.trainable_weights))
    del tape
    return d_loss, g_loss


def step_one_batch_apply(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    """The discriminator scores prior and codes in one concatenated batch; optimizer.apply; a list returned."""
    codes = tf.stop_gradient(encoder(x, training=True))
    n = tf.shape(prior_codes)[0]
    with tf.GradientTape() as tape:
        logits = discriminator(tf.concat([tf.cast(prior_codes, codes.dtype), codes], axis=0), training=True)
        labels = tf.concat([tf.ones((n, 1)), tf.zeros((tf.shape(codes)[0], 1))], axis=0)
        per_part = tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)  # (2n, 1)
        d_loss = tf.reduce_mean(per_part[:n]) + tf.reduce_mean(per_part[n:])
    d_optimizer.apply(tape.gradient(d_loss, discriminator.trainable_variables), discriminator.trainable_variables)
    with tf.GradientTape() as tape:
        g_loss = -tf.reduce_mean(tf.math.log_sigmoid(discriminator(encoder(x, training=True), training=False)))
    g_optimizer.apply(tape.gradient(g_loss, encoder.trainable_variables), encoder.trainable_variables)
    return [d_loss, g_loss]


@pytest.mark.parametrize("answer", [step_two_tapes_keras_bce, step_one_persistent_tape, step_one_batch_apply],
                         ids=["two tapes, keras BCE", "one persistent tape", "one concatenated batch"])
def test_09_3_variants_pass_and_work_downstream(answer):
    use_regularisation_step(passes("09.3", answer))


def _reference(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes, *, swap_labels=False,
               g_loss_name="non_saturating"):
    """The right step, with the labels and the encoder's loss as options."""
    codes = encoder(x, training=True)
    with tf.GradientTape() as tape:
        prior_logits, code_logits = discriminator(prior_codes, training=True), discriminator(codes, training=True)
        d_loss = discriminator_loss(*((code_logits, prior_logits) if swap_labels else (prior_logits, code_logits)))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(encoder(x, training=True), training=False), g_loss_name)
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, encoder.trainable_weights), encoder.trainable_weights))
    return d_loss, g_loss


def step_one_objective(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    with tf.GradientTape(persistent=True) as tape:
        d_loss = discriminator_loss(discriminator(prior_codes), discriminator(encoder(x)))
        g_loss = generator_loss(discriminator(encoder(x)))
        total = d_loss + g_loss
    d_optimizer.apply_gradients(zip(tape.gradient(total, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    g_optimizer.apply_gradients(zip(tape.gradient(total, encoder.trainable_weights), encoder.trainable_weights))
    return d_loss, g_loss


def step_encoder_first(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(encoder(x)))
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, encoder.trainable_weights), encoder.trainable_weights))
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(prior_codes), discriminator(encoder(x)))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    return d_loss, g_loss


def step_simultaneous(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    """Both losses from one set of logits: the encoder's gradient goes through the discriminator before its update."""
    with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
        code_logits = discriminator(encoder(x))
        d_loss = discriminator_loss(discriminator(prior_codes), code_logits)
        g_loss = generator_loss(code_logits)
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_weights)
    g_grads = g_tape.gradient(g_loss, encoder.trainable_weights)
    d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_weights))
    g_optimizer.apply_gradients(zip(g_grads, encoder.trainable_weights))
    return d_loss, g_loss


def step_leaks_into_encoder(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(prior_codes), discriminator(encoder(x)))
    weights = discriminator.trainable_weights + encoder.trainable_weights
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(encoder(x)))
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, encoder.trainable_weights), encoder.trainable_weights))
    return d_loss, g_loss


def step_leaks_into_discriminator(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    codes = encoder(x)
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(prior_codes), discriminator(codes))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(encoder(x)))
    weights = encoder.trainable_weights + discriminator.trainable_weights
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
    return d_loss, g_loss


def step_codes_before_the_tapes(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    codes = encoder(x, training=True)  # outside every tape: no gradient reaches the encoder
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(prior_codes), discriminator(codes))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(codes))
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, encoder.trainable_weights), encoder.trainable_weights))
    return d_loss, g_loss


def step_without_updates(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    return (discriminator_loss(discriminator(prior_codes), discriminator(encoder(x))),
            generator_loss(discriminator(encoder(x))))


def step_numpy_losses(*args):
    d_loss, g_loss = _reference(*args)
    return float(d_loss.numpy()), float(g_loss.numpy())


def step_own_prior_samples(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    return _reference(encoder, discriminator, d_optimizer, g_optimizer, x, tf.random.normal(tf.shape(prior_codes)))


@pytest.mark.parametrize(("answer", "fragment"), [
    (step_one_objective, "one summed loss under one tape"),
    (step_encoder_first, "encoder was updated before the discriminator"),
    (step_simultaneous, "from before its update"),
    (lambda *args: _reference(*args, g_loss_name="saturating"), "saturating loss log(1 - D(E(x)))"),
    (lambda *args: _reference(*args, swap_labels=True), "labels are swapped"),
    (step_leaks_into_encoder, "leaks into E"),
    (step_leaks_into_discriminator, "encoder step also updates the discriminator"),
    (lambda encoder, discriminator, d_optimizer, g_optimizer, *rest:
     _reference(encoder, discriminator, g_optimizer, d_optimizer, *rest), "optimisers are swapped"),
    (step_codes_before_the_tapes, "codes computed before it carry no gradient"),
    (step_without_updates, "no weight changed"),
    (lambda *args: _reference(*args)[::-1], "wrong order"),
    (lambda *args: _reference(*args)[0], "return the step's two losses as a pair"),
    (step_numpy_losses, "inside tf.function"),
    (step_own_prior_samples, "none of your own"),
], ids=["one objective", "encoder first", "simultaneous", "saturating", "labels swapped", "leak into E",
        "leak into D", "optimisers swapped", "codes before the tapes", "no updates", "losses swapped",
        "one loss returned", "numpy", "own prior samples"])
def test_09_3_wrong_steps_are_named(answer, fragment):
    fails_with("09.3", answer, fragment)


def test_09_3_judge_names_the_mistake_without_the_expected_weights():
    """The hidden judge keeps the mistake's name and never prints numbers from the hidden case."""
    exercise = ch09.REGULARISATION_STEP
    case = exercise.hidden_cases(np.random.default_rng(1))[0]
    assert exercise.judge(case, exercise.probe(ch09.reference_regularisation_step, case)) is None
    verdict = exercise.judge(case, exercise.probe(step_simultaneous, case))
    assert verdict.startswith("the encoder's gradient was computed through the discriminator from before its update")
    assert not any(ch.isdigit() for ch in verdict)


def test_09_3_simulation_matches_keras_adam_on_the_reference():
    """Chapter 08's NumPy simulation, fed x for both noise batches and prior codes as the real data, agrees with Keras."""
    case = ch09._regularisation_case(seed=3, batch=12, x_dim=6, hidden=16, lr_d=0.01, lr_g=0.02)
    outputs, failure = ch09._run_regularisation_step(ch09.reference_regularisation_step, case)
    simulated = ch09._simulate(case)
    assert not failure
    for net in ("g", "d"):
        np.testing.assert_allclose(outputs[net], simulated[net], rtol=0, atol=1e-4)
    np.testing.assert_allclose(outputs["losses"], simulated["losses"], rtol=1e-5)


# --- 09.4 make_aae: designs written differently pass; the notebook trains, samples and saves them ----------------

def use_make_aae(fn, tmp_path) -> None:
    """The notebook's cells: a short fit on Fashion-MNIST, codes on the prior's plane, decoded samples, a .keras
    round trip."""
    from course_utils.data import load_fashion_mnist, make_dataset
    from course_utils.training import fit_with_budget

    (x_train, _), (x_test, _) = load_fashion_mnist()
    aae = fn()
    result = fit_with_budget(aae, make_dataset(x_train[:1024], batch_size=128), epochs=1, progress="none")
    assert all(math.isfinite(values[-1]) for values in result.history.values())
    codes = np.asarray(aae.encode(x_test[:200]))
    assert codes.shape == (200, 2) and np.all(np.isfinite(codes))
    assert aae.prior.nearest_component(codes).shape == (200,)
    samples = np.asarray(aae.sample(16, seed=0))
    assert samples.shape == (16, 28, 28, 1) and samples.min() >= 0.0 and samples.max() <= 1.0
    path = tmp_path / "aae.keras"
    aae.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.encode(x_test[:8])), codes[:8], atol=1e-5)


def sequential_aae():
    """A learner's 09.4 from raw Keras layers in Sequential models, batch norm in the encoder only."""
    encoder = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(128), keras.layers.BatchNormalization(), keras.layers.ReLU(),
                                keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2)], name="encoder")
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64, activation="relu"),
                                keras.layers.Dense(128, activation="relu"), keras.layers.Dense(784),
                                keras.layers.Reshape((28, 28, 1))], name="decoder")  # (batch, 28, 28, 1) logits
    discriminator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(256), keras.layers.LeakyReLU(0.2),
                                      keras.layers.Dense(256), keras.layers.LeakyReLU(0.2), keras.layers.Dense(1)],
                                     name="discriminator")
    aae = AdversarialAutoencoder(encoder, decoder, discriminator, GaussianMixturePrior(10, 2))
    aae.compile(ae_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return aae


def _dense_bn_relu(h, units: int):
    return keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.Dense(units)(h)))


def functional_aae():
    """A learner's 09.4 in the functional API: 160-48 units with batch norm, a narrower discriminator, RMSprop for
    the reconstruction."""
    image = keras.Input((28, 28, 1))
    h = _dense_bn_relu(_dense_bn_relu(keras.layers.Flatten()(image), 160), 48)
    encoder = keras.Model(image, keras.layers.Dense(2)(h), name="encoder")  # (batch, 2)
    code = keras.Input((2,))
    h = _dense_bn_relu(_dense_bn_relu(code, 48), 160)
    decoder = keras.Model(code, keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784)(h)), name="decoder")
    judged = keras.Input((2,))
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(128)(judged))
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(128)(h))
    discriminator = keras.Model(judged, keras.layers.Dense(1)(h), name="discriminator")
    aae = AdversarialAutoencoder(encoder, decoder, discriminator, GaussianMixturePrior(10, 2))
    aae.compile(ae_optimizer=keras.optimizers.RMSprop(1e-3), d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return aae


@pytest.mark.parametrize("answer", [sequential_aae, functional_aae], ids=["sequential layers", "functional API"])
def test_09_4_designs_pass_and_work_downstream(answer, tmp_path):
    use_make_aae(passes("09.4", answer), tmp_path)


def _compiled(aae):
    aae.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return aae


def _sigmoid_decoder_aae():
    aae = sequential_aae()
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64, activation="relu"),
                                keras.layers.Dense(784, activation="sigmoid"), keras.layers.Reshape((28, 28, 1))])
    return _compiled(AdversarialAutoencoder(aae.encoder, decoder, aae.discriminator, GaussianMixturePrior(10, 2)))


def _prior_aae(prior, latent_dim):
    aae = dense_aae(latent_dim=latent_dim, hidden_units=(64, 32))
    return _compiled(AdversarialAutoencoder(aae.encoder, aae.decoder, aae.discriminator, prior))


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda: dense_aae(hidden_units=(64, 32)).encoder, "should return a course_utils.models.aae.AdversarialAutoencoder"),
    (lambda: _compiled(dense_aae(hidden_units=(64, 32), prior="gaussian")), "standard Gaussian N(0, I) in 2-D"),
    (lambda: _prior_aae(GaussianMixturePrior(10, 8), 8), "a mixture of 10 Gaussians in 8-D"),
    (lambda: _prior_aae(GaussianMixturePrior(10, 2, radius=2.0), 2), "radius 2"),
    (lambda: _prior_aae(GaussianPrior(2), 2), "must be the chapter's GaussianMixturePrior(10, 2)"),
    (lambda: _compiled(dense_aae()), "parameters together"),
    (lambda: dense_aae(hidden_units=(64, 32)), "not compiled"),
    (_sigmoid_decoder_aae, "never negative"),
], ids=["encoder only", "gaussian prior", "8-D mixture", "radius 2", "GaussianPrior", "too many parameters",
        "not compiled", "sigmoid decoder"])
def test_09_4_wrong_designs_are_caught_before_training(answer, fragment):
    fails_with("09.4", answer, fragment)


def _fitted_facts(finite: bool, code_mmd2: float, mse: float) -> dict[str, np.ndarray]:
    facts = ch09._aae_facts(ch09.reference_make_aae())
    facts.update(finite=np.asarray(finite), code_mmd2=np.asarray(code_mmd2), mse=np.asarray(mse))
    return facts


@pytest.mark.parametrize(("finite", "code_mmd2", "mse", "fragments"), [
    (False, float("nan"), float("nan"), ("diverged", "lower the learning rates")),
    (True, 0.08, 0.032, ("far from the prior", "0.080", "learning rate around 1e-3", "beta_1=0.5", "batch normalisation")),
    (True, 0.004, 0.09, ("reconstruction MSE", "0.0900", "hidden layers")),
], ids=["diverged", "codes off the prior", "poor reconstructions"])
def test_09_4_fit_messages_say_what_was_measured_and_what_to_try(finite, code_mmd2, mse, fragments):
    facts = _fitted_facts(finite, code_mmd2, mse)
    message = ch09._aae_problem(facts)
    assert all(fragment in message for fragment in fragments), message
    judged = ch09.MAKE_AAE.judge({"seed": 0}, facts)
    assert judged and ";" not in judged
    assert ch09._aae_problem(_fitted_facts(True, 0.004, 0.036)) is None


def test_09_4_default_adversarial_learning_rates_are_too_slow_for_the_check():
    """dense_aae compiled with its defaults (2e-4 for the adversarial phases) is told to raise them."""
    def defaults():
        aae = dense_aae(latent_dim=2, hidden_units=(128, 64))
        aae.compile()
        return aae

    fails_with("09.4", defaults, "the defaults' 2e-4 is too slow")
