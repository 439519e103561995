"""Generated-image metrics: Fréchet distance, KID, manifold precision/recall, class coverage, memorisation."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.evaluation import generative as gen


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def _sqrt_psd(s):
    values, vectors = np.linalg.eigh(s)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def test_frechet_distance_of_two_1d_gaussians_by_hand():
    # N(0, 1) vs N(1, 4): (0 - 1)^2 + 1 + 4 - 2 sqrt(1 * 4) = 2
    assert gen.frechet_distance([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(2.0, abs=1e-12)
    assert gen.frechet_distance(0.0, 1.0, 1.0, 4.0) == pytest.approx(2.0, abs=1e-12)  # scalars work too


def test_frechet_distance_matches_the_closed_form_with_symmetric_square_roots():
    rng = np.random.default_rng(0)
    mu1, mu2, s1, s2 = rng.normal(size=6), rng.normal(size=6), _spd(rng, 6), _spd(rng, 6)
    root1 = _sqrt_psd(s1)  # tr((s1 s2)^(1/2)) = tr((s1^(1/2) s2 s1^(1/2))^(1/2)), computed with eigh only
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(_sqrt_psd(root1 @ s2 @ root1))
    assert gen.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert gen.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-9)
    assert gen.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_diagonal_gaussians_is_a_sum_over_axes():
    var1, var2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 2.0, 0.1])
    expected = 0.25 + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert gen.frechet_distance([0, 0, 0.5], np.diag(var1), [0, 0, 0], np.diag(var2)) == pytest.approx(expected)


def test_frechet_distance_from_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (20000, 3)), rng.normal(0.5, 2, (20000, 3))
    assert gen.frechet_distance(*gen.gaussian_stats(a), *gen.gaussian_stats(b)) == pytest.approx(3 * 1.25, rel=0.03)


def test_frechet_distance_handles_singular_covariances_and_rejects_bad_shapes():
    rng = np.random.default_rng(2)
    few = gen.gaussian_stats(rng.normal(size=(5, 12)))  # rank 4 in 12 dimensions
    value = gen.frechet_distance(*few, *gen.gaussian_stats(rng.normal(size=(5, 12))))
    assert np.isfinite(value) and value >= 0
    with pytest.raises(ValueError, match="mismatched shapes"):
        gen.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_kid_is_zero_in_expectation_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    same = [gen.kid(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)), n_subsets=5, seed=s)["kid"]
            for s in range(40)]
    standard_error = np.std(same) / np.sqrt(len(same))
    assert abs(np.mean(same)) < 3 * standard_error and min(same) < 0 < max(same)  # unbiased: negative values occur
    shifted = gen.kid(rng.normal(size=(200, 8)), rng.normal(0.5, 1, size=(200, 8)), n_subsets=5)["kid"]
    assert shifted > 20 * standard_error


def test_kid_uses_subsets_of_the_smaller_set():
    rng = np.random.default_rng(4)
    result = gen.kid(rng.normal(size=(30, 4)), rng.normal(size=(500, 4)), n_subsets=3, subset_size=1000)
    assert set(result) == {"kid", "kid_std"} and result["kid_std"] > 0
    with pytest.raises(ValueError, match="at least 2"):
        gen.kid(np.zeros((1, 4)), np.zeros((5, 4)))


def _clusters(rng, centres, n_per, spread=0.1):
    return np.concatenate([c + spread * rng.normal(size=(n_per, len(c))) for c in centres])


@pytest.mark.parametrize("seed", range(3))
def test_metrics_grow_monotonically_with_noise(seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 10))
    real, clean = _clusters(rng, centres, 100, 0.3), _clusters(rng, centres, 100, 0.3)
    noise = rng.normal(size=clean.shape)  # one draw, scaled: the noisier set is the cleaner one plus more noise
    rows = []
    for sigma in (0.0, 0.4, 0.8, 1.6):
        fake = clean + sigma * noise
        rows.append((gen.frechet_distance(*gen.gaussian_stats(real), *gen.gaussian_stats(fake)),
                     gen.kid(real, fake, n_subsets=5)["kid"], gen.precision_recall(real, fake)["precision"]))
    fid, kid, precision = map(np.array, zip(*rows))
    assert np.all(np.diff(fid) > 0) and np.all(np.diff(kid) > 0) and np.all(np.diff(precision) < 0)


def test_precision_and_recall_of_identical_sets_are_one():
    x = np.random.default_rng(6).normal(size=(300, 5))
    assert gen.precision_recall(x, x.copy()) == {"precision": 1.0, "recall": 1.0}


def test_precision_and_recall_of_far_apart_sets_are_zero():
    rng = np.random.default_rng(7)
    assert gen.precision_recall(rng.normal(size=(200, 5)), 100 + rng.normal(size=(200, 5))) == {
        "precision": 0.0, "recall": 0.0}


def test_a_fake_set_on_half_the_modes_is_precise_but_recalls_half():
    rng = np.random.default_rng(8)
    angles = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    centres = 10 * np.c_[np.cos(angles), np.sin(angles)]  # ten well-separated modes on a circle
    result = gen.precision_recall(_clusters(rng, centres, 100, 0.5), _clusters(rng, centres[:5], 200, 0.5), k=3)
    assert result["precision"] > 0.95 and result["recall"] == pytest.approx(0.5, abs=0.03)


def test_knn_radii_match_a_brute_force_search():
    x = np.random.default_rng(9).normal(size=(50, 3))
    distances = np.sort(np.linalg.norm(x[:, None] - x[None], axis=-1), axis=1)  # column 0: the point itself
    np.testing.assert_allclose(gen.knn_radii(x, k=3), distances[:, 3], rtol=1e-9)
    with pytest.raises(ValueError, match="k must be"):
        gen.knn_radii(x[:3], k=3)


def test_class_coverage_of_uniform_and_collapsed_samples():
    uniform = gen.class_coverage(np.repeat(np.arange(10), 7))
    assert uniform["class_kl"] == pytest.approx(0.0) and uniform["classes_covered"] == 10
    collapsed = gen.class_coverage(np.full(50, 3))
    assert collapsed["class_kl"] == pytest.approx(np.log(10)) and collapsed["classes_covered"] == 1
    assert collapsed["class_histogram"][3] == 1.0
    rare = gen.class_coverage(np.r_[np.zeros(990, int), np.ones(10, int)])  # class 1 gets 1 %, under 2 %
    assert rare["classes_covered"] == 1
    with pytest.raises(ValueError, match="class indices"):
        gen.class_coverage([0, 10])


def test_memorisation_flags_copies_of_training_images():
    rng = np.random.default_rng(10)
    train, held_out = rng.random((300, 6, 6, 1)), rng.random((200, 6, 6, 1))
    distances, index = gen.nearest_train_distances(train[[5, 17]] + 1e-4, train)
    assert list(index) == [5, 17] and np.all(distances < 1e-2)
    brute = np.linalg.norm(held_out.reshape(200, 1, -1) - train.reshape(1, 300, -1), axis=-1)
    np.testing.assert_allclose(gen.nearest_train_distances(held_out, train)[0], brute.min(1), rtol=1e-4)
    copies = gen.memorisation(train[:100], train, reference=held_out)
    assert copies["copy_fraction"] == 1.0 and copies["nn_train_distance_median"] < 1e-3
    honest = gen.memorisation(rng.random((200, 6, 6, 1)), train, reference=held_out)
    assert honest["copy_fraction"] < 0.05 and honest["nn_train_distance_median"] > 1.0


def test_evaluate_samples_returns_every_metric():
    from course_utils.models.classifier import FashionClassifier

    classifier = FashionClassifier(filters=(4,), feature_dim=8)
    rng = np.random.default_rng(11)
    real, train = rng.random((60, 28, 28, 1), dtype=np.float32), rng.random((80, 28, 28, 1), dtype=np.float32)
    same = gen.evaluate_samples(real.copy(), real, train=train, classifier=classifier, kid_subset_size=30)
    assert same["classifier_fid"] == pytest.approx(0.0, abs=1e-6) and same["precision"] == same["recall"] == 1.0
    assert {"kid", "kid_std", "class_kl", "classes_covered", "class_histogram", "copy_fraction",
            "nn_train_distance_median", "n_samples", "n_real"} <= set(same)
    noisy = gen.evaluate_samples(np.clip(real + 0.5 * rng.normal(size=real.shape), 0, 1), real, classifier=classifier)
    assert noisy["classifier_fid"] > same["classifier_fid"] and "copy_fraction" not in noisy


def test_plot_generative_reference_draws_a_panel_per_metric(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = dict(classifier_fid=1.0, kid=0.01, precision=0.7, recall=0.6)
    fig = gen.plot_generative_reference({"points": {"train vs test": row, "noise 0.1": row}},
                                        yours={"your VAE": dict(row, kid=-0.001)})
    assert len(fig.axes) == 4 and [t.get_text() for t in fig.axes[0].get_yticklabels()][-1] == "your VAE"
    plt.close(fig)


def test_missing_reference_file_says_how_to_regenerate(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks/generative_reference.py"):
        gen.load_generative_reference(tmp_path)


def test_stored_reference_points_order_the_degradations():
    """The numbers of benchmarks/generative_reference.py: more noise or blur is worse, training images are best."""
    reference = gen.load_generative_reference()
    points, settings = reference["points"], reference["settings"]
    floor = points["training images (floor)"]
    for series in ([f"test + noise σ={s}" for s in settings["noise_sigmas"]],
                   [f"test blurred σ={s} px" for s in settings["blur_sigmas"]]):
        fid, kid, precision = (np.array([points[label][key] for label in series])
                               for key in ("classifier_fid", "kid", "precision"))
        assert np.all(np.diff(fid) > 0) and np.all(np.diff(kid) > 0) and precision[-1] < precision[0]
        assert floor["classifier_fid"] < fid.min()
    assert floor["copy_fraction"] == 1.0 and floor["classes_covered"] == 10
    assert points["dense_ae_32 reconstructions"]["classifier_fid"] < points["PCA-32 Gaussian samples"]["classifier_fid"]
