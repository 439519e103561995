"""Intuition figures drawn from code: the autoencoder hourglass, a PCA plane against a curved manifold (chapter 01),
the stages of a learned codec (chapter 07), data parallelism over replicas (chapter 10)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_hourglass(layer_sizes: Sequence[int] = (784, 512, 256, 32, 256, 512, 784), code_index: int | None = None,
                   title: str = "a dense autoencoder is an hourglass"):
    """Draw each layer as a bar whose height is its width in numbers; the narrowest one is the code (chapter 01)."""
    plt = _plt()
    sizes = [int(s) for s in layer_sizes]
    code = int(np.argmin(sizes)) if code_index is None else int(code_index)
    heights = np.sqrt(np.asarray(sizes, dtype=float) / max(sizes))  # sqrt keeps a 32-wide code visible beside 784
    fig, ax = plt.subplots(figsize=(max(1.2 * len(sizes) + 1, 6.0), 3.6))
    for i, (size, height) in enumerate(zip(sizes, heights)):
        colour = "tab:red" if i == code else ("tab:blue" if i < code else "tab:green")
        ax.add_patch(plt.Rectangle((i - 0.18, -height / 2), 0.36, height, color=colour, alpha=0.8))
        ax.text(i, -height / 2 - 0.08, f"{size}", ha="center", va="top", fontsize=9)
        if i + 1 < len(sizes):  # the trapezoid of weights between two layers
            nxt = heights[i + 1]
            ax.fill([i + 0.18, i + 0.82, i + 0.82, i + 0.18], [-height / 2, -nxt / 2, nxt / 2, height / 2],
                    color="grey", alpha=0.15)
    for text, x, y, colour in (("encoder", code / 2, 0.62, "tab:blue"), ("code z", code, 0.7, "tab:red"),
                               ("decoder", (code + len(sizes) - 1) / 2, 0.62, "tab:green")):
        ax.text(x, y, text, ha="center", fontsize=11, color=colour)  # the code's label sits higher: no overlap
    ax.text(0, 0.62, "x", ha="center", fontsize=11)
    ax.text(len(sizes) - 1, 0.62, "x'", ha="center", fontsize=11)
    ax.set_xlim(-0.6, len(sizes) - 0.4)
    ax.set_ylim(-0.75, 0.8)
    ax.set_axis_off()
    ax.set_title(f"{title} (bar height ~ sqrt of layer width; numbers per layer below)", fontsize=10)
    return fig


def s_curve(n: int = 1500, noise: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 3-D toy set on a curved 2-D sheet (scikit-learn's S-curve): points (n, 3) and their position t along it."""
    from sklearn.datasets import make_s_curve

    points, t = make_s_curve(n_samples=n, noise=noise, random_state=seed)
    return points, t


def plot_plane_vs_manifold(points: np.ndarray, position: np.ndarray):
    """Left: 3-D points on a curved 2-D sheet and PCA's best plane; right: their PCA-2 reconstructions (chapter 01)."""
    plt = _plt()
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean, full_matrices=False)
    coords = (points - mean) @ vt[:2].T  # (n, 2): the 2-number PCA code
    recon = mean + coords @ vt[:2]  # (n, 3): back on the plane
    error = float(np.mean((points - recon) ** 2))
    fig = plt.figure(figsize=(10, 4.4))
    left = fig.add_subplot(1, 2, 1, projection="3d")
    left.scatter(*points.T, c=position, cmap="viridis", s=4)
    u, v = np.meshgrid(np.linspace(coords[:, 0].min(), coords[:, 0].max(), 2),
                       np.linspace(coords[:, 1].min(), coords[:, 1].max(), 2))
    plane = mean + u[..., None] * vt[0] + v[..., None] * vt[1]  # (2, 2, 3)
    left.plot_surface(plane[..., 0], plane[..., 1], plane[..., 2], color="tab:red", alpha=0.2)
    left.set_title("data: a 2-D sheet bent into an S in 3-D;\nred: PCA's best plane", fontsize=9)
    right = fig.add_subplot(1, 2, 2, projection="3d")
    right.scatter(*recon.T, c=position, cmap="viridis", s=4)
    right.set_title(f"PCA with a 2-number code: every point moved onto the plane\n(MSE {error:.3f}); "
                    "a curved 2-number code (along, across the sheet) loses nothing", fontsize=9)
    for ax in (left, right):
        ax.view_init(elev=18, azim=-55)
        ax.set_xlim(points[:, 0].min(), points[:, 0].max())
        ax.set_ylim(points[:, 1].min(), points[:, 1].max())
        ax.set_zlim(points[:, 2].min(), points[:, 2].max())
        ax.set_xlabel("x"); ax.set_ylabel("y"); ax.set_zlabel("z")
    fig.tight_layout()
    return fig


__all__ = ["plot_hourglass", "plot_plane_vs_manifold", "s_curve"]


CODEC_STAGES = (  # (label, what flows out of it, colour): sender on the top row, receiver on the bottom row
    ("image x\n28x28, 8 bits", "", "black"), ("encoder g_a", "y: floats", "tab:blue"),
    ("round", "integers", "tab:red"), ("range coder\nwith p(y)", "bytes", "tab:purple"),
    ("range decoder\nwith p(y)", "integers", "tab:purple"), ("decoder g_s", "", "tab:green"),
    ("image x'", "", "black"),
)


