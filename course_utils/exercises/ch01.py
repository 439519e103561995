"""Chapter 01 exercises: a reconstruction loss, a hand-written train step, your own autoencoder class, PCA."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import CheckFailed, Exercise, expect, imported
from course_utils.exercises.judges import array_judge, number_judge


def _scalar(value: Any, what: str, how: str) -> float:
    """``value`` as a float if it is one real number (Python, NumPy or a 0-d tensor); else a specific failure."""
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - a symbolic tensor or an odd object: say what it is
        array = np.asarray(None)
    expect(array.dtype.kind in "iuf", f"{what} returned {type(value).__name__}, not a number; {how}")
    expect(array.ndim == 0, f"{what} returned shape {array.shape}; it should be one number (a mean over all values)")
    return float(array)


# --- 01.1 binary_cross_entropy ---------------------------------------------------------------------

_binary_cross_entropy = imported("course_utils.evaluation.metrics", "binary_cross_entropy")


def _public_binary_cross_entropy(fn: Callable[..., Any]) -> None:
    how = "return the mean as a float or a 0-d array"
    value = _scalar(fn(np.array([[1.0, 0.0]]), np.array([[0.8, 0.2]])), "the loss", how)
    expect(np.isfinite(value), "the loss is not finite for predictions strictly inside (0, 1)")
    expect(value > 0, "the loss is negative or zero for an imperfect reconstruction: check the minus sign")
    expect(not np.isclose(value, 2 * 0.2231435513, rtol=1e-4), "the loss is a sum; average it over all values")
    expect(np.isclose(value, 0.2231435513, rtol=1e-4),
           "wrong value for x = [1, 0], x' = [0.8, 0.2]: both terms x log x' and (1 - x) log(1 - x') are needed")
    grey = _scalar(fn(np.array([[0.5]]), np.array([[0.5]])), "the loss", how)
    expect(np.isclose(grey, np.log(2), rtol=1e-4),
           "wrong value for a grey target x = 0.5: the loss must work for targets between 0 and 1, not only 0/1")
    edge = _scalar(fn(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])), "the loss", how)
    expect(np.isfinite(edge), "a prediction of exactly 0 or 1 gives an infinite or NaN loss: keep x' a small "
           "distance eps away from 0 and 1 before taking logarithms")
    try:
        listed = fn([[0.3]], [[0.3]])  # the plot below calls it with Python lists
    except TypeError as error:
        raise CheckFailed(f"called with Python lists, as the plot below does, it raised TypeError: {error}; "
                          "convert both inputs to arrays first") from None
    expect(np.isclose(_scalar(listed, "the loss of Python lists", how), 0.6108643, rtol=1e-4),
           "called with Python lists [[0.3]] and [[0.3]] it gives a wrong value")
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    expect(np.isclose(_scalar(fn(images, images), "the loss of float32 images", how),
                      _binary_cross_entropy()(images, images), rtol=1e-3),
           "wrong value for a batch of float32 images of shape (2, 28, 28, 1)")


def _cases_binary_cross_entropy(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x": rng.random((5, 28, 28, 1)), "x_hat": rng.uniform(0.01, 0.99, (5, 28, 28, 1))},
            {"x": (rng.random((3, 20)) > 0.5).astype(float), "x_hat": rng.uniform(0.05, 0.95, (3, 20))}]


BINARY_CROSS_ENTROPY = Exercise(
    id="01.1", name="binary_cross_entropy", title="Binary cross-entropy reconstruction loss", points=2,
    reference=_binary_cross_entropy, public=_public_binary_cross_entropy, hidden_cases=_cases_binary_cross_entropy,
    judge=number_judge(lambda x, x_hat: _binary_cross_entropy()(x, x_hat), "wrong value", rtol=1e-4),
    hints=(
        ("BCE treats each pixel as a coin that is 'on' with probability x': every value adds the surprise of its "
         "target under that coin (one term weighted by x for 'on', one weighted by 1 - x for 'off'), and the loss "
         "averages over every value. A probability of exactly 0 or 1 would make the surprise infinite."),
        ("per value the loss is minus [x times the logarithm of x' plus (1 - x) times the logarithm of (1 - x')]; "
         "keep x' inside [eps, 1 - eps] first, convert both inputs to float arrays so that Python lists work, and "
         "average over all values rather than summing."),
        ("np.asarray with dtype=np.float64 accepts lists, np.clip keeps x_hat in [eps, 1 - eps], np.log gives the "
         "logarithms and np.mean averages over every axis; return the mean as a float."),
    ),
)

# --- 01.2 train_step with tf.GradientTape ----------------------------------------------------------

_WEIGHTS = ("W1", "b1", "W2", "b2")


def reference_train_step(model: Any, optimizer: Any, x: Any) -> Any:
    """Reference for 01.2: one gradient-descent step on the MSE reconstruction loss; returns the loss before the step."""
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


def _step_once(fn: Callable[..., Any], case: Mapping[str, Any]) -> tuple[Any, dict[str, np.ndarray]]:
    """Call the candidate once, eagerly, on a fresh linear model: what it returned and the updated weights."""
    import keras

    model = _linear_model(case)
    loss = fn(model, keras.optimizers.SGD(float(case["lr"])), np.asarray(case["x"], dtype=np.float32))
    return loss, {name: np.asarray(w, dtype=np.float64) for name, w in zip(_WEIGHTS, model.get_weights())}


def _probe_train_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    loss, weights = _step_once(fn, case)
    return {"loss": np.asarray(loss, dtype=np.float64), **weights}


def _small_case(rng: np.random.Generator, n: int = 8, D: int = 6, d: int = 2, lr: float = 0.1) -> dict[str, Any]:
    return {"x": rng.random((n, D)), "W1": rng.normal(0, 0.3, (D, d)), "b1": rng.normal(0, 0.1, d),
            "W2": rng.normal(0, 0.3, (d, D)), "b2": rng.normal(0, 0.1, D), "lr": lr}


def _compiled_losses(fn: Callable[..., Any], case: Mapping[str, Any], steps: int) -> list[float]:
    """The losses of ``tf.function(fn)`` over repeated steps on one batch, as the notebook's training loop runs it."""
    import keras
    import tensorflow as tf

    model, optimizer = _linear_model(case), keras.optimizers.SGD(float(case["lr"]))
    step, x = tf.function(fn), tf.constant(case["x"], dtype=tf.float32)
    try:
        losses = [step(model, optimizer, x) for _ in range(steps)]
    except Exception as error:  # noqa: BLE001 - name the cause the learner can act on
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckFailed(f"wrapped in tf.function, as the training loop below runs it, train_step raised "
                          f"{type(error).__name__}: {first_line[:160]}. Inside tf.function the loss is a symbolic "
                          "tensor: return it as it is (no float(), .numpy() or NumPy maths)") from None
    return [_scalar(loss, "train_step under tf.function", "return the loss tensor") for loss in losses]


