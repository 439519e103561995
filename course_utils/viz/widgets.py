"""Interactive widgets (ipywidgets) with one static fallback rule (chapters 01-05).

Every widget takes ``interactive``: ``None`` (the default) decides with ``widgets_available()``,
``False`` forces the static figure. Where widgets cannot render (no kernel front end, ipywidgets
missing, a static HTML export) the same information is drawn as static figures. ``COURSE_WIDGETS=static``
in the environment asks for the static figures everywhere (the course site sets it when it executes notebooks).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np


def widgets_available() -> bool:
    """True when ipywidgets is importable, we run inside an IPython kernel and COURSE_WIDGETS is not ``static``."""
    if os.environ.get("COURSE_WIDGETS", "").strip().lower() == "static":
        return False
    return _in_kernel()


def _in_kernel() -> bool:
    """True when ipywidgets is importable and we run inside an IPython kernel."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _interactive(interactive: bool | None) -> bool:
    """The one fallback rule: widgets when asked for and available, a static figure otherwise."""
    return widgets_available() if interactive is None else bool(interactive)


def _shown(box):
    """Display a widget and return it: every widget shows itself, so ``view = widget(...)`` works like a figure.

    Assign the result (``explorer = ...``) rather than ending a cell with it, which would display it twice.
    """
    from IPython.display import display

    display(box)
    return box


def _predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(np.asarray(x, dtype=np.float32), verbose=0))


def _code_ranges(codes: np.ndarray, dims: Sequence[int]) -> list[tuple[float, float]]:
    flat = codes.reshape(len(codes), -1)
    lows, highs = np.percentile(flat[:, dims], 1, axis=0), np.percentile(flat[:, dims], 99, axis=0)
    return [(float(lo), float(hi if hi > lo else lo + 1.0)) for lo, hi in zip(lows, highs)]


def static_explorer(autoencoder, images: np.ndarray, index: int = 0, dims: Sequence[int] = (0, 1),
                    steps: int = 7, labels=None, class_names=None, image_label: str = "image"):
    """The explorer as a static figure: image, reconstruction, code bar chart, and a sweep of each chosen coordinate.

    ``image_label`` names the images in titles, e.g. "validation image" (chapters 01-02).
    """
    import matplotlib.pyplot as plt

    codes = _predict(autoencoder.encoder, images)  # (n, *code_shape)
    code = codes[index]
    recon = _predict(autoencoder.decoder, code[None])[0]
    ranges = _code_ranges(codes, list(dims))
    fig = plt.figure(figsize=(1.2 * steps + 1, 2.6 + 1.3 * len(dims)))
    grid = fig.add_gridspec(1 + len(dims), steps)
    title = f"{image_label} {index}" + (f" ({class_names[int(labels[index])]})" if labels is not None and class_names else "")
    for col, (img, name) in enumerate([(images[index], title), (recon, "reconstruction")]):
        ax = fig.add_subplot(grid[0, col * 2:col * 2 + 2])
        ax.imshow(np.squeeze(img), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(grid[0, 4:])
    ax.bar(range(code.size), code.ravel())
    ax.set_title("code", fontsize=8)
    for row, (dim, (lo, hi)) in enumerate(zip(dims, ranges), start=1):
        values = np.linspace(lo, hi, steps)
        batch = np.repeat(code.reshape(1, -1), steps, axis=0)
        batch[:, dim] = values
        decoded = _predict(autoencoder.decoder, batch.reshape((steps,) + code.shape))
        for col in range(steps):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(np.squeeze(decoded[col]), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"z{dim}={values[col]:.2g}", fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def explore_autoencoder(autoencoder, images: np.ndarray, labels=None, class_names=None, n_sliders: int = 4,
                        interactive: bool | None = None, image_label: str = "image"):
    """Interactive explorer (ipywidgets) of an autoencoder with ``.encoder``/``.decoder``; static figure fallback.

    ``image_label`` names the images on the slider and in titles: say which split they come from, e.g.
    "validation image" (chapters 01-02). Returns the widget box, or the static figure when widgets cannot render.
    """
    images = np.asarray(images, dtype=np.float32)
    codes = _predict(autoencoder.encoder, images)  # (n, *code_shape)
    code_shape = codes.shape[1:]
    dims = list(range(min(n_sliders, int(np.prod(code_shape)))))
    if not _interactive(interactive):
        return static_explorer(autoencoder, images, 0, dims[:2], labels=labels, class_names=class_names,
                               image_label=image_label)

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    ranges = _code_ranges(codes, dims)
    index = widgets.IntSlider(0, 0, len(images) - 1, description=image_label, style={"description_width": "initial"})
    sliders = [widgets.FloatSlider(value=0.0, min=lo, max=hi, step=(hi - lo) / 100, description=f"z[{d}]",
                                   continuous_update=False) for d, (lo, hi) in zip(dims, ranges)]
    out = widgets.Output()
    state = {"code": codes[0].ravel().copy(), "busy": False}

    def draw():
        decoded = _predict(autoencoder.decoder, state["code"].reshape((1,) + code_shape))[0]
        i = index.value
        with out:
            out.clear_output(wait=True)
            _, axes = plt.subplots(1, 3, figsize=(8, 2.6), gridspec_kw={"width_ratios": [1, 1, 2]})
            name = f" ({class_names[int(labels[i])]})" if labels is not None and class_names else ""
            axes[0].imshow(np.squeeze(images[i]), cmap="gray", vmin=0, vmax=1)
            axes[0].set_title(f"{image_label} {i}{name}", fontsize=8)
            axes[1].imshow(np.squeeze(decoded), cmap="gray", vmin=0, vmax=1)
            axes[1].set_title("decoded code", fontsize=8)
            for ax in axes[:2]:
                ax.axis("off")
            axes[2].bar(range(state["code"].size), state["code"])
            axes[2].bar(dims, state["code"][dims], color="tab:orange")
            axes[2].set_title("code (orange: on the sliders)", fontsize=8)
            plt.show()

    def on_index(change):
        state["busy"] = True
        state["code"] = codes[index.value].ravel().copy()
        for d, slider in zip(dims, sliders):
            slider.value = float(np.clip(state["code"][d], slider.min, slider.max))
        state["busy"] = False
        draw()

    def on_slider(change):
        if state["busy"]:
            return
        for d, slider in zip(dims, sliders):
            state["code"][d] = slider.value
        draw()

    index.observe(on_index, names="value")
    for slider in sliders:
        slider.observe(on_slider, names="value")
    box = widgets.VBox([index, widgets.HBox(sliders[:2]), widgets.HBox(sliders[2:]), out])
    on_index(None)
    return _shown(box)


def compare_widget(results: Mapping[str, Mapping[str, np.ndarray]],
                   scores: Mapping[str, Mapping[str, float]] | None = None, crop: int = 96,
                   interactive: bool | None = None):
    """Pick a photo and a crop position to compare bicubic with the model; static figure fallback (ch. 03)."""
    from course_utils.viz.plots import plot_sr_comparison

    if not _interactive(interactive):
        return plot_sr_comparison(results, scores, crop=crop)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(name: str, top: float, left: float) -> None:
        plot_sr_comparison(results, scores, crop=crop, top=top, left=left, names=[name])
        plt.show()

    controls = {"name": widgets.Dropdown(options=list(results), description="photo"),
                "top": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="top"),
                "left": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="left")}
    output = widgets.interactive_output(show, controls)
    return _shown(widgets.VBox([widgets.HBox(list(controls.values())), output]))


