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
