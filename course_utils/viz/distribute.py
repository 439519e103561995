"""Figures of the tf.distribute appendix (chapter 10): what data parallelism does with one global batch."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def _box(ax, x: float, y: float, width: float, height: float, text: str, colour: str = "0.9") -> None:
    """A rounded box centred at (x, y) with centred text."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02",
                                facecolor=colour, alpha=0.35, edgecolor="0.3"))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    """An arrow from ``start`` to ``end``, labelled at its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.3"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center", fontsize=8, color="0.2")


def plot_data_parallelism(replicas: int = 2, global_batch: int = 8) -> plt.Figure:
    """Chapter 10: a global batch split between replicas, each a copy of the model, gradients summed, one update."""
    if not 1 <= replicas <= len(COLOURS) or global_batch % replicas:
        raise ValueError(f"draw 1 to {len(COLOURS)} replicas sharing a global batch evenly; got {replicas} replicas "
                         f"for a batch of {global_batch}")
    share = global_batch // replicas
    fig, ax = plt.subplots(figsize=(11, 1.6 + 1.3 * replicas))
    top = 1.3 * replicas
    for index in range(global_batch):  # the global batch, one square per example, coloured by its replica
        ax.add_patch(plt.Rectangle((0.1 + 0.25 * (index % share), top - 0.35 - 0.3 * (index // share) - 1.0), 0.2,
                                   0.2, color=COLOURS[index // share]))
    ax.text(0.55, top - 0.1, f"global batch\n{global_batch} examples", ha="center", fontsize=9)
    for replica in range(replicas):
        y = top - 0.75 - 1.3 * replica
        _arrow(ax, (1.15, top - 1.25), (2.0, y), f"{share} examples")
        _box(ax, 3.3, y, 2.5, 0.8, f"replica {replica} (CPU:{replica})\nits own copy of the weights\n"
                                   f"loss share = sum of its {share} losses / {global_batch}", COLOURS[replica])
        _arrow(ax, (4.6, y), (5.6, top / 2 - 0.4), f"gradient g{replica}")
        _arrow(ax, (8.4, top / 2 - 0.4), (9.6, y), "")
        _box(ax, 10.5, y, 1.6, 0.6, f"same update\non copy {replica}", COLOURS[replica])
    total = " + ".join(f"g{replica}" for replica in range(replicas))
    _box(ax, 7.0, top / 2 - 0.4, 2.6, 0.9, f"all-reduce: g = {total}\n= gradient of the mean loss\n"
                                           f"over all {global_batch} examples", "0.85")
    ax.set_xlim(0, 11.5)
    ax.set_ylim(top - 1.3 * replicas - 0.4, top + 0.4)
    ax.axis("off")
    ax.set_title("Data parallelism (MirroredStrategy): one step on one global batch", fontsize=11)
    fig.tight_layout()
    return fig
