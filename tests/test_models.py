"""Reference models (chapters 01-03): builders, shapes, parameter counts, layer names, saving, old files, PCA."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.models import (
    Autoencoder,
    ConvAutoencoder,
    DenseAutoencoder,
    conv_decoder,
    conv_encoder,
    linear_autoencoder,
)

SAVED = Path(__file__).parent / "fixtures" / "saved_models"


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def batch(n=4, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")



def test_dense_shapes_and_params():
    model = DenseAutoencoder()
    assert model(batch()).shape == (4, 28, 28, 1)
    assert model.encoder.output_shape == (None, 32)
    assert model.decoder.output_shape == (None, 28, 28, 1)
    assert model.count_params() == 1_088_304
    assert DenseAutoencoder(latent_dim=2, hidden_units=(64,), batch_norm=False).count_params() == 101_522


def test_linear_autoencoder_params():
    model = linear_autoencoder((784,), 16)
    assert model(np.zeros((2, 784), "float32")).shape == (2, 784)
    assert model.count_params() == 784 * 16 + 16 + 16 * 784 + 784


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
        assert model.count_params() == params


def test_decoder_kernel_size_changes_the_decoder_alone():
    one_variable, both = ConvAutoencoder(decoder_kernel_size=4), ConvAutoencoder(kernel_size=4)
    kernels = lambda part: {layer.kernel_size for layer in part.layers if hasattr(layer, "kernel_size")}
    assert kernels(one_variable.encoder) == {(3, 3)} and kernels(one_variable.decoder) == {(4, 4)}
    assert kernels(both.encoder) == {(4, 4)}
    assert 465_953 < one_variable.count_params() < both.count_params()
    assert one_variable(batch()).shape == (4, 28, 28, 1)
    assert ConvAutoencoder.from_config(one_variable.get_config()).count_params() == one_variable.count_params()


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


def test_linear_autoencoder_matches_pca():
    """A linear AE trained to convergence reaches PCA's reconstruction error (within 2 %) on the same data."""
    from course_utils.data import load_digits
    from course_utils.evaluation.metrics import mse
    from course_utils.from_scratch.pca import pca_reconstruct

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


def test_models_are_built_in_init_and_named_layers_can_be_addressed():
    model = ConvAutoencoder(latent_dim=None, filters=(4, 8), downsample="max", batch_norm=True)
    assert model.built and model.count_params() > 0  # no call needed first
    assert isinstance(model, Autoencoder) and model.code_shape == (7, 7, 8)
    assert model.encoder.get_layer("down_2_pool").output.shape == (None, 7, 7, 8)
    assert model.decoder.get_layer("up_1_act").output.shape == (None, 28, 28, 4)
    assert model.decoder.get_layer("output").output.shape == (None, 28, 28, 1)
    vector = ConvAutoencoder(latent_dim=5, filters=(4, 8))
    assert vector.encoder.get_layer("flatten").input.shape == (None, 7, 7, 8)
    assert vector.encoder.get_layer("code").output.shape == (None, 5)


def test_encode_decode_equal_the_sub_models():
    model = DenseAutoencoder(latent_dim=3, hidden_units=(8,))
    x = batch(2)
    np.testing.assert_allclose(model.encode(x), model.encoder(x), atol=1e-6)
    np.testing.assert_allclose(model.decode(model.encode(x)), model(x), atol=1e-6)


def test_builders_serve_other_models():
    """A variant can take the chapter-02 builders as they are, e.g. an encoder for mean and log-variance."""
    encoder = conv_encoder((28, 28, 1), filters=(8, 16), latent_dim=2 * 4)
    decoder = conv_decoder((28, 28, 1), filters=(8, 16), latent_dim=4)
    assert encoder.output_shape == (None, 8) and decoder.output_shape == (None, 28, 28, 1)
    model = Autoencoder(conv_encoder((28, 28, 1), filters=(8,), latent_dim=4), conv_decoder((28, 28, 1), filters=(8,),
                                                                                         latent_dim=4))
    assert model(batch(2)).shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match="upsample must be one of"):
        conv_decoder((28, 28, 1), upsample="magic")


@pytest.mark.parametrize("name", ["dense", "conv", "conv_map_max_up", "sr_transposed", "sr_resize", "sr_subpixel"])
def test_models_saved_by_an_earlier_layout_still_load(name):
    expected = np.load(SAVED / "outputs.npz")[name]
    seed = 1 if name.startswith("sr_") else 0
    x = np.random.default_rng(seed).random((2, 28, 28, 1) if seed == 0 else (1, 12, 12, 1)).astype("float32")
    model = keras.models.load_model(SAVED / f"{name}.keras")
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, atol=1e-6)


def test_code_dropout_drops_code_units_only_while_training(tmp_path):
    model = DenseAutoencoder(latent_dim=64, hidden_units=(), code_activation="sigmoid", batch_norm=False,
                             code_dropout=0.5, name="code_dropout_ae")
    assert model.decoder.layers[0].name == "code_dropout"
    assert model.count_params() == DenseAutoencoder(latent_dim=64, hidden_units=(), batch_norm=False).count_params()
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    assert np.allclose(model(x, training=False), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=True))
    model.save(tmp_path / "dropout.keras")
    loaded = keras.models.load_model(tmp_path / "dropout.keras")
    assert loaded.get_config()["code_dropout"] == 0.5
    assert np.allclose(loaded(x), model(x), atol=1e-6)
