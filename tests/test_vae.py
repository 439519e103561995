"""Chapter 06 foundations: the VAE's loss terms against NumPy, SciPy and Monte Carlo, the reparameterised sample,
the IWAE bound on a linear-Gaussian model whose log p(x) is exact, and the VAE model itself."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from scipy import stats

from course_utils.data import make_dataset
from course_utils.evaluation.likelihood import binarise, elbo, iwae_bound
from course_utils.models.vae import (
    VAE,
    BetaWarmup,
    ConditionalVAE,
    Sampling,
    bernoulli_log_likelihood,
    conditional_dense_vae,
    conv_vae,
    dense_vae,
    gaussian_kl,
    gaussian_kl_per_dimension,
    gaussian_log_likelihood,
)
from course_utils.training import fit_with_budget

SMALL = dict(input_shape=(6, 6, 1), latent_dim=2, hidden_units=(8,))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def binary_batch(n=16, shape=(6, 6, 1), seed=0):
    return (np.random.default_rng(seed).random((n, *shape)) < 0.3).astype("float32")


def test_gaussian_kl_by_hand_and_against_monte_carlo():
    assert gaussian_kl(np.zeros((1, 3)), np.zeros((1, 3))).numpy() == pytest.approx([0.0])
    assert gaussian_kl([[1.0, 0.0]], [[0.0, math.log(2.0)]]).numpy() == pytest.approx([0.5 + 0.5 * (1 - math.log(2))])
    rng = np.random.default_rng(1)
    mean, log_var = rng.normal(size=(3, 4)), rng.normal(scale=0.7, size=(3, 4))
    closed = gaussian_kl(mean, log_var).numpy()
    eps = rng.standard_normal((200_000, 3, 4))
    z = mean + np.exp(0.5 * log_var) * eps
    log_ratio = (stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)) - stats.norm.logpdf(z)).sum(axis=-1)  # (N, 3)
    standard_error = log_ratio.std(axis=0) / math.sqrt(len(log_ratio))
    np.testing.assert_array_less(np.abs(closed - log_ratio.mean(axis=0)), 4 * standard_error)


MEAN, LOG_VAR = np.array([0.5, -1.0, 2.0], "float32"), np.array([0.0, -2.0, 1.5], "float32")


def moments_match(sampling: keras.layers.Layer, n: int = 20_000) -> bool:
    """Does ``sampling`` give samples with mean MEAN and variance exp(LOG_VAR), within 4 standard errors?"""
    z = np.asarray(sampling([np.tile(MEAN, (n, 1)), np.tile(LOG_VAR, (n, 1))]), dtype=np.float64)
    var = np.exp(LOG_VAR.astype(np.float64))
    mean_ok = np.abs(z.mean(axis=0) - MEAN) < 4 * np.sqrt(var / n)
    var_ok = np.abs(z.var(axis=0, ddof=1) - var) < 4 * var * math.sqrt(2 / (n - 1))
    return bool(mean_ok.all() and var_ok.all())


class ForgetfulSampling(Sampling):
    """Seed 004's bug: z = exp(0.5 * log_var) * eps, the mean left out."""

    def call(self, inputs):
        mean, log_var = inputs
        return keras.ops.exp(0.5 * log_var) * keras.random.normal(keras.ops.shape(mean), seed=self.seed_generator)


def test_reparameterised_sample_has_the_right_moments_and_the_missing_mean_bug_does_not():
    assert moments_match(Sampling(seed=0))
    assert not moments_match(ForgetfulSampling(seed=0))


