"""Judging generated Fashion-MNIST images, one module for every generative chapter (VAE, compression, GANs).

All feature-based metrics use the penultimate 128-d features of the course's own Fashion-MNIST
classifier (checkpoint ``fashion_classifier``, ``course_utils.models.classifier``), not Inception:

- ``classifier_fid``: the Fréchet distance between Gaussians fitted to the two feature sets. It is a
  *Fashion-MNIST-classifier FID*; its numbers are not comparable with the Inception FID of papers, and
  it is biased upwards for small samples: compare FIDs at the same sample count (the references use 5,000).
- ``kid``: the unbiased kernel (MMD^2) distance with a cubic polynomial kernel; unbiased at any sample
  count, so it suits the few hundred samples a classroom can afford.
- ``precision_recall``: k-NN manifold precision (realism) and recall (diversity) (Kynkäänniemi et al. 2019).
- ``class_coverage``: the histogram of predicted classes against the uniform one of the test split.
- ``mode_coverage``: for 2-D toy data, the modes a generator reaches and its share of good samples.
- ``memorisation``: each sample's distance to its nearest training image (in pixels), against the same
  distance for real held-out images.

``evaluate_samples`` computes all of them; ``benchmarks/generative_reference.py`` stores reference
points computed by the same code (``load_generative_reference``, ``plot_generative_reference``).
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.evaluation.references import RESULTS_DIR
from course_utils.evaluation.two_sample import squared_distances, unbiased_mmd2_from_kernels

REFERENCE_NAME = "generative_reference"
DISTANCE_CHUNK = 1000  # rows of a pairwise-distance block: 1000 x 60000 float32 is 240 MB


# ---------------------------------------------------------------------------
# Features of the course's classifier
# ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def default_classifier():
    """The pretrained ``fashion_classifier`` checkpoint, loaded once per process."""
    from course_utils.pretrained import load_pretrained

    return load_pretrained("fashion_classifier")


def classifier_features(images, classifier=None) -> np.ndarray:
    """Penultimate classifier features of images in [0, 1]: (n, 28, 28, 1) -> (n, 128) float64."""
    return (classifier or default_classifier()).features(images)


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of (n, d) features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need (n, d) features with n >= 2, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


# ---------------------------------------------------------------------------
# Fréchet distance and kernel distance
# ---------------------------------------------------------------------------

def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2): |mu1 - mu2|^2 + tr(s1 + s2 - 2 (s1 s2)^(1/2))."""
    from scipy.linalg import LinAlgWarning, sqrtm

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64)), np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"mismatched shapes: mu {mu1.shape}, {mu2.shape}; sigma {sigma1.shape}, {sigma2.shape}")
    with warnings.catch_warnings():  # singular products are common (dead features); handled below
        warnings.simplefilter("ignore", LinAlgWarning)
        covmean = sqrtm(sigma1 @ sigma2)  # (d, d)
        if not np.all(np.isfinite(covmean)):  # regularise a product sqrtm cannot handle
            offset = eps * np.eye(len(mu1))
            covmean = sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):  # round-off gives tiny imaginary parts; large ones mean a broken covariance
        if np.max(np.abs(covmean.imag)) > 1e-3 * max(np.abs(covmean.real).max(), 1.0):
            raise ValueError(f"sqrtm(sigma1 @ sigma2) has imaginary parts up to {np.abs(covmean.imag).max():.3g}: "
                             "the covariances are far from positive semi-definite (too few samples for the "
                             "feature size?); use kid() for small sample counts")
        covmean = covmean.real
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))  # exact arithmetic is >= 0; clip round-off below it


def classifier_fid(images_a, images_b, classifier=None) -> float:
    """Fashion-MNIST-classifier FID of two image sets (n, 28, 28, 1): Fréchet distance of their feature Gaussians."""
    stats_a = gaussian_stats(classifier_features(images_a, classifier))
    stats_b = gaussian_stats(classifier_features(images_b, classifier))
    return frechet_distance(*stats_a, *stats_b)


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^3 for every pair: (n, d), (m, d) -> (n, m)."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def _unbiased_mmd2(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 estimate of two equal-size samples (the diagonal k(x, x) left out)."""
    return unbiased_mmd2_from_kernels(_polynomial_kernel(a, a), _polynomial_kernel(b, b), _polynomial_kernel(a, b))


