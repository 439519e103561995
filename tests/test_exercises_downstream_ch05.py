"""Chapter 05: passing a check means the notebook's later cells work with the learner's object.

Plausible correct answers written differently from the reference pass the check *and* survive the way the
notebook uses them afterwards (each ``use_*`` mirrors those cells); plausible wrong answers are caught with
a specific message.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
from exercise_checks import fails_with, passes
from scipy.stats import rankdata

# --- 05.1 nearest_neighbours: indices into the training images, drawn by plot_retrieval -------------------

def use_nearest_neighbours(fn) -> np.ndarray:
    """The notebook's cell: 5 test codes against a bank of training codes, then the training images they pick."""
    from course_utils.viz.embeddings import plot_retrieval

    rng = np.random.default_rng(0)
    bank_images = rng.random((300, 28, 28, 1)).astype(np.float32)
    bank_codes, query_codes = rng.normal(size=(300, 32)).astype(np.float32), rng.normal(size=(5, 32)).astype(np.float32)
    found = np.asarray(fn(query_codes, bank_codes, 8))
    plot_retrieval(bank_images[:5], bank_images, found)
    return bank_images[found]


def _nn_sklearn(query_codes, bank_codes, k):
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k).fit(bank_codes).kneighbors(query_codes, return_distance=False)


def _nn_loop(query_codes, bank_codes, k):
    rows = []
    for query in query_codes:
        distances = [float(np.linalg.norm(query - code)) for code in bank_codes]
        rows.append(sorted(range(len(distances)), key=distances.__getitem__)[:k])
    return rows  # a list of lists of Python ints


@pytest.mark.parametrize("answer", [_nn_sklearn, _nn_loop], ids=["scikit-learn", "list of lists"])
def test_05_1_variants_pass_and_work_downstream(answer):
    assert use_nearest_neighbours(passes("05.1", answer)).shape == (5, 8, 28, 28, 1)


def test_05_1_dot_product_similarity_is_caught():
    fails_with("05.1", lambda q, b, k: np.argsort(-(np.asarray(q) @ np.asarray(b).T), axis=1)[:, :k], "dot product")


def test_05_1_distances_instead_of_indices_are_caught():
    def distances(q, b, k):
        d = np.linalg.norm(np.asarray(q)[:, None] - np.asarray(b)[None], axis=-1)
        return np.sort(d, axis=1)[:, :k]

    fails_with("05.1", distances, "not an array of integers")


# --- 05.2 auroc: fills the AUROC table with boolean test labels ------------------------------------------------

def use_auroc(fn) -> float:
    """The notebook's cells: AUROC of 1,000 float64 scores with boolean labels, and of float32 scores."""
    rng = np.random.default_rng(1)
    labels = rng.random(1000) < 0.9  # 90 % anomalies, as in the one-class test set
    scores = rng.gamma(2.0, 0.01, 1000) + 0.01 * labels
    return min(float(fn(scores, labels)), float(fn(scores.astype(np.float32), labels)))


