"""Figures for anomaly detection: score histograms, the confusion matrix, flagged images, error maps (chapter 05).

Every function returns the matplotlib ``Figure``; scores are higher for more anomalous images and
an image is flagged when its score is above the threshold.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_utils.viz.plots import _as_image, _plt

NORMAL_COLOUR, ANOMALY_COLOUR = "tab:blue", "tab:red"


def _scores_and_labels(scores, is_anomaly) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64).ravel(), np.asarray(is_anomaly).astype(bool).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and is_anomaly must have one entry per image, got {scores.shape} and {labels.shape}")
    if labels.all() or not labels.any():
        raise ValueError("the histogram compares normal and anomalous images: is_anomaly must contain both")
    return scores, labels


def plot_score_histograms(scores, is_anomaly, threshold: float | None = None, bins: int = 60, logx: bool = False,
                          title: str = "anomaly scores"):
    """Density histograms of normal and anomalous scores on shared bins, with the threshold (chapter 05).

    ``logx`` spaces the bins logarithmically, for positive scores with a long tail such as squared errors.
    """
    plt = _plt()
    scores, labels = _scores_and_labels(scores, is_anomaly)
    if logx and scores.min() <= 0:
        raise ValueError("logx needs positive scores; use logx=False for scores that can be zero or negative")
    low, high = scores.min(), scores.max()
    edges = np.geomspace(low, high, bins + 1) if logx else np.linspace(low, high, bins + 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for mask, name, colour in ((~labels, "normal", NORMAL_COLOUR), (labels, "anomaly", ANOMALY_COLOUR)):
        ax.hist(scores[mask], bins=edges, density=True, alpha=0.55, color=colour, label=f"{name} ({mask.sum():,})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion(report: dict, title: str | None = None):
    """The confusion matrix of a ``detection_report``, titled with its precision, recall and false-positive rate."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _plt()
    matrix = np.asarray(report.get("confusion_matrix", ()))
    if matrix.shape != (2, 2):
        raise ValueError("report must be a detection_report(...) dict with a 2x2 'confusion_matrix'")
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    display = ConfusionMatrixDisplay(matrix, display_labels=["normal", "anomaly"])
    display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    ax.set_xlabel("flagged as")
    ax.set_ylabel("true")
    ax.set_xticks([0, 1], ["normal (no)", "anomaly (yes)"])
    summary = (f"precision {report['precision']:.2f}, recall {report['recall']:.2f}, "
               f"FPR {report['false_positive_rate']:.3f}")
    ax.set_title(f"{title}\n{summary}" if title else summary, fontsize=9)
    fig.tight_layout()
    return fig


def _image_row(axes, images, scores, order, colours: Sequence[str], label: str) -> None:
    """Images ``order`` of a stack in one row of axes, titled with their scores; empty axes are blanked."""
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for ax, i, colour in zip(axes, order, colours):
        ax.imshow(_as_image(images[i]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{scores[i]:.3g}", fontsize=8, color=colour)
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_color(colour)
            spine.set_linewidth(2)
    axes[0].set_ylabel(label, fontsize=8)


def plot_flagged(images, scores, threshold: float, n: int = 8, is_anomaly=None):
    """The ``n`` highest-scoring flagged images, and with ``is_anomaly`` the missed anomalies that look most normal.

    Titles are scores. With labels, a red frame is a true anomaly and a blue one a false alarm; the
    second row shows the anomalies with the lowest scores, all below the threshold (chapter 05).
    """
    plt = _plt()
    images, scores = np.asarray(images), np.asarray(scores, dtype=np.float64).ravel()
    if len(images) != len(scores) or n < 1:
        raise ValueError(f"need one score per image and n >= 1, got {len(images)} images, {len(scores)} scores, n={n}")
    labels = None if is_anomaly is None else np.asarray(is_anomaly).astype(bool).ravel()
    if labels is not None and labels.shape != scores.shape:
        raise ValueError(f"is_anomaly must have one entry per image, got {labels.shape} for {len(scores)} images")
    flagged = np.flatnonzero(scores > threshold)
    top = flagged[np.argsort(-scores[flagged])][:n]
    rows = 1 if labels is None else 2
    fig, axes = plt.subplots(rows, n, figsize=(1.25 * n, 1.55 * rows + 0.4), squeeze=False)
    colours = ["black"] * len(top) if labels is None else [ANOMALY_COLOUR if labels[i] else NORMAL_COLOUR for i in top]
    _image_row(axes[0], images, scores, top, colours, f"flagged\n({len(flagged):,})")
    if labels is not None:
        missed = np.flatnonzero(labels & (scores <= threshold))
        lowest = missed[np.argsort(scores[missed])][:n]
        _image_row(axes[1], images, scores, lowest, [ANOMALY_COLOUR] * len(lowest), f"missed\n({len(missed):,})")
    fig.suptitle(f"threshold {threshold:.3g}" + ("" if labels is None else ": red = anomaly, blue = false alarm"),
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_error_maps(images, reconstructions, maps, n: int = 8, scores=None, vmax: float | None = None):
    """Images, their reconstructions and per-pixel squared errors on one shared colour scale (chapter 05).

    The scale runs from 0 to ``vmax``, by default the largest error shown; titles are ``scores`` if given.
    """
    plt = _plt()
    images, reconstructions, maps = np.asarray(images), np.asarray(reconstructions), np.asarray(maps)
    n = min(n, len(images))
    if not (len(images) == len(reconstructions) == len(maps)) or n < 1:
        raise ValueError(f"need as many images, reconstructions and maps (at least one), got {len(images)}, "
                         f"{len(reconstructions)} and {len(maps)}")
    vmax = float(vmax if vmax is not None else np.max(maps[:n])) or 1.0
    fig, axes = plt.subplots(3, n, figsize=(1.25 * n + 1.2, 4.2), squeeze=False, layout="constrained")
    for j in range(n):
        axes[0, j].imshow(_as_image(images[j]), cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(_as_image(reconstructions[j]), cmap="gray", vmin=0, vmax=1)
        shown = axes[2, j].imshow(_as_image(maps[j]), cmap="inferno", vmin=0, vmax=vmax)
        if scores is not None:
            axes[0, j].set_title(f"{float(np.asarray(scores)[j]):.3g}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, label in zip(axes[:, 0], ("image", "reconstruction", "squared error")):
        ax.set_ylabel(label, fontsize=8)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="squared error $(x - x')^2$")
    return fig


__all__ = ["plot_confusion", "plot_error_maps", "plot_flagged", "plot_score_histograms"]
