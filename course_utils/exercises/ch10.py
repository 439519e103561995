"""Chapter 10 exercises (appendix, tf.distribute): a replica's share of the loss, a distributed training step, an
autoencoder trained under MirroredStrategy to a target within a step budget, and a worker's TF_CONFIG.

The checks of 10.2 and 10.3 run the learner's code under a ``MirroredStrategy`` of two logical CPU devices, which
exist only if the CPU was split before TensorFlow started (the notebook's first code cell, ``split_cpu(2)``).
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from unittest import mock

import numpy as np

from course_utils.exercises.core import CheckFailed, Exercise, expect
from course_utils.exercises.judges import number_judge
from course_utils.exercises.values import as_scalar

NEEDS_TWO_DEVICES = ("this check runs your code on two replicas, and TensorFlow has only one CPU device in this kernel: "
                     "restart the kernel and run the notebook's first code cell, split_cpu(2), before anything else")


@functools.lru_cache(maxsize=1)
def _mirrored_or_none() -> Any:
    """One MirroredStrategy over the first two logical CPU devices for every check, or None if there is only one.

    It adds gradients up on one device instead of with collective all-reduces: every MirroredStrategy in a process
    numbers its collectives from the same start, so a second one next to the notebook's would reuse its keys and
    abort with "Shape mismatch in the collective instance".
    """
    import tensorflow as tf

    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(cpus) < 2:
        return None
    return tf.distribute.MirroredStrategy(cpus[:2], cross_device_ops=tf.distribute.ReductionToOneDevice())


def _one_seed(rng: np.random.Generator) -> list[dict[str, Any]]:
    """One hidden case: a seed for the data and the initial weights."""
    return [{"seed": int(rng.integers(1, 1000))}]


def two_replicas() -> Any:
    """The checks' MirroredStrategy with two replicas; a check failure that says how to get one if it cannot exist."""
    strategy = _mirrored_or_none()
    if strategy is None:
        raise CheckFailed(NEEDS_TWO_DEVICES)
    return strategy


# --- 10.1 replica_loss ---------------------------------------------------------------------------------------

def reference_replica_loss(per_example_loss, global_batch_size):
    """Reference for 10.1: this replica's share of the global-batch mean, sum(per_example) / global batch size."""
    import tensorflow as tf

    return tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)


def _replica_loss_problem(per_example: np.ndarray, global_batch: int, out: float) -> str | None:
    """The first thing wrong with the learner's share for these inputs, named after the usual mistake, or None."""
    total = float(np.sum(per_example, dtype=np.float64))
    local = per_example.shape[0]
    replicas = global_batch // max(local, 1)
    mistakes = [
        (total / local, ("this is the mean over this replica's own examples; the replicas' gradients are summed, so "
                         "with several replicas the update grows with their number: divide by the global batch size")),
        (total, "the sum is not divided by anything: divide by the global batch size"),
        (total / global_batch / replicas, ("divided by the number of replicas twice: the global batch size already "
                                           "counts every replica's examples")),
    ]
    for wrong, message in mistakes:
        if local != global_batch and np.isclose(out, wrong, rtol=1e-5):
            return message
    return None if np.isclose(out, total / global_batch, rtol=1e-5) else "wrong value for this replica's share"


