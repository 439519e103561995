"""Anomaly detection with autoencoders and classical baselines, one class at a time (chapter 05).

One-class protocol: a single Fashion-MNIST class is "normal"; every model is fitted on its training
images only, a held-out part of them (normal validation images) sets thresholds and standardises
scores, and the whole test set is scored, every other class counting as an anomaly. A score is
higher for a more anomalous image, and an image is flagged when its score is above the threshold.
No function here looks at anomalies before the final measurement: every hyperparameter is fixed by a
rule stated in its docstring or computed from normal images only.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from course_utils.data.pipeline import split_validation

KNN_NEIGHBOURS = 5  # the usual small k of k-NN anomaly scores, fixed a priori
PCA_COMPONENTS = 32  # the autoencoders' code size, so the linear and the learned models compress alike
OCSVM_NU = 0.1  # an upper bound on the share of training normals outside the boundary, fixed a priori
FOREST_TREES = 100  # Liu et al. (2008): 100 trees of 256 samples each
FOREST_SAMPLES = 256
BLUR_SIGMA = 1.0  # pixels: blurs away pixel-level texture, keeps errors that cover a region


@dataclass(frozen=True, eq=False)
class OneClassSplit:
    """One class as normal: its training images (minus validation), its validation images, the whole test set."""

    normal_class: int
    x_train: np.ndarray  # (n_train, 28, 28, 1) normal images only
    x_val: np.ndarray  # (n_val, 28, 28, 1) held-out normal images: thresholds and standardisation
    x_test: np.ndarray  # (n_test, 28, 28, 1) every class
    y_test: np.ndarray  # (n_test,) class labels, read only for the final measurement
    is_anomaly: np.ndarray  # (n_test,) True where y_test != normal_class


def one_class_split(normal_class: int, val_fraction: float = 0.1, seed: int = 0,
                    data: tuple | None = None) -> OneClassSplit:
    """Normal training and validation images of ``normal_class`` and the whole labelled test set (chapter 05).

    ``data`` is ``((x_train, y_train), (x_test, y_test))``; by default Fashion-MNIST is loaded.
    """
    if data is None:
        from course_utils.data.datasets import load_fashion_mnist

        data = load_fashion_mnist()
    (x_train, y_train), (x_test, y_test) = data
    y_train, y_test = np.asarray(y_train).ravel(), np.asarray(y_test).ravel()
    classes = np.unique(y_train)
    if normal_class not in classes:
        raise ValueError(f"normal_class must be one of the training labels {classes.tolist()}, got {normal_class!r}")
    (x_fit,), (x_val,) = split_validation([np.asarray(x_train)[y_train == normal_class]], val_fraction, seed=seed)
    return OneClassSplit(int(normal_class), x_fit, x_val, np.asarray(x_test), y_test, y_test != normal_class)


def _rows(x, what: str = "x") -> np.ndarray:
    """Images or vectors as a (n, d) float32 array, every axis after the first flattened."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{what} must hold at least one image or vector (n, ...), got shape {x.shape}")
    return x.reshape(len(x), -1)


def _pair(x_train, x) -> tuple[np.ndarray, np.ndarray]:
    """Training and scored rows with the same number of features."""
    train, rows = _rows(x_train, "x_train"), _rows(x)
    if train.shape[1] != rows.shape[1]:
        raise ValueError(f"x_train and x must have the same image shape, got {train.shape[1]} and "
                         f"{rows.shape[1]} values per image")
    return train, rows


def _predict(model, x, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(np.asarray(x, dtype=np.float32), batch_size=batch_size, verbose=0))


