"""One trainer for every model of the course: ``fit`` with a time budget and progress, no compiling.

Each model owns its objective: a plain autoencoder is compiled with a reconstruction loss
(``model.compile(optimizer=..., loss="mse")``), a VAE-like model computes its loss in
``compute_loss``, and a GAN-like model with two optimisers writes ``train_step``. This function only
runs ``fit`` with the budget, the callbacks and a progress display, so it hosts all three.
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras

from course_utils.training.callbacks import EpochLine, TimeBudget

PROGRESS = ("line", "bar", "none")


@dataclass
class TrainResult:
    """What ``fit_with_budget`` returns: the Keras history dict, time spent, steps and epochs run, each epoch's time."""

    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    epochs_run: int = 0
    steps: int = 0
    stopped_by_budget: bool = False
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_steps: list[int] = field(default_factory=list)

    def step_seconds(self) -> float:
        """Median seconds per step over the epochs after the first (whose time includes tracing), else the first."""
        timed = list(zip(self.epoch_seconds, self.epoch_steps))[1:] or list(zip(self.epoch_seconds, self.epoch_steps))
        per_step = [seconds / steps for seconds, steps in timed if steps]
        if not per_step:
            raise ValueError("no training step was timed: fit ran no complete epoch")
        return float(statistics.median(per_step))


def fit_with_budget(model: keras.Model, data: Any, *, epochs: int, time_budget_s: float | None = None,
                    callbacks: Sequence[keras.callbacks.Callback] = (), validation_data: Any = None,
                    progress: str = "line") -> TrainResult:
    """Fit a compiled ``model`` on ``data`` for ``epochs`` or until ``time_budget_s`` runs out.

    ``data`` is what ``fit`` takes as ``x``, normally a shuffled, batched ``tf.data.Dataset``
    (``course_utils.data.make_dataset``). ``progress``: 'line' (one line per epoch, the default),
    'bar' (Keras' progress bar) or 'none'.
    """
    if progress not in PROGRESS:
        raise ValueError(f"progress must be one of {PROGRESS}, got {progress!r}")
    if not getattr(model, "compiled", False):
        raise ValueError(f"{model.name} is not compiled: give it its objective first, e.g. "
                         f"model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='mse')")
    budget = TimeBudget(time_budget_s)
    shown = [EpochLine()] if progress == "line" else []
    import tensorflow as tf

    history = model.fit(data, validation_data=validation_data, epochs=int(epochs),
                        shuffle=not isinstance(data, tf.data.Dataset),  # a Dataset shuffles itself
                        verbose=1 if progress == "bar" else 0, callbacks=[*callbacks, budget, *shown])
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    return TrainResult(history=logs, seconds=budget.elapsed, epochs_run=len(next(iter(logs.values()), [])),
                       steps=budget.steps, stopped_by_budget=budget.stopped_early,
                       epoch_seconds=[seconds for seconds, _ in budget.epochs],
                       epoch_steps=[steps for _, steps in budget.epochs])
