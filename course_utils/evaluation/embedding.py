"""Codes as representations: 2-D embeddings, few-label probes and retrieval in code space (chapter 05).

Thin wrappers over scikit-learn. An embedding is judged by how well its neighbourhoods keep the
classes (k-NN accuracy, cross-validated inside the embedding) and the input's neighbourhoods
(trustworthiness); a code is judged by a linear probe with few or all labels and by retrieval, the
share of a query's nearest training images in code space that share its class. Every input is
flattened to (n, d) rows. PCA and an encoder are functions that embed any new point; t-SNE only
places the points it was fitted on.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.evaluation.representation import linear_probe


def _rows(x, name: str) -> np.ndarray:
    """``x`` as a (n, d) float32 array, every axis after the first flattened."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name} must be (n, d) with n >= 1 (or (n, ...), flattened), got shape {x.shape}")
    return x.reshape(len(x), -1)


def _labels(labels, n: int, name: str = "labels") -> np.ndarray:
    """``labels`` as a (n,) array, checked against the number of points."""
    labels = np.asarray(labels).ravel()
    if len(labels) != n:
        raise ValueError(f"{name} must hold one label per point: got {len(labels)} labels for {n} points")
    return labels


def timed(fn: Callable[..., Any], *args, **kwargs) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the wall-clock seconds it took (chapter 05)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def pca_embedding(x_fit, x_embed, dim: int = 2, seed: int = 0) -> np.ndarray:
    """PCA fitted on ``x_fit``, applied to ``x_embed``: (n, dim) coordinates in the principal subspace (ch. 05)."""
    from course_utils.evaluation.baselines import PCABaseline

    x_fit, x_embed = _rows(x_fit, "x_fit"), _rows(x_embed, "x_embed")
    if x_fit.shape[1] != x_embed.shape[1]:
        raise ValueError(f"x_fit and x_embed differ in size per point: {x_fit.shape[1]} and {x_embed.shape[1]}")
    if not 1 <= dim <= min(x_fit.shape):
        raise ValueError(f"dim must be between 1 and {min(x_fit.shape)} (points and features of x_fit), got {dim}")
    return PCABaseline(dim, seed=seed).fit(x_fit).encode(x_embed)


