"""Pictures of prior imposition (chapter 09): a 2-D prior's density, and codes drawn over it.

Every function returns the matplotlib ``Figure`` so a notebook can show it and a test can inspect it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def density_grid(log_density: Callable[[np.ndarray], np.ndarray], extent: float = 7.0,
                 n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2-D density on an n x n grid over [-extent, extent]^2: (x (n, n), y (n, n), density (n, n))."""
    axis = np.linspace(-extent, extent, n)
    x, y = np.meshgrid(axis, axis)
    points = np.stack([x.ravel(), y.ravel()], axis=1)  # (n * n, 2)
    return x, y, np.exp(np.asarray(log_density(points), dtype=np.float64)).reshape(n, n)


def plot_prior(prior, log_density: Callable[[np.ndarray], np.ndarray] | None = None, samples: int = 1000,
               extent: float = 7.0, ax=None, title: str | None = None):
    """A 2-D prior's density as filled contours, with ``samples`` of its draws; ``log_density`` overrides the prior's."""
    plt = _plt()
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.2, 4.0))
    ax = ax or fig.add_subplot(1, 1, 1)
    x, y, density = density_grid(log_density or prior.log_density, extent)
    ax.contourf(x, y, density, levels=12, cmap="Greys")
    if samples:
        drawn = np.asarray(prior.sample(samples, seed=0))
        ax.scatter(drawn[:, 0], drawn[:, 1], s=2, color="tab:orange", alpha=0.5)
    ax.set_aspect("equal")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_title(title or f"{type(prior).__name__}: density and {samples} samples", fontsize=9)
    return fig


def plot_codes_on_priors(panels: Mapping[str, tuple[object, np.ndarray, np.ndarray]],
                         class_names: Sequence[str] | None = None, extent: float = 7.0, size: float = 3.6):
    """One panel per model: {title: (prior, codes (n, 2), labels (n,))}, codes coloured by class over the prior's density."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.4), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (title, (prior, codes, labels)) in zip(axes[0], panels.items()):
        x, y, density = density_grid(prior.log_density, extent)
        ax.contour(x, y, density, levels=6, colors="0.6", linewidths=0.6)
        codes, labels = np.asarray(codes), np.asarray(labels)
        for k in np.unique(labels):
            mask = labels == k
            name = class_names[int(k)] if class_names is not None else str(k)
            ax.scatter(codes[mask, 0], codes[mask, 1], s=2, color=cmap(int(k) % 10), alpha=0.6, label=name)
        ax.set_aspect("equal")
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_title(title, fontsize=9)
    axes[0][-1].legend(markerscale=4, fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


__all__ = ["density_grid", "plot_codes_on_priors", "plot_prior"]