def _denoised_at(model, image: np.ndarray, kind: str, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One image corrupted (seeded) at ``level`` and the model's output for it."""
    from course_utils.data.corruption import corrupt

    noisy = corrupt(image[None], kind, level, rng=seed)  # (1, h, w, c)
    return noisy[0], _predict(model, noisy)[0]


def static_denoising(model, images: np.ndarray, levels: Sequence[float] = (0.1, 0.2, 0.3, 0.5, 0.7),
                     kind: str = "gaussian", index: int = 0, seed: int = 0):
    """One image at every noise level: noisy (top row) and denoised (bottom row) with their PSNR (chapter 04)."""
    import matplotlib.pyplot as plt

    from course_utils.evaluation.metrics import psnr

    clean = np.asarray(images[index], dtype=np.float32)
    fig, axes = plt.subplots(2, 1 + len(levels), figsize=(1.5 * (1 + len(levels)), 4.0), squeeze=False)
    axes[0, 0].imshow(np.squeeze(clean), cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title(f"clean (image {index})", fontsize=8)
    axes[1, 0].set_visible(False)
    for col, level in enumerate(levels, start=1):
        noisy, denoised = _denoised_at(model, clean, kind, level, seed)
        for row, (image, name) in enumerate([(noisy, f"{kind} {level:g}"), (denoised, "denoised")]):
            axes[row, col].imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1)
            axes[row, col].set_title(f"{name}\n{psnr(clean, np.clip(image, 0, 1)):.1f} dB", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    return fig


def denoising_widget(model, images: np.ndarray, levels: Sequence[float] = (0.1, 0.2, 0.3, 0.5, 0.7),
                     kind: str = "gaussian", interactive: bool | None = None, seed: int = 0):
    """Pick an image and a noise level, see noisy / denoised / clean with their PSNR; static figure fallback (ch. 04)."""
    images = np.asarray(images, dtype=np.float32)
    if not len(images) or not len(levels):
        raise ValueError(f"denoising_widget needs at least one image and one level, got {len(images)} and {len(levels)}")
    if not _interactive(interactive):
        return static_denoising(model, images, levels, kind, seed=seed)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from course_utils.evaluation.metrics import psnr

    def show(index: int, level: float) -> None:
        clean = images[index]
        noisy, denoised = _denoised_at(model, clean, kind, level, seed)
        _, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
        for ax, (image, name) in zip(axes, [(noisy, f"noisy ({kind} {level:g})"), (denoised, "denoised"),
                                            (clean, "clean")]):
            ax.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1)
            score = "" if image is clean else f"\n{psnr(clean, np.clip(image, 0, 1)):.2f} dB"
            ax.set_title(name + score, fontsize=9)
            ax.axis("off")
        plt.show()

    controls = {"index": widgets.IntSlider(0, 0, len(images) - 1, description="image"),
                "level": widgets.SelectionSlider(options=list(levels), value=levels[len(levels) // 2],
                                                 description="noise")}
    output = widgets.interactive_output(show, controls)
    return _shown(widgets.VBox([widgets.HBox(list(controls.values())), output]))


ANOMALY_KEYS = ("val_scores", "test_scores", "is_anomaly", "images")


def _check_anomaly_results(per_class: Mapping[str, Mapping[str, np.ndarray]], start: str | None) -> str:
    """Validate ``anomaly_widget``'s input; return the class to show first."""
    if not per_class:
        raise ValueError("per_class is empty: pass {class name: {'val_scores', 'test_scores', 'is_anomaly', 'images'}}")
    for name, entry in per_class.items():
        missing = [key for key in ANOMALY_KEYS if key not in entry]
        if missing:
            raise ValueError(f"per_class[{name!r}] lacks {missing}; each class needs {list(ANOMALY_KEYS)}")
        if not len(entry["test_scores"]) == len(entry["is_anomaly"]) == len(entry["images"]):
            raise ValueError(f"per_class[{name!r}]: test_scores, is_anomaly and images must have one entry per test image")
    if start is not None and start not in per_class:
        raise ValueError(f"start={start!r} is not one of the classes {list(per_class)}")
    return start if start is not None else next(iter(per_class))


def anomaly_summary(entry: Mapping[str, np.ndarray], fpr: float) -> tuple[dict, str]:
    """The detection report at the threshold that flags ``fpr`` of the validation normals, and one line on it (ch. 05)."""
    from course_utils.evaluation.anomaly import detection_report, threshold_at_fpr

    threshold = threshold_at_fpr(entry["val_scores"], fpr)
    report = detection_report(entry["test_scores"], entry["is_anomaly"], threshold)
    line = (f"threshold {threshold:.4g} (flags {fpr:.1%} of validation normals at most): test FPR "
            f"{report['false_positive_rate']:.1%}, precision {report['precision']:.3f}, recall {report['recall']:.3f}, "
            f"{report['flagged']:,} of {len(entry['test_scores']):,} test images flagged")
    return report, line


def _anomaly_figures(entry: Mapping[str, np.ndarray], name: str, fpr: float, n: int) -> tuple[str, list]:
    """One line on the detector of class ``name`` at budget ``fpr``, and its three figures."""
    from course_utils.viz.anomaly import plot_confusion, plot_flagged, plot_score_histograms

    report, line = anomaly_summary(entry, fpr)
    return f"normal class {name!r}: {line}", [
        plot_score_histograms(entry["test_scores"], entry["is_anomaly"], report["threshold"],
                              title=f"test scores, normal class {name!r}"),
        plot_confusion(report, title=f"normal class {name!r}, FPR budget {fpr:.1%}"),
        plot_flagged(entry["images"], entry["test_scores"], report["threshold"], n=n, is_anomaly=entry["is_anomaly"])]


def static_anomaly(per_class: Mapping[str, Mapping[str, np.ndarray]], fpr: float = 0.05, start: str | None = None,
                   n: int = 8) -> list:
    """The explorer's view of one class as static figures: score histograms, confusion matrix, flagged images (ch. 05)."""
    name = _check_anomaly_results(per_class, start)
    line, figures = _anomaly_figures(per_class[name], name, fpr, n)
    print(line)
    return figures


def anomaly_widget(per_class: Mapping[str, Mapping[str, np.ndarray]], fpr: float = 0.05, start: str | None = None,
                   n: int = 8, interactive: bool | None = None):
    """Choose the normal class and the false-positive budget; see histograms, confusion matrix, flagged images (ch. 05).

    ``per_class`` maps a class name to its normal validation scores, test scores, test labels (True =
    anomaly) and test images. The threshold is always set on the validation normals, never on the test set.
    """
    name = _check_anomaly_results(per_class, start)
    if not 0 <= fpr < 1:
        raise ValueError(f"fpr must be a share in [0, 1), e.g. 0.05, got {fpr}")
    if not _interactive(interactive):
        return static_anomaly(per_class, fpr, name, n)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    summary = widgets.Label()

    def show(normal_class: str, budget: float) -> None:
        summary.value, _ = _anomaly_figures(per_class[normal_class], normal_class, budget, n)
        plt.show()

    controls = {"normal_class": widgets.Dropdown(options=list(per_class), value=name, description="normal"),
                "budget": widgets.FloatSlider(value=fpr, min=0.0, max=0.3, step=0.005, readout_format=".3f",
                                              description="FPR budget")}
    output = widgets.interactive_output(show, controls)
    return _shown(widgets.VBox([widgets.HBox(list(controls.values())), summary, output]))
