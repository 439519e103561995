"""Chapter 05 embeddings, probes and retrieval, checked against hand-worked cases and NumPy re-computations
(k-NN votes, the trustworthiness formula, PCA by SVD, brute-force neighbours), and their figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from course_utils.evaluation.embedding import (
    compare_embeddings,
    knn_accuracy,
    nearest_neighbours,
    pca_embedding,
    precision_at_k,
    probe_curve,
    timed,
    trustworthiness,
    tsne_embedding,
)
from course_utils.evaluation.representation import linear_probe
from course_utils.viz.embeddings import plot_embeddings, plot_probe_curve, plot_retrieval


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def clusters(n_per_class: int = 20, classes: int = 3, dim: int = 2, spread: float = 0.3, seed: int = 0):
    """Well-separated Gaussian clusters, one per class, centres 10 apart: points (n, dim) and labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    centres = 10.0 * np.eye(classes, dim)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


def intruder_case() -> tuple[np.ndarray, np.ndarray]:
    """Two 1-D clusters of 10 points at 0..0.9 and 10..10.9, each holding one point of the other class."""
    ticks = np.arange(10) * 0.1
    points = np.concatenate([ticks, [0.45], 10 + ticks, [10.45]])[:, None]  # (22, 1)
    labels = np.array([0] * 10 + [1] + [1] * 10 + [0])
    return points, labels


def brute_knn_accuracy(points, labels, k, folds, seed) -> float:
    """k-NN majority vote by NumPy on the same stratified folds (ties to the smallest label, as scikit-learn)."""
    from sklearn.model_selection import StratifiedKFold

    correct = 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(points, labels):
        d = np.linalg.norm(points[test][:, None] - points[train][None], axis=-1)  # (test, train)
        votes = labels[train][np.argsort(d, axis=1)[:, :k]]  # (test, k)
        predicted = np.array([np.bincount(v).argmax() for v in votes])
        correct += int(np.sum(predicted == labels[test]))
    return correct / len(points)


def brute_trustworthiness(x, embedding, k) -> float:
    """Venna and Kaski's formula: 1 - 2 / (n k (2n - 3k - 1)) * sum over intruders j of (input rank of j - k)."""
    n = len(x)
    d_in = np.linalg.norm(x[:, None] - x[None], axis=-1)
    d_out = np.linalg.norm(embedding[:, None] - embedding[None], axis=-1)
    np.fill_diagonal(d_in, np.inf)
    np.fill_diagonal(d_out, np.inf)
    rank = np.argsort(np.argsort(d_in, axis=1), axis=1) + 1  # rank[i, j]: 1 for i's nearest input neighbour
    penalty = 0
    for i in range(n):
        for j in np.argsort(d_out[i])[:k]:
            penalty += max(0, rank[i, j] - k)
    return 1.0 - 2.0 / (n * k * (2 * n - 3 * k - 1)) * penalty


def test_knn_accuracy_separated_clusters_is_one():
    points, labels = clusters()
    assert knn_accuracy(points, labels) == 1.0


@pytest.mark.parametrize("folds, seed", [(2, 0), (2, 5), (3, 1), (5, 2)])
def test_knn_accuracy_intruders_by_hand(folds, seed):
    # Each intruder's 3 nearest training points are 3 points of the other class in its cluster, whatever the folds,
    # and every other point's 3 nearest hold at most one intruder: 20 of 22 points are right.
    points, labels = intruder_case()
    assert knn_accuracy(points, labels, k=3, folds=folds, seed=seed) == pytest.approx(20 / 22)


def test_knn_accuracy_matches_a_numpy_vote():
    rng = np.random.default_rng(3)
    points, labels = rng.normal(size=(90, 3)), rng.integers(0, 3, 90)
    for k in (1, 4, 7):
        assert knn_accuracy(points, labels, k=k, folds=3, seed=4) == pytest.approx(
            brute_knn_accuracy(points, labels, k, 3, 4))


def test_trustworthiness_of_an_isometry_is_one():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(40, 2))
    basis = np.linalg.qr(rng.normal(size=(5, 2)))[0].T  # (2, 5): orthonormal rows
    x = plane @ basis + 3.0  # (40, 5): points on a 2-D plane in 5-D
    rotation = np.linalg.qr(rng.normal(size=(2, 2)))[0]
    assert trustworthiness(x, plane @ rotation - 7.0, k=5) == pytest.approx(1.0)