def test_gradients_flow_to_mean_and_log_var():
    mean, log_var = tf.Variable(np.tile(MEAN, (4, 1))), tf.Variable(np.tile(LOG_VAR, (4, 1)))
    weights = tf.constant(np.random.default_rng(2).normal(size=(4, 3)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        z = Sampling(seed=3)([mean, log_var])
        objective = tf.reduce_sum(z * weights)
    grad_mean, grad_log_var = tape.gradient(objective, [mean, log_var])
    np.testing.assert_allclose(grad_mean, weights)  # dz/dmean = 1
    np.testing.assert_allclose(grad_log_var, 0.5 * weights * (z - mean), rtol=1e-5, atol=1e-6)  # 0.5 std eps


def test_sampling_is_seeded_and_fresh_on_every_call():
    inputs = [np.zeros((5, 2), "float32"), np.zeros((5, 2), "float32")]
    a, b = Sampling(seed=7), Sampling(seed=7)
    first = np.asarray(a(inputs))
    np.testing.assert_array_equal(first, np.asarray(b(inputs)))
    assert not np.allclose(first, np.asarray(a(inputs)))


def test_bernoulli_log_likelihood_against_numpy_and_stable_for_large_logits():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.random((3, 4, 4, 1)), (rng.random((2, 4, 4, 1)) < 0.5)]).astype("float32")
    logits = rng.normal(scale=4.0, size=x.shape).astype("float32")
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    expected = (x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(5, -1).sum(axis=1)
    np.testing.assert_allclose(bernoulli_log_likelihood(x, logits).numpy(), expected, rtol=1e-5)
    extreme = bernoulli_log_likelihood([[1.0, 0.0, 1.0, 0.0]], [[100.0, -100.0, -100.0, 100.0]]).numpy()
    assert extreme == pytest.approx([-200.0])  # the two right guesses cost 0, the two wrong ones 100 nats each


def test_gaussian_log_likelihood_against_scipy():
    rng = np.random.default_rng(4)
    x, mean = rng.normal(size=(3, 2, 5)), rng.normal(size=(3, 2, 5))
    np.testing.assert_allclose(gaussian_log_likelihood(x, mean, -0.6).numpy(),
                               stats.norm.logpdf(x, mean, math.exp(-0.3)).sum(axis=(1, 2)), rtol=1e-6)
    log_var = rng.normal(size=x.shape)
    np.testing.assert_allclose(gaussian_log_likelihood(x, mean, log_var).numpy(),
                               stats.norm.logpdf(x, mean, np.exp(0.5 * log_var)).sum(axis=(1, 2)), rtol=1e-6)


D, d, NOISE_VAR = 5, 2, 0.25


def linear_gaussian(n: int = 200, seed: int = 5):
    """A VAE whose decoder is p(x|z) = N(Wz + b, s^2 I) with orthogonal columns of W, its encoder set to the exact
    posterior, data drawn from the model, and the exact log p(x) = log N(x; b, W W^T + s^2 I)."""
    rng = np.random.default_rng(seed)
    w = np.linalg.qr(rng.normal(size=(D, d)))[0] * np.array([1.5, 0.7])  # (D, d), W^T W diagonal
    b = rng.normal(size=D)
    covariance = w @ w.T + NOISE_VAR * np.eye(D)
    x = rng.multivariate_normal(b, covariance, size=n).astype("float32")
    post_var = 1.0 / (1.0 + (w ** 2).sum(axis=0) / NOISE_VAR)  # (d,) posterior variances
    a = w / NOISE_VAR * post_var  # posterior mean = (x - b) @ a
    model = dense_vae(input_shape=(D,), latent_dim=d, hidden_units=(), activation=None, likelihood="gaussian")
    model.encoder.get_layer("code").set_weights([np.concatenate([a, np.zeros((D, d))], axis=1),
                                                np.concatenate([-b @ a, np.log(post_var)])])
    model.decoder.get_layer("output").set_weights([w.T, b])
    model.decoder_log_var.assign(math.log(NOISE_VAR))
    return model, x, stats.multivariate_normal(b, covariance).logpdf(x)


def test_iwae_is_exact_for_the_exact_posterior_for_any_k():
    model, x, log_px = linear_gaussian()
    for k in (1, 7):
        np.testing.assert_allclose(iwae_bound(model, x, k=k, seed=0), log_px, rtol=1e-5, atol=1e-4)


def test_iwae_bound_stays_below_log_px_and_tightens_with_k():
    model, x, log_px = linear_gaussian()
    kernel, bias = model.encoder.get_layer("code").get_weights()
    model.encoder.get_layer("code").set_weights([kernel, bias + np.array([0.5, -0.4, 1.0, -0.5], "float32")])
    bounds = [iwae_bound(model, x, k=k, seed=1).mean() for k in (1, 10, 100)]
    assert bounds[0] < bounds[1] < bounds[2] < log_px.mean()
    assert log_px.mean() - bounds[2] < 0.1 * (log_px.mean() - bounds[0])  # k = 100 closes most of the gap
    np.testing.assert_array_equal(elbo(model, x, seed=1), iwae_bound(model, x, k=1, seed=1))


def test_iwae_does_not_depend_on_batch_size():
    model, x, _ = linear_gaussian(n=9)
    np.testing.assert_allclose(iwae_bound(model, x, k=10, batch_size=7, seed=2),
                               iwae_bound(model, x, k=10, batch_size=1000, seed=2), rtol=1e-6)


def test_negative_elbo_loss_is_minus_log_px_at_the_exact_posterior():
    """compute_loss (sampled reconstruction + closed-form KL) averages to -log p(x) when q is the true posterior."""
    model, x, log_px = linear_gaussian(n=4000)
    chunks = [float(model.compute_loss(part, training=False)) for part in np.split(x, 20)]
    standard_error = np.std(chunks, ddof=1) / math.sqrt(len(chunks))
    assert abs(np.mean(chunks) + log_px.mean()) < 4 * standard_error + 1e-3


def test_binarise_is_fixed_by_its_seed():
    x = np.random.default_rng(6).random((200, 4, 4, 1)).astype("float32")
    once, again = binarise(x, seed=3), binarise(x, seed=3)
    np.testing.assert_array_equal(once, again)
    assert set(np.unique(once)) <= {0.0, 1.0}
    assert abs(once.mean() - x.mean()) < 4 * math.sqrt(0.25 / x.size)
    assert not np.array_equal(once, binarise(x, seed=4))
    np.testing.assert_array_equal(binarise(np.array([0.0, 1.0]), seed=0), [0.0, 1.0])


@pytest.mark.parametrize("make", [lambda: dense_vae(**SMALL, seed=1),
                                  lambda: conv_vae(input_shape=(8, 8, 1), latent_dim=2, filters=(4,), seed=1)])
def test_shapes_probabilities_and_seeded_prior_samples(make):
    model = make()
    shape = model.encoder.input_shape[1:]
    x = binary_batch(3, shape)
    mean, log_var = model.encode(x)
    assert mean.shape == log_var.shape == (3, 2)
    decoded = np.asarray(model.decode(mean))
    assert decoded.shape == (3, *shape) and 0.0 <= decoded.min() and decoded.max() <= 1.0
    np.testing.assert_allclose(model(x), decoded, rtol=1e-6)  # call reconstructs from the posterior mean
    np.testing.assert_array_equal(model.sample(4, seed=9), model.sample(4, seed=9))
    assert model.sample(4, seed=9).shape == (4, *shape)


def test_parameter_counts_by_hand():
    # encoder 36 -> 8 -> 2 * 2, decoder 2 -> 8 -> 36, plus beta, a non-trainable weight
    assert dense_vae(**SMALL).count_params() == (36 * 8 + 8) + (8 * 4 + 4) + (2 * 8 + 8) + (8 * 36 + 36) + 1
    # conv 3x3 1 -> 4 (stride 2, 8x8 -> 4x4), Dense 64 -> 4; Dense 2 -> 64, transposed 3x3 4 -> 4, conv 3x3 4 -> 1
    conv = conv_vae(input_shape=(8, 8, 1), latent_dim=2, filters=(4,))
    assert conv.count_params() == (9 * 4 + 4) + (64 * 4 + 4) + (2 * 64 + 64) + (9 * 16 + 4) + (9 * 4 + 1) + 1
    gaussian = dense_vae(**SMALL, likelihood="gaussian")
    assert gaussian.count_params() == dense_vae(**SMALL).count_params() + 1  # the decoder's log-variance


def test_loss_falls_and_training_and_validation_log_the_three_terms():
    model = dense_vae(**SMALL, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = binary_batch(32)
    result = fit_with_budget(model, make_dataset(x, batch_size=16, seed=0), epochs=10, progress="none",
                             validation_data=make_dataset(binary_batch(8, seed=1), shuffle=False))
    names = ["loss", "reconstruction_loss", "kl_loss"]
    assert sorted(result.history) == sorted(names + [f"val_{n}" for n in names])
    assert result.history["loss"][-1] < result.history["loss"][0]


def tracked(model, x) -> dict[str, float]:
    for metric in model.metrics:
        metric.reset_state()
    model.compute_loss(x, training=False)
    return {metric.name: float(metric.result()) for metric in model.metrics}


def test_loss_is_reconstruction_plus_beta_kl_and_kl_matches_the_encoder():
    model = dense_vae(**SMALL, beta=2.5, seed=0)
    x = binary_batch(8)
    logged = tracked(model, x)
    assert logged["loss"] == pytest.approx(logged["reconstruction_loss"] + 2.5 * logged["kl_loss"], rel=1e-6)
    mean, log_var = (np.asarray(t, np.float64) for t in model.encode(x))
    assert logged["kl_loss"] == pytest.approx(np.mean(0.5 * (np.exp(log_var) + mean ** 2 - 1 - log_var).sum(1)),
                                              rel=1e-5)
    assert tracked(dense_vae(**SMALL, beta=0.0), x)["kl_loss"] > 0


def test_beta_assigned_after_compiling_is_honoured_by_the_compiled_step():
    model = dense_vae(**SMALL, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = binary_batch(16)
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    model.beta.assign(0.0)
    logged = model.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    assert logged["kl_loss"] > 0 and logged["loss"] == pytest.approx(logged["reconstruction_loss"], rel=1e-6)
    assert model.get_config()["beta"] == 0.0


def as_json(config: dict) -> dict:
    return json.loads(json.dumps(config))


@pytest.mark.parametrize("make", [lambda: dense_vae(**SMALL, seed=1),
                                  lambda: dense_vae(**SMALL, likelihood="gaussian"),
                                  lambda: conv_vae(input_shape=(8, 8, 1), latent_dim=2, filters=(4,))])
def test_keras_save_load_round_trip(tmp_path, make):
    model = make()
    x = binary_batch(8, model.encoder.input_shape[1:])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=1, batch_size=4, verbose=0)
    model.beta.assign(0.3)
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is VAE
    assert as_json(loaded.get_config()) == as_json(model.get_config())  # tuples come back as JSON lists
    assert float(loaded.beta) == pytest.approx(0.3)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.encode(x), model.encode(x)):
        np.testing.assert_array_equal(a, b)
    if model.likelihood == "gaussian":
        assert float(loaded.decoder_log_var) == float(model.decoder_log_var)


@pytest.mark.parametrize("make,error,message", [
    (lambda: gaussian_kl(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "same shape"),
    (lambda: gaussian_kl(np.zeros(3), np.zeros(3)), ValueError, "(batch, latent_dim)"),
    (lambda: bernoulli_log_likelihood(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "x and logits"),
    (lambda: gaussian_log_likelihood(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3)), ValueError, "scalar or"),
    (lambda: Sampling()([np.zeros((2, 3)), np.zeros((2, 2))]), ValueError, "mean and log_var"),
    (lambda: dense_vae(**SMALL, beta=-1.0), ValueError, "beta weighs the KL term and must be >= 0"),
    (lambda: dense_vae(**SMALL, likelihood="poisson"), ValueError, "likelihood must be one of"),
    (lambda: dense_vae(input_shape=(4,), latent_dim=0), ValueError, "at least 1"),
    (lambda: VAE(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]),
                 keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])), ValueError, "2 * latent_dim = 4"),
    (lambda: VAE(keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)]),
                 keras.Sequential([keras.Input((2,)), keras.layers.Dense(5)])), ValueError, "input shape (4,)"),
    (lambda: dense_vae(**SMALL).sample(0), ValueError, "at least 1"),
    (lambda: iwae_bound(dense_vae(**SMALL), binary_batch(2), k=0), ValueError, "at least 1"),
    (lambda: iwae_bound(dense_vae(**SMALL), binary_batch(2, (5, 5, 1))), ValueError, "shape (n, 6, 6, 1)"),
    (lambda: iwae_bound(dense_vae(**SMALL), np.full((2, 6, 6, 1), 0.5)), ValueError, "binarise(x, seed)"),
    (lambda: iwae_bound(keras.Sequential([keras.Input((4,))]), np.zeros((2, 4))), TypeError, "must be a VAE"),
    (lambda: binarise(np.array([0.5, 255.0]), seed=0), ValueError, "in [0, 1]"),
])
def test_bad_inputs_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_kl_per_dimension_sums_to_the_batch_mean_kl():
    rng = np.random.default_rng(3)
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    per_dimension = np.asarray(gaussian_kl_per_dimension(mean, log_var))
    assert per_dimension.shape == (3,)
    by_hand = 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).mean(axis=0)
    np.testing.assert_allclose(per_dimension, by_hand, rtol=1e-5)
    assert per_dimension.sum() == pytest.approx(float(np.mean(gaussian_kl(mean, log_var))), rel=1e-5)


