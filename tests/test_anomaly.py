"""Chapter 05 anomaly detection: AUROC, thresholds, reports, classical scores, reconstruction scores, figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.evaluation.anomaly import (
    auroc,
    blurred_error_scores,
    code_knn_scores,
    combine_scores,
    detection_report,
    error_maps,
    isolation_forest_scores,
    knn_distance_scores,
    median_heuristic_gamma,
    ocsvm_scores,
    one_class_split,
    pca_residual_scores,
    reconstruction_scores,
    standardise,
    threshold_at_fpr,
)
from course_utils.models import Autoencoder, DenseAutoencoder
from course_utils.viz import anomaly as viz


@pytest.fixture(autouse=True)
def _seed_and_close():
    keras.utils.set_random_seed(0)
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def mann_whitney_auroc(scores, labels):
    """Share of (anomaly, normal) pairs where the anomaly scores higher, ties counting one half."""
    scores, labels = np.asarray(scores), np.asarray(labels).astype(bool)
    diff = scores[labels][:, None] - scores[~labels][None, :]  # (n_anomalies, n_normals)
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def toy_rows(n_normal=200, n_outliers=20, seed=0):
    """Normal rows near a 2-D plane in 20 dimensions, outliers far off it in every coordinate; (n, 4, 5, 1) images."""
    rng = np.random.default_rng(seed)
    plane = rng.normal(size=(2, 20))
    normal = rng.normal(size=(n_normal + 50, 2)) @ plane + 0.05 * rng.normal(size=(n_normal + 50, 20))
    outliers = 8.0 + rng.normal(size=(n_outliers, 20))
    train, test = normal[:n_normal], np.concatenate([normal[n_normal:], outliers])
    is_anomaly = np.r_[np.zeros(50, bool), np.ones(n_outliers, bool)]
    return train.reshape(-1, 4, 5, 1), test.reshape(-1, 4, 5, 1), is_anomaly


def halving_model(shape=(4, 4, 2)):
    """A 'reconstruction' x' = x / 2 with a known error (x / 2)^2."""
    return keras.Sequential([keras.Input(shape), keras.layers.Rescaling(0.5)])


def flatten_autoencoder(shape=(4, 5, 1)):
    """An autoencoder whose code is the flattened image, so code space is pixel space."""
    size = int(np.prod(shape))
    encoder = keras.Sequential([keras.Input(shape), keras.layers.Flatten()])
    decoder = keras.Sequential([keras.Input((size,)), keras.layers.Reshape(shape)])
    return Autoencoder(encoder, decoder)


# --- AUROC ------------------------------------------------------------------------------------------------------

def test_auroc_hand_case():
    # anomalies 0.35 and 0.8 against normals 0.1 and 0.4: 3 of the 4 pairs are ordered right
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auroc([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0]) == pytest.approx(0.25)


def test_auroc_matches_a_mann_whitney_count_with_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 6, 300).astype(float)  # many ties
    labels = rng.random(300) < 0.3
    scores[labels] += rng.integers(0, 3, labels.sum())
    assert auroc(scores, labels) == pytest.approx(mann_whitney_auroc(scores, labels), abs=1e-12)


@pytest.mark.parametrize("scores,labels,message", [
    ([0.1, 0.2, 0.3], [1, 1, 1], "only anomalies"),
    ([0.1, 0.2, 0.3], [0, 0, 0], "only normals"),
    ([0.1, 0.2], [0, 1, 1], "one entry per score"),
    ([0.1, np.nan], [0, 1], "finite"),
    ([[0.1, 0.2]], [0, 1], "1-D"),
    ([0.1, 0.2], [0, 2], "0/1"),
])
def test_auroc_bad_inputs(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        auroc(scores, labels)


# --- threshold and report ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fpr,flagged", [(0.0, 0), (0.01, 2), (0.05, 10), (0.1, 20), (0.29, 58), (0.5, 100),
                                         (0.9, 180), (0.0749, 14)])
def test_threshold_gives_the_requested_fpr_on_distinct_scores(fpr, flagged):
    scores = np.random.default_rng(2).normal(size=200)  # 200 distinct scores
    assert np.sum(scores > threshold_at_fpr(scores, fpr)) == flagged