def _public_replica_loss(fn: Callable[..., Any]) -> None:
    import tensorflow as tf

    per_example = np.array([0.5, 1.0, 2.0, 4.5], dtype=np.float32)  # one replica's 4 of a global batch of 8
    out = as_scalar(fn(per_example, 8), "replica_loss", "a loss is one number: add up the per-example values")
    problem = _replica_loss_problem(per_example, 8, out)
    expect(problem is None, problem or "")
    short = np.array([0.25, 0.75, 3.0], dtype=np.float32)  # 3 examples of a global batch of 12 (4 replicas)
    problem = _replica_loss_problem(short, 12, as_scalar(fn(short, 12), "replica_loss", "one number"))
    expect(problem is None, f"with 3 examples on this replica and a global batch of 12: {problem}")
    try:
        graph = float(tf.function(lambda values: fn(values, 8))(tf.constant(per_example)))
    except Exception as error:  # noqa: BLE001 - say where the training step calls it
        raise CheckFailed(f"inside tf.function, where a training step calls it, replica_loss raised "
                          f"{type(error).__name__}: {str(error).splitlines()[0][:160]}; use TensorFlow or keras.ops "
                          "operations, not NumPy") from None
    expect(np.isclose(graph, out, rtol=1e-5), "inside tf.function the result differs from the eager one")