def tsne_embedding(x, dim: int = 2, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """t-SNE of ``x`` (scikit-learn, PCA initialisation): (n, dim) positions of these points only (chapter 05).

    t-SNE optimises one position per given point, so it has no ``transform``: a new point cannot be
    placed without running it again on all points, which moves the old ones too. An encoder (or PCA)
    is a function and embeds a new point at once.
    """
    from sklearn.manifold import TSNE

    x = _rows(x, "x")
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3 (scikit-learn's Barnes-Hut t-SNE), got {dim}")
    if not 0 < perplexity < len(x):
        raise ValueError(f"perplexity must be positive and below the number of points ({len(x)}), got {perplexity}; "
                         "it is about the number of neighbours each point attends to")
    tsne = TSNE(n_components=dim, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
    return tsne.fit_transform(x).astype(np.float32)


def knn_accuracy(embedding, labels, k: int = 5, folds: int = 5, seed: int = 0) -> float:
    """Share of points whose k nearest neighbours in the other folds vote for their class (chapter 05).

    Stratified, shuffled k-fold (seeded): each point is classified once, by a majority vote of its
    k Euclidean nearest neighbours among the training folds (ties go to the smallest label).
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    embedding = _rows(embedding, "embedding")
    labels = _labels(labels, len(embedding))
    smallest_class = np.unique(labels, return_counts=True)[1].min()
    if folds < 2 or smallest_class < folds:
        raise ValueError(f"folds must be at least 2 and at most the size of the smallest class ({smallest_class}), "
                         f"got {folds}: use fewer folds or more points")
    largest_training_fold = len(embedding) - int(np.ceil(len(embedding) / folds))
    if not 1 <= k <= largest_training_fold:
        raise ValueError(f"k must be between 1 and {largest_training_fold} (the points in a training fold), got {k}")
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(KNeighborsClassifier(n_neighbors=k), embedding, labels, cv=split)
    return float(np.mean(predicted == labels))


def trustworthiness(x, embedding, k: int = 5) -> float:
    """How far the embedding's k nearest neighbours are also near in the input, 1 at best (chapter 05).

    scikit-learn's ``trustworthiness`` (Venna and Kaski 2001): 1 minus a penalty for every point that
    enters a k-neighbourhood in the embedding from beyond rank k in the input, weighted by that rank.
    It holds an (n, n) distance matrix, so keep n to a few thousand.
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    x, embedding = _rows(x, "x"), _rows(embedding, "embedding")
    if len(x) != len(embedding):
        raise ValueError(f"x and embedding must hold the same points, got {len(x)} and {len(embedding)}")
    if not 1 <= k < len(x) / 2:
        raise ValueError(f"k must be at least 1 and below half the number of points ({len(x)} / 2), got {k}")
    return float(sk_trustworthiness(x, embedding, n_neighbors=k))


def compare_embeddings(x, labels, embeddings: Mapping[str, tuple[Any, float]], k: int = 5, folds: int = 5,
                       seed: int = 0) -> list[dict[str, Any]]:
    """One row per method: k, k-NN accuracy, trustworthiness and seconds of each (embedding, seconds) of ``x`` (ch. 05)."""
    x = _rows(x, "x")
    labels = _labels(labels, len(x))
    if not embeddings:
        raise ValueError("embeddings is empty: pass a dict name -> (embedding of x, seconds)")
    rows = []
    for name, (embedding, seconds) in embeddings.items():
        embedding = _rows(embedding, f"the embedding {name!r}")
        if len(embedding) != len(x):
            raise ValueError(f"the embedding {name!r} holds {len(embedding)} points, x holds {len(x)}: "
                             "embed the same points")
        rows.append({"method": name, "k": k, "knn_accuracy": knn_accuracy(embedding, labels, k, folds, seed),
                     "trustworthiness": trustworthiness(x, embedding, k), "seconds": float(seconds)})
    return rows


def probe_curve(features: Mapping[str, tuple[Any, Any]], y_train, y_test, sizes: Sequence[int | None] = (100, 1000, None),
                seeds: Sequence[int] = (0, 1, 2)) -> dict[str, dict[str, list]]:
    """Linear-probe test accuracy of each feature set against the number of labels (chapter 05).

    ``features`` maps a name to (training features, test features). Each size draws that many
    seeded training labels once per seed; ``None`` uses every training label, a single run.
    Returns name -> {"labels": [n per size], "mean": [...], "std": [...], "runs": [[accuracy per seed], ...]}.
    """
    if not features:
        raise ValueError("features is empty: pass a dict name -> (training features, test features)")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed for the label subsets")
    y_train, y_test = np.asarray(y_train).ravel(), np.asarray(y_test).ravel()
    curve = {}
    for name, (train, test) in features.items():
        runs = [[linear_probe(train, y_train, test, y_test, n_labels=size, seed=seed)
                 for seed in (seeds if size is not None else seeds[:1])] for size in sizes]
        curve[name] = {"labels": [len(y_train) if size is None else int(size) for size in sizes],
                       "mean": [float(np.mean(r)) for r in runs], "std": [float(np.std(r)) for r in runs],
                       "runs": runs}
    return curve


def nearest_neighbours(query_codes, bank_codes, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Indices (q, k) into the bank and Euclidean distances (q, k) of each query's k nearest codes (chapter 05)."""
    from sklearn.neighbors import NearestNeighbors

    query_codes, bank_codes = _rows(query_codes, "query_codes"), _rows(bank_codes, "bank_codes")
    if query_codes.shape[1] != bank_codes.shape[1]:
        raise ValueError(f"query and bank codes differ in size: {query_codes.shape[1]} and {bank_codes.shape[1]}")
    if not 1 <= k <= len(bank_codes):
        raise ValueError(f"k must be between 1 and {len(bank_codes)} (the codes in the bank), got {k}")
    distances, indices = NearestNeighbors(n_neighbors=k).fit(bank_codes).kneighbors(query_codes)
    return indices, distances.astype(np.float32)


def precision_at_k(indices, query_labels, bank_labels) -> float:
    """Share of retrieved bank items (indices (q, k)) that have their query's class: precision@k (chapter 05)."""
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.size == 0:
        raise ValueError(f"indices must be (queries, k) with k >= 1, as nearest_neighbours returns, got shape {indices.shape}")
    query_labels = _labels(query_labels, len(indices), "query_labels")
    bank_labels = np.asarray(bank_labels).ravel()
    if not 0 <= indices.min() <= indices.max() < len(bank_labels):
        raise ValueError(f"indices must point into the bank's {len(bank_labels)} labels, "
                         f"got values from {indices.min()} to {indices.max()}")
    return float(np.mean(bank_labels[indices] == query_labels[:, None]))


__all__ = ["compare_embeddings", "knn_accuracy", "nearest_neighbours", "pca_embedding", "precision_at_k",
           "probe_curve", "timed", "trustworthiness", "tsne_embedding"]