def _auroc_ranks(scores, is_anomaly):
    labels = np.asarray(is_anomaly, dtype=bool)
    ranks = rankdata(scores)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return (ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _auroc_sklearn(scores, is_anomaly):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(is_anomaly, scores)


@pytest.mark.parametrize("answer", [_auroc_ranks, _auroc_sklearn], ids=["scipy ranks", "scikit-learn"])
def test_05_2_variants_pass_and_work_downstream(answer):
    assert 0.5 < use_auroc(passes("05.2", answer)) < 1.0


def test_05_2_ties_counted_as_losses_are_caught():
    def strict(scores, is_anomaly):
        labels = np.asarray(is_anomaly).astype(bool)
        scores = np.asarray(scores)
        return np.mean(scores[labels][:, None] > scores[~labels][None, :])

    fails_with("05.2", strict, "tie counts as one half")


# --- 05.3 threshold_at_fpr: the threshold of the detection report ------------------------------------------

def use_threshold(fn) -> dict:
    """The notebook's cell: a threshold from 600 validation scores, then the report on test scores."""
    from course_utils.evaluation.anomaly import detection_report

    rng = np.random.default_rng(2)
    val_scores = rng.gamma(2.0, 0.01, 600).astype(np.float32)
    threshold = fn(val_scores, 0.05)
    labels = rng.random(1000) < 0.9
    report = detection_report(rng.gamma(2.0, 0.01, 1000) + 0.02 * labels, labels, threshold)
    assert np.mean(val_scores > threshold) <= 0.05
    return report


@pytest.mark.parametrize("answer", [
    lambda normal_scores, fpr: np.quantile(normal_scores, 1 - fpr, method="inverted_cdf"),
    lambda normal_scores, fpr: sorted(normal_scores)[len(normal_scores) - int(fpr * len(normal_scores) + 1e-9) - 1],
], ids=["quantile inverted_cdf", "sorted list"])
def test_05_3_variants_pass_and_work_downstream(answer):
    assert 0.0 <= use_threshold(passes("05.3", answer))["recall"] <= 1.0


def test_05_3_threshold_from_the_wrong_end_is_caught():
    fails_with("05.3", lambda normal_scores, fpr: float(np.quantile(normal_scores, fpr)), "near the top")


# --- 05.4 photon_noise: the learner's noise inside the notebook's scan of Shepp-Logan --------------------------

def use_photon_noise(fn) -> np.ndarray:
    """The notebook's cell: scan a small phantom, noise its line integrals with fn, reconstruct by FBP."""
    from course_utils.data.tomography import ATTENUATION, fbp, project, scan_angles, shepp_logan

    image, angles = shepp_logan(32), scan_angles(30)
    sinogram = project(image, angles)  # (detectors, angles) in pixel units
    scale = ATTENUATION / sinogram.shape[0]
    noisy = np.asarray(fn(scale * sinogram, 1000.0, np.random.default_rng(0))) / scale
    return fbp(noisy, angles, 32)


def _photon_noise_float32(line_integrals, photons, rng):
    counts = rng.poisson(photons * np.exp(-np.asarray(line_integrals, dtype=np.float64)))
    return (-np.log(np.clip(counts, 0.5, None) / photons)).astype(np.float32)


def _photon_noise_via_intensity(line_integrals, photons, rng):
    intensity = photons * np.exp(-line_integrals)  # expected photons behind each ray
    return np.log(photons) - np.log(np.maximum(rng.poisson(intensity), 1))


@pytest.mark.parametrize("answer", [_photon_noise_float32, _photon_noise_via_intensity],
                         ids=["float32 clip", "log difference"])
def test_05_4_variants_pass_and_work_downstream(answer):
    assert np.all(np.isfinite(use_photon_noise(passes("05.4", answer))))


def test_05_4_log_of_zero_counts_is_caught():
    def unguarded(p, photons, rng):
        with np.errstate(divide="ignore"):  # the learner sees no warning either, only infinities
            return -np.log(rng.poisson(photons * np.exp(-p)) / photons)

    fails_with("05.4", unguarded, "log(0)")


def test_05_4_global_random_state_is_caught():
    def global_state(p, photons, rng):
        return -np.log(np.maximum(np.random.poisson(photons * np.exp(-p)), 1) / photons)

    fails_with("05.4", global_state, "same seed")


# --- 05.5 make_ct_denoiser: compiled, trained with the notebook's trainer, applied to 128 x 128 ----------------

def use_ct_denoiser(fn) -> np.ndarray:
    """The notebook's cell: compile, fit_with_budget on a few 64 x 64 pairs, clean a 128 x 128 FBP image."""
    import tensorflow as tf

    from course_utils.training import fit_with_budget

    rng = np.random.default_rng(0)
    clean = rng.random((8, 64, 64, 1)).astype(np.float32)
    noisy = clean + 0.1 * rng.normal(size=clean.shape).astype(np.float32)
    model = fn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    fit_with_budget(model, tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(4), epochs=1, progress="none")
    return np.asarray(model.predict(rng.random((1, 128, 128, 1)).astype(np.float32), verbose=0))


def _subclassed_denoiser():
    class Cleaner(keras.Model):
        def __init__(self):
            super().__init__()
            self.body = [keras.layers.Conv2D(24, 3, padding="same", activation="relu") for _ in range(4)]
            self.out = keras.layers.Conv2D(1, 3, padding="same")

        def call(self, x):
            h = x
            for layer in self.body:
                h = layer(h)
            return x - self.out(h)  # subtract the estimated noise

    return Cleaner()


def test_05_5_subclassed_residual_passes_and_works_downstream():
    assert use_ct_denoiser(passes("05.5", _subclassed_denoiser)).shape == (1, 128, 128, 1)


def test_05_5_valid_padding_is_caught():
    def shrinking():
        return keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(16, 3, activation="relu"),
                                 keras.layers.Conv2D(1, 3)])

    fails_with("05.5", shrinking, "fully convolutional")


def test_05_5_single_layer_misses_the_target():
    fails_with("05.5", lambda: keras.Sequential([keras.Input((None, None, 1)),
                                                 keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")]),
               "below the target")
