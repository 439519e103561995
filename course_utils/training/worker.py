"""One worker of a multi-worker run: ``python -m course_utils.training.worker`` with TF_CONFIG set by the launcher.

Trains a small dense autoencoder or VAE under ``MultiWorkerMirroredStrategy`` with a custom loop: Keras 3's ``fit``
fails under that strategy (keras-team/keras#20585, open for TensorFlow 2.16 to 2.21), so this is the loop ``fit``
would run: ``experimental_distribute_dataset`` splits each global batch, ``strategy.run`` runs one step per
replica, each replica descends its share of the loss (``descend``), and the chief checkpoints after every epoch
(what Keras' ``BackupAndRestore`` does), so a cluster restarted after a failure resumes from the last finished
epoch. Each worker appends one JSON line per epoch to ``history/worker<index>.jsonl``. ``--fail-after-epoch K``
makes worker 1 die once after epoch K (a marker file remembers it), to show the restart.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("dense_ae", "conv_ae", "dense_vae")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of a worker."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.training.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="dense_ae")
    parser.add_argument("--data", choices=("fashion", "synthetic"), default="fashion")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--global-batch", type=int, default=128, help="examples per step, over all replicas")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, required=True, help="folder for backup/ and history/")
    parser.add_argument("--fail-after-epoch", type=int, default=0, help="worker 1 exits once after this epoch")
    return parser.parse_args(argv)


def images(kind: str, count: int):
    """``count`` training images in [0, 1], (count, 28, 28, 1): Fashion-MNIST's first ones, or seeded bars."""
    import numpy as np

    if kind == "fashion":
        from course_utils.data import load_fashion_mnist

        (x_train, _), _ = load_fashion_mnist()
        return x_train[:count]
    rows = np.random.default_rng(0).integers(0, 28, size=count)
    out = np.zeros((count, 28, 28, 1), dtype="float32")
    out[np.arange(count), rows, :, 0] = 1.0  # one bright row per image
    return out


def build(model: str):
    """The model (create it inside the strategy's scope): a small dense AE, chapter 02's conv AE, chapter 06's VAE."""
    import keras

    from course_utils.models import ConvAutoencoder, DenseAutoencoder
    from course_utils.models.vae import dense_vae

    keras.utils.set_random_seed(0)
    if model == "dense_ae":
        return DenseAutoencoder(latent_dim=16, hidden_units=(128,), batch_norm=False)
    if model == "conv_ae":
        return ConvAutoencoder(latent_dim=32, filters=(32, 64, 128))
    return dense_vae(latent_dim=16, hidden_units=(512, 256))


def batch_loss(model, x):
    """The model's loss as a mean over this replica's images: MSE for the autoencoder, the negative ELBO for the VAE."""
    from keras import ops

    if hasattr(model, "encode") and hasattr(model, "sampling"):
        return model.compute_loss(x, training=True)
    return ops.mean(ops.square(x - model(x, training=True)))


def checkpoint_dir(out: Path, index: int) -> Path:
    """The chief saves into out/backup; every other worker must save too (the save is collective), into out/scratch."""
    if index == 0:
        return out / "backup"
    (out / "scratch").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"worker{index}-", dir=out / "scratch"))


def distributed_training(strategy, model_name: str, data, global_batch: int, learning_rate: float):
    """The model, its Adam, the distributed batches and a compiled step under ``strategy`` (any strategy).

    The step runs ``step_on_replica`` on every replica's slice of a global batch and returns the loss averaged
    over the replicas; each replica descends its share of its batch-mean loss, so the update is the global one.
    """
    import keras
    import tensorflow as tf

    from course_utils.training.distribute import descend

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(global_batch, drop_remainder=True)
    batches = strategy.experimental_distribute_dataset(dataset.with_options(options))  # each worker: its slice
    with strategy.scope():
        model = build(model_name)
        model(data[:1])  # (1, 28, 28, 1): create the weights now, mirrored on every replica
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(model.trainable_variables)

    @tf.function
    def train_step(x):
        def step_on_replica(x):  # x: (global_batch / replicas, 28, 28, 1)
            with tf.GradientTape() as tape:
                loss = batch_loss(model, x)
            descend(optimizer, tape, loss, model.trainable_variables)  # gradients / replicas, then summed
            return loss
        return strategy.reduce("MEAN", strategy.run(step_on_replica, args=(x,)), axis=None)

    return model, optimizer, batches, train_step


def main(argv: list[str] | None = None) -> int:
    """Train under MultiWorkerMirroredStrategy, resuming from the chief's last checkpoint; 0 when every epoch ran."""
    args = parse_args(argv)
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
    setup = distributed_training(strategy, args.model, images(args.data, args.images), args.global_batch,
                                 args.learning_rate)
    with strategy.scope():
        finished = tf.Variable(0, dtype=tf.int64)  # epochs done, saved with the weights
    model, optimizer, batches, train_step = setup
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, finished=finished)
    saves = checkpoint_dir(args.out, index)
    manager = tf.train.CheckpointManager(checkpoint, str(saves), max_to_keep=1)
    chief_latest = tf.train.latest_checkpoint(str(args.out / "backup"))
    if chief_latest:
        checkpoint.restore(chief_latest)  # every worker resumes from the chief's copy

    history = args.out / "history" / f"worker{index}.jsonl"
    history.parent.mkdir(parents=True, exist_ok=True)
    marker = args.out / "failed-once"
    started = time.perf_counter()
    for epoch in range(int(finished.numpy()), args.epochs):
        epoch_start = time.perf_counter()
        losses = [float(train_step(x)) for x in batches]
        epoch_seconds = time.perf_counter() - epoch_start
        finished.assign(epoch + 1)
        manager.save()
        line = {"epoch": epoch + 1, "loss": sum(losses) / len(losses), "steps": len(losses),
                "epoch_seconds": round(epoch_seconds, 3), "seconds": round(time.perf_counter() - started, 2),
                "replicas": strategy.num_replicas_in_sync}
        with open(history, "a") as sink:
            sink.write(json.dumps(line) + "\n")
        if index == 1 and epoch + 1 == args.fail_after_epoch and not marker.exists():
            marker.write_text("worker 1 stopped here once\n")
            os._exit(3)  # a crash: no clean shutdown, as when a machine goes away
    if index != 0:
        shutil.rmtree(saves, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