def kid(features_a, features_b, n_subsets: int = 50, subset_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Kernel inception-style distance: mean and std of unbiased MMD^2 over random subsets of both sets."""
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError(f"kid needs at least 2 samples in each set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    values = [_unbiased_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
              for _ in range(n_subsets)]
    return {"kid": float(np.mean(values)), "kid_std": float(np.std(values))}


# ---------------------------------------------------------------------------
# Manifold precision and recall
# ---------------------------------------------------------------------------

def knn_radii(features, k: int = 3) -> np.ndarray:
    """Distance of each point to its k-th nearest other point of the same set: (n, d) -> (n,)."""
    x = np.asarray(features, dtype=np.float64)
    if not 1 <= k < len(x):
        raise ValueError(f"k must be between 1 and {len(x) - 1} for {len(x)} points, got {k}")
    radii = [np.sqrt(np.partition(squared_distances(x[i:i + DISTANCE_CHUNK], x), k, axis=1)[:, k])
             for i in range(0, len(x), DISTANCE_CHUNK)]  # column 0 of the partition is the point itself
    return np.concatenate(radii)


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Fraction of ``points`` inside at least one ball (centre, radius)."""
    inside = [np.any(squared_distances(points[i:i + DISTANCE_CHUNK], centres) <= radii[None, :] ** 2, axis=1)
              for i in range(0, len(points), DISTANCE_CHUNK)]
    return float(np.mean(np.concatenate(inside)))


def precision_recall(real_features, fake_features, k: int = 3) -> dict[str, float]:
    """k-NN manifold precision (fakes inside real balls) and recall (reals inside fake balls), Kynkäänniemi 2019."""
    real, fake = np.asarray(real_features, dtype=np.float64), np.asarray(fake_features, dtype=np.float64)
    return {"precision": _coverage(fake, real, knn_radii(real, k)),
            "recall": _coverage(real, fake, knn_radii(fake, k))}


# ---------------------------------------------------------------------------
# Class coverage and memorisation
# ---------------------------------------------------------------------------

def class_coverage(predicted_classes, n_classes: int = 10, min_share: float = 0.2) -> dict[str, Any]:
    """Histogram of predicted classes against uniform: KL(hist || uniform) in nats and classes covered.

    A class counts as covered when it gets at least ``min_share`` of its uniform share (2 % of the
    samples for 10 classes by default). The Fashion-MNIST test split is exactly uniform (KL 0, 10 covered).
    """
    classes = np.asarray(predicted_classes, dtype=int).ravel()
    if classes.size == 0 or classes.min() < 0 or classes.max() >= n_classes:
        raise ValueError(f"need class indices in 0..{n_classes - 1}, got {classes.size} values")
    share = np.bincount(classes, minlength=n_classes) / classes.size  # (n_classes,)
    seen = share > 0
    kl = float(np.sum(share[seen] * np.log(share[seen] * n_classes)))
    return {"class_histogram": share.tolist(), "class_kl": kl,
            "classes_covered": int(np.sum(share >= min_share / n_classes))}


def mode_coverage(samples, centres, std: float, radius_in_std: float = 3.0,
                  min_share: float = 0.2) -> dict[str, Any]:
    """Modes a 2-D generator reaches, and how many of its samples are good (chapter 08's toy GANs).

    A sample is high quality when it lies within ``radius_in_std`` standard deviations of its nearest
    mode centre (Srivastava et al. 2017). A mode counts as covered when it holds at least ``min_share`` of
    its fair share (n_samples / n_modes) of the high-quality samples, so a handful of strays do not count.
    """
    points, centres = np.asarray(samples, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    if points.ndim != 2 or centres.ndim != 2 or points.shape[1] != centres.shape[1] or len(points) == 0:
        raise ValueError(f"need (n, d) samples and (modes, d) centres of the same d, got shapes "
                         f"{points.shape} and {centres.shape}")
    if std <= 0:
        raise ValueError(f"std is the modes' standard deviation and must be positive, got {std}")
    distances = np.sqrt(((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1))  # (n, modes)
    nearest = distances.argmin(axis=1)  # (n,)
    good = distances[np.arange(len(points)), nearest] <= radius_in_std * std  # (n,)
    counts = np.bincount(nearest[good], minlength=len(centres))  # (modes,)
    fair_share = len(points) / len(centres)
    return {"modes_covered": int(np.sum(counts >= min_share * fair_share)), "n_modes": len(centres),
            "high_quality": float(good.mean()), "mode_counts": counts.tolist()}


def nearest_train_distances(samples, train) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean pixel distance of each sample to its nearest training image, and that image's index: (n,), (n,)."""
    s = np.asarray(samples, dtype=np.float32).reshape(len(samples), -1)  # (n, D)
    t = np.asarray(train, dtype=np.float32).reshape(len(train), -1)  # (N, D)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"samples and training images differ in size: {s.shape[1]} and {t.shape[1]} values")
    t_norms = (t * t).sum(1)  # (N,)
    distances, indices = [], []
    for i in range(0, len(s), DISTANCE_CHUNK):
        block = s[i:i + DISTANCE_CHUNK]
        squared = (block * block).sum(1)[:, None] - 2.0 * block @ t.T + t_norms[None, :]  # (chunk, N)
        nearest = np.argmin(squared, axis=1)
        indices.append(nearest)
        distances.append(np.sqrt(np.maximum(squared[np.arange(len(block)), nearest], 0.0)))
    return np.concatenate(distances).astype(np.float64), np.concatenate(indices)


def memorisation(samples, train, reference=None, quantile: float = 0.01) -> dict[str, float]:
    """Nearest-training-image distances of samples; with real held-out ``reference`` images, the copy fraction.

    ``copy_fraction`` is the share of samples closer to a training image than all but ``quantile`` of the
    real held-out images are: about ``quantile`` for an honest generator, near 1 for one that copies.
    """
    distances, _ = nearest_train_distances(samples, train)
    result = {"nn_train_distance_median": float(np.median(distances)), "nn_train_distance_min": float(distances.min())}
    if reference is not None:
        threshold = float(np.quantile(nearest_train_distances(reference, train)[0], quantile))
        result.update(copy_threshold=threshold, copy_fraction=float(np.mean(distances < threshold)))
    return result


# ---------------------------------------------------------------------------
# Everything at once, and the stored reference points
# ---------------------------------------------------------------------------

def evaluate_samples(samples, real, train=None, classifier=None, k: int = 3, kid_subset_size: int = 1000,
                     memorisation_size: int | None = 1000, seed: int = 0) -> dict[str, Any]:
    """Every metric of this module for ``samples`` against ``real`` held-out images (and ``train`` for memorisation).

    Memorisation uses the first ``memorisation_size`` samples and real images (None: all); it is the slow part.
    """
    classifier = classifier or default_classifier()
    fake_features, real_features = classifier.features(samples), classifier.features(real)
    result: dict[str, Any] = {
        "n_samples": len(fake_features), "n_real": len(real_features),
        "classifier_fid": frechet_distance(*gaussian_stats(real_features), *gaussian_stats(fake_features)),
        **kid(real_features, fake_features, subset_size=kid_subset_size, seed=seed),
        **precision_recall(real_features, fake_features, k=k),
        **class_coverage(classifier.predict_classes(samples)),
    }
    if train is not None:
        result.update(memorisation(samples[:memorisation_size], train, reference=real[:memorisation_size]))
    return result


def load_generative_reference(results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    """The reference points of ``benchmarks/generative_reference.py``: settings and {label: metrics}."""
    path = Path(results_dir) / f"{REFERENCE_NAME}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it ships with a source checkout of the course; "
                                "regenerate it with `python benchmarks/generative_reference.py`")
    return json.loads(path.read_text(encoding="utf-8"))


PLOTTED = (("classifier_fid", "classifier-FID ↓", "log"), ("kid", "KID ↓", "log"),
           ("precision", "precision ↑", "linear"), ("recall", "recall ↑", "linear"))


def plot_generative_reference(reference: Mapping[str, Any] | None = None,
                              yours: Mapping[str, Mapping[str, float]] | None = None,
                              metrics: Sequence[tuple[str, str, str]] = PLOTTED):
    """A dot per reference point and metric (value printed beside it), with ``yours`` ({label: metrics}) in orange."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    rows = {**dict((reference or load_generative_reference())["points"]), **(yours or {})}
    labels = list(rows)
    y = np.arange(len(labels))
    colours = ["tab:orange" if label in (yours or {}) else "tab:blue" for label in labels]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.9 * len(metrics) + 2.8, 0.3 * len(labels) + 1.3),
                             sharey=True, layout="constrained")
    for ax, (key, title, scale) in zip(np.atleast_1d(axes), metrics):
        values = np.array([rows[label][key] for label in labels], dtype=float)
        shown = values
        if scale == "log":  # unbiased KID can dip below 0 at the floor: drawn at the left edge, labelled exactly
            shown = np.maximum(values, values[values > 0].min(initial=1.0) / 3)
        ax.scatter(shown, y, c=colours, zorder=3)
        for value, x, row in zip(values, shown, y):
            ax.annotate(f"{value:.3g}", (x, row), xytext=(5, 0), textcoords="offset points", va="center", fontsize=7)
        ax.set_xscale(scale)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(*((0, 1.12) if scale == "linear" else (None, values.max() * 4)))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(y, labels, fontsize=8)
    first.invert_yaxis()
    fig.suptitle("Fashion-MNIST-classifier metrics of image sets against test images "
                 "(not comparable with Inception FID)", fontsize=10)
    return fig


__all__ = [
    "class_coverage", "classifier_features", "classifier_fid", "default_classifier", "evaluate_samples",
    "frechet_distance", "gaussian_stats", "kid", "knn_radii", "load_generative_reference", "memorisation",
    "nearest_train_distances", "plot_generative_reference", "precision_recall",
]