def best_share(scores, fpr):
    """Brute force: the largest share flagged by any threshold that keeps it <= fpr."""
    candidates = np.r_[np.unique(scores), -np.inf]
    shares = [np.mean(scores > t) for t in candidates]
    return max(s for s in shares if s <= fpr + 1e-12)


@pytest.mark.parametrize("fpr", [0.02, 0.05, 0.1, 0.2, 0.33])
def test_threshold_with_ties_flags_as_close_to_fpr_as_ties_allow(fpr):
    scores = np.random.default_rng(3).integers(0, 12, 150).astype(float)  # heavy ties
    share = np.mean(scores > threshold_at_fpr(scores, fpr))
    assert share <= fpr
    assert share == pytest.approx(best_share(scores, fpr))


def test_threshold_bad_inputs():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        threshold_at_fpr([0.1, 0.2], 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        threshold_at_fpr([0.1, 0.2], -0.1)
    with pytest.raises(ValueError, match="non-empty"):
        threshold_at_fpr([], 0.05)


def test_detection_report_hand_counts():
    scores = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2]
    labels = [0, 0, 1, 1, 1, 0]
    # above 0.4: 0.5 (normal: false alarm), 0.9 and 0.7 (anomalies); 0.3 is a missed anomaly; 0.1, 0.2 normal
    report = detection_report(scores, labels, 0.4)
    np.testing.assert_array_equal(report["confusion_matrix"], [[2, 1], [1, 2]])
    assert report["precision"] == pytest.approx(2 / 3)
    assert report["recall"] == pytest.approx(2 / 3)
    assert report["false_positive_rate"] == pytest.approx(1 / 3)
    assert report["flagged"] == 3 and report["threshold"] == 0.4
    nothing = detection_report(scores, labels, 1.0)
    assert nothing["precision"] == 0.0 and nothing["recall"] == 0.0 and nothing["flagged"] == 0


def test_threshold_then_report_round_trip_on_validation_normals():
    normal_val = np.random.default_rng(4).gamma(2.0, size=400)
    threshold = threshold_at_fpr(normal_val, 0.05)
    report = detection_report(np.r_[normal_val, normal_val + 100], np.r_[np.zeros(400), np.ones(400)], threshold)
    assert report["false_positive_rate"] == pytest.approx(20 / 400)
    assert report["recall"] == 1.0


# --- standardised and combined scores ---------------------------------------------------------------------------

