"""Chapter 03: super-resolution models, bicubic baseline, LR/HR pairs, metrics and the compare widget."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils import metrics, superres


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
    bicubic = superres.bicubic_upsample(x, 2)
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
    np.testing.assert_allclose(graph(x).numpy(), superres.bicubic_upsample(x, 3), atol=1e-6)


def test_lr_hr_pairs_shapes_range_and_antialiasing():
    hr = np.random.default_rng(5).random((3, 13, 16, 1), dtype=np.float32)
    lr, hr_out = superres.make_lr_hr_pairs(hr, 4)
    assert lr.shape == (3, 3, 4, 1) and hr_out.shape == (3, 12, 16, 1)
    assert lr.dtype == np.float32 and lr.min() >= 0 and lr.max() <= 1
    stripes = np.tile(np.array([0.0, 1.0], np.float32), 8)[None, None, :, None].repeat(16, axis=1)  # (1, 16, 16, 1)
    # Antialiasing averages the finest stripes to grey; naive subsampling would keep 0/1 values.
    low, _ = superres.make_lr_hr_pairs(stripes, 2)
    assert np.allclose(low[:, 2:-2, 2:-2], 0.5, atol=0.05)


def test_patch_dataset_refuses_held_out_photos():
    assert set(superres.HELD_OUT_PHOTOS).isdisjoint(superres.TRAIN_PHOTOS) and len(superres.HELD_OUT_PHOTOS) >= 3
    with pytest.raises(ValueError, match="held out"):
        superres.sr_patch_dataset(2, 4, names=("astronaut", "camera"))
    lr, hr = superres.sr_patch_dataset(2, 5, lr_patch_size=8, names=("astronaut",), seed=0)
    assert lr.shape == (5, 8, 8, 1) and hr.shape == (5, 16, 16, 1)


def test_metrics_by_hand():
    assert metrics.psnr_from_mse(0.01) == pytest.approx(20.0)
    assert metrics.psnr_from_mse(4.0, max_val=2.0) == pytest.approx(0.0)
    target = np.full((1, 16, 16, 1), 0.5, np.float32)
    pred = target + 0.1
    scores = superres.sr_metrics(pred, target)
    assert scores["psnr"] == pytest.approx(20.0, abs=1e-3)
    assert superres.sr_metrics(target, target)["ssim"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        superres.sr_metrics(pred[:, :8], target)


def test_training_lowers_the_loss_and_respects_the_time_budget():
    from course_utils import set_seed

    set_seed(0)
    lr, hr = superres.sr_patch_dataset(2, 64, lr_patch_size=8, names=("astronaut", "brick"), seed=0)
    model = superres.make_sr_model("resize", 2, filters=8, depth=1, residual=False)
    fit = superres.train_sr(model, lr, hr, epochs=6, batch_size=16, learning_rate=3e-3)
    assert fit["loss"][-1] < fit["loss"][0]
    stopped = superres.train_sr(model, lr, hr, epochs=1000, batch_size=16, seconds=0.0)
    assert stopped["epochs"] == 1 and stopped["steps"] == 1


def test_evaluate_and_compare_widget_and_fallback():
    import matplotlib

    matplotlib.use("Agg")
    rows = superres.evaluate_sr(None, 4, names=("camera",))
    assert rows[0]["image"] == "camera" and 15 < rows[0]["bicubic_psnr"] < 40 and "model_psnr" not in rows[0]
    model = superres.make_sr_model("transposed", 4, filters=4, depth=1)
    results = {name: superres.super_resolve_photo(model, name, 4) for name in ("camera", "chelsea")}
    assert results["camera"]["model"].shape == results["camera"]["hr"].shape
    figure = superres.compare_widget(results, crop=32, interactive=False)
    assert len(figure.axes) == 6
    widget = superres.compare_widget(results, crop=32, interactive=True)
    assert type(widget).__name__ == "VBox"
    assert len(superres.compare_widget(results, crop=32).axes) == 6  # pytest is no widget front end: static
