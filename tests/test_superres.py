"""Chapter 03: super-resolution models, bicubic baseline, low/high-res pairs, photo scores, compare widget."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.data import resolution
from course_utils.evaluation import superres as sr_eval
from course_utils.evaluation.baselines import bicubic_upsample
from course_utils.models import superres
from course_utils.viz.widgets import compare_widget


@pytest.mark.parametrize("design", superres.DESIGNS)
@pytest.mark.parametrize("scale", (2, 3, 4))
def test_models_return_the_right_shape(design, scale):
    model = superres.make_sr_model(design, scale, filters=8, depth=2)
    out = model(np.random.default_rng(0).random((2, 10, 12, 1), dtype=np.float32))
    assert tuple(out.shape) == (2, 10 * scale, 12 * scale, 1)


@pytest.mark.parametrize("design", superres.DESIGNS)
def test_keras_save_load_round_trip(design, tmp_path):
    import keras

    model = superres.make_sr_model(design, 3, filters=8, depth=2)
    x = np.random.default_rng(1).random((1, 9, 7, 1), dtype=np.float32)
    before = np.asarray(model(x))
    model.save(tmp_path / "sr.keras")
    loaded = keras.models.load_model(tmp_path / "sr.keras")
    assert type(loaded) is type(model) and loaded.get_config()["scale"] == 3
    np.testing.assert_array_equal(np.asarray(loaded(x)), before)


def test_residual_model_starts_near_bicubic_and_plain_model_does_not_add_it():
    x = np.random.default_rng(2).random((1, 8, 8, 1), dtype=np.float32)
    bicubic = bicubic_upsample(x, 2)
    residual = superres.make_sr_model("subpixel", 2, filters=4, depth=1)
    plain = superres.make_sr_model("subpixel", 2, filters=4, depth=1, residual=False)
    residual(x), plain(x)  # build both before copying weights
    plain.set_weights(residual.get_weights())
    np.testing.assert_allclose(np.asarray(residual(x)) - np.asarray(plain(x)), bicubic, atol=1e-5)


def test_depth_to_space_matches_tensorflow():
    import tensorflow as tf

    x = np.random.default_rng(3).random((2, 3, 4, 12), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(superres.DepthToSpace(2)(x)), tf.nn.depth_to_space(x, 2).numpy())


def test_bicubic_layer_equals_baseline_in_graph_mode():
    import tensorflow as tf

    layer = superres.BicubicUpsample(3)
    graph = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 1), tf.float32)])
    x = np.random.default_rng(4).random((1, 5, 7, 1), dtype=np.float32)
    np.testing.assert_allclose(graph(x).numpy(), bicubic_upsample(x, 3), atol=1e-6)


def test_low_high_pairs_shapes_range_and_antialiasing():
    high = np.random.default_rng(5).random((3, 13, 16, 1), dtype=np.float32)
    low, high_out = resolution.low_high_pairs(high, 4)
    assert low.shape == (3, 3, 4, 1) and high_out.shape == (3, 12, 16, 1)
    assert low.dtype == np.float32 and low.min() >= 0 and low.max() <= 1
    stripes = np.tile(np.array([0.0, 1.0], np.float32), 8)[None, None, :, None].repeat(16, axis=1)  # (1, 16, 16, 1)
    # Antialiasing averages the finest stripes to grey; naive subsampling would keep 0/1 values.
    low, _ = resolution.low_high_pairs(stripes, 2)
    assert np.allclose(low[:, 2:-2, 2:-2], 0.5, atol=0.05)


def test_patch_dataset_refuses_held_out_photos():
    assert set(resolution.HELD_OUT_PHOTOS).isdisjoint(resolution.TRAIN_PHOTOS) and len(resolution.HELD_OUT_PHOTOS) >= 3
    with pytest.raises(ValueError, match="held out"):
        resolution.sr_patch_dataset(2, 4, names=("astronaut", "camera"))
    low, high = resolution.sr_patch_dataset(2, 5, low_res_size=8, names=("astronaut",), seed=0)
    assert low.shape == (5, 8, 8, 1) and high.shape == (5, 16, 16, 1)


def test_training_lowers_the_loss_and_respects_the_time_budget():
    import keras

    from course_utils import set_seed
    from course_utils.data import make_dataset
    from course_utils.training import fit_with_budget

    set_seed(0)
    low, high = resolution.sr_patch_dataset(2, 64, low_res_size=8, names=("astronaut", "brick"), seed=0)
    model = superres.make_sr_model("resize", 2, filters=8, depth=1, residual=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    data = make_dataset(low, high, batch_size=16)
    fit = fit_with_budget(model, data, epochs=6, progress="none")
    assert fit.history["loss"][-1] < fit.history["loss"][0]
    stopped = fit_with_budget(model, data, epochs=1000, time_budget_s=0.0, progress="none")
    assert stopped.epochs_run == 1 and stopped.steps == 1


def test_evaluate_and_compare_widget_and_fallback():
    import matplotlib

    matplotlib.use("Agg")
    rows = sr_eval.evaluate_sr(None, 4, names=("camera",))
    assert rows[0]["image"] == "camera" and 15 < rows[0]["bicubic_psnr"] < 40 and "model_psnr" not in rows[0]
    model = superres.make_sr_model("transposed", 4, filters=4, depth=1)
    results = {name: sr_eval.super_resolve_photo(model, name, 4) for name in ("camera", "chelsea")}
    assert results["camera"]["model"].shape == results["camera"]["high_res"].shape
    scores = {name: {m: q["psnr"] for m, q in sr_eval.photo_quality(images, border=4).items()}
              for name, images in results.items()}
    assert scores["camera"]["bicubic"] == pytest.approx(rows[0]["bicubic_psnr"])
    figure = compare_widget(results, scores, crop=32, interactive=False)
    assert len(figure.axes) == 6
    assert figure.axes[0].get_title() == f"camera | bicubic: {scores['camera']['bicubic']:.2f} dB"
    widget = compare_widget(results, scores, crop=32, interactive=True)
    assert type(widget).__name__ == "VBox"
    assert len(compare_widget(results, crop=32).axes) == 6  # pytest is no widget front end: static


@pytest.mark.parametrize("design", superres.DESIGNS)
def test_untrained_residual_model_returns_exactly_bicubic(design):
    """The zero-initialised head makes an untrained model equal to its bicubic skip, so it scores as bicubic."""
    x = np.random.default_rng(6).random((2, 9, 11, 1), dtype=np.float32)
    model = superres.make_sr_model(design, 2, filters=8, depth=2)
    np.testing.assert_allclose(np.asarray(model(x)), bicubic_upsample(x, 2), atol=1e-6)
    images = sr_eval.super_resolve_photo(model, "camera", 2)
    quality = sr_eval.photo_quality(images, border=2)
    assert quality["model"]["psnr"] == pytest.approx(quality["bicubic"]["psnr"], abs=1e-3)


def _subpixel_upsampler(initializer, scale=2, channels=3):
    import keras

    return keras.Sequential([keras.Input((12, 12, 2)),
                             keras.layers.Conv2D(channels * scale ** 2, 3, padding="same",
                                                 kernel_initializer=initializer),  # (batch, 12, 12, s*s*c)
                             superres.DepthToSpace(scale)])  # (batch, 12s, 12s, c)


@pytest.mark.parametrize("scale", (2, 3))
def test_icnr_subpixel_output_of_a_constant_input_is_exactly_constant(scale):
    import keras

    from course_utils.models.initializers import ICNR

    keras.utils.set_random_seed(0)
    flat = np.full((1, 12, 12, 2), 0.7, dtype=np.float32)  # (1, 12, 12, 2)
    out = np.asarray(_subpixel_upsampler(ICNR(scale), scale)(flat))[0]  # (12s, 12s, 3)
    interior = out[scale:-scale, scale:-scale]  # away from the zero padding of the 3x3 convolution
    assert np.ptp(interior, axis=(0, 1)).max() == 0.0  # exactly flat: no checkerboard
    blocks = out.reshape(12, scale, 12, scale, 3)
    assert np.ptp(blocks, axis=(1, 3)).max() == 0.0  # every s x s block is one value, even at the border
    random = np.asarray(_subpixel_upsampler("glorot_uniform", scale)(flat))[0, scale:-scale, scale:-scale]
    assert np.ptp(random, axis=(0, 1)).min() > 1e-3  # the default initialiser draws a grid


def test_icnr_tiles_one_draw_and_round_trips():
    import keras

    from course_utils.models.initializers import ICNR

    kernel = np.asarray(ICNR(2, "he_normal")((3, 3, 4, 8)))  # (3, 3, 4, 2*2*2)
    np.testing.assert_array_equal(kernel[..., :2], kernel[..., 2:4])
    np.testing.assert_array_equal(kernel[..., :2], kernel[..., 6:])
    assert np.std(kernel) > 0
    again = keras.initializers.deserialize(keras.initializers.serialize(ICNR(3)))
    assert isinstance(again, ICNR) and again.scale == 3
    with pytest.raises(ValueError, match="multiple of scale"):
        ICNR(2)((3, 3, 4, 6))


def test_subpixel_model_starts_with_icnr_and_keeps_its_weight_shapes():
    from course_utils.models.initializers import ICNR

    model = superres.make_sr_model("subpixel", 2, filters=32, depth=4)
    layer = model.upsampler[0]
    assert isinstance(layer.kernel_initializer, ICNR)
    assert tuple(layer.kernel.shape) == (3, 3, 32, 128)
    kernel = np.asarray(layer.kernel)
    np.testing.assert_array_equal(kernel[..., :32], kernel[..., 96:])
    assert model.count_params() == 65_345  # unchanged: pretrained checkpoints still load
