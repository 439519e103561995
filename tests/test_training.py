"""The one trainer and its callbacks: budget, cosine decay by progress, progress lines, objectives."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.data import make_dataset
from course_utils.models import ConvAutoencoder, DenseAutoencoder
from course_utils.training import CosineByProgress, EpochLine, TimeBudget, dtype_policy, fit_with_budget


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def batch(n=4, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def smooth_batch(n=32, seed=0):
    """Blocky 28x28 images (7x7 random values, each a 4x4 block): structured enough to learn quickly."""
    coarse = np.random.default_rng(seed).random((n, 7, 7, 1))
    return np.kron(coarse, np.ones((1, 4, 4, 1))).astype("float32")


def compiled(model, learning_rate=1e-3):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


@pytest.mark.parametrize("factory", [
    lambda: DenseAutoencoder(latent_dim=8, hidden_units=(64,)),
    lambda: ConvAutoencoder(latent_dim=8, filters=(8, 16)),
])
def test_loss_falls_on_a_seeded_small_batch(factory):
    x = smooth_batch(32, seed=1)
    model = compiled(factory(), 3e-3)
    result = fit_with_budget(model, make_dataset(x, x, batch_size=8), epochs=20, progress="none")
    losses = result.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert result.epochs_run == 20 and result.steps == 20 * 4 and not result.stopped_by_budget


def test_time_budget_stops_training():
    x = batch(64)
    model = compiled(DenseAutoencoder(latent_dim=4, hidden_units=(16,)))
    result = fit_with_budget(model, make_dataset(x, x, batch_size=8), epochs=10_000, time_budget_s=0.5,
                             progress="none")
    assert result.stopped_by_budget
    assert result.epochs_run < 10_000
    assert TimeBudget(None).time_budget_s is None


def test_each_epoch_is_timed_and_the_step_time_leaves_out_the_first_epoch():
    x = batch(24)
    model = compiled(DenseAutoencoder(latent_dim=4, hidden_units=(16,)))
    result = fit_with_budget(model, make_dataset(x, x, batch_size=8), epochs=3, progress="none")
    assert result.epoch_steps == [3, 3, 3] and sum(result.epoch_steps) == result.steps
    assert len(result.epoch_seconds) == 3 and sum(result.epoch_seconds) <= result.seconds + 1e-6
    later = [seconds / 3 for seconds in result.epoch_seconds[1:]]
    assert result.step_seconds() == pytest.approx(float(np.median(later)))
    with pytest.raises(ValueError, match="no training step"):
        type(result)().step_seconds()


def test_progress_line_per_epoch_is_the_default(capsys):
    x = batch(16)
    model = compiled(DenseAutoencoder(latent_dim=4, hidden_units=(16,)))
    fit_with_budget(model, make_dataset(x, x, batch_size=8), epochs=3, validation_data=(x, x))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3") and "val_loss" in lines[-1]


def test_uncompiled_model_and_unknown_progress_are_refused():
    x = batch(8)
    with pytest.raises(ValueError, match="not compiled"):
        fit_with_budget(DenseAutoencoder(latent_dim=4, hidden_units=()), make_dataset(x, x), epochs=1)
    with pytest.raises(ValueError, match="progress"):
        fit_with_budget(compiled(DenseAutoencoder(latent_dim=4, hidden_units=())), make_dataset(x, x), epochs=1,
                        progress="loud")


class OwnLoss(keras.Model):
    """A model that owns its objective in compute_loss, with a Mean tracker, like the later VAE."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)
        self.tracker = keras.metrics.Mean(name="recon")

    def call(self, x):
        return self.dense(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = keras.ops.mean(keras.ops.square(x - y_pred))
        self.tracker.update_state(loss)
        return loss

    @property
    def metrics(self):
        return [self.tracker]


def test_a_model_with_its_own_compute_loss_is_hosted():
    x = np.random.default_rng(0).random((32, 3)).astype("float32")
    model = OwnLoss()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    result = fit_with_budget(model, make_dataset(x, batch_size=8), epochs=5, progress="none")
    assert result.history["recon"][-1] < result.history["recon"][0]


def test_cosine_by_progress_follows_steps_or_time():
    """Hand-computed values: lr * (alpha + (1 - alpha) * (1 + cos(pi * progress)) / 2)."""
    by_steps = CosineByProgress(1e-3, alpha=0.0)
    by_steps.set_params({"epochs": 2, "steps": 5})
    by_steps.on_train_begin()
    assert by_steps.total_steps == 10 and by_steps.current() == pytest.approx(1e-3)
    by_steps.step = 5
    assert by_steps.current() == pytest.approx(0.5e-3)
    by_steps.step = 12  # past the end: stays at the floor
    assert by_steps.current() == pytest.approx(0.0, abs=1e-12)

    by_time = CosineByProgress(1e-3, time_budget_s=100.0, alpha=0.02)
    by_time.set_params({"epochs": 10, "steps": 100})
    by_time.on_train_begin()
    by_time.start -= 50.0  # as if half the budget had passed after 0 steps
    assert by_time.progress() == pytest.approx(0.5, abs=1e-3)
    assert by_time.current() == pytest.approx(1e-3 * (0.02 + 0.98 * 0.5), rel=1e-2)
    by_time.step = 900  # steps ahead of time: the larger fraction wins
    assert by_time.progress() == pytest.approx(0.9)
    by_time.start -= 100.0
    assert by_time.current() == pytest.approx(0.02e-3)


def test_cosine_needs_a_known_length():
    schedule = CosineByProgress(1e-3)
    schedule.set_params({"epochs": 1, "steps": None})
    with pytest.raises(ValueError, match="known length"):
        schedule.on_train_begin()


def test_decay_ends_near_the_floor_without_a_budget():
    x = batch(32)
    model = compiled(DenseAutoencoder(latent_dim=4, hidden_units=(16,)))
    result = fit_with_budget(model, make_dataset(x, x, batch_size=4), epochs=2, progress="none",
                             callbacks=[CosineByProgress(1e-3)])
    rates = result.history["learning_rate"]
    assert rates[0] < 1e-3 and rates[-1] < 0.05 * 1e-3  # last of 16 steps: progress 15/16


def test_epoch_line_prints_every_number(capsys):
    line = EpochLine()
    line.set_params({"epochs": 4})
    line.on_epoch_begin(1)
    line.on_epoch_end(1, {"loss": 0.0123456, "val_loss": 0.02})
    out = capsys.readouterr().out
    assert out.startswith("epoch 2/4  loss 0.01235  val_loss 0.02  (")


# --- dtype policies (mixed precision) --------------------------------------------------------------


def test_dtype_policy_builds_mixed_layers_and_restores_float32_even_after_an_error():
    with pytest.raises(RuntimeError, match="inside"), dtype_policy("mixed_bfloat16"):
        layer = keras.layers.Dense(3)
        raise RuntimeError("an error inside the block")
    layer.build((None, 4))
    assert (layer.compute_dtype, layer.kernel.dtype) == ("bfloat16", "float32")  # weights stay float32
    assert keras.mixed_precision.global_policy().name == "float32"
    assert keras.layers.Dense(3).compute_dtype == "float32"


def test_dtype_policy_rejects_an_unknown_policy_with_the_choices():
    with pytest.raises(ValueError, match="one of .*mixed_bfloat16.*got 'bf16'"), dtype_policy("bf16"):
        pass
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_model_trained_in_bfloat16_moves_into_a_float32_twin():
    from course_utils.models.denoising import conv_denoiser

    x = smooth_batch(16)
    with dtype_policy("mixed_bfloat16"):
        trained = conv_denoiser(filters=(4, 8), seed=0)
    trained.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    trained.fit(x, x, batch_size=8, epochs=1, verbose=0)
    twin = conv_denoiser(filters=(4, 8), seed=0)
    twin.set_weights(trained.get_weights())
    mixed, full = trained.predict(x, verbose=0), twin.predict(x, verbose=0)
    assert (str(mixed.dtype), str(full.dtype)) == ("bfloat16", "float32")  # what the benchmarks evaluate: the twin
    mixed = mixed.astype(np.float32)
    np.testing.assert_allclose(full, mixed, atol=0.02)  # bfloat16 keeps about 3 significant digits
    assert not np.array_equal(full, mixed)
