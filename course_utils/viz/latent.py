"""Pictures of a generative model's code space: image rows, the decoded manifold grid, traversals (chapter 06)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.stats import norm

from course_utils.viz.plots import _as_image


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _decoded(decode: Callable, codes: np.ndarray) -> np.ndarray:
    """``decode`` applied to float32 codes (n, d), as a NumPy array of images (n, h, w[, c])."""
    return np.asarray(decode(np.asarray(codes, dtype=np.float32)))


def plot_image_rows(rows: Mapping[str, Sequence[np.ndarray]], n: int = 10, size: float = 1.1, title: str | None = None):
    """One labelled row of images per entry of ``rows`` ({label: images}), the first ``n`` of each (chapter 06)."""
    plt = _plt()
    if not rows:
        raise ValueError("plot_image_rows needs at least one row: {label: images}")
    n = min(n, *(len(images) for images in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows) + (0.35 if title else 0.1)),
                             squeeze=False)
    for row, (label, images) in enumerate(rows.items()):
        for j in range(n):
            axes[row, j].imshow(_as_image(np.asarray(images[j])), cmap="gray", vmin=0, vmax=1)
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def manifold_codes(n: int = 15, tail: float = 0.05) -> np.ndarray:
    """An n x n grid of 2-D codes at the standard normal's quantiles tail..1-tail, row-major, top row = high z2."""
    if int(n) < 2 or not 0.0 < tail < 0.5:
        raise ValueError(f"n must be >= 2 and tail in (0, 0.5), got n={n}, tail={tail}")
    values = norm.ppf(np.linspace(tail, 1.0 - tail, int(n)))  # (n,) equal prior mass between neighbours
    z1, z2 = np.meshgrid(values, values[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)  # (n * n, 2)


def plot_manifold_grid(decode: Callable, n: int = 15, tail: float = 0.05, ax=None):
    """Decode a 2-D latent grid at prior quantiles and tile the images into one picture (chapter 06)."""
    plt = _plt()
    images = _decoded(decode, manifold_codes(n, tail))  # (n * n, h, w[, 1])
    if images.ndim == 4:
        images = images[..., 0]
    h, w = images.shape[1:3]
    canvas = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)  # rows of the grid stacked
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 6))
    ax = ax or fig.add_subplot(1, 1, 1)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ticks = norm.ppf(np.linspace(tail, 1.0 - tail, n))
    positions = np.arange(n) * w + w / 2
    ax.set_xticks(positions[::2], [f"{t:.1f}" for t in ticks[::2]], fontsize=7)
    ax.set_yticks(positions[::2], [f"{t:.1f}" for t in ticks[::-1][::2]], fontsize=7)
    ax.set(xlabel="$z_1$ (prior quantiles)", ylabel="$z_2$", title="decoded codes on a grid of the prior")
    return fig


def plot_traversals(decode: Callable, base_code, dims: Sequence[int], values: Sequence[float],
                    labels: Mapping[int, str] | None = None, size: float = 1.0):
    """One row per latent dimension in ``dims``: ``base_code`` with that coordinate set to each of ``values``."""
    base = np.asarray(base_code, dtype=np.float32).reshape(-1)  # (d,)
    if not dims or max(dims) >= base.size or min(dims) < 0:
        raise ValueError(f"dims must be latent indices in 0..{base.size - 1}, got {list(dims)}")
    rows = {}
    for dim in dims:
        codes = np.repeat(base[None], len(values), axis=0)  # (len(values), d)
        codes[:, dim] = values
        rows[(labels or {}).get(dim, f"z{dim}")] = _decoded(decode, codes)
    fig = plot_image_rows(rows, n=len(values), size=size,
                          title="traversals: one coordinate from " + f"{values[0]:g} to {values[-1]:g}, others fixed")
    return fig


def plot_rate_distortion(points: Mapping[str, Sequence[tuple[float, float, str]]], ax=None):
    """Rate (KL, nats) against distortion (reconstruction NLL, nats), one line per series of (rate, distortion, label)."""
    plt = _plt()
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.5, 4.2))
    ax = ax or fig.add_subplot(1, 1, 1)
    for series, triples in points.items():
        triples = sorted(triples)
        rates, distortions = [t[0] for t in triples], [t[1] for t in triples]
        ax.plot(rates, distortions, "o-", label=series)
        for rate, distortion, label in triples:
            ax.annotate(label, (rate, distortion), xytext=(4, 4), textcoords="offset points", fontsize=7)
    ax.set(xlabel="rate: KL(q(z|x) || p(z)), nats per image", ylabel="distortion: -E log p(x|z), nats per image",
           title="the rate-distortion plane")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


__all__ = ["manifold_codes", "plot_image_rows", "plot_manifold_grid", "plot_rate_distortion", "plot_traversals"]
