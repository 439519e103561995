"""Keras callbacks of the course: a wall-clock budget, a cosine decay that fits it, a line per epoch, sample grids."""
from __future__ import annotations

import math
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``time_budget_s`` seconds of wall-clock time have passed, checked after every batch.

    It also records each epoch's wall time and steps in ``epochs``, as (seconds, steps) pairs.
    """

    def __init__(self, time_budget_s: float | None):
        super().__init__()
        self.time_budget_s = None if time_budget_s is None else float(time_budget_s)
        self.start = 0.0
        self.elapsed = 0.0
        self.steps = 0
        self.stopped_early = False
        self.epochs: list[tuple[float, int]] = []
        self._epoch_start = (0.0, 0)

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.steps = 0
        self.stopped_early = False
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = (time.perf_counter(), self.steps)

    def on_epoch_end(self, epoch, logs=None):
        started, steps_before = self._epoch_start
        self.epochs.append((time.perf_counter() - started, self.steps - steps_before))

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.elapsed = time.perf_counter() - self.start
        if self.time_budget_s is not None and self.elapsed >= self.time_budget_s:
            self.stopped_early = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.elapsed = time.perf_counter() - self.start


class CosineByProgress(keras.callbacks.Callback):
    """Cosine-decay the learning rate by training progress, ending at ``alpha * learning_rate``.

    Progress is the fraction of the planned steps done (``epochs x steps per epoch``, read from
    ``fit``) or, with a time budget, the fraction of ``time_budget_s`` used, whichever is larger: on a
    slow or busy machine the decay still completes when the budget runs out instead of being cut off.
    """

    def __init__(self, learning_rate: float, time_budget_s: float | None = None, alpha: float = 0.02):
        super().__init__()
        self.learning_rate = float(learning_rate)
        self.time_budget_s = None if time_budget_s is None else float(time_budget_s)
        self.alpha = float(alpha)
        self.total_steps = 1
        self.step = 0
        self.start = 0.0

    def progress(self) -> float:
        """Fraction of training done, in [0, 1]."""
        done = self.step / self.total_steps
        if self.time_budget_s:
            done = max(done, (time.perf_counter() - self.start) / self.time_budget_s)
        return min(done, 1.0)

    def current(self) -> float:
        """The learning rate for the next step."""
        cosine = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        return self.learning_rate * (self.alpha + (1.0 - self.alpha) * cosine)

    def on_train_begin(self, logs=None):
        steps_per_epoch = self.params.get("steps")
        if not steps_per_epoch:
            raise ValueError("CosineByProgress needs a data set of known length (e.g. from make_dataset) "
                             "to know how many steps the run plans")
        self.total_steps = max(int(self.params.get("epochs", 1)) * int(steps_per_epoch), 1)
        self.start = time.perf_counter()
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.current())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


class EpochLine(keras.callbacks.Callback):
    """Print one compact line per epoch: number, every logged value, seconds (the default progress)."""

    def __init__(self, print_fn=print):
        super().__init__()
        self.print_fn = print_fn
        self.epoch_start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        values = "  ".join(f"{key} {value:.4g}" for key, value in (logs or {}).items()
                           if isinstance(value, (int, float)))
        self.print_fn(f"epoch {epoch + 1}/{self.params.get('epochs', '?')}  {values}  "
                      f"({time.perf_counter() - self.epoch_start:.1f} s)", flush=True)

    def on_train_end(self, logs=None):
        if self.model.stop_training:
            self.print_fn("stopped early (time budget or callback)", flush=True)


class SampleGrid(keras.callbacks.Callback):
    """After every ``every`` epochs, generate from the same fixed noise and keep the images (a GAN's monitor).

    Fixed noise makes the grids comparable: the same z, epoch after epoch, so what changes is the generator.
    ``grids`` holds (epoch, images) pairs; with ``draw`` each grid is also shown as it is made.
    """

    def __init__(self, noise, every: int = 1, draw: bool = False, ncols: int = 8):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every is a number of epochs, at least 1, got {every}")
        self.noise, self.every, self.draw, self.ncols = noise, int(every), bool(draw), int(ncols)
        self.grids: list[tuple[int, object]] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = keras.ops.convert_to_numpy(self.model(self.noise, training=False))  # (n, h, w, c)
        self.grids.append((epoch + 1, images))
        if self.draw:
            import matplotlib.pyplot as plt

            from course_utils.viz.plots import image_grid

            image_grid(images, ncols=self.ncols, size=0.8, suptitle=f"epoch {epoch + 1}: the same noise every time")
            plt.show()
