"""Training under tf.distribute: one MirroredStrategy step on two logical CPUs equals the one-device step.

The CPU must be split before TensorFlow starts, so the models run in a subprocess (tests/distributed_step.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("autoencoder", "sparse", "vae", "gan", "aae")


@pytest.fixture(scope="module")
def steps() -> dict:
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "distributed_step.py"), *KINDS, "adam_gan"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_a_mirrored_step_equals_the_one_device_step(steps, kind):
    """Each replica's loss is its share of the batch mean; without it the summed gradients double the update."""
    found = steps[kind]
    assert found["replicas"] == 2
    assert found["step"] > 1e-6  # the step moved the weights
    assert found["difference"] <= 1e-3 * found["step"], f"{kind}: the two-replica update differs: {found}"


def test_a_gan_with_adam_and_a_weight_average_trains_under_the_strategy(steps):
    """Optimisers built before the first step (Keras would build Adam's moments inside the replicated step)."""
    history = steps["adam_gan"]
    assert set(history) >= {"d_loss", "g_loss"} and len(history["d_loss"]) == 3
    assert np.all(np.isfinite(history["d_loss"] + history["g_loss"]))


def test_split_cpu_too_late_says_to_call_it_first():
    code = ("import tensorflow as tf; tf.constant(1.0)\n"
            "from course_utils.training.distribute import split_cpu\n"
            "try:\n    split_cpu(2)\nexcept RuntimeError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "call split_cpu(2) first thing" in result.stdout


def test_replica_share_and_descend_change_nothing_outside_a_strategy():
    import keras
    import tensorflow as tf

    from course_utils.training.distribute import descend, replica_share, replicas_in_sync

    assert replicas_in_sync() == 1 and float(replica_share(tf.constant(3.0))) == 3.0
    weight = keras.Variable(2.0)
    with tf.GradientTape() as tape:
        loss = weight * weight  # gradient 4 at 2
    descend(keras.optimizers.SGD(0.5), tape, loss, [weight])
    assert float(weight.numpy()) == pytest.approx(0.0)


def test_two_workers_survive_a_worker_crash_and_resume_from_the_chiefs_checkpoint(tmp_path):
    """Worker 1 dies after epoch 2; the restarted cluster resumes at epoch 3 (not 1) and the loss keeps falling."""
    from course_utils.training.cluster import start_cluster

    arguments = ["--data", "synthetic", "--images", "512", "--global-batch", "64", "--epochs", "4",
                 "--out", str(tmp_path), "--fail-after-epoch", "2"]
    first = start_cluster(arguments, 2, tmp_path / "logs").wait(timeout=240)
    assert first[1] == 3 and first[0] != 0, f"worker 1 should crash and stop the run: {first}"
    second = start_cluster(arguments, 2, tmp_path / "logs").wait(timeout=240)
    assert second == [0, 0], f"the restarted cluster failed: {second}; logs in {tmp_path / 'logs'}"
    lines = [json.loads(line) for line in (tmp_path / "history" / "worker0.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]  # epochs 1-2 before the crash, 3-4 after the restart
    assert all(line["replicas"] == 2 and line["steps"] == 8 for line in lines)
    losses = [line["loss"] for line in lines]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.5 * losses[0]