def test_trustworthiness_matches_the_formula():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 6))
    embedding = x[:, :2] + 0.8 * rng.normal(size=(30, 2))  # a noisy projection: some intruders
    value = trustworthiness(x, embedding, k=4)
    assert value < 0.99
    assert value == pytest.approx(brute_trustworthiness(x, embedding, 4), abs=1e-6)


def test_pca_embedding_matches_numpy_svd_up_to_sign():
    rng = np.random.default_rng(2)
    x_fit = rng.normal(size=(80, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1]) + 1.0
    x_embed = rng.normal(size=(12, 6))
    mean = x_fit.mean(axis=0)
    _, _, vt = np.linalg.svd(x_fit - mean, full_matrices=False)
    expected = (x_embed - mean) @ vt[:2].T  # (12, 2)
    got = pca_embedding(x_fit.reshape(80, 2, 3), x_embed.reshape(12, 2, 3), dim=2)  # flattened inside
    signs = np.sign(np.sum(got * expected, axis=0))
    np.testing.assert_allclose(got * signs, expected, atol=1e-4)


def test_tsne_embedding_is_seeded_and_keeps_clusters():
    points, labels = clusters(n_per_class=25, dim=10)
    first = tsne_embedding(points, seed=0, perplexity=10.0)
    assert first.shape == (75, 2)
    np.testing.assert_allclose(tsne_embedding(points, seed=0, perplexity=10.0), first)
    assert knn_accuracy(first, labels) == 1.0


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(4)
    query, bank = rng.normal(size=(7, 5)), rng.normal(size=(30, 5))
    indices, distances = nearest_neighbours(query, bank, k=4)
    d = np.linalg.norm(query[:, None] - bank[None], axis=-1)  # (7, 30)
    expected = np.argsort(d, axis=1)[:, :4]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(distances, np.take_along_axis(d, expected, axis=1), rtol=1e-5)


def test_precision_at_k_by_hand():
    bank_labels = np.array([0, 0, 1, 1, 2])
    indices = np.array([[0, 1, 2], [2, 3, 4]])  # query 0 (class 0): 2 of 3 right; query 1 (class 2): 1 of 3
    assert precision_at_k(indices, [0, 2], bank_labels) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="point into the bank's 5 labels"):
        precision_at_k([[0, 5]], [0], bank_labels)
    with pytest.raises(ValueError, match="one label per point"):
        precision_at_k(indices, [0], bank_labels)


def test_compare_embeddings_rows():
    points, labels = clusters(dim=4)
    rows = compare_embeddings(points, labels, {"first two": (points[:, :2], 1.5), "all": (points, 0.0)}, k=3)
    assert [row["method"] for row in rows] == ["first two", "all"]
    assert rows[0] == {"method": "first two", "k": 3, "knn_accuracy": 1.0,
                       "trustworthiness": trustworthiness(points, points[:, :2], 3), "seconds": 1.5}
    assert rows[1]["trustworthiness"] == pytest.approx(1.0)


def test_probe_curve_keys_shapes_and_values():
    points, labels = clusters(n_per_class=30, dim=5, spread=3.0)
    train, test = np.arange(0, 90, 2), np.arange(1, 90, 2)
    features = {"points": (points[train], points[test]), "noise": (np.random.default_rng(0).normal(size=(45, 5)),
                                                                    np.random.default_rng(1).normal(size=(45, 5)))}
    curve = probe_curve(features, labels[train], labels[test], sizes=(12, None), seeds=(0, 1))
    assert list(curve) == ["points", "noise"]
    points_curve = curve["points"]
    assert points_curve["labels"] == [12, 45]
    assert [len(r) for r in points_curve["runs"]] == [2, 1]
    assert points_curve["runs"][0][1] == linear_probe(points[train], labels[train], points[test], labels[test],
                                                      n_labels=12, seed=1)
    assert points_curve["mean"][0] == pytest.approx(np.mean(points_curve["runs"][0]))
    assert points_curve["std"][0] == pytest.approx(np.std(points_curve["runs"][0]))
    assert points_curve["std"][1] == 0.0
    assert points_curve["mean"][1] > curve["noise"]["mean"][1] + 0.3


def test_timed_returns_the_result_and_seconds():
    result, seconds = timed(np.sum, [1, 2, 3], dtype=float)
    assert result == 6.0 and isinstance(result, np.floating)
    assert isinstance(seconds, float) and seconds >= 0