def _residuals(model, x, batch_size: int) -> np.ndarray:
    """x - x' for a batch of images (n, h, w, c), checking that the model returns the input's shape."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected images (n, height, width, channels), got shape {x.shape}")
    x_hat = _predict(model, x, batch_size)
    if x_hat.shape != x.shape:
        raise ValueError(f"the model must return its input's shape {x.shape}, got {x_hat.shape}: pass an autoencoder")
    return x - x_hat  # (n, h, w, c)


def error_maps(model, x, batch_size: int = 256) -> np.ndarray:
    """Per-pixel squared reconstruction error (x - x')^2, averaged over channels: (n, h, w) (chapter 05)."""
    return np.square(_residuals(model, x, batch_size)).mean(axis=-1)  # (n, h, w)


def reconstruction_scores(model, x, batch_size: int = 256) -> np.ndarray:
    """Per-image mean squared reconstruction error of an autoencoder, the basic anomaly score (chapter 05)."""
    residual = _residuals(model, x, batch_size)
    return np.square(residual).reshape(len(residual), -1).mean(axis=1).astype(np.float64)  # (n,)


def blurred_error_scores(model, x, sigma: float = BLUR_SIGMA, batch_size: int = 256) -> np.ndarray:
    """Mean squared reconstruction error after a Gaussian blur of the residual x - x' (chapter 05).

    Fine texture that no autoencoder reproduces leaves a residual that changes sign from pixel to
    pixel, and the blur averages it away; a wrong shape leaves a residual of one sign over a region,
    and it survives. sigma = 1 pixel, fixed a priori.
    """
    from scipy.ndimage import gaussian_filter

    if sigma <= 0:
        raise ValueError(f"sigma is the blur's standard deviation in pixels and must be positive, got {sigma}")
    residual = gaussian_filter(_residuals(model, x, batch_size), sigma=(0, sigma, sigma, 0))  # (n, h, w, c)
    return np.square(residual).reshape(len(residual), -1).mean(axis=1).astype(np.float64)


def knn_distance_scores(x_train, x, k: int = KNN_NEIGHBOURS) -> np.ndarray:
    """Euclidean distance to the k-th nearest normal training row (scikit-learn); k = 5 by default (chapter 05).

    Works on pixels or on codes (``code_knn_scores``). k is fixed a priori: with no anomalies to
    look at, the usual small value is the honest choice.
    """
    from sklearn.neighbors import NearestNeighbors

    train, rows = _pair(x_train, x)
    if not 1 <= k <= len(train):
        raise ValueError(f"k must be between 1 and the {len(train)} training rows, got {k}")
    distances, _ = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(rows)  # (n, k), ascending
    return distances[:, -1].astype(np.float64)


def code_knn_scores(model, x_train, x, k: int = KNN_NEIGHBOURS, batch_size: int = 256) -> np.ndarray:
    """k-NN distance in an autoencoder's code space, to the codes of the normal training images (chapter 05)."""
    encode = model.encoder
    return knn_distance_scores(_predict(encode, x_train, batch_size), _predict(encode, x, batch_size), k)


def pca_residual_scores(x_train, x, n_components: int = PCA_COMPONENTS, seed: int = 0) -> np.ndarray:
    """Squared distance to the normal training images' principal subspace, per value (chapter 05).

    ``n_components`` is 32 by default, the autoencoders' code size: fixed a priori.
    """
    from sklearn.decomposition import PCA

    train, rows = _pair(x_train, x)
    if not 1 <= n_components <= min(train.shape):
        raise ValueError(f"n_components must be between 1 and {min(train.shape)} for {train.shape} training rows, "
                         f"got {n_components}")
    pca = PCA(n_components, random_state=seed).fit(train)
    residual = rows - pca.inverse_transform(pca.transform(rows))  # (n, d)
    return np.square(residual).mean(axis=1).astype(np.float64)


def median_heuristic_gamma(x_train, max_rows: int = 2000, seed: int = 0) -> float:
    """RBF width by the median heuristic, gamma = 1 / median squared distance between normal rows (chapter 05)."""
    from scipy.spatial.distance import pdist

    train = _rows(x_train, "x_train")
    rows = np.random.default_rng(seed).permutation(len(train))[:max_rows]
    distances = pdist(train[rows].astype(np.float64), "sqeuclidean")
    median = float(np.median(distances)) if distances.size else 0.0
    if median <= 0:
        raise ValueError("the median heuristic needs at least two different training rows")
    return 1.0 / median


def ocsvm_scores(x_train, x, nu: float = OCSVM_NU, gamma: float | None = None) -> np.ndarray:
    """Minus the decision function of a one-class SVM with an RBF kernel, fitted on normal rows (chapter 05).

    ``gamma`` defaults to the median heuristic on the normal training rows and ``nu`` to 0.1: both
    fixed by rule, never chosen with anomalies.
    """
    from sklearn.svm import OneClassSVM

    train, rows = _pair(x_train, x)
    if not 0 < nu <= 1:
        raise ValueError(f"nu must be in (0, 1], got {nu}")
    gamma = median_heuristic_gamma(train) if gamma is None else float(gamma)
    svm = OneClassSVM(kernel="rbf", nu=nu, gamma=gamma).fit(train)
    return -svm.decision_function(rows).astype(np.float64)


def isolation_forest_scores(x_train, x, n_estimators: int = FOREST_TREES, max_samples: int = FOREST_SAMPLES,
                            seed: int = 0) -> np.ndarray:
    """Minus scikit-learn's isolation-forest score: short isolation paths are anomalous (chapter 05).

    100 trees of 256 samples: the settings of Liu et al. (2008), fixed a priori.
    """
    from sklearn.ensemble import IsolationForest

    train, rows = _pair(x_train, x)
    forest = IsolationForest(n_estimators=n_estimators, max_samples=min(max_samples, len(train)),
                             random_state=seed).fit(train)
    return -forest.score_samples(rows).astype(np.float64)


def standardise(scores, normal_val_scores) -> np.ndarray:
    """Scores in units of the normal validation scores: (s - mean) / std, both measured on normals (chapter 05)."""
    scores, reference = np.asarray(scores, dtype=np.float64), np.asarray(normal_val_scores, dtype=np.float64)
    if reference.ndim != 1 or len(reference) < 2:
        raise ValueError(f"normal_val_scores must be a 1-D array of at least two scores, got shape {reference.shape}")
    spread = reference.std()
    if spread == 0:
        raise ValueError("the normal validation scores are all equal: their spread cannot set a unit")
    return (scores - reference.mean()) / spread


def combine_scores(scores: Mapping[str, np.ndarray], normal_val_scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """Sum of scores, each standardised on its own normal validation scores: equal weights, set a priori (ch. 05)."""
    if not scores or set(scores) != set(normal_val_scores):
        raise ValueError(f"scores and normal_val_scores need the same non-empty keys, got {sorted(scores)} and "
                         f"{sorted(normal_val_scores)}")
    return np.sum([standardise(scores[name], normal_val_scores[name]) for name in scores], axis=0)


def _labels(is_anomaly, n: int) -> np.ndarray:
    labels = np.asarray(is_anomaly)
    if labels.shape != (n,):
        raise ValueError(f"is_anomaly must have one entry per score ({n}), got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("is_anomaly must hold booleans or 0/1 (1 = anomaly)")
    return labels.astype(bool)


def _scores(scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array (one score per image), got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite; check the model's output for NaN or inf")
    return scores


def auroc(scores, is_anomaly) -> float:
    """Area under the ROC curve of anomaly scores (scikit-learn): the chance that an anomaly outscores a normal."""
    from sklearn.metrics import roc_auc_score

    scores = _scores(scores)
    labels = _labels(is_anomaly, len(scores))
    if labels.all() or not labels.any():
        raise ValueError("AUROC needs both normal and anomalous images, but is_anomaly holds only "
                         f"{'anomalies' if labels.all() else 'normals'}; score a set that contains both")
    return float(roc_auc_score(labels, scores))


def threshold_at_fpr(normal_val_scores, fpr: float) -> float:
    """The lowest threshold that flags (score > threshold) at most a share ``fpr`` of normal validation scores (ch. 05).

    With m = floor(fpr * n) the threshold is the (m + 1)-th largest score: at most m are above it,
    and ties keep it from flagging more, so the share flagged is <= fpr and as close as ties allow.
    """
    scores = _scores(normal_val_scores)
    if not 0 <= fpr < 1:
        raise ValueError(f"fpr must be a share in [0, 1), e.g. 0.05 for 5 % of normal images flagged, got {fpr}")
    allowed = int(np.floor(fpr * len(scores) + 1e-9))
    return float(np.sort(scores)[::-1][allowed])


def detection_report(scores, is_anomaly, threshold: float) -> dict:
    """Precision, recall, false-positive rate and confusion matrix of flagging score > threshold (chapter 05).

    The confusion matrix (scikit-learn) has rows true (normal, anomaly) and columns flagged (no, yes).
    """
    from sklearn.metrics import confusion_matrix

    scores = _scores(scores)
    labels = _labels(is_anomaly, len(scores))
    flagged = scores > threshold
    matrix = confusion_matrix(labels, flagged, labels=[False, True])  # [[tn, fp], [fn, tp]]
    (tn, fp), (fn, tp) = matrix.tolist()
    return {"threshold": float(threshold), "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0, "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
            "flagged": int(flagged.sum()), "confusion_matrix": matrix}


__all__ = [
    "OneClassSplit", "auroc", "blurred_error_scores", "code_knn_scores", "combine_scores", "detection_report", "error_maps",
    "isolation_forest_scores", "knn_distance_scores", "median_heuristic_gamma", "ocsvm_scores", "one_class_split",
    "pca_residual_scores", "reconstruction_scores", "standardise", "threshold_at_fpr",
]
