"""Run mode and seeding."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils import budget, get_mode, is_fast, set_seed
from course_utils.config import MODES, describe_mode, is_lab


def test_mode_defaults_to_full(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    assert get_mode() == "full" and not is_fast() and not is_lab()


def test_fast_mode_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", " FAST ")
    assert get_mode() == "fast" and is_fast() and not is_lab()


def test_lab_mode_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "Lab")
    assert MODES == ("fast", "lab", "full")
    assert get_mode() == "lab" and is_lab() and not is_fast()


def test_unknown_mode_says_how_to_fix_it(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "quick")
    with pytest.raises(ValueError, match="'quick' is not a run mode. Use one of fast, lab, full"):
        get_mode()
    with pytest.raises(ValueError, match="fast, lab, full"):
        budget(fast=dict(epochs=1), full=dict(epochs=2), mode="slow")
    with pytest.raises(ValueError, match="fast, lab, full"):
        describe_mode("slow")


def test_budget_picks_the_mode_and_rejects_mismatched_keys(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")
    chosen = budget(fast=dict(epochs=1, train_size=100), full=dict(epochs=20, train_size=None))
    assert (chosen.mode, chosen.epochs, chosen.train_size) == ("fast", 1, 100)
    assert budget(fast=dict(epochs=1), full=dict(epochs=20), mode="full").epochs == 20
    with pytest.raises(AttributeError, match="epochs"):
        _ = chosen.epoch
    with pytest.raises(ValueError, match="same keys"):
        budget(fast=dict(epochs=1), full=dict(steps=2))


def test_lab_budget_defaults_to_the_fast_values(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "lab")
    fast, full = dict(epochs=1, train_size=100), dict(epochs=20, train_size=None)
    chosen = budget(fast=fast, full=full)
    assert (chosen.mode, chosen.epochs, chosen.train_size) == ("lab", 1, 100)
    assert budget(fast=fast, full=full, lab=dict(epochs=3, train_size=2000)).epochs == 3
    assert budget(fast=fast, full=full, lab=dict(epochs=3, train_size=2000), mode="full").epochs == 20
    with pytest.raises(ValueError, match="fast and lab budgets must set the same keys: \\['train_size'\\]"):
        budget(fast=fast, full=full, lab=dict(epochs=3))


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_has_a_one_line_description(monkeypatch, mode):
    monkeypatch.setenv("COURSE_MODE", mode)
    line = describe_mode()
    assert line.startswith(f"Run mode: {mode} (") and "\n" not in line and line == describe_mode(mode)
    assert ("pretrained" in line) == (mode == "lab")


def _seeded_numbers(seed):
    import keras
    import tensorflow as tf

    set_seed(seed)
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    return np.random.rand(3), tf.random.uniform((3,)).numpy(), layer.kernel.numpy()


def test_set_seed_repeats_numpy_tensorflow_and_keras():
    first, second = _seeded_numbers(7), _seeded_numbers(7)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], _seeded_numbers(8)[0])


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        set_seed(bad)


def test_deterministic_switches_on_op_determinism():
    code = ("import tensorflow as tf; from course_utils import set_seed; set_seed(1, deterministic=True); "
            "from tensorflow.python.framework import config; print(config.is_op_determinism_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("True")


TRAIN_TWICE = """
import numpy as np
from course_utils import set_seed
from course_utils.data import make_dataset
from course_utils.models import DenseAutoencoder
from course_utils.training import fit_with_budget

set_seed(42)
x = np.random.default_rng(0).random((256, 28, 28, 1)).astype("float32")
model = DenseAutoencoder(latent_dim=16, hidden_units=(), code_activation="relu", batch_norm=False)
model.compile(optimizer="adam", loss="mse")
loss = fit_with_budget(model, make_dataset(x, x, batch_size=32), epochs=2, progress="none").history["loss"][-1]
print(repr(loss), repr(float(sum(np.abs(w).sum() for w in model.get_weights()))))
"""


def test_two_processes_train_the_same_seeded_model_to_the_same_numbers():
    """What chapter 00's reproducibility cell shows, across two fresh Python processes."""
    runs = [subprocess.run([sys.executable, "-c", TRAIN_TWICE], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0].strip() and runs[0] == runs[1]