def _public_train_step(fn: Callable[..., Any]) -> None:
    case = _small_case(np.random.default_rng(7))
    returned, out = _step_once(fn, case)
    loss, new = _numpy_step(case)
    out["loss"] = _scalar(returned, "train_step", "return the loss tensor")
    expect(np.isfinite(out["loss"]), "the returned loss is not finite")
    moved = [not np.allclose(out[k], case[k], atol=1e-9) for k in _WEIGHTS]
    expect(any(moved), "the weights did not change: the gradients have to be computed and handed to the optimizer")
    expect(all(moved), "some weights did not change: the gradient must cover every trainable variable of the model")
    expect(np.isclose(float(out["loss"]), loss, rtol=1e-4),
           "the returned loss is not the mean squared error between x and the model's reconstruction of x "
           "(computed before the update)")
    expect(np.allclose(out["W2"], new[2], atol=1e-5) and np.allclose(out["W1"], new[0], atol=1e-5),
           "the update does not match one gradient step on that loss: was the loss computed while the tape was "
           "recording, and is it the mean (not the sum) of the squared errors?")
    losses = _compiled_losses(fn, _small_case(np.random.default_rng(8)), steps=20)
    expect(losses[-1] < losses[0], "under tf.function the loss did not fall over 20 steps on a small batch")


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
    id="01.2", name="train_step", title="One training step written by hand with tf.GradientTape", points=3,
    reference=lambda: reference_train_step, public=_public_train_step, hidden_cases=_cases_train_step,
    judge=_judge_train_step, probe=_probe_train_step,
    hints=(
        ("one training step has three parts: a forward pass and its loss while gradients are being recorded, the "
         "gradient of that loss with respect to every trainable weight, and the optimizer moving each weight "
         "against its gradient. The loss to return is the one computed before the weights move."),
        ("open a gradient tape as a context manager and compute the reconstruction and the mean squared error "
         "inside it; then ask the tape for the gradients of the loss with respect to the model's trainable "
         "variables and hand them, paired with the variables, to the optimizer. Return the loss tensor untouched: "
         "inside tf.function there is no NumPy value to convert."),
        ("tf.GradientTape in a with block around model(x, training=True), keras.ops.mean and keras.ops.square for "
         "the error, tape.gradient for the gradients, and optimizer.apply_gradients with (gradient, variable) "
         "pairs."),
    ),
)

