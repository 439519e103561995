"""Training under a ``tf.distribute`` strategy: each replica's share of a loss, and logical CPU devices to try it on.

Under ``MirroredStrategy`` every replica computes its loss on its slice of the global batch and the replicas'
gradients are *summed*. A loss that is a mean over the replica's slice must therefore be divided by the number of
replicas, so that the sum is the gradient of the mean over the global batch, as on one device. Keras' own losses do
this; every hand-written ``train_step`` and ``compute_loss`` of the course goes through :func:`replica_share` or
:func:`descend` for the same reason. Outside a strategy both change nothing.
"""
from __future__ import annotations

from collections.abc import Sequence


def replicas_in_sync() -> int:
    """How many replicas the current strategy runs in lockstep (1 outside any strategy)."""
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)


def replica_share(loss):
    """This replica's share of a batch-mean loss: loss / replicas, so summed gradients average the global batch."""
    replicas = replicas_in_sync()
    return loss if replicas == 1 else loss / replicas


def descend(optimizer, tape, loss, weights: Sequence) -> None:
    """One ``optimizer`` update of ``weights`` down a batch-mean ``loss`` recorded on ``tape``, replica-correct."""
    replicas = replicas_in_sync()
    gradients = tape.gradient(loss, weights)
    if replicas > 1:
        gradients = [gradient if gradient is None else gradient / replicas for gradient in gradients]
    optimizer.apply_gradients(zip(gradients, weights))


def build_optimizers(*pairs) -> None:
    """Create each optimiser's state for the weights of its network(s) now, not lazily inside the first step.

    A model with several optimisers (GAN, adversarial AE) must do this before training under ``MirroredStrategy``:
    Keras 3 would otherwise build, say, Adam's moments inside the replicated step, which fails with "You must feed a
    value for placeholder tensor" (keras-team/keras#19246). It also lets a ``.keras`` file restore the saved moments.
    """
    for optimizer, networks in pairs:
        networks = networks if isinstance(networks, (list, tuple)) else [networks]
        if not optimizer.built:
            optimizer.build([weight for network in networks for weight in network.trainable_variables])


def split_cpu(devices: int) -> list[str]:
    """Split the CPU into ``devices`` logical devices (before TensorFlow first uses it); return their names.

    A way to run ``MirroredStrategy`` without several GPUs: the replicas share the same cores, so this shows the
    mechanics of data parallelism, not a speed-up.
    """
    import tensorflow as tf

    if devices < 1:
        raise ValueError(f"devices must be at least 1, got {devices}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError as error:
        found = len(tf.config.list_logical_devices("CPU"))
        if found != devices:
            raise RuntimeError(f"TensorFlow has already set up {found} CPU device(s), so it cannot be split into "
                               f"{devices} now: call split_cpu({devices}) first thing, before any model or tensor "
                               f"is created (restart the kernel)") from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]
