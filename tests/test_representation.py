"""Chapter 04 code-quality measures (sparsity, linear probe, Jacobian norm, tangents) and their figures, checked
against values worked by hand and against NumPy's SVD of a linear encoder."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.evaluation.representation import (
    fraction_inactive,
    hoyer_sparsity,
    linear_probe,
    mean_jacobian_norm,
    tangent_directions,
)
from course_utils.viz import plots


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def linear_encoder(kernel: np.ndarray, shape=(2, 3, 1)) -> keras.Sequential:
    """h = x W + b on flattened (2, 3, 1) inputs, with a known kernel W (6, d)."""
    encoder = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(kernel.shape[1])])
    encoder.layers[-1].set_weights([kernel.astype("float32"), np.full(kernel.shape[1], 0.3, "float32")])
    return encoder


def test_fraction_inactive_by_hand():
    codes = np.array([[0.0, 0.01, 0.5, -0.2], [0.04, -0.06, 1.0, 0.0]])  # |h| < 0.05: 2 + 2 of 8
    assert fraction_inactive(codes) == pytest.approx(0.5)
    assert fraction_inactive(codes, threshold=0.3) == pytest.approx(6 / 8)
    with pytest.raises(ValueError, match="threshold must be positive"):
        fraction_inactive(codes, threshold=0)


def test_hoyer_sparsity_dense_one_hot_zero_and_by_hand():
    assert hoyer_sparsity(np.full((3, 5), 0.7)) == pytest.approx(0.0)
    assert hoyer_sparsity(np.eye(5) * 3) == pytest.approx(1.0)
    assert hoyer_sparsity(np.zeros((2, 5))) == pytest.approx(1.0)  # no active unit at all
    half = (2 - 2 / np.sqrt(2)) / (2 - 1)  # [1, 1, 0, 0]: L1 = 2, L2 = sqrt(2), d = 4
    assert hoyer_sparsity([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]) == pytest.approx((half + 1.0) / 2)
    with pytest.raises(ValueError, match="at least 2 code units"):
        hoyer_sparsity(np.ones((3, 1)))


def test_linear_probe_separable_and_random_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    codes = rng.normal(size=(600, 8)) + 4.0 * np.eye(3, 8)[labels]  # three well separated clusters
    assert linear_probe(codes[:400], labels[:400], codes[400:], labels[400:]) > 0.98
    assert linear_probe(codes[:400], labels[:400], codes[400:], labels[400:], n_labels=30) > 0.95
    coin = rng.integers(0, 2, 600)  # labels unrelated to the codes
    assert 0.4 < linear_probe(codes[:400], coin[:400], codes[400:], coin[400:]) < 0.6


def test_linear_probe_subset_is_seeded_and_bad_input_raises():
    rng = np.random.default_rng(1)
    codes, labels = rng.normal(size=(200, 4)), rng.integers(0, 2, 200)
    first = linear_probe(codes, labels, codes, labels, n_labels=20, seed=3)
    assert linear_probe(codes, labels, codes, labels, n_labels=20, seed=3) == first
    with pytest.raises(ValueError, match="same length"):
        linear_probe(codes, labels[:-1], codes, labels)
    with pytest.raises(ValueError, match="n_labels must be between 2 and 200"):
        linear_probe(codes, labels, codes, labels, n_labels=500)
    with pytest.raises(ValueError, match="single class"):
        linear_probe(codes, np.zeros(200), codes, labels)
    with pytest.raises(ValueError, match="differ in size"):
        linear_probe(codes, labels, codes[:, :3], labels)


def test_mean_jacobian_norm_of_a_linear_encoder_is_the_kernel_norm():
    kernel = np.random.default_rng(2).normal(size=(6, 4))
    x = np.random.default_rng(3).random((7, 2, 3, 1))
    assert mean_jacobian_norm(linear_encoder(kernel), x, batch_size=3) == pytest.approx(np.linalg.norm(kernel), rel=1e-5)


def test_mean_jacobian_norm_averages_unsquared_norms():
    """h = relu(x w): the Jacobian is w where x w > 0 and 0 elsewhere, so the mean norm is ||w|| times the share on."""
    kernel = np.array([[1.0], [2.0], [0.0], [0.0], [0.0], [2.0]])  # ||w|| = 3
    encoder = keras.Sequential([keras.Input((2, 3, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(1, activation="relu", use_bias=False)])
    encoder.layers[-1].set_weights([kernel.astype("float32")])
    x = np.zeros((4, 2, 3, 1), "float32")
    x[:3, 0, 0, 0] = [1.0, 2.0, 3.0]  # three inputs switch the unit on, one leaves it off
    assert mean_jacobian_norm(encoder, x) == pytest.approx(3.0 * 3 / 4)


def test_tangent_directions_of_a_linear_encoder_are_the_svd_of_its_kernel():
    kernel = np.random.default_rng(4).normal(size=(6, 4))
    image = np.random.default_rng(5).random((2, 3, 1))
    directions, values = tangent_directions(linear_encoder(kernel), image, k=3)
    assert directions.shape == (3, 2, 3, 1) and values.shape == (3,)
    _, expected_values, vt = np.linalg.svd(kernel.T)  # J = W^T, (d, D)
    np.testing.assert_allclose(values, expected_values[:3], rtol=1e-5)
    flat = directions.reshape(3, 6)
    np.testing.assert_allclose(np.abs(np.sum(flat * vt[:3], axis=1)), 1.0, rtol=1e-5)  # the same up to sign
    np.testing.assert_allclose(flat @ flat.T, np.eye(3), atol=1e-5)
    with pytest.raises(ValueError, match=r"one input of shape \(2, 3, 1\)"):
        tangent_directions(linear_encoder(kernel), image[None])
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        tangent_directions(linear_encoder(kernel), image, k=5)


def test_plot_decoder_filters_shows_rows_as_images_on_one_zero_centred_scale():
    kernel = np.random.default_rng(6).normal(size=(20, 12)) + 0.5
    fig = plots.plot_decoder_filters(kernel, image_shape=(3, 4), n=10, ncols=5)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 10 and images[0].get_array().shape == (3, 4)
    np.testing.assert_array_equal(images[1].get_array(), kernel[1].reshape(3, 4))
    low, high = images[0].get_clim()
    assert low == -high == -np.abs(kernel[:10]).max()
    with pytest.raises(ValueError, match=r"decoder kernel \(d, 784\)"):
        plots.plot_decoder_filters(kernel)


def test_plot_tangents_titles_each_direction_with_its_singular_value():
    directions = np.random.default_rng(7).normal(size=(4, 28, 28, 1))
    fig = plots.plot_tangents(np.zeros((28, 28, 1)), directions, [3.0, 2.0, 1.5, 0.25])
    assert [ax.get_title() for ax in fig.axes] == ["image", "$\\sigma$ = 3", "$\\sigma$ = 2", "$\\sigma$ = 1.5",
                                                  "$\\sigma$ = 0.25"]
    with pytest.raises(ValueError, match="4 directions but 3 singular values"):
        plots.plot_tangents(np.zeros((28, 28, 1)), directions, [1.0, 2.0, 3.0])