def test_free_bits_floor_each_dimension_in_the_loss_but_not_in_the_logged_kl():
    model = dense_vae(**SMALL, seed=0)
    x = binary_batch()
    mean, log_var = (np.asarray(t) for t in model.encode(x))
    per_dimension = np.asarray(gaussian_kl_per_dimension(mean, log_var))
    floor = float(per_dimension.max()) + 1.0  # above every dimension: the KL term becomes d * floor
    floored = VAE(model.encoder, model.decoder, free_bits=floor, seed=0)
    plain = VAE(model.encoder, model.decoder, seed=0)
    loss_floored, loss_plain = float(floored.compute_loss(x)), float(plain.compute_loss(x))
    kl_logged = float(floored.kl_tracker.result())
    assert kl_logged == pytest.approx(per_dimension.sum(), rel=1e-4)
    reconstruction = float(floored.reconstruction_tracker.result())
    assert loss_floored == pytest.approx(reconstruction + 2 * floor, rel=1e-4)
    assert loss_plain == pytest.approx(float(plain.reconstruction_tracker.result()) + per_dimension.sum(), rel=1e-4)
    grads = _kl_term_gradient(floored, x)
    assert all(float(np.abs(g).max()) == 0.0 for g in grads)  # below the floor the KL pushes nothing
    assert floored.get_config()["free_bits"] == floor