def test_standardise_and_combine_by_hand():
    # normal validation scores 1, 2, 3: mean 2, population std sqrt(2/3)
    unit = np.sqrt(2 / 3)
    np.testing.assert_allclose(standardise([2.0, 4.0], [1.0, 2.0, 3.0]), [0.0, 2 / unit])
    combined = combine_scores({"a": np.array([4.0]), "b": np.array([30.0])},
                              {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([10.0, 20.0, 30.0])})
    np.testing.assert_allclose(combined, [2 / unit + 1 / unit])
    with pytest.raises(ValueError, match="all equal"):
        standardise([1.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="same non-empty keys"):
        combine_scores({"a": np.ones(2)}, {"b": np.ones(2)})


# --- classical scores -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scorer", [pca_residual_scores, ocsvm_scores, isolation_forest_scores, knn_distance_scores])
def test_classical_scorers_separate_obvious_outliers(scorer):
    train, test, is_anomaly = toy_rows()
    kwargs = dict(n_components=2) if scorer is pca_residual_scores else {}
    assert auroc(scorer(train, test, **kwargs), is_anomaly) == 1.0


def test_knn_distance_against_numpy():
    rng = np.random.default_rng(5)
    train, x = rng.normal(size=(30, 6)), rng.normal(size=(7, 6))
    distances = np.sqrt(((x[:, None] - train[None]) ** 2).sum(-1))  # (7, 30)
    np.testing.assert_allclose(knn_distance_scores(train, x, k=3), np.sort(distances, axis=1)[:, 2], rtol=1e-5)
    with pytest.raises(ValueError, match="k must be between 1 and the 30"):
        knn_distance_scores(train, x, k=31)


def test_pca_residual_against_numpy_svd():
    rng = np.random.default_rng(6)
    train, x = rng.normal(size=(50, 8)), rng.normal(size=(5, 8))
    mean = train.mean(0)
    basis = np.linalg.svd(train - mean, full_matrices=False)[2][:3]  # (3, 8)
    residual = (x - mean) - (x - mean) @ basis.T @ basis
    np.testing.assert_allclose(pca_residual_scores(train, x, n_components=3), (residual ** 2).mean(1), rtol=1e-4)
    with pytest.raises(ValueError, match="n_components"):
        pca_residual_scores(train, x, n_components=9)


def test_median_heuristic_against_numpy():
    rows = np.random.default_rng(7).normal(size=(12, 3))
    squared = ((rows[:, None] - rows[None]) ** 2).sum(-1)[np.triu_indices(12, 1)]
    assert median_heuristic_gamma(rows) == pytest.approx(1 / np.median(squared))
    with pytest.raises(ValueError, match="two different"):
        median_heuristic_gamma(np.ones((5, 3)))


def test_classical_scorers_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same image shape"):
        knn_distance_scores(np.zeros((10, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="nu"):
        ocsvm_scores(np.random.default_rng(0).normal(size=(10, 4)), np.zeros((3, 4)), nu=0.0)


# --- reconstruction scores --------------------------------------------------------------------------------------

def test_reconstruction_scores_and_error_maps_against_numpy():
    x = np.random.default_rng(8).random((5, 4, 4, 2)).astype("float32")
    model = halving_model()
    np.testing.assert_allclose(reconstruction_scores(model, x, batch_size=2), ((x / 2) ** 2).mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    maps = error_maps(model, x)
    assert maps.shape == (5, 4, 4)
    np.testing.assert_allclose(maps, ((x / 2) ** 2).mean(axis=-1), rtol=1e-5)
    with pytest.raises(ValueError, match="height, width, channels"):
        error_maps(model, x.reshape(5, 32))


def test_blurred_error_keeps_regional_errors_and_drops_pixel_texture():
    grey = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(0.0, offset=0.5)])  # x' = 0.5
    flat = np.full((2, 28, 28, 1), 0.8, "float32")  # residual 0.3 everywhere: a blur leaves it as it is
    np.testing.assert_allclose(blurred_error_scores(grey, flat), [0.09, 0.09], rtol=1e-5)
    rows, cols = np.indices((28, 28))
    checker = (0.5 + 0.3 * (-1.0) ** (rows + cols))[None, :, :, None].astype("float32")  # residual +-0.3
    assert reconstruction_scores(grey, checker)[0] == pytest.approx(0.09, rel=1e-5)
    assert blurred_error_scores(grey, checker)[0] < 0.05 * 0.09
    with pytest.raises(ValueError, match="positive"):
        blurred_error_scores(grey, flat, sigma=0.0)


def test_reconstruction_scores_need_an_autoencoder():
    encoder_only = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="pass an autoencoder"):
        reconstruction_scores(encoder_only, np.zeros((2, 4, 4, 1)))


def test_code_knn_in_a_pixel_code_space_equals_pixel_knn():
    train, test, _ = toy_rows(60, 5)
    np.testing.assert_allclose(code_knn_scores(flatten_autoencoder(), train, test),
                               knn_distance_scores(train, test), rtol=1e-5)


def test_scores_survive_a_keras_round_trip(tmp_path):
    model = DenseAutoencoder(input_shape=(6, 6, 1), latent_dim=3, hidden_units=(8,))
    x = np.random.default_rng(9).random((10, 6, 6, 1)).astype("float32")
    model.save(tmp_path / "ae.keras")
    loaded = keras.models.load_model(tmp_path / "ae.keras")
    np.testing.assert_allclose(reconstruction_scores(loaded, x), reconstruction_scores(model, x), rtol=1e-6)
    np.testing.assert_allclose(code_knn_scores(loaded, x, x[:3], k=2), code_knn_scores(model, x, x[:3], k=2),
                               rtol=1e-5)


# --- the one-class split ----------------------------------------------------------------------------------------

def test_one_class_split_keeps_anomalies_out_of_training():
    rng = np.random.default_rng(10)
    y_train, y_test = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 5)
    x_train = y_train[:, None, None, None] + rng.random((60, 2, 2, 1)) * 0.1  # the class is readable from pixels
    split = one_class_split(1, val_fraction=0.25, data=((x_train, y_train), (np.zeros((15, 2, 2, 1)), y_test)))
    assert split.x_train.shape == (15, 2, 2, 1) and split.x_val.shape == (5, 2, 2, 1)
    assert np.all(np.floor(split.x_train) == 1) and np.all(np.floor(split.x_val) == 1)
    assert not np.isin(split.x_val, split.x_train).any()
    np.testing.assert_array_equal(split.is_anomaly, y_test != 1)
    assert len(split.x_test) == 15
    with pytest.raises(ValueError, match="normal_class must be one of"):
        one_class_split(7, data=((x_train, y_train), (np.zeros((15, 2, 2, 1)), y_test)))