def _cases_replica_loss(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for replicas in (2, 8):
        local = int(rng.integers(1, 40))
        cases.append({"per_example_loss": rng.gamma(2.0, 0.05, local).astype(np.float32),
                      "global_batch_size": local * replicas})
    return cases


REPLICA_LOSS = Exercise(
    id="10.1", name="replica_loss", title="Each replica's share of the loss", points=2,
    reference=lambda: reference_replica_loss, public=_public_replica_loss, hidden_cases=_cases_replica_loss,
    judge=number_judge(lambda per_example_loss, global_batch_size: float(np.sum(per_example_loss, dtype=np.float64))
                       / global_batch_size, "wrong share of the loss", rtol=1e-5),
    hints=(
        ("the strategy adds up the replicas' gradients. Ask which loss each replica must differentiate so that the "
         "sum of their gradients is the gradient of the mean over the whole global batch, as on one device."),
        ("the mean over the global batch is the total of every example's loss divided by the global batch size; each "
         "replica holds some of those examples, so its share is the total of its own examples' losses divided by "
         "the global batch size (not by its own number of examples)."),
        ("return tf.reduce_sum(per_example_loss) / global_batch_size, or tf.nn.compute_average_loss(per_example_loss, "
         "global_batch_size=global_batch_size), which does exactly that."),
    ),
)

# --- 10.2 make_distributed_step ------------------------------------------------------------------------------

STEP_BATCH = 8  # the check's global batch: 4 images per replica
STEP_LEARNING_RATE = 0.5  # SGD: a large step, so a doubled or halved update stands out


def per_example_mse(model, x):
    """Each image's mean squared reconstruction error under ``model``; (batch, 28, 28, 1) -> (batch,)."""
    from keras import ops

    return ops.mean(ops.square(x - model(x, training=True)), axis=(1, 2, 3))


def reference_make_distributed_step(strategy, model, optimizer, global_batch_size):
    """Reference for 10.2: a compiled step that trains ``model`` on one distributed global batch; returns its mean loss."""
    import tensorflow as tf

    def step_on_replica(x):  # x: (global_batch_size / replicas, 28, 28, 1)
        with tf.GradientTape() as tape:
            loss = reference_replica_loss(per_example_mse(model, x), global_batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def step(batch):
        return strategy.reduce("SUM", strategy.run(step_on_replica, args=(batch,)), axis=None)

    return step


def _step_model() -> Any:
    """The check's small autoencoder, built on one image, same weights for the same seed."""
    from course_utils.models import DenseAutoencoder

    model = DenseAutoencoder(latent_dim=4, hidden_units=(16,), batch_norm=False)
    model(np.zeros((1, 28, 28, 1), np.float32))  # (1, 28, 28, 1): create the weights
    return model


def _one_device_update(x: np.ndarray, start: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """The weights after one SGD step on the global-batch mean on one device, and that mean loss before the step."""
    import keras
    import tensorflow as tf

    model = _step_model()
    model.set_weights(start)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(per_example_mse(model, tf.constant(x)))
    optimizer = keras.optimizers.SGD(STEP_LEARNING_RATE)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return [np.array(weight) for weight in model.get_weights()], float(loss)


def _distributed_update(fn: Callable[..., Any], x: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Run the learner's step once under two replicas; the update's size and direction against one device's."""
    import keras
    import tensorflow as tf

    strategy = two_replicas()
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = _step_model()
        optimizer = keras.optimizers.SGD(STEP_LEARNING_RATE)
        optimizer.build(model.trainable_variables)
    start = [np.array(weight) for weight in model.get_weights()]
    step = fn(strategy, model, optimizer, STEP_BATCH)
    expect(callable(step), f"make_distributed_step returned {type(step).__name__}; return the step function itself")
    batch = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(STEP_BATCH))))
    loss = step(batch)
    expect(not isinstance(loss, tf.distribute.DistributedValues),
           "the step returned one value per replica: combine them into one number with strategy.reduce")
    loss = as_scalar(loss, "the step", "the step returns one number, the loss of the whole global batch")
    want, want_loss = _one_device_update(x, start)
    moved = np.concatenate([(np.array(w) - s).ravel() for w, s in zip(model.get_weights(), start)])
    expected = np.concatenate([(w - s).ravel() for w, s in zip(want, start)])
    ratio = float(moved @ expected / (expected @ expected))
    error = float(np.abs(moved - expected).max() / np.abs(expected).max())
    return {"ratio": np.asarray(ratio), "error": np.asarray(error), "loss": np.asarray(loss),
            "want_loss": np.asarray(want_loss)}


def _step_problem(outputs: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with a probed distributed step, as a message, or None."""
    ratio, error = float(outputs["ratio"]), float(outputs["error"])
    if abs(ratio) < 1e-3:
        return "the model's weights did not change: each replica must apply its gradients with the optimizer"
    if np.isclose(ratio, 2.0, rtol=0.02):
        return ("the update is twice the one-device update on the same global batch: each replica's loss was the "
                "mean over its own examples, and the strategy sums the replicas' gradients; use replica_loss")
    if np.isclose(ratio, 0.5, rtol=0.02):
        return ("the update is half the one-device update: the loss was divided by the number of replicas once too "
                "often (the global batch size already counts every replica's examples)")
    if error > 1e-3:
        return ("the update differs from one SGD step on the mean squared error of the global batch on one device; "
                "is each replica's loss replica_loss(per_example_mse(model, x), global_batch_size)?")
    if not np.isclose(float(outputs["loss"]), float(outputs["want_loss"]), rtol=1e-4):
        return ("the returned loss is not the mean loss of the global batch: add up the replicas' shares with "
                "strategy.reduce('SUM', ...)")
    return None


def _probe_distributed_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    x = np.random.default_rng(case["seed"]).random((STEP_BATCH, 28, 28, 1)).astype(np.float32)
    return _distributed_update(fn, x, int(case["seed"]))


def _public_distributed_step(fn: Callable[..., Any]) -> None:
    problem = _step_problem(_probe_distributed_step(fn, {"seed": 0}))
    expect(problem is None, problem or "")


def _judge_distributed_step(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _step_problem(outputs)
    return None if problem is None else problem.split(":")[0]


MAKE_DISTRIBUTED_STEP = Exercise(
    id="10.2", name="make_distributed_step", title="A training step under MirroredStrategy", points=3,
    reference=lambda: reference_make_distributed_step, public=_public_distributed_step,
    hidden_cases=_one_seed, judge=_judge_distributed_step,
    probe=_probe_distributed_step,
    hints=(
        ("the strategy runs the same code on every replica, each on its slice of the global batch, and the "
         "replicas' gradients are combined by adding them up; afterwards one number describes the whole batch. "
         "Which loss must each replica differentiate, and how are the replicas' numbers combined?"),
        ("inside, write a function for one replica: under a GradientTape compute replica_loss of the per-example "
         "errors with the global batch size, take the gradients and apply them with the optimizer, return the loss. "
         "The step (a tf.function) runs it with strategy.run on the distributed batch and adds the replicas' "
         "returned shares up with strategy.reduce."),
        ("def on_replica(x): with tf.GradientTape() as tape: loss = replica_loss(per_example_mse(model, x), "
         "global_batch_size); then optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), "
         "model.trainable_variables)); return loss. The step: return strategy.reduce('SUM', strategy.run(on_replica, "
         "args=(batch,)), axis=None), decorated with @tf.function."),
    ),
)

# --- 10.3 train_mirrored: design and train an autoencoder under MirroredStrategy within a step budget ----------

TRAIN_IMAGES = 4096
VAL_IMAGES = 1000
MAX_STEPS = 160  # optimizer steps, whatever the batch: the budget that makes the global batch size matter
TARGET_VAL_MSE = 0.025  # the reference (global batch 256, Adam 3e-3): 0.0199 on seed 0; 64 per step, 2 epochs: 0.031
MAX_PARAMS = 1_000_000


@functools.lru_cache(maxsize=1)
def mirrored_data() -> tuple[np.ndarray, np.ndarray]:
    """The check's Fashion-MNIST images: (4096, 28, 28, 1) to train and (1000, 28, 28, 1) to validate."""
    from course_utils.data import load_fashion_mnist, take_subset

    (x, _), _ = load_fashion_mnist()
    (x,) = take_subset([x], TRAIN_IMAGES + VAL_IMAGES, seed=10)
    return x[:TRAIN_IMAGES], x[TRAIN_IMAGES:]


def reference_train_mirrored(strategy, x_train, x_val):
    """Reference for 10.3: a dense autoencoder made in the strategy's scope, global batch 256, 160 Adam steps."""
    import keras

    from course_utils.models import DenseAutoencoder

    global_batch = 256  # 128 per replica on two replicas
    with strategy.scope():  # weights and optimiser state mirrored on every replica
        model = DenseAutoencoder(latent_dim=32, hidden_units=(256,), batch_norm=False)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    epochs = MAX_STEPS * global_batch // len(x_train)
    model.fit(x_train, x_train, batch_size=global_batch, epochs=epochs, validation_data=(x_val, x_val), verbose=0)
    return model


def _mirrored_facts(model: Any, x_val: np.ndarray) -> dict[str, np.ndarray]:
    """Whether the learner's model is a trained, mirrored Keras model, its step count, size and validation MSE."""
    import keras
    import tensorflow as tf

    facts = {"is_model": np.asarray(isinstance(model, keras.Model)), "mirrored": np.asarray(False),
             "steps": np.asarray(-1), "params": np.asarray(0), "shape_ok": np.asarray(False),
             "val_mse": np.asarray(np.nan)}
    if not bool(facts["is_model"]) or not model.trainable_variables:
        return facts
    facts["mirrored"] = np.asarray(all(isinstance(weight.value, tf.distribute.DistributedValues)
                                       for weight in model.trainable_variables))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        facts["steps"] = np.asarray(int(np.asarray(optimizer.iterations.value.read_value())))
    facts["params"] = np.asarray(model.count_params())
    reconstruction = np.asarray(model.predict(x_val, batch_size=500, verbose=0))
    facts["shape_ok"] = np.asarray(reconstruction.shape == x_val.shape)
    if bool(facts["shape_ok"]):
        facts["val_mse"] = np.asarray(float(np.mean((reconstruction - x_val) ** 2)))
    return facts


def _probe_train_mirrored(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    import keras

    strategy = two_replicas()
    x_train, x_val = mirrored_data()
    keras.utils.set_random_seed(int(case["seed"]))
    return _mirrored_facts(fn(strategy, x_train.copy(), x_val.copy()), x_val)


def _mirrored_problem(facts: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with a probed model, as a message for the learner, or None."""
    if not bool(facts["is_model"]):
        return "train_mirrored should return the trained Keras model"
    if not bool(facts["mirrored"]):
        return ("the model's weights are ordinary variables on one device, so fit trained it without the strategy: "
                "create the model and compile it inside `with strategy.scope():`")
    if int(facts["params"]) > MAX_PARAMS:
        return f"the model has {int(facts['params']):,} parameters; keep it under {MAX_PARAMS:,} for this exercise"
    if not bool(facts["shape_ok"]):
        return "the model's output does not have the shape of its input images, (batch, 28, 28, 1)"
    steps = int(facts["steps"])
    if steps <= 0:
        return "the model was not trained (its optimizer has taken no step): fit it on x_train"
    if steps > MAX_STEPS:
        return (f"the optimizer took {steps} steps, over the budget of {MAX_STEPS}: fit's batch_size is the global "
                "batch, shared by the replicas; a larger global batch takes fewer steps per epoch (and can take a "
                "larger learning rate)")
    val_mse = float(facts["val_mse"])
    if not val_mse <= TARGET_VAL_MSE:
        return (f"the validation MSE is {val_mse:.4f}, above the target {TARGET_VAL_MSE}; within {MAX_STEPS} steps, "
                "does each step see enough images, and does the learning rate suit the global batch?")
    return None


def _public_train_mirrored(fn: Callable[..., Any]) -> None:
    problem = _mirrored_problem(_probe_train_mirrored(fn, {"seed": 0}))
    expect(problem is None, problem or "")


def _judge_train_mirrored(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _mirrored_problem(outputs)
    return None if problem is None else problem.split(":")[0].split(";")[0]


TRAIN_MIRRORED = Exercise(
    id="10.3", name="train_mirrored", title="Train an autoencoder under MirroredStrategy within a step budget",
    points=5, reference=lambda: reference_train_mirrored, public=_public_train_mirrored,
    hidden_cases=_one_seed, judge=_judge_train_mirrored,
    probe=_probe_train_mirrored,
    hints=(
        ("two things decide this one: where the model's weights are created (so that every replica holds a copy "
         "and fit splits each batch between them), and how many images each optimizer step sees, since the budget "
         "counts steps, not epochs."),
        ("create and compile the model inside the strategy's scope, then call fit outside it. fit's batch_size is "
         "the global batch: each replica gets an equal part of it. With a bigger global batch, fewer steps make an "
         "epoch; scale the learning rate up with it, and choose the epochs so that epochs * (4096 / batch) stays "
         "within the budget."),
        ("with strategy.scope(): model = DenseAutoencoder(latent_dim=32, hidden_units=(256,), batch_norm=False); "
         "model.compile(optimizer=keras.optimizers.Adam(3e-3), loss='mse'); then model.fit(x_train, x_train, "
         "batch_size=256, epochs=10) and return model."),
    ),
)

# --- 10.4 tf_config ------------------------------------------------------------------------------------------

def reference_tf_config(addresses, index):
    """Reference for 10.4: the TF_CONFIG (a JSON string) of worker ``index`` in a cluster of ``addresses``."""
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


def _read_tf_config(value: Any) -> dict[str, Any]:
    """How TensorFlow reads a TF_CONFIG: the cluster, the task type and index; a check failure if it cannot."""
    import tensorflow as tf

    expect(not isinstance(value, dict), "TF_CONFIG is an environment variable, so it holds a string: turn the "
           "dictionary into JSON text with json.dumps")
    expect(isinstance(value, str), f"tf_config returned {type(value).__name__}; return the JSON text of TF_CONFIG")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise CheckFailed(f"the text is not valid JSON ({error.msg}); build a dictionary and use json.dumps") from None
    expect(isinstance(parsed, dict) and {"cluster", "task"} <= set(parsed),
           "TF_CONFIG has two entries: 'cluster' (the addresses of every task, by type) and 'task' (this process)")
    task = parsed["task"]
    expect(isinstance(task, dict) and isinstance(task.get("index"), int) and not isinstance(task.get("index"), bool),
           "the task's index must be a JSON number (an int), the worker's position in the cluster's list")
    try:
        with mock.patch.dict(os.environ, {"TF_CONFIG": value}):  # restored afterwards
            resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
            return {"cluster": resolver.cluster_spec().as_dict(), "type": resolver.task_type, "index": resolver.task_id}
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CheckFailed(f"TensorFlow cannot read this TF_CONFIG ({type(error).__name__}: {error}); the cluster maps "
                          "'worker' to a list of 'host:port' texts and the task is a dictionary") from None


def _tf_config_problem(addresses: Sequence[str], index: int, read: Mapping[str, Any]) -> str | None:
    """The first thing wrong with what TensorFlow read from the learner's TF_CONFIG, or None."""
    if read["type"] != "worker":
        return (f"the task type is {read['type']!r}; in this cluster every process, the chief included, is a 'worker' "
                "(worker 0 is the chief)")
    workers = read["cluster"].get("worker")
    if workers != list(addresses):
        return ("the cluster's 'worker' list must hold every worker's address, in the same order for every worker, "
                f"not only this one's: TensorFlow read {workers!r}")
    if set(read["cluster"]) != {"worker"}:
        return f"the cluster has task types {sorted(read['cluster'])}; it has only 'worker' here"
    if read["index"] != index:
        return f"the task index is {read['index']}, but this is worker {index}: its position in the list"
    return None


def _public_tf_config(fn: Callable[..., Any]) -> None:
    addresses = ["127.0.0.1:12345", "127.0.0.1:23456"]
    for index in (0, 1):
        problem = _tf_config_problem(addresses, index, _read_tf_config(fn(addresses, index)))
        expect(problem is None, f"for worker {index} of 2: {problem}")
    three = ["10.0.0.7:2222", "10.0.0.8:2222", "10.0.0.9:2222"]
    problem = _tf_config_problem(three, 2, _read_tf_config(fn(three, 2)))
    expect(problem is None, f"for worker 2 of 3 machines: {problem}")


def _cases_tf_config(rng: np.random.Generator) -> list[dict[str, Any]]:
    workers = int(rng.integers(2, 6))
    addresses = [f"192.168.1.{int(rng.integers(2, 250))}:{int(rng.integers(2000, 60000))}" for _ in range(workers)]
    return [{"addresses": addresses, "index": int(rng.integers(workers))}]


def _probe_tf_config(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    try:
        read = _read_tf_config(fn(list(case["addresses"]), case["index"]))
    except CheckFailed:
        return {"problem": np.asarray("not a TF_CONFIG that TensorFlow can read")}
    problem = _tf_config_problem(case["addresses"], case["index"], read)
    return {"problem": np.asarray("" if problem is None else problem.split(":")[0].split(";")[0])}


TF_CONFIG = Exercise(
    id="10.4", name="tf_config", title="The TF_CONFIG of one worker", points=2,
    reference=lambda: reference_tf_config, public=_public_tf_config, hidden_cases=_cases_tf_config,
    judge=lambda case, outputs: str(outputs["problem"]) or None, probe=_probe_tf_config,
    hints=(
        ("every process of a cluster is told two things: where all the workers are (the same list, in the same "
         "order, for everyone) and which of them it is. TensorFlow reads both from one environment variable, which "
         "can only hold text."),
        ("make a dictionary with a 'cluster' entry, itself a dictionary whose 'worker' entry is the list of "
         "addresses, and a 'task' entry with the type 'worker' and this worker's index as a number; return it as "
         "JSON text."),
        ("return json.dumps({'cluster': {'worker': list(addresses)}, 'task': {'type': 'worker', 'index': index}})."),
    ),
)

EXERCISES = [REPLICA_LOSS, MAKE_DISTRIBUTED_STEP, TRAIN_MIRRORED, TF_CONFIG]
