"""Chapter 01 exercises: the dense encoder, a reconstruction loss, a hand-written train step, PCA reconstruction."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, imported
from course_utils.exercises.judges import array_judge, number_judge


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


# --- 01.1 dense_encode: z = sigmoid(x W + b) -------------------------------------------------------

def reference_dense_encode(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Reference for 01.1: the code z = sigmoid(x W + b) of a batch of row vectors x (n, D), W (D, d), b (d,)."""
    return _sigmoid(np.asarray(x, dtype=np.float64) @ np.asarray(W, dtype=np.float64) + np.asarray(b))


def _public_dense_encode(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(1)
    x, W, b = rng.normal(size=(3, 5)), rng.normal(size=(5, 2)), np.array([2.0, -1.0])
    out = fn(x, W, b)
    expect(hasattr(out, "shape"), f"the code should be an array, got {type(out).__name__}")
    out = np.asarray(out, dtype=np.float64)
    expect(out.shape == (3, 2), f"for x of shape (3, 5) and W of shape (5, 2) the code has shape {out.shape}; "
           "each of the 3 rows should get a 2-number code")
    expect(np.all(np.isfinite(out)), "the code contains NaN or infinite values")
    expect(not np.allclose(out, _sigmoid(x @ W) + b, atol=1e-6),
           "the bias is added after the activation; it belongs inside: f(xW + b)")
    expect(np.all((out > 0) & (out < 1)), "code values fall outside (0, 1): apply the sigmoid activation f")
    expect(not np.allclose(out, _sigmoid(x @ W), atol=1e-6), "the bias b is missing")
    expect(np.allclose(out, reference_dense_encode(x, W, b), atol=1e-6),
           "the values are wrong for a small example; compute the affine map xW + b, then the sigmoid")
    single = np.asarray(fn(x[:1], W, b))
    expect(single.shape == (1, 2), f"a batch of one row gives shape {single.shape}, not (1, 2)")


def _cases_dense_encode(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x": rng.random((n, D)), "W": rng.normal(0, 0.1, (D, d)), "b": rng.normal(size=d)}
            for n, D, d in [(4, 784, 16), (7, 10, 3)]]


DENSE_ENCODE = Exercise(
    id="01.1", name="dense_encode", title="The encoder of a dense autoencoder: z = sigmoid(xW + b)", points=1,
    reference=lambda: reference_dense_encode, public=_public_dense_encode, hidden_cases=_cases_dense_encode,
    judge=array_judge(reference_dense_encode, "wrong code values", atol=1e-6),
    hint="x @ W has shape (n, d); add b, then apply 1 / (1 + exp(-a)).",
)

# --- 01.2 binary_cross_entropy ---------------------------------------------------------------------

_binary_cross_entropy = imported("course_utils.evaluation.metrics", "binary_cross_entropy")


def _public_binary_cross_entropy(fn: Callable[..., Any]) -> None:
    x = np.array([[1.0, 0.0]])
    value = fn(x, np.array([[0.8, 0.2]]))
    expect(np.ndim(value) == 0, f"the loss should be one number (a mean), got shape {np.shape(value)}")
    value = float(value)
    expect(np.isfinite(value), "the loss is not finite for predictions strictly inside (0, 1)")
    expect(value > 0, "the loss is negative or zero for an imperfect reconstruction: check the minus sign")
    expect(not np.isclose(value, 2 * 0.2231435513, rtol=1e-4), "the loss is a sum; average it over all values")
    expect(np.isclose(value, 0.2231435513, rtol=1e-4),
           "wrong value for x = [1, 0], x' = [0.8, 0.2]: both terms x log x' and (1 - x) log(1 - x') are needed")
    grey = float(fn(np.array([[0.5]]), np.array([[0.5]])))
    expect(np.isclose(grey, np.log(2), rtol=1e-4),
           "wrong value for a grey target x = 0.5: the loss must work for targets between 0 and 1, not only 0/1")
    edge = fn(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    expect(np.isfinite(float(edge)), "a prediction of exactly 0 or 1 gives an infinite or NaN loss: clip x' "
           "into [eps, 1 - eps] before the logarithms")


def _cases_binary_cross_entropy(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x": rng.random((5, 28, 28, 1)), "x_hat": rng.uniform(0.01, 0.99, (5, 28, 28, 1))},
            {"x": (rng.random((3, 20)) > 0.5).astype(float), "x_hat": rng.uniform(0.05, 0.95, (3, 20))}]


BINARY_CROSS_ENTROPY = Exercise(
    id="01.2", name="binary_cross_entropy", title="Binary cross-entropy reconstruction loss", points=2,
    reference=_binary_cross_entropy, public=_public_binary_cross_entropy, hidden_cases=_cases_binary_cross_entropy,
    judge=number_judge(lambda x, x_hat: _binary_cross_entropy()(x, x_hat), "wrong value", rtol=1e-4),
    hint="mean of -(x log x' + (1 - x) log(1 - x')), with x' clipped by np.clip first.",
)

# --- 01.3 train_step with tf.GradientTape ----------------------------------------------------------

_WEIGHTS = ("W1", "b1", "W2", "b2")


def reference_train_step(model: Any, optimizer: Any, x: Any) -> Any:
    """Reference for 01.3: one gradient-descent step on the MSE reconstruction loss; returns the loss before the step."""
    import tensorflow as tf

    from course_utils.evaluation.metrics import mse_loss

    with tf.GradientTape() as tape:
        loss = mse_loss(x, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def _linear_model(case: Mapping[str, Any]) -> Any:
    """A linear Keras autoencoder D -> d -> D with the case's weights."""
    import keras

    D, d = case["W1"].shape
    model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(d), keras.layers.Dense(D)])
    model.set_weights([np.asarray(case[name], dtype=np.float32) for name in _WEIGHTS])
    return model


def _numpy_step(case: Mapping[str, Any]) -> tuple[float, list[np.ndarray]]:
    """Independent NumPy gradient of the MSE of a linear autoencoder, and one SGD step."""
    x, W1, b1, W2, b2, lr = (np.asarray(case[k], dtype=np.float64) for k in ("x", *_WEIGHTS, "lr"))
    h = x @ W1 + b1
    y = h @ W2 + b2
    loss = np.mean((y - x) ** 2)
    dy = 2 * (y - x) / y.size
    dh = dy @ W2.T
    grads = [x.T @ dh, dh.sum(0), h.T @ dy, dy.sum(0)]
    return float(loss), [w - lr * g for w, g in zip((W1, b1, W2, b2), grads)]


def _probe_train_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    import keras

    model = _linear_model(case)
    loss = fn(model, keras.optimizers.SGD(float(case["lr"])), np.asarray(case["x"], dtype=np.float32))
    out = {"loss": np.asarray(loss, dtype=np.float64)}
    for name, w in zip(_WEIGHTS, model.get_weights()):
        out[name] = np.asarray(w, dtype=np.float64)
    return out


def _small_case(rng: np.random.Generator, n: int = 8, D: int = 6, d: int = 2, lr: float = 0.1) -> dict[str, Any]:
    return {"x": rng.random((n, D)), "W1": rng.normal(0, 0.3, (D, d)), "b1": rng.normal(0, 0.1, d),
            "W2": rng.normal(0, 0.3, (d, D)), "b2": rng.normal(0, 0.1, D), "lr": lr}


def _losses_over_steps(fn: Callable[..., Any], case: Mapping[str, Any], steps: int) -> list[float]:
    """The losses ``fn`` returns over repeated steps on one batch, with one model and one SGD optimizer."""
    import keras

    model, optimizer = _linear_model(case), keras.optimizers.SGD(float(case["lr"]))
    x = np.asarray(case["x"], dtype=np.float32)
    return [float(fn(model, optimizer, x)) for _ in range(steps)]


def _public_train_step(fn: Callable[..., Any]) -> None:
    case = _small_case(np.random.default_rng(7))
    out = _probe_train_step(fn, case)
    loss, new = _numpy_step(case)
    expect(out["loss"].shape == (), f"train_step should return the loss as one number, got shape {out['loss'].shape}")
    expect(np.isfinite(out["loss"]), "the returned loss is not finite")
    moved = [not np.allclose(out[k], case[k], atol=1e-9) for k in _WEIGHTS]
    expect(any(moved), "the weights did not change: compute the gradients with the tape and apply them "
           "with optimizer.apply_gradients")
    expect(all(moved), "some weights did not change: take the gradient with respect to model.trainable_variables")
    expect(np.isclose(float(out["loss"]), loss, rtol=1e-4),
           "the returned loss is not the mean squared error between x and the model's reconstruction of x "
           "(computed before the update)")
    expect(np.allclose(out["W2"], new[2], atol=1e-5) and np.allclose(out["W1"], new[0], atol=1e-5),
           "the update does not match one gradient step on that loss: was the loss computed inside the "
           "GradientTape, and is it the mean (not the sum) of the squared errors?")
    losses = _losses_over_steps(fn, _small_case(np.random.default_rng(8)), steps=20)
    expect(losses[-1] < losses[0], "the loss did not fall over 20 steps on a small batch")


def _cases_train_step(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [_small_case(rng, 16, 10, 3, 0.05), _small_case(rng, 5, 4, 1, 0.2)]


def _judge_train_step(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    loss, new = _numpy_step(case)
    if outputs["loss"].shape != () or not np.isclose(float(outputs["loss"]), loss, rtol=1e-4):
        return "returned loss is not the MSE before the step"
    for name, expected in zip(_WEIGHTS, new):
        if outputs[name].shape != expected.shape or not np.allclose(outputs[name], expected, atol=1e-5):
            return f"update of {name} does not match one gradient step"
    return None


TRAIN_STEP = Exercise(
    id="01.3", name="train_step", title="One training step written by hand with tf.GradientTape", points=3,
    reference=lambda: reference_train_step, public=_public_train_step, hidden_cases=_cases_train_step,
    judge=_judge_train_step, probe=_probe_train_step,
    hint="inside `with tf.GradientTape() as tape:` run the model and compute the loss; then "
         "tape.gradient(loss, model.trainable_variables) and optimizer.apply_gradients(zip(...)).",
)

# --- 01.4 pca_reconstruct --------------------------------------------------------------------------

_pca_reconstruct = imported("course_utils.from_scratch.pca", "pca_reconstruct")


def _public_pca_reconstruct(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(3)
    x_train = rng.normal(size=(50, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1]) + 10.0
    x = rng.normal(size=(4, 6)) + 10.0
    out = fn(x_train, x, 2)
    expect(hasattr(out, "shape"), f"the reconstruction should be an array, got {type(out).__name__}")
    out = np.asarray(out, dtype=np.float64)
    expect(out.shape == x.shape, f"the reconstruction has shape {out.shape}; it must have the shape of x, {x.shape}")
    full = np.asarray(fn(x_train, x, 6), dtype=np.float64)
    expect(np.allclose(full, x, atol=1e-6), "with k equal to the dimension the reconstruction should equal x exactly")
    expect(np.all(np.abs(out.mean(axis=1) - 10.0) < 5.0),
           "the reconstruction lost the data's offset: subtract the training mean before projecting and add it back")
    expect(np.allclose(out, _pca_reconstruct()(x_train, x, 2), atol=1e-6),
           "the reconstruction is not the projection onto the top-k principal directions of x_train "
           "(centre with the training mean, project on the k leading directions, map back)")
    images = rng.random((20, 4, 4, 1))
    shaped = np.asarray(fn(images, images[:3], 3))
    expect(shaped.shape == (3, 4, 4, 1), f"image input (n, 4, 4, 1) came back with shape {shaped.shape}; "
           "flatten each image for the maths and reshape the result")


def _cases_pca_reconstruct(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x_train": rng.random((60, 8, 8, 1)), "x": rng.random((5, 8, 8, 1)), "k": 5},
            {"x_train": rng.normal(size=(40, 12)) + 3.0, "x": rng.normal(size=(6, 12)), "k": 3}]


PCA_RECONSTRUCT = Exercise(
    id="01.4", name="pca_reconstruct", title="PCA reconstruction with k components", points=2,
    reference=_pca_reconstruct, public=_public_pca_reconstruct, hidden_cases=_cases_pca_reconstruct,
    judge=array_judge(lambda x_train, x, k: _pca_reconstruct()(x_train, x, k), "not the top-k PCA reconstruction",
                      atol=1e-5),
    hint="centre with the training mean, take the SVD of the centred training data, keep k rows of Vt.",
)

EXERCISES = [DENSE_ENCODE, BINARY_CROSS_ENTROPY, TRAIN_STEP, PCA_RECONSTRUCT]
