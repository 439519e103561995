"""Pictures of the adversarial game (chapter 08): what the optimal discriminator sees, the two generator losses'
gradients, a toy generator's points as training goes, and the fixed-noise sample grids of a monitor.

Every function returns the matplotlib ``Figure`` so a notebook can show it and a test can inspect it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_utils.models.gan import optimal_discriminator


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _normal(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def plot_optimal_discriminator(generator_mean: float = 1.5, generator_std: float = 0.6):
    """The game in one dimension: p_data (two bumps), p_g (one) and D*(x) = p_data / (p_data + p_g)."""
    plt = _plt()
    x = np.linspace(-4.0, 5.0, 900)
    p_data = 0.5 * _normal(x, -1.5, 0.5) + 0.5 * _normal(x, 1.5, 0.5)  # (900,)
    p_g = _normal(x, generator_mean, generator_std)  # (900,)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.fill_between(x, p_data, alpha=0.35, color="tab:blue", label="p_data: the training data")
    ax.fill_between(x, p_g, alpha=0.35, color="tab:orange", label="p_g: what the generator makes")
    ax.set_xlabel("x (one-dimensional 'images')")
    ax.set_ylabel("density")
    twin = ax.twinx()
    twin.plot(x, optimal_discriminator(p_data, p_g + 1e-300), color="black", lw=2,
              label="D*(x) = p_data / (p_data + p_g)")
    twin.axhline(0.5, color="gray", ls=":", lw=1)
    twin.set_ylim(-0.02, 1.02)
    twin.set_ylabel("D*(x): probability 'real'")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8, frameon=False)
    ax.set_title("The best discriminator says 'real' where data outweighs samples; the generator moves p_g towards "
                 "where D* is high", fontsize=9)
    fig.tight_layout()
    return fig


def plot_generator_gradients():
    """|d loss / d logit| of the saturating and non-saturating generator losses against D(G(z))."""
    plt = _plt()
    d = np.linspace(1e-4, 1 - 1e-4, 500)  # D(G(z)) = sigmoid(logit)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(d, d, label="saturating: log(1 - D(G(z)));  |gradient| = D", color="tab:red")
    ax.plot(d, 1 - d, label="non-saturating: -log D(G(z));  |gradient| = 1 - D", color="tab:green")
    ax.axvspan(0, 0.1, color="gray", alpha=0.15)
    ax.text(0.012, 0.55, "start of training:\nD rejects every sample", fontsize=8)
    ax.set_xlabel("D(G(z)), the discriminator's belief that a sample is real")
    ax.set_ylabel("|d loss / d logit|")
    ax.legend(fontsize=8, frameon=False, loc="upper center")
    ax.set_title("The signal the generator gets, per sample", fontsize=9)
    fig.tight_layout()
    return fig


def plot_toy_snapshots(snapshots: Sequence[tuple[int, np.ndarray]], centres: np.ndarray, data: np.ndarray | None = None,
                       ncols: int = 5, size: float = 2.2, titles: Sequence[str] | None = None):
    """Small multiples of generated 2-D points, one panel per (step, points) snapshot, over the modes' centres."""
    plt = _plt()
    if not snapshots:
        raise ValueError("plot_toy_snapshots needs at least one (step, points) snapshot")
    ncols = max(1, min(ncols, len(snapshots)))
    nrows = int(np.ceil(len(snapshots) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    limit = 1.3 * float(np.abs(centres).max())
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(snapshots):
            ax.axis("off")
            continue
        step, points = snapshots[i]
        if data is not None:
            ax.scatter(data[:, 0], data[:, 1], s=2, color="tab:blue", alpha=0.15)
        ax.scatter(points[:, 0], points[:, 1], s=2, color="tab:orange", alpha=0.5)
        ax.scatter(centres[:, 0], centres[:, 1], marker="+", color="black", s=40, lw=1)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_title(titles[i] if titles is not None else f"step {step}", fontsize=8)
    fig.tight_layout()
    return fig
