"""Plotting helpers: image grids, reconstructions, code maps, training curves, filters, SR crops (chapters 01-03).

Every function returns the matplotlib ``Figure`` so a notebook can show it and a test can inspect it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _as_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]  # (h, w)
    if image.ndim == 1:
        side = round(np.sqrt(image.size))
        if side * side == image.size:
            image = image.reshape(side, side)
    return image


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 8,
               cmap: str = "gray", size: float = 1.3, vmin: float | None = 0.0, vmax: float | None = 1.0,
               suptitle: str | None = None):
    """Show images (n, h, w[, c]) in a grid with optional titles; returns the figure."""
    plt = _plt()
    images = list(images)
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(_as_image(images[i]), cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_reconstructions(originals: np.ndarray, reconstructions: np.ndarray | Mapping[str, np.ndarray],
                         n: int = 10, size: float = 1.2, titles: Sequence[str] | None = None):
    """Originals on the first row, one row per reconstruction below; pass a dict to compare several models."""
    plt = _plt()
    rows = dict(reconstructions) if isinstance(reconstructions, Mapping) else {"reconstruction": reconstructions}
    n = min(n, len(originals))
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(size * n, size * (1 + len(rows)) + 0.2), squeeze=False)
    for row, (label, images) in enumerate([("original", originals), *rows.items()]):
        for j in range(n):
            ax = axes[row, j]
            ax.imshow(_as_image(images[j]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0 and titles is not None:
                ax.set_title(str(titles[j]), fontsize=8)
        axes[row, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def plot_code_scatter(codes: np.ndarray, labels: np.ndarray | None = None, class_names: Sequence[str] | None = None,
                      title: str = "2-D codes", ax=None, s: float = 4.0):
    """Scatter the first two code coordinates, coloured by class; returns the figure."""
    plt = _plt()
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(f"codes must be (n, >=2), got shape {codes.shape}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.5, 5.5))
    ax = ax or fig.add_subplot(1, 1, 1)
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=s, alpha=0.6)
    else:
        labels = np.asarray(labels)
        cmap = plt.get_cmap("tab10")
        for k in np.unique(labels):
            mask = labels == k
            name = class_names[int(k)] if class_names is not None else str(k)
            ax.scatter(codes[mask, 0], codes[mask, 1], s=s, alpha=0.6, color=cmap(int(k) % 10), label=name)
        ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    return fig


def plot_history(history: Mapping[str, Sequence[float]] | object, keys: Sequence[str] | None = None,
                 title: str = "training curves", logy: bool = False, val_label: str = "validation loss"):
    """Plot training curves from a Keras ``History`` or its ``.history`` dict; returns the figure.

    ``val_label`` names Keras' ``val_loss`` curve (the notebooks validate on a split carved from the training set).
    """
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    logs = getattr(history, "history", history)
    keys = list(keys) if keys is not None else [k for k in logs if k != "learning_rate"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in keys:
        values = list(logs[key])
        label = val_label if key == "val_loss" else key
        ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_curves(x: Sequence[float], curves: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
                title: str = "", logx: bool = False, logy: bool = False):
    """Several measured curves over a common x axis (e.g. test MSE against code size for AE and PCA)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, values in curves.items():
        ax.plot(list(x), list(values), marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _signed_grid(images: Sequence[np.ndarray], ncols: int, title: str, size: float = 1.0):
    """Weights as images on one zero-centred red-white-blue scale shared by all, with a colour bar."""
    limit = float(np.max(np.abs(images))) or 1.0
    fig = image_grid(images, ncols=ncols, cmap="RdBu_r", vmin=-limit, vmax=limit, suptitle=title, size=size)
    fig.colorbar(fig.axes[0].images[0], ax=fig.axes, shrink=0.8, label="weight")
    return fig


def plot_filters(kernel: np.ndarray, max_filters: int = 32, ncols: int = 8, title: str = "first-layer filters"):
    """Show the k x k kernels of a conv weight (k, k, in, out), input channel 0, on one zero-centred colour scale.

    White is a zero weight, red positive, blue negative, the same for every filter, with a colour bar.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(f"expected a conv kernel (k, k, in, out), got shape {kernel.shape}")
    filters = [kernel[:, :, 0, i] for i in range(min(max_filters, kernel.shape[-1]))]
    return _signed_grid(filters, ncols, title)


def plot_feature_maps(maps: np.ndarray, max_maps: int = 16, ncols: int = 8, title: str = "feature maps"):
    """Show the channels of one feature map (h, w, c) (or (1, h, w, c)) as a grid of images."""
    maps = np.asarray(maps)
    if maps.ndim == 4:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps (h, w, c), got shape {maps.shape}")
    channels = [maps[:, :, i] for i in range(min(max_maps, maps.shape[-1]))]
    return image_grid(channels, titles=[f"ch {i}" for i in range(len(channels))], ncols=ncols, cmap="viridis",
                      vmin=None, vmax=None, suptitle=title, size=1.1)


def plot_latent_traversal(decoder, base_code: np.ndarray, dim: int, values: Sequence[float], size: float = 1.1):
    """Decode ``base_code`` with coordinate ``dim`` set to each of ``values``: what one code axis controls."""
    codes = np.repeat(np.asarray(base_code, dtype=np.float32)[None], len(values), axis=0)
    codes[:, dim] = values
    images = np.asarray(decoder.predict(codes, verbose=0))
    return image_grid(images, titles=[f"{v:.2g}" for v in values], ncols=len(values), size=size,
                      suptitle=f"code coordinate {dim}")


def _window(image: np.ndarray, top: float, left: float, size: int) -> np.ndarray:
    """A size x size window whose corner sits at fractions (top, left) of the free range."""
    t = round(top * max(image.shape[0] - size, 0))
    c = round(left * max(image.shape[1] - size, 0))
    return image[t:t + size, c:c + size]


def plot_sr_comparison(results: Mapping[str, Mapping[str, np.ndarray]],
                       scores: Mapping[str, Mapping[str, float]] | None = None, crop: int = 96, top: float = 0.5,
                       left: float = 0.5, names: Sequence[str] | None = None):
    """Bicubic, model and original crops side by side, one row per photo, titled with given PSNRs (ch. 03).

    ``results[name]`` holds (h, w) images under 'bicubic', 'model' and 'high_res'; ``scores[name][method]``
    is the PSNR to print above a crop, measured by the caller (the figure computes nothing).
    """
    plt = _plt()
    names = list(names or results)
    columns = [key for key in ("bicubic", "model", "high_res") if key in results[names[0]]]
    fig, axes = plt.subplots(len(names), len(columns), figsize=(3 * len(columns), 3 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for col, key in enumerate(columns):
            title = "original" if key == "high_res" else key
            if scores is not None and key in scores.get(name, {}):
                title += f": {scores[name][key]:.2f} dB"
            axes[row, col].imshow(_window(results[name][key], top, left, crop), cmap="gray", vmin=0, vmax=1,
                                  interpolation="nearest")
            axes[row, col].set_title(f"{name} | {title}", fontsize=9)
            axes[row, col].axis("off")
    fig.tight_layout()
    return fig


def _cells(ax, y: float, start: int, values: Sequence[str], color: str, dashed: Sequence[bool] = ()) -> None:
    """One row of unit squares from x = ``start``, labelled with ``values``; dashed ones are padding."""
    from matplotlib import patches

    for i, text in enumerate(values):
        pad = bool(dashed[i]) if i < len(dashed) else False
        ax.add_patch(patches.Rectangle((start + i, y), 0.9, 0.9, facecolor="white" if pad else color,
                                       edgecolor="grey", linestyle="--" if pad else "-"))
        ax.text(start + i + 0.45, y + 0.45, text, ha="center", va="center", fontsize=7)


def _links(ax, pairs: Sequence[tuple[int, int]], color: str) -> None:
    """Lines from input cell x (top row) to output cell x (bottom row) for each (input, output) pair."""
    for top, bottom in pairs:
        ax.plot([top + 0.45, bottom + 0.45], [1.9, 0.9], color=color, lw=1.2, alpha=0.8)


def size_diagram(kind: str, size: int, kernel: int, stride: int, padding: str = "same", ax=None):
    """A 1-D diagram of a conv, pooling or transposed-conv layer: which inputs feed which outputs (ch. 02-03).

    The top row is the input (padding dashed), the bottom row the output. 'conv' and 'pool' link the
    first two outputs to their windows; 'transpose' links the first two inputs to the outputs they
    stamp and writes in every output cell how many stamps land there.
    """
    from course_utils.shapes import conv_output_size, conv_transpose_output_size, crop_before

    if kind not in ("conv", "pool", "transpose"):
        raise ValueError(f"kind must be 'conv', 'pool' or 'transpose', got {kind!r}")
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 2.2))[1]
    if kind == "transpose":
        out = conv_transpose_output_size(size, kernel, stride, padding)
        crop = crop_before(size, out, kernel, stride, padding)
        stamps = [[j for j in range(i * stride - crop, i * stride - crop + kernel) if 0 <= j < out] for i in range(size)]
        counts = np.bincount([j for row in stamps for j in row], minlength=out)  # (out,)
        _cells(ax, 2, 0, [f"x{i}" for i in range(size)], "#cfe3f7")
        _cells(ax, 0, 0, [str(c) for c in counts], "#fde0c5")
        for i, color in zip(range(min(2, size)), ("C0", "C3")):
            _links(ax, [(i, j) for j in stamps[i]], color)
        ax.set_title(f"transposed conv, kernel {kernel}, stride {stride}, {padding}: {size} -> {out} "
                     "(numbers: stamps per output)", fontsize=9)
    else:
        out = conv_output_size(size, kernel, stride, padding)
        before = max((out - 1) * stride + kernel - size, 0) // 2 if padding == "same" else 0
        after = max((out - 1) * stride + kernel - size - before, 0) if padding == "same" else 0
        labels = [""] * before + [f"x{i}" for i in range(size)] + [""] * after
        _cells(ax, 2, -before, labels, "#cfe3f7", dashed=[not t for t in labels])
        _cells(ax, 0, 0, [f"y{i}" for i in range(out)], "#fde0c5")
        for i, color in zip(range(min(2, out)), ("C0", "C3")):
            _links(ax, [(i * stride - before + t, i) for t in range(kernel)], color)
        name = "convolution, kernel" if kind == "conv" else "pooling (max or mean of each window), window"
        ax.set_title(f"{name} {kernel}, stride {stride}, {padding}: {size} -> {out}", fontsize=9)
    ax.set_xlim(-3, max(size, out) + 3)
    ax.set_ylim(-0.3, 3.2)
    ax.axis("off")
    return ax.figure


def plot_decoder_filters(decoder_kernel: np.ndarray, image_shape: Sequence[int] = (28, 28), n: int = 64,
                         ncols: int = 16, title: str = "decoder filters: what each code unit adds to the image"):
    """Show the rows of a shallow decoder's kernel (d, D) as images, the first ``n`` units (chapter 04).

    Row j is the image that code unit j adds to the output (before the output activation), drawn on
    one zero-centred scale as ``plot_filters`` does.
    """
    kernel = np.asarray(decoder_kernel)
    pixels = int(np.prod(image_shape))
    if kernel.ndim != 2 or kernel.shape[1] != pixels:
        raise ValueError(f"expected a dense decoder kernel (d, {pixels}) for images of shape {tuple(image_shape)}, "
                         f"got shape {kernel.shape}; pass model.decoder.get_layer('output').kernel")
    filters = [row.reshape(tuple(image_shape)) for row in kernel[:n]]
    return _signed_grid(filters, ncols, title, size=0.8)


def plot_tangents(image: np.ndarray, directions: np.ndarray, singular_values: Sequence[float],
                  title: str = "input directions the code follows most"):
    """The image, then the encoder's leading tangent directions titled with their singular values (chapter 04).

    ``directions`` (k, H, W[, C]) and ``singular_values`` (k,) come from
    ``course_utils.evaluation.representation.tangent_directions``; red and blue are the two signs.
    """
    directions = np.asarray(directions)
    if len(directions) != len(singular_values):
        raise ValueError(f"got {len(directions)} directions but {len(singular_values)} singular values")
    plt = _plt()
    fig, axes = plt.subplots(1, len(directions) + 1, figsize=(1.4 * (len(directions) + 1), 1.9), squeeze=False)
    axes[0, 0].imshow(_as_image(image), cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("image", fontsize=8)
    limit = float(np.max(np.abs(directions))) or 1.0
    for ax, direction, value in zip(axes[0, 1:], directions, singular_values):
        ax.imshow(_as_image(direction), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"$\\sigma$ = {float(value):.3g}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