# --- figures ----------------------------------------------------------------------------------------------------

def detection_data(seed=11):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(40, bool), np.ones(20, bool)]
    scores = np.r_[rng.gamma(2, size=40), rng.gamma(2, size=20) + 3]
    return rng.random((60, 28, 28, 1)), scores, labels


def test_score_histograms_and_confusion_figures():
    _, scores, labels = detection_data()
    fig = viz.plot_score_histograms(scores, labels, threshold=3.0, logx=True)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 60 and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["normal (40)", "anomaly (20)", "threshold 3"]
    with pytest.raises(ValueError, match="contain both"):
        viz.plot_score_histograms(scores, np.zeros(60))
    report = detection_report(scores, labels, 3.0)
    fig = viz.plot_confusion(report, title="toy")
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(str(v) for v in np.ravel(report["confusion_matrix"]))
    with pytest.raises(ValueError, match="detection_report"):
        viz.plot_confusion({"precision": 1.0})


def test_flagged_and_error_map_figures():
    images, scores, labels = detection_data()
    fig = viz.plot_flagged(images, scores, threshold=3.0, n=6, is_anomaly=labels)
    flagged_titles = [float(ax.get_title()) for ax in fig.axes[:6] if ax.images]
    assert flagged_titles == pytest.approx(sorted(scores[scores > 3.0], reverse=True)[:6], rel=1e-2)
    missed = [float(ax.get_title()) for ax in fig.axes[6:] if ax.images]
    assert all(s <= 3.0 for s in missed) and len(missed) == min(6, int(np.sum(labels & (scores <= 3.0))))
    assert len(viz.plot_flagged(images, scores, threshold=3.0, n=4).axes) == 4
    maps = np.square(images - 0.5)[..., 0]
    fig = viz.plot_error_maps(images, images * 0 + 0.5, maps, n=5, scores=scores)
    assert sum(len(ax.images) for ax in fig.axes) == 15
    with pytest.raises(ValueError, match="as many images"):
        viz.plot_error_maps(images, images[:3], maps)


# --- the benchmark's rules --------------------------------------------------------------------------------------

def _benchmark():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "anomaly.py"
    spec = importlib.util.spec_from_file_location("anomaly_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_restarts_only_a_fit_that_never_improved():
    script = _benchmark()
    assert script.stuck([0.088, 0.088, 0.088, 0.089])
    assert not script.stuck([0.088, 0.05, 0.06])
    assert not script.stuck([0.088])  # one epoch says nothing


def test_benchmark_summary_says_plainly_when_a_baseline_wins():
    script = _benchmark()
    names = [*script.CLASSICAL, script.HEADLINE]
    per_class = {"0": {"auroc": dict.fromkeys(names, 0.90) | {"knn_pixels": 0.95}},
                 "1": {"auroc": dict.fromkeys(names, 0.97) | {"knn_pixels": 0.95}}}
    result = script.summary(per_class)
    assert result["mean_auroc"][script.HEADLINE] == pytest.approx(0.935)
    assert result["best_classical"] == "knn_pixels"
    assert result["target"]["reached"] and not result["target"]["above_every_baseline"]


def test_benchmark_denoising_ae_starts_from_the_conv_aes_weights():
    script = _benchmark()
    args = script.parse_args(["--quick", "--out", "/tmp/unused"])
    weights = []
    for name in ("conv", "dae"):
        keras.utils.set_random_seed(3)
        weights.append(script.build_model(args, name).get_weights())
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