def _kl_term_gradient(model, x):
    """Gradient of the loss minus the reconstruction term, with respect to the encoder's weights."""
    with tf.GradientTape() as tape:
        mean, log_var = model.encode(x)
        per_dimension = gaussian_kl_per_dimension(mean, log_var)
        kl_term = tf.reduce_sum(tf.maximum(per_dimension, model.free_bits))
    return [g.numpy() for g in tape.gradient(kl_term, model.encoder.trainable_variables) if g is not None]


def test_beta_warmup_rises_linearly_then_holds():
    model = dense_vae(**SMALL, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(float(model.beta.numpy())))
    model.fit(binary_batch(32), batch_size=4, epochs=2, verbose=0, callbacks=[BetaWarmup(2.0, 10), record])
    np.testing.assert_allclose(seen[:11], 2.0 * np.minimum(np.arange(11) / 10, 1.0), atol=1e-6)
    assert seen[-1] == 2.0 and len(seen) == 16
    with pytest.raises(ValueError, match="warmup_steps"):
        BetaWarmup(1.0, 0)


def test_conditional_vae_trains_samples_a_chosen_class_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    x = np.zeros((64, 6, 6, 1), "float32")
    x[labels == 0, :3] = 1.0  # class 0: top half on; class 1: bottom half on
    x[labels == 1, 3:] = 1.0
    # beta 4 makes a code that repeats the label expensive, so the decoder must read the label itself
    model = conditional_dense_vae((6, 6, 1), n_classes=2, latent_dim=2, hidden_units=(16,), beta=4.0, seed=0)
    assert (model.latent_dim, model.n_classes) == (2, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, labels, batch_size=16, epochs=40, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    samples = np.asarray(model.sample([0] * 8 + [1] * 8, seed=1))  # (16, 6, 6, 1)
    assert samples.shape == (16, 6, 6, 1)
    top, bottom = samples[:, :3].mean(axis=(1, 2, 3)), samples[:, 3:].mean(axis=(1, 2, 3))
    assert (top[:8] > bottom[:8]).all() and (bottom[8:] > top[8:]).all()  # the label decides the half
    assert np.asarray(model([x[:4], labels[:4]])).shape == (4, 6, 6, 1)
    path = tmp_path / "cvae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ConditionalVAE)
    np.testing.assert_allclose(np.asarray(loaded.decode(np.zeros((2, 2), "float32"), [0, 1])),
                               np.asarray(model.decode(np.zeros((2, 2), "float32"), [0, 1])), atol=1e-6)


def test_conditional_vae_says_what_it_needs():
    model = conditional_dense_vae((6, 6, 1), n_classes=3, latent_dim=2, hidden_units=(8,))
    with pytest.raises(ValueError, match="fit\\(images, labels\\)"):
        model.compute_loss(binary_batch(4))
    with pytest.raises(ValueError, match="encode\\(x, labels\\)"):
        model.encode(binary_batch(4))
    with pytest.raises(ValueError, match="two Inputs"):
        ConditionalVAE(dense_vae(**SMALL).encoder, dense_vae(**SMALL).decoder)