def test_bad_inputs_raise_clear_errors():
    points, labels = clusters(n_per_class=4)
    with pytest.raises(ValueError, match="one label per point"):
        knn_accuracy(points, labels[:-1])
    with pytest.raises(ValueError, match="smallest class"):
        knn_accuracy(points, labels, folds=5)
    with pytest.raises(ValueError, match="k must be between 1 and 8"):
        knn_accuracy(points, labels, k=9, folds=3)
    with pytest.raises(ValueError, match="below half the number of points"):
        trustworthiness(points, points, k=6)
    with pytest.raises(ValueError, match="same points"):
        trustworthiness(points, points[:-1])
    with pytest.raises(ValueError, match=r"must be \(n, d\)"):
        trustworthiness(points[0], points[0])
    with pytest.raises(ValueError, match="dim must be between 1 and 2"):
        pca_embedding(points, points, dim=3)
    with pytest.raises(ValueError, match="differ in size per point"):
        pca_embedding(points, points[:, :1])
    with pytest.raises(ValueError, match="perplexity must be positive and below the number of points"):
        tsne_embedding(points, perplexity=12)
    with pytest.raises(ValueError, match="dim must be 1, 2 or 3"):
        tsne_embedding(points, dim=4, perplexity=3)
    with pytest.raises(ValueError, match="k must be between 1 and 12"):
        nearest_neighbours(points, points, k=13)
    with pytest.raises(ValueError, match="differ in size"):
        nearest_neighbours(points, points[:, :1])
    with pytest.raises(ValueError, match="embed the same points"):
        compare_embeddings(points, labels, {"short": (points[:-1], 0.0)})
    with pytest.raises(ValueError, match="embeddings is empty"):
        compare_embeddings(points, labels, {})
    with pytest.raises(ValueError, match="features is empty"):
        probe_curve({}, labels, labels)


def test_plot_embeddings_one_panel_per_method_with_scores():
    points, labels = clusters(n_per_class=10)
    names = ["a", "b", "c"]
    rows = [{"method": "B", "k": 5, "knn_accuracy": 0.9, "trustworthiness": 0.95, "seconds": 12.34}]
    fig = plot_embeddings({"A": points, "B": points[:, ::-1], "C": -points, "D": points}, labels, names, rows=rows)
    assert len(fig.axes) == 4  # 2 x 3 grid, the two unused panels removed
    assert fig.axes[0].get_title() == "A"
    assert fig.axes[1].get_title() == "B\n5-NN accuracy 0.900, trust. 0.950, 12.3 s"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == names
    with pytest.raises(ValueError, match=r"must be \(30, 2\)"):
        plot_embeddings({"A": points[:-1]}, labels, names)


def test_plot_probe_curve_log_axis_and_lines():
    curve = {name: {"labels": [100, 1000, 54000], "mean": [0.6, 0.7, 0.8], "std": [0.02, 0.01, 0.0]}
             for name in ("codes", "pixels")}
    fig = plot_probe_curve(curve)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "1,000", "54,000"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["codes", "pixels"]


def test_plot_retrieval_grid_distances_and_frames():
    rng = np.random.default_rng(0)
    queries, bank = rng.random((3, 28, 28, 1)), rng.random((20, 28, 28, 1))
    indices, distances = np.arange(12).reshape(3, 4), np.full((3, 4), 1.234)
    fig = plot_retrieval(queries, bank, indices, distances, query_labels=[0, 1, 1], bank_labels=np.arange(20) % 2)
    assert len(fig.axes) == 3 * 5
    assert fig.axes[0].get_title() == "query"
    assert fig.axes[1].get_title() == "1.23"
    assert fig.axes[1].spines["top"].get_edgecolor() == to_rgba("tab:green")  # bank 0: class 0, as query 0
    assert fig.axes[2].spines["top"].get_edgecolor() == to_rgba("tab:red")
    with pytest.raises(ValueError, match="one row per query image"):
        plot_retrieval(queries[:2], bank, indices)
    with pytest.raises(ValueError, match="point into the 20 bank images"):
        plot_retrieval(queries, bank, indices + 10)
    with pytest.raises(ValueError, match="both query_labels and bank_labels"):
        plot_retrieval(queries, bank, indices, query_labels=[0, 1, 1])
