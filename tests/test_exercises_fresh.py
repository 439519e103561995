"""Design-and-train checks train a verified fresh copy of the learner's model, so trained weights give no head start."""
from __future__ import annotations

import importlib

import keras
import numpy as np
import pytest

from course_utils.exercises.core import CheckFailed, chapter_exercises
from course_utils.exercises.fresh import fresh_copy

X = np.random.default_rng(0).random((8, 6)).astype(np.float32)  # (8, 6)


def _trained_mlp() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Lambda(lambda t: 2.0 * t), keras.layers.Dense(6)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, X, epochs=3, verbose=0)
    return model


def test_the_copy_has_new_weights_and_computes_the_same_function():
    model = _trained_mlp()
    copy = fresh_copy(model, X)
    assert copy is not model
    assert not any(np.allclose(a, b) for a, b in zip(copy.get_weights(), model.get_weights(), strict=True)
                   if a.size > 1 and np.any(b))  # every kernel re-initialised (zero-initialised biases stay zero)
    copy.set_weights(model.get_weights())
    np.testing.assert_allclose(copy(X), model(X), atol=1e-6)


def test_copies_made_after_the_same_seed_start_from_the_same_weights():
    model = _trained_mlp()
    copies = []
    for _ in range(2):
        keras.utils.set_random_seed(5)
        copies.append(fresh_copy(model, X).get_weights())
    for a, b in zip(*copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_course_models_and_subclasses_without_constructor_arguments_are_copied():
    from course_utils.models import dense_vae

    vae = dense_vae(latent_dim=3, hidden_units=(8,), seed=0)
    images = np.random.default_rng(1).random((4, 28, 28, 1)).astype(np.float32)
    assert len(fresh_copy(vae, images).get_weights()) == len(vae.get_weights())
    units = 9

    class Closure(keras.Model):  # the notebooks' pattern: settings from the enclosing function, no arguments
        def __init__(self):
            super().__init__()
            self.hidden, self.out = keras.layers.Dense(units, activation="relu"), keras.layers.Dense(6)

        def call(self, x):
            return self.out(self.hidden(x))

    assert fresh_copy(Closure(), X).hidden.units == 9


class Arguments(keras.Model):
    """A subclass with a constructor argument, with or without the get_config that lets Keras rebuild it."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden, self.out = keras.layers.Dense(units), keras.layers.Dense(6)

    def call(self, x):
        return self.out(self.hidden(x))


class ArgumentsWithConfig(Arguments):
    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_model_keras_cannot_rebuild_faithfully_is_reported_not_changed():
    with pytest.raises(CheckFailed, match="fresh copy of your decoder.*get_config"):
        fresh_copy(Arguments(9), X, "decoder")  # its default config has no units: a copy would differ
    assert fresh_copy(ArgumentsWithConfig(9), X).hidden.units == 9


class _Reached(Exception):
    """Raised by the patched fresh_copy: the probe was about to train a copy."""


@pytest.mark.parametrize("exercise_id", ["00.3", "02.2", "04.2", "05.5", "06.5", "07.4", "08.4"])
def test_every_design_and_train_check_trains_a_fresh_copy(exercise_id, monkeypatch):
    """Each check's training path goes through fresh_copy (stopped there, before any training)."""
    chapter = exercise_id[:2]
    module = importlib.import_module(f"course_utils.exercises.ch{chapter}")

    def stop(model, probe, what="model"):
        raise _Reached

    monkeypatch.setattr(module, "fresh_copy", stop)
    exercise = next(e for e in chapter_exercises(chapter) if e.id == exercise_id)
    case = next(case for case in exercise.hidden_cases(np.random.default_rng(0)) if case.get("fit", True))
    with pytest.raises(_Reached):
        exercise.probe(exercise.reference(), case)
