"""Reference dense and conv autoencoders (chapters 01-02): shapes, parameter counts, saving, training, PCA."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.autoencoders import (ConvAutoencoder, DenseAutoencoder, count_params,  # noqa: E402
                                       linear_autoencoder, output_size)
from course_utils.training import CosineByProgress, TimeBudget, train_autoencoder  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def batch(n=4, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def smooth_batch(n=32, seed=0):
    """Blocky 28x28 images (7x7 random values, each a 4x4 block): structured enough to learn quickly."""
    coarse = np.random.default_rng(seed).random((n, 7, 7, 1))
    return np.kron(coarse, np.ones((1, 4, 4, 1))).astype("float32")


@pytest.mark.parametrize("size,kernel,stride,padding,expected", [
    (28, 3, 1, "same", 28), (28, 3, 1, "valid", 26), (28, 2, 2, "same", 14), (7, 2, 2, "same", 4),
    (7, 3, 2, "valid", 3), (28, 5, 2, "valid", 12),
])
def test_output_size_conv(size, kernel, stride, padding, expected):
    assert output_size(size, kernel, stride, padding) == expected


@pytest.mark.parametrize("size,kernel,stride,padding,op", [
    (7, 3, 2, "same", None), (7, 3, 2, "same", 1), (4, 3, 2, "same", 0), (7, 3, 2, "valid", None),
    (6, 4, 2, "valid", 1), (5, 5, 3, "same", 2),
])
def test_output_size_transposed_matches_keras(size, kernel, stride, padding, op):
    layer = keras.layers.Conv2DTranspose(1, kernel, strides=stride, padding=padding, output_padding=op)
    out = layer(np.zeros((1, size, size, 1), "float32"))
    assert out.shape[1] == output_size(size, kernel, stride, padding, transposed=True, output_padding=op)


def test_output_size_rejects_bad_arguments():
    with pytest.raises(ValueError):
        output_size(28, 3, 1, "full")
    with pytest.raises(ValueError):
        output_size(2, 3, 1, "valid")
    with pytest.raises(ValueError):
        output_size(7, 3, 2, "same", transposed=True, output_padding=2)


def test_dense_shapes_and_params():
    model = DenseAutoencoder()
    assert model(batch()).shape == (4, 28, 28, 1)
    assert model.encoder.output_shape == (None, 32)
    assert model.decoder.output_shape == (None, 28, 28, 1)
    assert count_params(model) == 1_088_304
    assert count_params(DenseAutoencoder(latent_dim=2, hidden_units=(64,), batch_norm=False)) == 101_522


def test_linear_autoencoder_params():
    model = linear_autoencoder((784,), 16)
    assert model(np.zeros((2, 784), "float32")).shape == (2, 784)
    assert count_params(model) == 784 * 16 + 16 + 16 * 784 + 784


@pytest.mark.parametrize("kwargs,params,code", [
    (dict(), 465_953, (None, 32)),
    (dict(downsample="max", upsample="upsample"), 465_953, (None, 32)),
    (dict(latent_dim=None, code_channels=8), 195_593, (None, 4, 4, 8)),
    (dict(filters=(16, 32), kernel_size=5, latent_dim=10), None, (None, 10)),
    (dict(filters=(8, 8, 8), kernel_size=4), None, (None, 32)),
])
def test_conv_returns_exactly_the_input_size(kwargs, params, code):
    model = ConvAutoencoder(**kwargs)
    assert model(batch()).shape == (4, 28, 28, 1)
    assert model.encoder.output_shape == code
    if params is not None:
        assert count_params(model) == params


def test_conv_odd_input_size():
    model = ConvAutoencoder(input_shape=(30, 22, 3), filters=(8, 16, 16, 16), latent_dim=4)
    assert model(batch(2, (30, 22, 3))).shape == (2, 30, 22, 3)


def test_encoder_and_decoder_usable_alone():
    model = ConvAutoencoder(latent_dim=5)
    x = batch()
    z = model.encoder(x)
    assert z.shape == (4, 5)
    np.testing.assert_allclose(model.decoder(z), model(x), atol=1e-6)
    assert model.decoder(np.zeros((3, 5), "float32")).shape == (3, 28, 28, 1)


def test_bad_options_raise():
    with pytest.raises(ValueError):
        ConvAutoencoder(downsample="median")
    with pytest.raises(ValueError):
        ConvAutoencoder(input_shape=(784,))


@pytest.mark.parametrize("factory", [
    lambda: DenseAutoencoder(latent_dim=8, hidden_units=(64, 32), dropout=0.1, l2=1e-4),
    lambda: ConvAutoencoder(latent_dim=None, filters=(8, 16), batch_norm=True, dropout=0.1),
    lambda: ConvAutoencoder(latent_dim=6, filters=(8, 16, 16), downsample="avg", upsample="upsample"),
])
def test_keras_save_load_round_trip(tmp_path, factory):
    model = factory()
    x = batch(3)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x, epochs=1, verbose=0)  # moves batch-norm statistics away from their initial values
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))


@pytest.mark.parametrize("factory", [
    lambda: DenseAutoencoder(latent_dim=8, hidden_units=(64,)),
    lambda: ConvAutoencoder(latent_dim=8, filters=(8, 16)),
])
def test_loss_falls_on_a_seeded_small_batch(factory):
    x = smooth_batch(32, seed=1)
    model = factory()
    result = train_autoencoder(model, x, epochs=20, batch_size=8, learning_rate=3e-3, decay=False)
    losses = result.history["loss"]
    assert losses[-1] < 0.8 * losses[0]


def test_time_budget_stops_training():
    x = batch(64)
    model = DenseAutoencoder(latent_dim=4, hidden_units=(16,))
    result = train_autoencoder(model, x, epochs=10_000, batch_size=8, time_budget_s=0.5)
    assert result.stopped_by_budget
    assert result.epochs_run < 10_000
    assert isinstance(TimeBudget(None).seconds, type(None))


def test_cosine_by_progress_follows_steps_or_time():
    """Hand-computed values: lr * (alpha + (1 - alpha) * (1 + cos(pi * progress)) / 2)."""
    by_steps = CosineByProgress(1e-3, steps=10, alpha=0.0)
    by_steps.on_train_begin()
    assert by_steps.current() == pytest.approx(1e-3)
    by_steps.step = 5
    assert by_steps.current() == pytest.approx(0.5e-3)
    by_steps.step = 12  # past the end: stays at the floor
    assert by_steps.current() == pytest.approx(0.0, abs=1e-12)

    by_time = CosineByProgress(1e-3, steps=1000, seconds=100.0, alpha=0.02)
    by_time.on_train_begin()
    by_time.start -= 50.0  # as if half the budget had passed after 0 steps
    assert by_time.progress() == pytest.approx(0.5, abs=1e-3)
    assert by_time.current() == pytest.approx(1e-3 * (0.02 + 0.98 * 0.5), rel=1e-2)
    by_time.step = 900  # steps ahead of time: the larger fraction wins
    assert by_time.progress() == pytest.approx(0.9)
    by_time.start -= 100.0
    assert by_time.current() == pytest.approx(0.02e-3)


def test_decay_ends_near_the_floor_without_a_budget():
    x = batch(32)
    model = DenseAutoencoder(latent_dim=4, hidden_units=(16,))
    result = train_autoencoder(model, x, epochs=2, batch_size=4, learning_rate=1e-3)
    rates = result.history["learning_rate"]
    assert rates[0] < 1e-3 and rates[-1] < 0.05 * 1e-3  # last of 16 steps: progress 15/16


def test_linear_autoencoder_matches_pca():
    """A linear AE trained to convergence reaches PCA's reconstruction error (within 2 %) on the same data."""
    from course_utils.baselines import pca_reconstruct
    from course_utils.data import load_digits
    from course_utils.metrics import mse

    images, _ = load_digits()
    x = images.reshape(len(images), -1)  # (1797, 64)
    k = 8
    pca_error = mse(x, pca_reconstruct(x, x, k))
    model = linear_autoencoder((64,), k)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.02, 300, 0.5)),
                  loss="mse", steps_per_execution=100)
    repeated = np.tile(x, (100, 1))  # (179700, 64): 100 full-batch steps per epoch, compiled together
    model.fit(repeated, repeated, batch_size=len(x), epochs=15, shuffle=False, verbose=0)
    ae_error = mse(x, model.predict(x, verbose=0))
    assert ae_error >= pca_error * (1 - 1e-3)  # PCA is optimal among rank-k linear maps
    assert ae_error <= pca_error * 1.02