# --- 01.3 MyAutoencoder: design and train your own keras.Model ------------------------------------

IMAGE_SHAPE = (28, 28, 1)
SHORT_FIT = {"images": 512, "epochs": 3, "batch_size": 16, "learning_rate": 2e-3}
SHORT_FIT_MAX_LOSS = 0.06  # training MSE after the short fit; predicting the mean image scores about 0.09


def _fashion_subset(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` random Fashion-MNIST training images, float32 (size, 28, 28, 1)."""
    from course_utils.data import load_fashion_mnist

    (x_train, _), _ = load_fashion_mnist()
    return x_train[np.sort(rng.choice(len(x_train), size, replace=False))]


def _instance(cls: Any, latent_dim: int) -> Any:
    """``cls(latent_dim=...)``, checked to be a keras.Model, as the cells below make it (a factory works too)."""
    import keras

    expect(callable(cls), f"`MyAutoencoder` should be a class (a keras.Model subclass), got "
           f"{type(cls).__name__}; the cells below create models with MyAutoencoder(latent_dim=...)")
    expect(not isinstance(cls, keras.Model), "`MyAutoencoder` is a model, not the class that makes one: the cells "
           "below create fresh models with MyAutoencoder(latent_dim=...)")
    model = cls(latent_dim=latent_dim)
    expect(isinstance(model, keras.Model), f"MyAutoencoder(latent_dim={latent_dim}) made a "
           f"{type(model).__name__}, not a keras.Model: subclass keras.Model")
    return model


def _check_structure(model: Any, x: np.ndarray, latent_dim: int) -> None:
    """Output and code shapes, trainable weights, repeatable calls and ``.encoder``/``.decoder`` models with ``predict``."""
    out = np.asarray(model(x))
    expect(out.shape == x.shape, f"the model maps images of shape {x.shape} to shape {out.shape}; a reconstruction "
           "has the shape of its input")
    expect(len(model.trainable_variables) > 0, "the model has no trainable variables, even after a call: create "
           "the layers once in __init__ and only use them in call")
    expect(np.allclose(out, np.asarray(model(x)), atol=1e-6), "two calls on the same images disagree: are layers "
           "created inside call, or is randomness (dropout, noise) active outside training?")
    for part in ("encoder", "decoder"):
        expect(callable(getattr(getattr(model, part, None), "predict", None)),
               f"the model needs a `.{part}` that is a keras.Model (keras.Sequential works): the cells below call "
               f"`model.{part}.predict`")
    z = np.asarray(model.encoder(x, training=False))
    expect(z.shape == (len(x), latent_dim), f"the encoder maps {len(x)} images to shape {z.shape}, not "
           f"({len(x)}, {latent_dim}): the code of each image has latent_dim numbers")
    back = np.asarray(model.decoder(z, training=False))
    expect(back.shape == x.shape, f"the decoder maps codes of shape {z.shape} to shape {back.shape}, not {x.shape}")


def _short_fit(model: Any, x: np.ndarray) -> list[float]:
    """Compile with Adam and the MSE (as the notebook does) and fit briefly; the training loss per epoch."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(SHORT_FIT["learning_rate"]), loss="mse")
    history = model.fit(x, x, batch_size=SHORT_FIT["batch_size"], epochs=SHORT_FIT["epochs"], verbose=0)
    return [float(v) for v in history.history["loss"]]


def _public_my_autoencoder(cls: Any) -> None:
    from course_utils.reproducibility import set_seed

    set_seed(0)
    model = _instance(cls, 8)
    x = _fashion_subset(np.random.default_rng(11), SHORT_FIT["images"])
    _check_structure(model, x[:16], 8)
    small = _instance(cls, 3).encoder(x[:4], training=False)
    expect(np.shape(small) == (4, 3), f"MyAutoencoder(latent_dim=3) gives codes of shape {np.shape(small)}: the "
           "code layer's width must come from latent_dim")
    losses = _short_fit(model, x)
    expect(all(np.isfinite(losses)), "the training loss became NaN or infinite during a short fit")
    expect(losses[-1] <= SHORT_FIT_MAX_LOSS,
           f"after {SHORT_FIT['epochs']} short epochs on {SHORT_FIT['images']} images the training MSE is "
           f"{losses[-1]:.3f}, above {SHORT_FIT_MAX_LOSS}; a model that learns gets below it (the average image "
           "scores about 0.09). Can the output reach every pixel value in [0, 1], and does the gradient reach "
           "every layer?")


def _cases_my_autoencoder(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"latent_dim": int(rng.integers(4, 17)), "x": _fashion_subset(rng, 384)}]


def _probe_my_autoencoder(cls: Any, case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    from course_utils.reproducibility import set_seed

    set_seed(0)
    x = np.asarray(case["x"], dtype=np.float32)
    model = cls(latent_dim=int(case["latent_dim"]))
    shapes = {"code_shape": np.shape(model.encoder(x[:8], training=False)),
              "output_shape": np.shape(model(x[:8], training=False))}
    return {**{k: np.asarray(v) for k, v in shapes.items()}, "losses": np.asarray(_short_fit(model, x))}


def _judge_my_autoencoder(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    if tuple(outputs["code_shape"]) != (8, case["latent_dim"]):
        return f"codes of shape {tuple(outputs['code_shape'])} for latent_dim={case['latent_dim']}"
    if tuple(outputs["output_shape"]) != (8, *IMAGE_SHAPE):
        return f"reconstructions of shape {tuple(outputs['output_shape'])}"
    losses = outputs["losses"]
    if not np.all(np.isfinite(losses)) or losses[-1] > SHORT_FIT_MAX_LOSS:
        return "does not reach the training MSE of a model that learns in a short fit"
    return None


MY_AUTOENCODER = Exercise(
    id="01.3", name="MyAutoencoder", title="Design your own autoencoder class and train it to a target", points=4,
    reference=imported("course_utils.models", "DenseAutoencoder"), public=_public_my_autoencoder,
    hidden_cases=_cases_my_autoencoder, judge=_judge_my_autoencoder, probe=_probe_my_autoencoder,
    hints=(
        ("an autoencoder is two networks in one model: one maps an image to latent_dim numbers, the other maps "
         "those numbers back to an image of the same shape with values in [0, 1]. Both are built once, when the "
         "model is created, and called one after the other."),
        ("in __init__, after the parent constructor, create self.encoder and self.decoder as whole models (not "
         "lists of layers): the encoder flattens the image and ends with latent_dim units, the decoder ends with "
         "784 sigmoid units reshaped to 28x28x1, and call only runs decoder(encoder(x)). Layers created inside "
         "call, or an output that cannot reach 0 and 1, are the usual failures."),
        ("each side a keras.Sequential starting with keras.Input: Flatten and ReLU Dense layers down to a Dense "
         "layer of latent_dim units; ReLU Dense layers up to a Dense layer of 784 units with the sigmoid, then "
         "Reshape to (28, 28, 1). BatchNormalization between Dense layers helps a deeper stack train in a few "
         "epochs."),
    ),
)

# --- 01.4 pca_reconstruct --------------------------------------------------------------------------

_pca_reconstruct = imported("course_utils.from_scratch.pca", "pca_reconstruct")


def _public_pca_reconstruct(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(3)
    x_train = rng.normal(size=(50, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1]) + 10.0
    x = rng.normal(size=(4, 6)) + 10.0
    kept = x_train.copy()
    out = fn(x_train, x, 2)
    expect(np.array_equal(x_train, kept), "the function changed x_train in place (e.g. with -=); the cells below "
           "reuse the training data, so work on a centred copy")
    expect(hasattr(out, "shape"), f"the reconstruction should be an array, got {type(out).__name__}")
    out = np.asarray(out, dtype=np.float64)
    expect(out.shape == x.shape, f"the reconstruction has shape {out.shape}; it must have the shape of x, {x.shape}")
    full = np.asarray(fn(x_train, x, 6), dtype=np.float64)
    expect(np.allclose(full, x, atol=1e-6), "with k equal to the dimension the reconstruction should equal x exactly")
    expect(np.all(np.abs(out.mean(axis=1) - 10.0) < 5.0),
           "the reconstruction lost the data's offset: the mean belongs outside the projection")
    expect(np.allclose(out, _pca_reconstruct()(x_train, x, 2), atol=1e-6),
           "the reconstruction is not the projection onto the top-k principal directions of x_train "
           "(the directions of largest variance of the centred training data)")
    images = rng.random((20, 4, 4, 1)).astype(np.float32)  # the notebook passes float32 images
    shaped = np.asarray(fn(images, images[:3], 3))
    expect(shaped.shape == (3, 4, 4, 1), f"image input (n, 4, 4, 1) came back with shape {shaped.shape}; "
           "flatten each image for the maths and reshape the result")
    expect(np.allclose(shaped, _pca_reconstruct()(images, images[:3], 3), atol=1e-4),
           "wrong values for float32 images of shape (n, 4, 4, 1)")


def _cases_pca_reconstruct(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"x_train": rng.random((60, 8, 8, 1)), "x": rng.random((5, 8, 8, 1)), "k": 5},
            {"x_train": rng.normal(size=(40, 12)) + 3.0, "x": rng.normal(size=(6, 12)), "k": 3}]


PCA_RECONSTRUCT = Exercise(
    id="01.4", name="pca_reconstruct", title="PCA reconstruction with k components", points=2,
    reference=_pca_reconstruct, public=_public_pca_reconstruct, hidden_cases=_cases_pca_reconstruct,
    judge=array_judge(lambda x_train, x, k: _pca_reconstruct()(x_train, x, k), "not the top-k PCA reconstruction",
                      atol=1e-5),
    hints=(
        ("PCA keeps the k directions along which the centred training data varies most. A reconstruction subtracts "
         "the training average, keeps only the part of the sample that lies along those directions, and adds the "
         "average back; everything is learned from x_train alone, which must stay unchanged."),
        ("flatten every sample to one row, centre the training rows with their column means (on a copy), and take "
         "the top k right-singular vectors of the centred training matrix as the basis; project the centred x onto "
         "them, map back, add the mean, and give the result the shape of x."),
        ("np.linalg.svd with full_matrices=False returns the right-singular vectors as the rows of vt; with V the "
         "first k of them, the reconstruction is mean + (x - mean) V^T V, reshaped like x."),
    ),
)

EXERCISES = [BINARY_CROSS_ENTROPY, TRAIN_STEP, MY_AUTOENCODER, PCA_RECONSTRUCT]
