"""Training helpers: a time budget, a cosine LR decay that fits it, and a one-call trainer (chapters 01-02)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall-clock time have passed, checked after every batch (chapter 01)."""

    def __init__(self, seconds: float | None):
        super().__init__()
        self.seconds = None if seconds is None else float(seconds)
        self.start = 0.0
        self.elapsed = 0.0
        self.steps = 0
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.steps = 0
        self.stopped_early = False

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.elapsed = time.perf_counter() - self.start
        if self.seconds is not None and self.elapsed >= self.seconds:
            self.stopped_early = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.elapsed = time.perf_counter() - self.start


@dataclass
class TrainResult:
    """What ``train_autoencoder`` returns: the Keras history dict, seconds spent and whether time ran out."""

    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    epochs_run: int = 0
    stopped_by_budget: bool = False


def cosine_schedule(learning_rate: float, steps: int, alpha: float = 0.02):
    """A cosine-decaying learning rate over ``steps`` optimiser steps (ends at ``alpha * learning_rate``)."""
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(int(steps), 1), alpha=alpha)


class CosineByProgress(keras.callbacks.Callback):
    """Cosine-decay the learning rate by training progress, ending at ``alpha * learning_rate`` (chapter 01).

    Progress is the fraction of ``steps`` done or, with a time budget, the fraction of ``seconds``
    used, whichever is larger: on a slow or busy machine the decay still completes when the budget
    runs out instead of being cut off half-way. Without a budget it equals ``cosine_schedule``.
    """

    def __init__(self, learning_rate: float, steps: int, seconds: float | None = None, alpha: float = 0.02):
        super().__init__()
        self.learning_rate = float(learning_rate)
        self.steps = max(int(steps), 1)
        self.seconds = None if seconds is None else float(seconds)
        self.alpha = float(alpha)
        self.step = 0
        self.start = 0.0

    def progress(self) -> float:
        """Fraction of training done, in [0, 1]."""
        done = self.step / self.steps
        if self.seconds:
            done = max(done, (time.perf_counter() - self.start) / self.seconds)
        return min(done, 1.0)

    def current(self) -> float:
        """The learning rate for the next step."""
        cosine = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        return self.learning_rate * (self.alpha + (1.0 - self.alpha) * cosine)

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.current())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


def train_autoencoder(model: keras.Model, x_train: np.ndarray, x_val: np.ndarray | None = None, *,
                      epochs: int = 10, batch_size: int = 128, learning_rate: float = 1e-3,
                      loss: str | keras.losses.Loss = "mse", decay: bool = True, time_budget_s: float | None = None,
                      verbose: int = 0, seed: int = 0) -> TrainResult:
    """Compile with Adam and fit ``model`` to reproduce its input; stops after ``epochs`` or at ``time_budget_s``.

    With ``decay`` the learning rate follows a cosine from ``learning_rate`` down to 2 % of it over
    the run, where the run ends after ``epochs`` or when the time budget is spent, whichever comes
    first (``CosineByProgress``), so a budget-limited run still finishes its decay.
    """
    import tensorflow as tf

    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    train = (tf.data.Dataset.from_tensor_slices((x_train, x_train))
             .shuffle(min(len(x_train), 10_000), seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE))
    val = None if x_val is None else (x_val, x_val)
    budget = TimeBudget(time_budget_s)
    callbacks: list[keras.callbacks.Callback] = [budget]
    if decay:
        callbacks.insert(0, CosineByProgress(learning_rate, steps, seconds=time_budget_s))
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, callbacks=callbacks,
                        shuffle=False)  # the tf.data pipeline already shuffles
    return TrainResult(history=dict(history.history), seconds=budget.elapsed,
                       epochs_run=len(history.history.get("loss", [])), stopped_by_budget=budget.stopped_early)