def plot_codec_pipeline(title: str = "a learned codec: only the bytes cross from sender to receiver"):
    """The stages of a learned codec as boxes and arrows, sender above and receiver below (chapter 07)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 3.4))
    positions = [(0, 1), (1.6, 1), (3.2, 1), (4.8, 1), (4.8, 0), (3.2, 0), (1.6, 0)]  # a U: along the top, back below
    for (label, _, colour), (x, y) in zip(CODEC_STAGES, positions):
        ax.text(x, y, label, ha="center", va="center", fontsize=10, color=colour,
                bbox=dict(boxstyle="round,pad=0.4", fc="white", ec=colour))
    for i, ((_, flow, _), (x0, y0), (x1, y1)) in enumerate(zip(CODEC_STAGES, positions, positions[1:])):
        ax.annotate("", xy=(x1 - 0.45 * np.sign(x1 - x0), y1 + 0.22 * np.sign(y0 - y1)),
                    xytext=(x0 + 0.45 * np.sign(x1 - x0), y0 - 0.22 * np.sign(y0 - y1)),
                    arrowprops=dict(arrowstyle="->", color="grey"))
        if flow:
            ax.text((x0 + x1) / 2 + (0.25 if x0 == x1 else 0), (y0 + y1) / 2 + (0.12 if y0 == y1 else 0), flow,
                    ha="center" if x0 != x1 else "left", va="center", fontsize=9, color="dimgrey")
    ax.text(5.55, 0.5, "the file:\nrate = 8 x bytes", ha="left", va="center", fontsize=9, color="tab:purple")
    ax.text(-0.6, 1.35, "sender", fontsize=10, fontweight="bold")
    ax.text(-0.6, -0.4, "receiver", fontsize=10, fontweight="bold")
    ax.text(2.4, 0.5, "training: y + U(-1/2, 1/2) for the rate,\nround with the STE for the decoder", ha="center",
            va="center", fontsize=8, color="tab:red", style="italic")
    ax.set_xlim(-0.8, 6.6)
    ax.set_ylim(-0.55, 1.5)
    ax.set_axis_off()
    ax.set_title(title, fontsize=11)
    return fig


REPLICA_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def _box(ax, x: float, y: float, width: float, height: float, text: str, colour: str = "0.9") -> None:
    """A rounded box centred at (x, y) with centred text."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02",
                                facecolor=colour, alpha=0.35, edgecolor="0.3"))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    """An arrow from ``start`` to ``end``, labelled at its middle."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.3"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center", fontsize=8, color="0.2")


def plot_data_parallelism(replicas: int = 2, global_batch: int = 8):
    """Chapter 10: a global batch split between replicas, each a copy of the model, gradients summed, one update."""
    if not 1 <= replicas <= len(REPLICA_COLOURS) or global_batch % replicas:
        raise ValueError(f"draw 1 to {len(REPLICA_COLOURS)} replicas sharing a global batch evenly; got "
                         f"{replicas} replicas for a batch of {global_batch}")
    plt = _plt()
    share = global_batch // replicas
    fig, ax = plt.subplots(figsize=(11, 1.6 + 1.3 * replicas))
    top = 1.3 * replicas
    for index in range(global_batch):  # the global batch, one square per example, coloured by its replica
        ax.add_patch(plt.Rectangle((0.1 + 0.25 * (index % share), top - 0.35 - 0.3 * (index // share) - 1.0), 0.2,
                                   0.2, color=REPLICA_COLOURS[index // share]))
    ax.text(0.55, top - 0.1, f"global batch\n{global_batch} examples", ha="center", fontsize=9)
    for replica in range(replicas):
        y = top - 0.75 - 1.3 * replica
        _arrow(ax, (1.15, top - 1.25), (2.0, y), f"{share} examples")
        _box(ax, 3.3, y, 2.5, 0.8, f"replica {replica} (CPU:{replica})\nits own copy of the weights\n"
                                   f"loss share = sum of its {share} losses / {global_batch}", REPLICA_COLOURS[replica])
        _arrow(ax, (4.6, y), (5.6, top / 2 - 0.4), f"gradient g{replica}")
        _arrow(ax, (8.4, top / 2 - 0.4), (9.6, y), "")
        _box(ax, 10.5, y, 1.6, 0.6, f"same update\non copy {replica}", REPLICA_COLOURS[replica])
    total = " + ".join(f"g{replica}" for replica in range(replicas))
    _box(ax, 7.0, top / 2 - 0.4, 2.6, 0.9, f"all-reduce: g = {total}\n= gradient of the mean loss\n"
                                           f"over all {global_batch} examples", "0.85")
    ax.set_xlim(0, 11.5)
    ax.set_ylim(top - 1.3 * replicas - 0.4, top + 0.4)
    ax.axis("off")
    ax.set_title("Data parallelism (MirroredStrategy): one step on one global batch", fontsize=11)
    fig.tight_layout()
    return fig
