"""Plotting helpers and the autoencoder explorer (chapters 01-02) build figures without errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_utils.viz import plots


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def images(n=5, shape=(28, 28, 1)):
    return np.random.default_rng(0).random((n, *shape)).astype("float32")


def test_image_grid_layout():
    fig = plots.image_grid(images(10), titles=[str(i) for i in range(10)], ncols=4)
    assert len(fig.axes) == 12
    assert fig.axes[0].get_title() == "0"
    with pytest.raises(ValueError):
        plots.image_grid([])


def test_plot_reconstructions_rows():
    fig = plots.plot_reconstructions(images(), {"a": images(), "b": images()}, n=3)
    assert len(fig.axes) == 9
    assert fig.axes[3].get_ylabel() == "a"


def test_code_scatter_and_history_and_curves():
    codes = np.random.default_rng(0).normal(size=(50, 2))
    fig = plots.plot_code_scatter(codes, np.arange(50) % 3, class_names=["x", "y", "z"])
    assert len(fig.axes[0].collections) == 3
    with pytest.raises(ValueError):
        plots.plot_code_scatter(np.zeros((5, 1)))
    fig = plots.plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2], "learning_rate": [1, 1, 1]})
    assert len(fig.axes[0].lines) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["loss", "validation loss"]
    fig = plots.plot_history({"loss": [3, 2], "val_loss": [3, 2.5]}, val_label="test loss")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["loss", "test loss"]
    fig = plots.plot_curves([2, 8, 32], {"AE": [3, 2, 1], "PCA": [4, 3, 2]}, "code size", "MSE", logx=True)
    assert len(fig.axes[0].lines) == 2


def test_filters_and_feature_maps():
    fig = plots.plot_filters(np.zeros((3, 3, 1, 16)), max_filters=10)
    assert sum(len(ax.images) for ax in fig.axes) == 10
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 4)) + 0.5  # mostly positive weights
    fig = plots.plot_filters(kernel)
    low, high = fig.axes[0].images[0].get_clim()
    assert low == -high == -np.abs(kernel).max()  # zero sits in the middle of one shared scale
    assert {ax.images[0].get_clim() for ax in fig.axes if ax.images} == {(low, high)}
    assert any(ax.get_ylabel() == "weight" for ax in fig.axes)  # the colour bar
    fig = plots.plot_feature_maps(np.zeros((1, 7, 7, 4)))
    assert sum(len(ax.images) for ax in fig.axes) == 4
    with pytest.raises(ValueError):
        plots.plot_filters(np.zeros((3, 3, 4)))


def test_latent_traversal_and_explorer_fallback():
    keras = pytest.importorskip("keras")
    from course_utils.models import DenseAutoencoder
    from course_utils.viz.widgets import explore_autoencoder, static_explorer, widgets_available

    keras.utils.set_random_seed(0)
    model = DenseAutoencoder(latent_dim=3, hidden_units=(16,))
    fig = plots.plot_latent_traversal(model.decoder, np.zeros(3), 1, [-1, 0, 1])
    assert sum(len(ax.images) for ax in fig.axes) == 3
    assert not widgets_available()  # pytest is not a kernel front end
    fig = explore_autoencoder(model, images(6), labels=np.arange(6) % 2, class_names=["a", "b"])
    assert hasattr(fig, "savefig")  # the static fallback
    assert fig.axes[0].get_title() == "image 0 (a)"  # no claim about where the images come from
    fig = static_explorer(model, images(6), index=2, dims=(0, 2), steps=5)
    assert sum(len(ax.images) for ax in fig.axes) == 2 + 2 * 5
    fig = explore_autoencoder(model, images(6), labels=np.arange(6) % 2, class_names=["a", "b"],
                              image_label="validation image")
    assert fig.axes[0].get_title() == "validation image 0 (a)"


def test_explorer_widgets_build_without_a_front_end():
    pytest.importorskip("ipywidgets")
    keras = pytest.importorskip("keras")
    from course_utils.models import DenseAutoencoder
    from course_utils.viz.widgets import explore_autoencoder

    keras.utils.set_random_seed(0)
    model = DenseAutoencoder(latent_dim=3, hidden_units=(16,))
    box = explore_autoencoder(model, images(6), interactive=True)
    index, sliders = box.children[0], box.children[1].children + box.children[2].children
    assert index.description == "image"
    labelled = explore_autoencoder(model, images(6), interactive=True, image_label="validation image")
    assert labelled.children[0].description == "validation image"
    assert len(sliders) == 3
    index.value = 4
    sliders[0].value = sliders[0].max


@pytest.mark.parametrize(("kind", "size", "kernel", "stride", "out"),
                         [("conv", 7, 3, 2, 4), ("pool", 8, 2, 2, 4), ("transpose", 4, 3, 2, 8)])
def test_size_diagram_titles_the_output_size(kind, size, kernel, stride, out):
    fig = plots.size_diagram(kind, size, kernel, stride)
    assert fig.axes[0].get_title().endswith(f"{size} -> {out}" + (" (numbers: stamps per output)" if kind == "transpose"
                                                                   else ""))
    cells = [t.get_text() for t in fig.axes[0].texts]
    if kind == "transpose":
        assert cells[size:] == ["1", "1", "2", "1", "2", "1", "2", "1"]  # uneven overlap: the checkerboard
    with pytest.raises(ValueError):
        plots.size_diagram("dense", 4, 3, 2)


@pytest.mark.parametrize("sizes", [(784, 64, 784), (784, 1024, 784), (784, 512, 256, 32, 256, 512, 784)])
def test_hourglass_labels_never_overlap(sizes):
    from course_utils.viz.figures import plot_hourglass

    fig = plot_hourglass(sizes, code_index=1 if len(sizes) == 3 else None)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer).padded(4) for text in fig.axes[0].texts  # 4 px of air around each
             if text.get_text() in ("encoder", "code z", "decoder", "x", "x'")]
    assert len(boxes) == 5
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _anomaly_results(seed: int = 0) -> dict:
    """Two classes of synthetic scores: anomalies score higher; validation normals come from the normal law."""
    rng = np.random.default_rng(seed)
    results = {}
    for name in ("tops", "boots"):
        labels = rng.random(200) < 0.6
        results[name] = {"val_scores": rng.normal(size=100), "test_scores": rng.normal(size=200) + 2.0 * labels,
                         "is_anomaly": labels, "images": images(200)}
    return results


def test_static_anomaly_threshold_comes_from_validation_normals(capsys):
    from course_utils.viz.widgets import anomaly_widget

    results = _anomaly_results()
    figures = anomaly_widget(results, fpr=0.1, start="boots", interactive=False)
    assert len(figures) == 3
    threshold = np.sort(results["boots"]["val_scores"])[::-1][10]  # 10 of 100 validation normals may lie above
    assert f"threshold {threshold:.4g}" in capsys.readouterr().out
    assert figures[0].axes[0].lines[0].get_xdata()[0] == pytest.approx(threshold)
    with pytest.raises(ValueError, match="lacks"):
        anomaly_widget({"tops": {"val_scores": [1.0]}}, interactive=False)
    with pytest.raises(ValueError, match="start"):
        anomaly_widget(results, start="hats", interactive=False)


def test_anomaly_widget_label_follows_class_and_budget():
    pytest.importorskip("ipywidgets")
    from course_utils.viz.widgets import anomaly_summary, anomaly_widget

    results = _anomaly_results()
    box = anomaly_widget(results, fpr=0.05, interactive=True)
    (normal_class, budget), summary = box.children[0].children, box.children[1]
    assert summary.value.startswith("normal class 'tops'")
    normal_class.value, budget.value = "boots", 0.2
    assert summary.value == f"normal class 'boots': {anomaly_summary(results['boots'], 0.2)[1]}"
    assert "flags 20.0%" in summary.value


def test_codec_pipeline_shows_every_stage_without_overlap():
    from course_utils.viz.figures import CODEC_STAGES, plot_codec_pipeline

    fig = plot_codec_pipeline()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = {stage[0] for stage in CODEC_STAGES}
    boxes = [t.get_window_extent(renderer).padded(2) for t in fig.axes[0].texts if t.get_text() in labels]
    assert len(boxes) == len(CODEC_STAGES)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("name", ["explore_autoencoder", "compare_widget", "denoising_widget", "anomaly_widget"])
def test_every_widget_displays_itself_once(name, monkeypatch):
    """Chapter 04's widget was returned but never displayed: assigned in its cell, it never appeared in JupyterLab."""
    pytest.importorskip("ipywidgets")
    import IPython.display

    from course_utils.viz import widgets

    keras = pytest.importorskip("keras")
    from course_utils.models import DenseAutoencoder

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    keras.utils.set_random_seed(0)
    model = DenseAutoencoder(latent_dim=3, hidden_units=(16,))
    pictures = images(4)
    photo = {key: pictures[number, :, :, 0] for number, key in enumerate(("bicubic", "model", "high_res"))}
    calls = {
        "explore_autoencoder": lambda: widgets.explore_autoencoder(model, pictures, interactive=True),
        "compare_widget": lambda: widgets.compare_widget({"camera": photo}, crop=16, interactive=True),
        "denoising_widget": lambda: widgets.denoising_widget(model, pictures, levels=(0.1, 0.3), interactive=True),
        "anomaly_widget": lambda: widgets.anomaly_widget(_anomaly_results(), interactive=True),
    }
    box = calls[name]()
    assert shown == [box]


def test_course_widgets_static_turns_every_widget_into_its_figure(monkeypatch):
    """The site executes notebooks in a kernel with no front end: COURSE_WIDGETS=static draws the figures."""
    from course_utils.viz import widgets

    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    assert widgets.widgets_available()
    monkeypatch.setenv("COURSE_WIDGETS", "static")
    assert not widgets.widgets_available()


def test_data_parallelism_figure_draws_each_replica_and_rejects_an_uneven_split():
    import matplotlib.pyplot as plt

    from course_utils.viz.figures import plot_data_parallelism

    fig = plot_data_parallelism(replicas=4, global_batch=8)
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert sum("replica" in text and "own copy" in text for text in texts) == 4
    assert any("g0 + g1 + g2 + g3" in text for text in texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="evenly"):
        plot_data_parallelism(replicas=3, global_batch=8)
