"""Figures for codes as representations: 2-D embeddings side by side, the probe curve, retrieval (chapter 05).

Every function returns the matplotlib ``Figure`` so a notebook can show it and a test can inspect it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _panel_title(name: str, row: Mapping[str, Any] | None) -> str:
    """The method's name, and its scores on a second line when its row is known."""
    if row is None:
        return name
    return (f"{name}\n{row['k']}-NN accuracy {row['knn_accuracy']:.3f}, trust. {row['trustworthiness']:.3f}, "
            f"{row['seconds']:.1f} s")


def plot_embeddings(embeddings: Mapping[str, np.ndarray], labels, class_names: Sequence[str],
                    rows: Sequence[Mapping[str, Any]] | None = None, ncols: int = 3, size: float = 4.0,
                    point_size: float = 2.0):
    """One scatter panel per method of the same points coloured by class; ``rows`` adds scores to titles (ch. 05).

    ``rows`` is what ``evaluation.embedding.compare_embeddings`` returns. Axes carry no ticks: only
    distances inside a panel mean something, and t-SNE's axes mean nothing at all.
    """
    plt = _plt()
    labels = np.asarray(labels).ravel()
    if not embeddings:
        raise ValueError("embeddings is empty: pass a dict name -> (n, 2) array")
    for name, points in embeddings.items():
        if np.shape(points) != (len(labels), 2):
            raise ValueError(f"the embedding {name!r} must be ({len(labels)}, 2), one 2-D point per label, "
                             f"got shape {np.shape(points)}")
    by_name = {row["method"]: row for row in rows or ()}
    ncols = max(1, min(ncols, len(embeddings)))
    nrows = int(np.ceil(len(embeddings) / ncols))
    classes = len(np.unique(labels))
    legend_cols = min(classes, 2 * ncols + 1, 5)  # about 1.3 inches per entry
    legend_height = 0.25 * np.ceil(classes / legend_cols) + 0.15  # inches under the panels
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + legend_height), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (name, points) in zip(axes.ravel(), embeddings.items()):
        points = np.asarray(points)
        for k in np.unique(labels):
            mask = labels == k
            ax.scatter(points[mask, 0], points[mask, 1], s=point_size, alpha=0.6, color=cmap(int(k) % 10),
                       label=class_names[int(k)], rasterized=True)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_panel_title(name, by_name.get(name)), fontsize=9)
    for ax in axes.ravel()[len(embeddings):]:
        fig.delaxes(ax)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=legend_cols, markerscale=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, legend_height / fig.get_figheight(), 1, 1))
    return fig


def plot_probe_curve(curve: Mapping[str, Mapping[str, Sequence[float]]],
                     title: str = "linear probe: test accuracy against the number of labels"):
    """Probe accuracy against labels (log axis), error bars the std over label draws, one line per feature set (ch. 05).

    ``curve`` is what ``evaluation.embedding.probe_curve`` returns.
    """
    from matplotlib.ticker import FixedLocator, NullLocator

    plt = _plt()
    if not curve:
        raise ValueError("curve is empty: pass what probe_curve returns")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, points in curve.items():
        ax.errorbar(points["labels"], points["mean"], yerr=points["std"], marker="o", capsize=3, label=name)
    counts = sorted({n for points in curve.values() for n in points["labels"]})
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(counts))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{n:,}" for n in counts])
    ax.set_xlabel("labelled training examples (log scale)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _frame(ax, colour: str) -> None:
    """A coloured border around an image axes."""
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(2.5)


def plot_retrieval(query_images, bank_images, indices, distances=None, query_labels=None, bank_labels=None,
                   size: float = 1.1):
    """One row per query: the query, then its nearest bank images (with distances); wrong class framed red (ch. 05).

    ``indices`` and ``distances`` are what ``evaluation.embedding.nearest_neighbours`` returns. With
    ``query_labels`` and ``bank_labels`` a neighbour of another class gets a red frame, one of the
    query's class a green one.
    """
    plt = _plt()
    indices = np.asarray(indices)
    if indices.ndim != 2 or len(indices) != len(query_images) or indices.size == 0:
        raise ValueError(f"indices must be (queries, k) with one row per query image ({len(query_images)}), "
                         f"got shape {indices.shape}")
    if not 0 <= indices.min() <= indices.max() < len(bank_images):
        raise ValueError(f"indices must point into the {len(bank_images)} bank images, "
                         f"got values from {indices.min()} to {indices.max()}")
    if distances is not None and np.shape(distances) != indices.shape:
        raise ValueError(f"distances must have the shape of indices {indices.shape}, got {np.shape(distances)}")
    if (query_labels is None) != (bank_labels is None):
        raise ValueError("give both query_labels and bank_labels (to frame each neighbour by class) or neither")
    n, k = indices.shape
    fig, axes = plt.subplots(n, k + 1, figsize=(size * (k + 1), size * n + 0.4), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(np.squeeze(query_images[i]), cmap="gray", vmin=0, vmax=1)
        _frame(axes[i, 0], "black")
        for j in range(k):
            ax = axes[i, j + 1]
            ax.imshow(np.squeeze(bank_images[indices[i, j]]), cmap="gray", vmin=0, vmax=1)
            if distances is not None:
                ax.set_title(f"{distances[i, j]:.2f}", fontsize=7)
            if query_labels is not None:
                _frame(ax, "tab:green" if bank_labels[indices[i, j]] == query_labels[i] else "tab:red")
            else:
                ax.set_frame_on(False)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("query", fontsize=8)
    notes = ["Euclidean distance above each"] * (distances is not None)
    notes += ["green frame: the query's class, red: another"] * (query_labels is not None)
    fig.suptitle("\n".join(["nearest neighbours in code space", *notes]), fontsize=9)
    fig.tight_layout()
    return fig


__all__ = ["plot_embeddings", "plot_probe_curve", "plot_retrieval"]
