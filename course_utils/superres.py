"""Single-image super-resolution: three upsampling designs, the bicubic baseline, data and metrics (chapter 03).

Every model sees a low-resolution luminance image (batch, h, w, 1) and returns (batch, s*h, s*w, 1).
By default it predicts a *residual* that is added to the bicubic upsample, so an untrained model
starts at the bicubic baseline and training only has to learn the missing detail.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import keras
import numpy as np
from keras import layers, ops

from course_utils.data import NATURAL_PHOTOS, extract_patches, load_skimage_image

# A fixed split of scikit-image's photographs: models never see the held-out ones during training.
HELD_OUT_PHOTOS = ("camera", "chelsea", "coffee", "rocket")
TRAIN_PHOTOS = tuple(name for name in NATURAL_PHOTOS if name not in HELD_OUT_PHOTOS)
DESIGNS = ("transposed", "resize", "subpixel")


# ---------------------------------------------------------------------------
# Resampling and data
# ---------------------------------------------------------------------------

def bicubic_upsample(lr: np.ndarray, scale: int) -> np.ndarray:
    """The classical baseline: bicubic interpolation of (batch, h, w, c) to (batch, s*h, s*w, c) (ch. 03)."""
    import tensorflow as tf

    lr = np.asarray(lr, dtype=np.float32)
    size = (lr.shape[1] * scale, lr.shape[2] * scale)
    return tf.image.resize(lr, size, method="bicubic").numpy()  # (batch, s*h, s*w, c)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic downscaling of (batch, H, W, c) by an integer factor; H, W multiples of it (ch. 03)."""
    import tensorflow as tf

    hr = np.asarray(hr, dtype=np.float32)
    if hr.shape[1] % scale or hr.shape[2] % scale:
        raise ValueError(f"height and width {hr.shape[1:3]} must be multiples of the scale {scale}")
    size = (hr.shape[1] // scale, hr.shape[2] // scale)
    lr = tf.image.resize(hr, size, method="bicubic", antialias=True).numpy()  # (batch, H/s, W/s, c)
    return np.clip(lr, 0.0, 1.0)


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop an (h, w, c) image at the bottom/right so both sides are multiples of ``scale`` (ch. 03)."""
    h, w = image.shape[0] // scale * scale, image.shape[1] // scale * scale
    return image[:h, :w]


def make_lr_hr_pairs(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn high-resolution patches (n, H, W, c) into (low-res input, high-res target) training pairs (ch. 03)."""
    hr = np.asarray(hr, dtype=np.float32)
    hr = hr[:, :hr.shape[1] // scale * scale, :hr.shape[2] // scale * scale]  # (n, H', W', c)
    return downscale(hr, scale), hr


def sr_patch_dataset(scale: int, count: int, lr_patch_size: int = 24, names: Sequence[str] = TRAIN_PHOTOS,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random grayscale HR patches of ``lr_patch_size * scale`` pixels from ``names`` and their LR versions (ch. 03)."""
    overlap = set(names) & set(HELD_OUT_PHOTOS)
    if overlap:
        raise ValueError(f"{sorted(overlap)} are held out for testing; train on TRAIN_PHOTOS only")
    images = [load_skimage_image(name, gray=True) for name in names]  # each (h, w, 1)
    hr = extract_patches(images, lr_patch_size * scale, count, seed=seed)  # (count, s*p, s*p, 1)
    return make_lr_hr_pairs(hr, scale)


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="course_utils")
class BicubicUpsample(layers.Layer):
    """Bicubic resize by an integer factor that also works on images of any size in graph mode (ch. 03)."""

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        import tensorflow as tf

        size = tf.shape(x)[1:3] * self.scale
        return tf.image.resize(x, size, method="bicubic")  # (batch, s*h, s*w, c)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h * self.scale, None if w is None else w * self.scale, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="course_utils")
class DepthToSpace(layers.Layer):
    """Sub-pixel shuffle: (batch, h, w, s*s*c) -> (batch, s*h, s*w, c), same order as tf.nn.depth_to_space (ch. 03)."""

    def __init__(self, block_size: int, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        s = self.block_size
        shape = ops.shape(x)
        b, h, w, c = shape[0], shape[1], shape[2], x.shape[-1] // (s * s)
        x = ops.reshape(x, (b, h, w, s, s, c))  # (batch, h, w, s, s, c)
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (batch, h, s, w, s, c)
        return ops.reshape(x, (b, h * s, w * s, c))  # (batch, s*h, s*w, c)

    def compute_output_shape(self, input_shape):
        s = self.block_size
        b, h, w, c = input_shape
        return (b, None if h is None else h * s, None if w is None else w * s, c // (s * s))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


class _SuperResolution(keras.Model):
    """Shared body: conv features at low resolution, an upsampler, a conv head, optional bicubic skip (ch. 03)."""

    def __init__(self, scale: int = 2, filters: int = 32, depth: int = 4, channels: int = 1,
                 residual: bool = True, **kwargs):
        super().__init__(**kwargs)
        if int(scale) < 2:
            raise ValueError(f"scale must be an integer >= 2, got {scale}")
        self.scale, self.filters, self.depth = int(scale), int(filters), int(depth)
        self.channels, self.residual = int(channels), bool(residual)
        self.body = [layers.Conv2D(self.filters, 3, padding="same", activation="relu", name=f"feature_{i}")
                     for i in range(self.depth)]
        self.upsampler = self.make_upsampler()
        self.head = layers.Conv2D(self.channels, 3, padding="same", name="head")
        self.bicubic = BicubicUpsample(self.scale, name="bicubic")

    def make_upsampler(self) -> list[layers.Layer]:
        """Layers taking (batch, h, w, filters) to (batch, s*h, s*w, filters); set by each design."""
        raise NotImplementedError

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in [*self.body, *self.upsampler, self.head]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.bicubic.build(input_shape)

    def call(self, lr):
        x = lr  # (batch, h, w, channels)
        for layer in self.body:
            x = layer(x)  # (batch, h, w, filters)
        for layer in self.upsampler:
            x = layer(x)  # (batch, s*h, s*w, filters)
        out = self.head(x)  # (batch, s*h, s*w, channels)
        return out + self.bicubic(lr) if self.residual else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "filters": self.filters, "depth": self.depth,
                "channels": self.channels, "residual": self.residual}


@keras.saving.register_keras_serializable(package="course_utils")
class TransposedConvSR(_SuperResolution):
    """Upsampling by a learned stride-s transposed convolution (kernel 2s by default: no uneven overlap) (ch. 03)."""

    def __init__(self, scale: int = 2, kernel_size: int | None = None, **kwargs):
        self.kernel_size = int(kernel_size or 2 * scale)
        super().__init__(scale=scale, **kwargs)

    def make_upsampler(self) -> list[layers.Layer]:
        return [layers.Conv2DTranspose(self.filters, self.kernel_size, strides=self.scale, padding="same",
                                       activation="relu", name="transposed_conv")]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="course_utils")
class ResizeConvSR(_SuperResolution):
    """Upsampling by nearest-neighbour resize followed by a 3x3 convolution (ch. 03)."""

    def make_upsampler(self) -> list[layers.Layer]:
        return [layers.UpSampling2D(self.scale, interpolation="nearest", name="resize"),
                layers.Conv2D(self.filters, 3, padding="same", activation="relu", name="resize_conv")]


@keras.saving.register_keras_serializable(package="course_utils")
class SubPixelSR(_SuperResolution):
    """Upsampling by a convolution to s*s*filters channels and a depth-to-space shuffle (ESPCN style) (ch. 03)."""

    def make_upsampler(self) -> list[layers.Layer]:
        return [layers.Conv2D(self.filters * self.scale ** 2, 3, padding="same", activation="relu", name="subpixel_conv"),
                DepthToSpace(self.scale, name="depth_to_space")]


def make_sr_model(design: str, scale: int = 2, **kwargs) -> _SuperResolution:
    """Build a super-resolution model by design name: 'transposed', 'resize' or 'subpixel' (ch. 03)."""
    classes = {"transposed": TransposedConvSR, "resize": ResizeConvSR, "subpixel": SubPixelSR}
    if design not in classes:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    return classes[design](scale=scale, **kwargs)


# ---------------------------------------------------------------------------
# Training with a wall-clock budget
# ---------------------------------------------------------------------------

def train_sr(model: keras.Model, lr: np.ndarray, hr: np.ndarray, epochs: int, batch_size: int = 32,
             seconds: float | None = None, learning_rate: float = 1e-3, seed: int = 0, verbose: int = 0) -> dict:
    """Fit with Adam on the MSE for ``epochs`` or until ``seconds`` run out; return loss history and timing (ch. 03)."""
    from course_utils.data import make_dataset
    from course_utils.training import TimeBudget

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    budget = TimeBudget(seconds)
    start = time.perf_counter()
    history = model.fit(make_dataset(lr, hr, batch_size=batch_size, seed=seed), epochs=epochs,
                        shuffle=False, callbacks=[budget], verbose=verbose)  # make_dataset already shuffles
    return {"loss": [float(v) for v in history.history["loss"]], "seconds": time.perf_counter() - start,
            "steps": budget.steps, "epochs": len(history.history["loss"])}


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def sr_metrics(pred: np.ndarray, target: np.ndarray, border: int = 0) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of (batch, h, w, c) images in [0, 1] with tf.image, ignoring ``border`` pixels (ch. 03)."""
    import tensorflow as tf

    pred = np.clip(np.asarray(pred, dtype=np.float32), 0.0, 1.0)
    target = np.asarray(target, dtype=np.float32)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    if border:
        pred, target = pred[:, border:-border, border:-border], target[:, border:-border, border:-border]
    return {"psnr": float(tf.reduce_mean(tf.image.psnr(pred, target, max_val=1.0))),
            "ssim": float(tf.reduce_mean(tf.image.ssim(pred, target, max_val=1.0)))}


def super_resolve_photo(model: keras.Model | None, name: str, scale: int) -> dict[str, np.ndarray]:
    """Downscale a grayscale photo, upsample it by bicubic and by ``model``; (h, w) arrays in [0, 1] (ch. 03)."""
    hr = crop_to_multiple(load_skimage_image(name, gray=True), scale)[np.newaxis]  # (1, H, W, 1)
    lr = downscale(hr, scale)  # (1, H/s, W/s, 1)
    images = {"hr": hr[0, ..., 0], "lr": lr[0, ..., 0], "bicubic": np.clip(bicubic_upsample(lr, scale), 0, 1)[0, ..., 0]}
    if model is not None:
        images["model"] = np.clip(np.asarray(model(lr, training=False)), 0.0, 1.0)[0, ..., 0]  # eager: no retracing per size
    return images


def evaluate_sr(model: keras.Model | None, scale: int, names: Sequence[str] = HELD_OUT_PHOTOS) -> list[dict]:
    """PSNR/SSIM of bicubic and of ``model`` on each photo in ``names`` (border of ``scale`` pixels ignored) (ch. 03)."""
    rows = []
    for name in names:
        images = super_resolve_photo(model, name, scale)
        row: dict[str, Any] = {"image": name, "scale": scale}
        for method in ("bicubic", "model"):
            if method in images:
                metrics = sr_metrics(images[method][None, ..., None], images["hr"][None, ..., None], border=scale)
                row.update({f"{method}_psnr": metrics["psnr"], f"{method}_ssim": metrics["ssim"]})
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# Looking at the results
# ---------------------------------------------------------------------------

def _crop(image: np.ndarray, top: float, left: float, size: int) -> np.ndarray:
    """A size x size window whose corner sits at fractions (top, left) of the free range."""
    t = int(round(top * max(image.shape[0] - size, 0)))
    c = int(round(left * max(image.shape[1] - size, 0)))
    return image[t:t + size, c:c + size]


def plot_comparison(results: Mapping[str, Mapping[str, np.ndarray]], crop: int = 96, top: float = 0.5,
                    left: float = 0.5, names: Sequence[str] | None = None):
    """Static figure: bicubic, model and ground-truth crops side by side, one row per photo (ch. 03)."""
    import matplotlib.pyplot as plt

    names = list(names or results)
    columns = [key for key in ("bicubic", "model", "hr") if key in results[names[0]]]
    fig, axes = plt.subplots(len(names), len(columns), figsize=(3 * len(columns), 3 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        images = results[name]
        for col, key in enumerate(columns):
            patch = _crop(images[key], top, left, crop)
            title = "original"
            if key != "hr":  # PSNR of the whole photo, shown above the crop
                title = f"{key}: {sr_metrics(images[key][None, ..., None], images['hr'][None, ..., None])['psnr']:.2f} dB"
            axes[row, col].imshow(patch, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[row, col].set_title(f"{name} | {title}", fontsize=9)
            axes[row, col].axis("off")
    fig.tight_layout()
    return fig


def compare_widget(results: Mapping[str, Mapping[str, np.ndarray]], crop: int = 96, interactive: bool | None = None):
    """Pick a photo and a crop position, compare bicubic with the model; static figure where widgets can't render (ch. 03).

    ``interactive=None`` decides with ``course_utils.widgets.widgets_available()``, like the chapter 01 explorer.
    """
    from course_utils.widgets import widgets_available

    if not (widgets_available() if interactive is None else interactive):
        return plot_comparison(results, crop=crop)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(name: str, top: float, left: float) -> None:
        plot_comparison(results, crop=crop, top=top, left=left, names=[name])
        plt.show()

    controls = {"name": widgets.Dropdown(options=list(results), description="photo"),
                "top": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="top"),
                "left": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="left")}
    output = widgets.interactive_output(show, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), output])
