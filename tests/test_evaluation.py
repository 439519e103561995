"""Metrics and baselines checked against hand-computed values and independent computations (chapters 01-03)."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.evaluation.baselines import PCABaseline, pca_mse_curve
from course_utils.evaluation.metrics import (
    bce_loss,
    binary_cross_entropy,
    image_quality,
    mse,
    mse_loss,
    per_sample_mse,
    psnr,
    psnr_from_mse,
    ssim,
)
from course_utils.from_scratch.pca import pca_reconstruct


def test_mse_by_hand():
    assert mse([[0.0, 1.0]], [[0.5, 0.5]]) == pytest.approx(0.25)
    np.testing.assert_allclose(per_sample_mse(np.array([[0, 0], [1, 1.0]]), np.array([[1, 0], [1, 1.0]])), [0.5, 0])


def test_bce_by_hand():
    # -(1*log 0.8 + 1*log 0.8) / 2 = -log 0.8
    assert binary_cross_entropy([[1.0, 0.0]], [[0.8, 0.2]]) == pytest.approx(-np.log(0.8))
    assert binary_cross_entropy([[0.5]], [[0.5]]) == pytest.approx(np.log(2))
    assert np.isfinite(binary_cross_entropy([[1.0, 0.0]], [[0.0, 1.0]]))


def test_psnr_by_hand():
    assert psnr([[0.0, 0.0]], [[0.1, 0.1]]) == pytest.approx(20.0)
    assert psnr([[0.3]], [[0.3]]) == float("inf")


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        mse(np.zeros((2, 3)), np.zeros((3, 2)))


def test_keras_losses_agree_with_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 5)).astype("float32"), rng.uniform(0.01, 0.99, (4, 5)).astype("float32")
    assert float(mse_loss(x, y)) == pytest.approx(mse(x, y), rel=1e-5)
    assert float(bce_loss(x, y)) == pytest.approx(binary_cross_entropy(x, y), rel=1e-5)


def test_pca_reconstruct_by_hand():
    # Points on the line y = 2x (+ offset): one component reconstructs them exactly.
    x_train = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 5.0]])
    np.testing.assert_allclose(pca_reconstruct(x_train, np.array([[3.0, 7.0]]), 1), [[3.0, 7.0]], atol=1e-12)
    # A point off the line projects orthogonally onto it: (1, 1) onto the line through (1, 3) with slope 2.
    np.testing.assert_allclose(pca_reconstruct(x_train, np.array([[1.0 + 2.0, 3.0 - 1.0]]), 1), [[1.0, 3.0]],
                               atol=1e-12)


def test_pca_baseline_matches_numpy_and_curve():
    rng = np.random.default_rng(1)
    x_train, x_test = rng.random((200, 6, 6, 1)), rng.random((20, 6, 6, 1))
    pca = PCABaseline(5).fit(x_train)
    assert pca.encode(x_test).shape == (20, 5)
    assert pca.components.shape == (5, 6, 6, 1)
    np.testing.assert_allclose(pca.reconstruct(x_test), pca_reconstruct(x_train, x_test, 5), atol=1e-4)
    curve = pca_mse_curve(x_train, x_test, [1, 5, 36])
    assert curve[1] > curve[5] > curve[36]
    assert curve[5] == pytest.approx(mse(x_test, pca_reconstruct(x_train, x_test, 5)), rel=1e-3)
    assert curve[36] == pytest.approx(0.0, abs=1e-10)


def test_pca_baseline_needs_fit():
    with pytest.raises(RuntimeError):
        PCABaseline(2).encode(np.zeros((1, 4)))


def test_psnr_from_mse_by_hand():
    assert psnr_from_mse(0.01) == pytest.approx(20.0)
    assert psnr_from_mse(4.0, max_val=2.0) == pytest.approx(0.0)


def test_ssim_and_image_quality_agree_with_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(3)
    target = rng.random((2, 16, 16, 1)).astype(np.float32)
    pred = np.clip(target + rng.normal(0, 0.05, target.shape), 0, 1).astype(np.float32)
    assert ssim(target, target) == pytest.approx(1.0)
    assert ssim(target, pred) == pytest.approx(float(tf.reduce_mean(tf.image.ssim(target, pred, 1.0))), rel=1e-5)
    flat = np.full((1, 16, 16, 1), 0.5, np.float32)
    scores = image_quality(flat + 0.1, flat)
    assert scores["psnr"] == pytest.approx(20.0, abs=1e-3)
    assert image_quality(flat + 2.0, flat)["psnr"] == pytest.approx(psnr(flat, np.ones_like(flat)))  # clipped
    border = np.zeros((1, 16, 16, 1), np.float32)
    border[:, :2] = 1.0  # errors only in a 2-pixel border
    assert image_quality(border, np.zeros_like(border), border=2)["psnr"] == float("inf")
    with pytest.raises(ValueError, match="shape"):
        image_quality(flat[:, :8], flat)
    with pytest.raises(ValueError, match="batch, height"):
        ssim(flat[0], flat[0])


def test_reference_values_come_from_benchmark_results(tmp_path, capsys):
    import json

    from course_utils.evaluation.references import compare_with_reference, reference_value

    (tmp_path / "demo.json").write_text(json.dumps({"models": {"ae": {"test_mse": 0.0075}}, "rows": [1.5]}))
    assert reference_value("demo", ["models", "ae", "test_mse"], tmp_path) == 0.0075
    assert reference_value("demo", ["rows", 0], tmp_path) == 1.5
    assert reference_value("demo", ["models", "nope"], tmp_path) is None
    assert reference_value("missing", ["x"], tmp_path) is None
    line = compare_with_reference("test MSE", 0.008, "demo", ["models", "ae", "test_mse"], results_dir=tmp_path)
    assert line == "test MSE: yours 0.008, reference 0.0075 (benchmarks/results/demo.json)"
    assert "no reference" in compare_with_reference("x", 1.0, "missing", ["x"], results_dir=tmp_path)
    assert reference_value("autoencoders", ["models", "dense_ae_32", "test_mse"]) is not None  # the repo's own
    capsys.readouterr()
