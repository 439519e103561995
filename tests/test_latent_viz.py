"""Chapter 06 pictures: the manifold grid's codes and tiling, image rows and traversals, the rate-distortion plot."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.stats import norm

from course_utils.viz.latent import (
    manifold_codes,
    plot_image_rows,
    plot_manifold_grid,
    plot_rate_distortion,
    plot_traversals,
)


def identity_decoder(codes):
    """A 'decoder' that paints each code into a 2x3 image: top row z1, bottom row z2 (scaled to [0, 1])."""
    codes = np.asarray(codes)
    images = np.zeros((len(codes), 2, 3, 1), np.float32)
    images[:, 0] = norm.cdf(codes[:, :1, None])
    images[:, 1] = norm.cdf(codes[:, 1:2, None])
    return images


def test_manifold_codes_are_prior_quantiles_with_high_z2_on_top():
    codes = manifold_codes(n=3, tail=0.1)
    q = norm.ppf([0.1, 0.5, 0.9])
    np.testing.assert_allclose(codes[:3], [[q[0], q[2]], [q[1], q[2]], [q[2], q[2]]], rtol=1e-6)
    np.testing.assert_allclose(codes[-1], [q[2], q[0]], rtol=1e-6)
    with pytest.raises(ValueError, match="tail"):
        manifold_codes(3, tail=0.5)


def test_manifold_grid_tiles_each_decoded_code_in_its_cell():
    fig = plot_manifold_grid(identity_decoder, n=3, tail=0.1)
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (6, 9)
    np.testing.assert_allclose(canvas[0, 0:3], 0.1, atol=1e-6)  # top-left cell: z1 at the 10 % quantile
    np.testing.assert_allclose(canvas[1, 0:3], 0.9, atol=1e-6)  # its z2 is the 90 % quantile (top row)
    np.testing.assert_allclose(canvas[4, 6:9], 0.9, atol=1e-6)  # bottom-right cell: z1 at 90 %
    np.testing.assert_allclose(canvas[5, 6:9], 0.1, atol=1e-6)  # and z2 at 10 %
    plt.close(fig)


def test_traversal_rows_change_only_the_named_coordinate():
    fig = plot_traversals(identity_decoder, [0.0, 0.0], dims=[1], values=[-1.0, 0.0, 1.0], labels={1: "z1 label"})
    shown = [ax.images[0].get_array() for ax in fig.axes]
    assert len(shown) == 3 and fig.axes[0].get_ylabel() == "z1 label"
    np.testing.assert_allclose([image[1, 0] for image in shown], norm.cdf([-1.0, 0.0, 1.0]), atol=1e-6)
    np.testing.assert_allclose([image[0, 0] for image in shown], 0.5, atol=1e-6)
    plt.close(fig)
    with pytest.raises(ValueError, match="latent indices"):
        plot_traversals(identity_decoder, [0.0, 0.0], dims=[2], values=[0.0])


def test_image_rows_and_rate_distortion_plot():
    images = np.random.default_rng(0).random((5, 4, 4, 1))
    fig = plot_image_rows({"a": images, "b": images[:3]}, n=10)
    assert len(fig.axes) == 6  # two rows of min(10, 5, 3) images
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one row"):
        plot_image_rows({})
    fig = plot_rate_distortion({"sweep": [(30.0, 200.0, "β=1"), (5.0, 260.0, "β=4")]})
    x, y = fig.axes[0].lines[0].get_data()
    assert list(x) == [5.0, 30.0] and list(y) == [260.0, 200.0]  # sorted by rate
    plt.close(fig)
