"""Chapter 04 exercises: salt-and-pepper corruption, a denoiser trained to a target, KL sparsity, the contractive penalty."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import CheckFailed, Exercise, expect, imported
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.judges import number_judge
from course_utils.exercises.values import as_array, as_scalar


def _scalar(value: Any, what: str) -> float:
    """``value`` as one real number, or a failure that says what was wrong."""
    return as_scalar(value, what, "a penalty is one number for the whole batch")


# --- 04.1 salt_and_pepper ---------------------------------------------------------------------------

FRACTION_TOLERANCE = 0.03  # |measured - asked| for a few thousand pixels: about 4 standard errors


def reference_salt_and_pepper(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Reference for 04.1: a random ``fraction`` of the pixels set to 0 or 1 with equal probability."""
    from course_utils.data.corruption import salt_and_pepper

    return salt_and_pepper(images, fraction, rng)


def _grey_images(seed: int, n: int = 4) -> np.ndarray:
    """Images whose pixels are all strictly between 0 and 1, so every corrupted pixel is visible."""
    return np.random.default_rng(seed).uniform(0.1, 0.9, (n, 28, 28, 1)).astype(np.float32)


def _salt_and_pepper_problem(images: np.ndarray, out: np.ndarray, fraction: float) -> str | None:
    """The first statistical problem of a corrupted copy of ``images``, or None."""
    if out.shape != images.shape:
        return f"the corrupted images have shape {out.shape}, not the input's {images.shape}"
    changed = ~np.isclose(out, images)
    if not np.all(np.isin(out[changed], (0.0, 1.0))):
        return "some changed pixels are neither 0 (pepper) nor 1 (salt); the other pixels must stay as they were"
    share = changed.mean()
    if abs(share - fraction) > FRACTION_TOLERANCE:
        return f"{share:.1%} of the pixels changed, but fraction={fraction} asks for about {fraction:.0%}"
    if changed.sum() >= 200 and abs((out[changed] == 1.0).mean() - 0.5) > 0.1:
        return "salt (1) and pepper (0) should be equally likely among the corrupted pixels"
    return None


def _public_salt_and_pepper(fn: Callable[..., Any]) -> None:
    images = _grey_images(0)
    kept = images.copy()
    out = fn(images, 0.2, np.random.default_rng(0))
    expect(np.array_equal(images, kept), "the function changed its input in place; the clean images are still "
           "needed as targets, so corrupt a copy")
    out = as_array(out, "salt_and_pepper")
    expect(out.dtype == images.dtype, f"float32 images came back as {out.dtype}; keep the input's dtype")
    problem = _salt_and_pepper_problem(images, out, 0.2)
    expect(problem is None, problem or "")
    again = as_array(fn(images, 0.2, np.random.default_rng(0)), "salt_and_pepper")
    expect(np.array_equal(out, again), "two calls with generators of the same seed gave different images: draw "
           "every random number from the `rng` argument, not from np.random or a fixed seed")
    rng = np.random.default_rng(1)
    first, second = (as_array(fn(images, 0.2, rng), "salt_and_pepper") for _ in range(2))
    expect(not np.array_equal(first, second), "two calls with the same generator gave the same corruption: each "
           "call must draw fresh positions (a denoiser needs new noise for every batch)")
    expect(np.allclose(as_array(fn(images, 0.0, rng), "salt_and_pepper"), images), "fraction=0 should change nothing")
    full = as_array(fn(images, 1.0, rng), "salt_and_pepper")
    expect(np.all(np.isin(full, (0.0, 1.0))), "fraction=1 should turn every pixel into salt or pepper")
    problem = _salt_and_pepper_problem(_grey_images(2, 1), as_array(fn(_grey_images(2, 1), 0.5, rng), "salt_and_pepper"),
                                       0.5)
    expect(problem is None, f"with one image and fraction=0.5: {problem}")


def _cases_salt_and_pepper(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"images": _grey_images(int(rng.integers(1000)), 3), "fraction": float(rng.uniform(0.05, 0.6)),
             "seed": int(rng.integers(1000))} for _ in range(2)]


def _probe_salt_and_pepper(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The learner's corruption of one hidden case, with a generator seeded by the case."""
    return {"output": np.asarray(fn(case["images"], case["fraction"], np.random.default_rng(case["seed"])))}


def _judge_salt_and_pepper(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _salt_and_pepper_problem(np.asarray(case["images"]), outputs["output"], float(case["fraction"]))
    return None if problem is None else problem.split(";")[0]


SALT_AND_PEPPER = Exercise(
    id="04.1", name="salt_and_pepper", title="Salt-and-pepper corruption", points=2,
    reference=lambda: reference_salt_and_pepper, public=_public_salt_and_pepper, hidden_cases=_cases_salt_and_pepper,
    judge=_judge_salt_and_pepper, probe=_probe_salt_and_pepper,
    hints=(
        ("decide for every pixel, at random, whether it is hit, with the given probability; a hit pixel becomes "
         "black or white with equal chance; every other pixel keeps its value, and the input stays untouched."),
        ("draw two arrays of uniform numbers of the images' shape from the generator you were given: one decides "
         "which pixels are hit (below the fraction), the other decides salt or pepper (below one half). Never use "
         "the global NumPy random state or a fixed seed inside the function."),
        ("rng.random(images.shape) gives the uniform draws; np.where(hit, salt value, images) builds the new "
         "array; cast the salt values to images.dtype so float32 stays float32."),
    ),
)

# --- 04.2 make_denoiser: design and train a denoising autoencoder to a target -----------------------

SIGMA = 0.3
DENOISER_FIT = {"train": 2000, "val": 500, "epochs": 15, "batch_size": 32, "learning_rate": 3e-3}
TARGET_PSNR = 17.6  # mean dB over noisy validation images: input 12.8; reference 18.1-18.3, no noise or unclipped noise <= 17.0
MAX_PARAMS = 1_000_000  # keeps the check's short fit to seconds


@functools.lru_cache(maxsize=1)
def _denoiser_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean training images, clean validation images and their fixed noisy copies (sigma 0.3, clipped)."""
    from course_utils.data import load_fashion_mnist, take_subset

    (x, _), _ = load_fashion_mnist()
    (x,) = take_subset([x], DENOISER_FIT["train"] + DENOISER_FIT["val"], seed=0)  # (2500, 28, 28, 1)
    train, val = x[:DENOISER_FIT["train"]], x[DENOISER_FIT["train"]:]
    noisy = np.clip(val + SIGMA * np.random.default_rng(1).normal(size=val.shape), 0, 1).astype(np.float32)
    return train, val, noisy


def reference_make_denoiser(sigma: float) -> Any:
    """Reference for 04.2: a dense denoising autoencoder that corrupts its input only while training."""
    from course_utils.data.corruption import Corruption
    from course_utils.models import DenseAutoencoder
    from course_utils.models.denoising import DenoisingAutoencoder

    base = DenseAutoencoder(latent_dim=256, hidden_units=(), code_activation="relu", batch_norm=False)  # 784-256-784
    return DenoisingAutoencoder(base, corruption=Corruption("gaussian", float(sigma)), name="denoiser")


def _build(fn: Callable[..., Any], sigma: float) -> Any:
    """The learner's model for ``sigma``, checked to be an uncompiled-or-not keras.Model under the size limit."""
    import keras

    model = fn(sigma)
    expect(isinstance(model, keras.Model), f"make_denoiser should return a keras.Model, got {type(model).__name__}")
    return model


def _probe_make_denoiser(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Shapes, range, determinism at inference, randomness in training, and the PSNR after the check's short fit."""
    import keras

    keras.utils.set_random_seed(int(case["seed"]))
    model = _build(fn, float(case["sigma"]))
    train, val, noisy = _denoiser_data()
    x = val[:8]
    first, second = np.asarray(model(x, training=False)), np.asarray(model(x, training=False))
    noisy_a, noisy_b = np.asarray(model(x, training=True)), np.asarray(model(x, training=True))
    probed = {"shape": np.asarray(first.shape), "min": np.asarray(first.min()), "max": np.asarray(first.max()),
              "params": np.asarray(model.count_params()),
              "inference_spread": np.asarray(np.abs(first - second).max()),
              "training_spread": np.asarray(np.abs(noisy_a - noisy_b).max()), "psnr": np.asarray(np.nan)}
    if _problem(probed) is None:
        from course_utils.evaluation.denoisers import mean_psnr

        model = fresh_copy(model, x, "denoiser")  # new weights: no head start from trained ones
        model.compile(optimizer=keras.optimizers.Adam(DENOISER_FIT["learning_rate"]), loss="mse")
        model.fit(train, train, batch_size=DENOISER_FIT["batch_size"], epochs=DENOISER_FIT["epochs"], verbose=0)
        probed["psnr"] = np.asarray(mean_psnr(val, np.asarray(model.predict(noisy, verbose=0))))
    return probed


def _problem(probed: Mapping[str, np.ndarray], fitted: bool = False) -> str | None:
    """The first thing wrong with a probed denoiser, as a message for the learner, or None."""
    shape = tuple(int(s) for s in probed["shape"])
    if shape != (8, 28, 28, 1):
        return f"8 images of shape (28, 28, 1) came back with shape {shape}; a denoiser returns images like its input"
    if float(probed["min"]) < 0.0 or float(probed["max"]) > 1.0:
        return "pixel values fall outside [0, 1]: squash the last layer's output into that range"
    if int(probed["params"]) > MAX_PARAMS:
        return f"the model has {int(probed['params']):,} parameters; keep it under {MAX_PARAMS:,} for this exercise"
    if float(probed["inference_spread"]) > 1e-6:
        return ("two calls at inference (training=False) gave different outputs: noise must be added only while "
                "training, never when the model is used")
    if float(probed["training_spread"]) < 1e-6:
        return ("two calls in training mode (training=True) gave the same output: the model must draw fresh noise "
                "on every call while training, or it never sees a corrupted input")
    if fitted and not float(probed["psnr"]) >= TARGET_PSNR:
        return (f"after the check's short fit on {DENOISER_FIT['train']} clean images the PSNR on noisy validation "
                f"images is {float(probed['psnr']):.2f} dB (mean over images), below the target {TARGET_PSNR} dB; is the noise level "
                "the sigma you were given, are noisy pixels clipped to [0, 1] as the test images are, and can the "
                "network carry enough detail?")
    return None


def _public_make_denoiser(fn: Callable[..., Any]) -> None:
    problem = _problem(_probe_make_denoiser(fn, {"sigma": SIGMA, "seed": 0}), fitted=True)
    expect(problem is None, problem or "")


def _cases_make_denoiser(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"sigma": SIGMA, "seed": int(rng.integers(1000))}]


def _judge_make_denoiser(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _problem(outputs, fitted=True)
    return None if problem is None else problem.split(":")[0].split(";")[0]


MAKE_DENOISER = Exercise(
    id="04.2", name="make_denoiser", title="Design a denoising autoencoder and train it to a target PSNR", points=5,
    reference=lambda: reference_make_denoiser, public=_public_make_denoiser, hidden_cases=_cases_make_denoiser,
    judge=_judge_make_denoiser, probe=_probe_make_denoiser,
    hints=(
        ("the model itself must corrupt its input, only while it trains, with new noise every time; its output is "
         "compared with the clean image. Keras tells every layer and model whether it is training."),
        ("in a keras.Model subclass, call receives training=True during fit; add noise of standard deviation sigma "
         "only then, clip the noisy image to [0, 1] as the test images are clipped, then run the network. A "
         "network of one or two Dense layers of a few hundred units, ending in a sigmoid, is enough."),
        ("keras.random.normal with a keras.random.SeedGenerator stored on the model draws fresh noise on every "
         "call; keras.ops.clip clips; keras.layers.GaussianNoise is active only in training but does not clip."),
    ),
)

# --- 04.3 kl_sparsity ---------------------------------------------------------------------------------

_kl_sparsity = imported("course_utils.models.penalties", "kl_sparsity")


def _numpy_kl(codes: np.ndarray, rho: float) -> tuple[float, np.ndarray]:
    """Independent NumPy KL sparsity penalty and its gradient with respect to the codes."""
    codes = np.asarray(codes, dtype=np.float64)
    rho_hat = codes.mean(axis=0)  # (d,)
    value = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    grad = (-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / len(codes)  # d value / d codes[i, j], the same for every i
    return float(value), np.broadcast_to(grad, codes.shape)


def _tf_value_and_grad(fn: Callable[..., Any], arrays: list[np.ndarray], *extra: Any) -> tuple[float, list[Any]]:
    """Call ``fn`` inside tf.function, as compute_loss runs it, and differentiate with respect to ``arrays``."""
    import tensorflow as tf

    variables = [tf.Variable(a.astype(np.float32)) for a in arrays]

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            value = fn(*variables, *extra)
        return value, tape.gradient(value, variables)

    try:
        value, grads = run()
    except Exception as error:  # noqa: BLE001 - name the cause the learner can act on
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckFailed(f"called on tensors inside tf.function, as a model's compute_loss calls it, it raised "
                          f"{type(error).__name__}: {first_line[:160]}. Use keras.ops or tf functions (no NumPy, "
                          "float() or .numpy()) so the penalty stays a tensor") from None
    expect(all(g is not None for g in grads), "the penalty has no gradient with respect to its inputs: it was "
           "computed outside TensorFlow (NumPy or float()), so training could not reduce it")
    return _scalar(value, "the penalty under tf.function"), [np.asarray(g, dtype=np.float64) for g in grads]


def _tf_probe(tensors: tuple[str, ...]) -> Callable[[Callable[..., Any], Mapping[str, Any]], dict[str, np.ndarray]]:
    """A probe that runs the learner's penalty on tensors inside tf.function, as compute_loss does."""
    def probe(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
        extra = [case[name] for name in case if name not in tensors]
        try:
            value, _ = _tf_value_and_grad(fn, [np.asarray(case[name]) for name in tensors], *extra)
        except CheckFailed:
            return {"output": np.asarray(np.nan), "graph_ready": np.asarray(False)}
        return {"output": np.asarray(value), "graph_ready": np.asarray(True)}

    return probe


def _graph_judge(expected: Callable[..., float]) -> Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], str | None]:
    """Judge a penalty probed by ``_tf_probe``: it must run inside tf.function with a gradient, and be right."""
    values = number_judge(expected, "wrong penalty", rtol=1e-3)

    def judge(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
        if not bool(outputs["graph_ready"]):
            return "does not run with a gradient inside tf.function"
        return values(case, outputs)

    return judge


def _public_kl_sparsity(fn: Callable[..., Any]) -> None:
    codes = np.array([[0.1, 0.5, 0.02], [0.3, 0.7, 0.06]], dtype=np.float32)  # rho_hat = (0.2, 0.6, 0.04)
    want, grad = _numpy_kl(codes, 0.05)
    value = _scalar(fn(codes, 0.05), "kl_sparsity")
    expect(not np.isclose(value, want / 3, rtol=1e-3), "the penalty is averaged over the code units; the "
           "sparsity penalty sums KL(rho || rho_hat_j) over the units j")
    per_example = np.mean([_numpy_kl(row[None], 0.05)[0] for row in codes])
    expect(not np.isclose(value, per_example, rtol=1e-3), "rho_hat_j is the mean activation of unit j over the "
           "batch; compute it first, then the divergence (not one divergence per example)")
    expect(np.isclose(value, want, rtol=1e-3), "wrong value for a batch of 2 codes with 3 units and rho = 0.05: "
           "both terms, rho log(rho / rho_hat) and (1 - rho) log((1 - rho) / (1 - rho_hat)), are needed")
    expect(np.isclose(_scalar(fn(np.full((4, 5), 0.1, dtype=np.float32), 0.1), "kl_sparsity"), 0.0, atol=1e-5),
           "when every unit's mean activation equals rho the penalty should be 0")
    tf_value, (tf_grad,) = _tf_value_and_grad(fn, [codes], 0.05)
    expect(np.isclose(tf_value, want, rtol=1e-3), "inside tf.function the value differs from the eager one")
    expect(np.allclose(tf_grad, grad, rtol=1e-3, atol=1e-4), "the gradient with respect to the codes is wrong")


def _cases_kl_sparsity(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"codes": rng.uniform(0.01, 0.6, (int(rng.integers(3, 20)), int(rng.integers(2, 30)))).astype(np.float32),
             "rho": float(rng.choice([0.02, 0.05, 0.1]))} for _ in range(2)]


KL_SPARSITY = Exercise(
    id="04.3", name="kl_sparsity", title="The KL-divergence sparsity penalty", points=3,
    reference=_kl_sparsity, public=_public_kl_sparsity, hidden_cases=_cases_kl_sparsity,
    judge=_graph_judge(lambda codes, rho: float(_kl_sparsity()(codes, rho))), probe=_tf_probe(("codes",)),
    hints=(
        ("treat each code unit as a coin that is 'on' with probability equal to its average activation over the "
         "batch, and measure how far that coin is from one that is 'on' with probability rho; add up over units."),
        ("first average the codes over the batch axis (one number per unit), then apply the Bernoulli KL "
         "divergence with both terms, rho log(rho / p) and (1 - rho) log((1 - rho) / (1 - p)), and sum over units."),
        ("keras.ops.mean(codes, axis=0), keras.ops.log and keras.ops.sum keep everything a tensor inside "
         "tf.function; keras.ops.clip keeps the averages away from 0 and 1."),
    ),
)

# --- 04.4 sigmoid_contractive_penalty -------------------------------------------------------------------

_sigmoid_contractive_penalty = imported("course_utils.models.penalties", "sigmoid_contractive_penalty")


def _autodiff_penalty(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> float:
    """Independent value: batch mean of the squared Frobenius norm of d sigmoid(x W + b) / dx, by autodiff."""
    import tensorflow as tf

    x = tf.constant(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = tf.sigmoid(x @ tf.constant(kernel, tf.float64) + tf.constant(bias, tf.float64))  # (batch, d)
    jacobian = tape.batch_jacobian(h, x)  # (batch, d, D)
    return float(tf.reduce_mean(tf.reduce_sum(jacobian ** 2, axis=(1, 2))))


def _layer(seed: int, batch: int, D: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, kernel and bias of a sigmoid layer, float32 as a Keras layer holds them."""
    rng = np.random.default_rng(seed)
    return tuple(a.astype(np.float32) for a in (rng.random((batch, D)), rng.normal(0, 0.5, (D, d)),
                                                 rng.normal(0, 0.5, d)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, in the input's dtype."""
    return (1.0 / (1.0 + np.exp(-z))).astype(z.dtype)


def _public_sigmoid_contractive_penalty(fn: Callable[..., Any]) -> None:
    x, kernel, bias = _layer(0, batch=5, D=6, d=3)
    h = _sigmoid(x @ kernel + bias)  # (5, 3)
    want = _autodiff_penalty(x, kernel, bias)
    value = _scalar(fn(h, kernel), "sigmoid_contractive_penalty")
    expect(not np.isclose(value, want * len(x), rtol=1e-3), "the penalty is summed over the batch; average it over "
           "the examples so it does not grow with the batch size")
    slope = h * (1 - h)
    expect(not np.isclose(value, float(np.mean(slope @ (kernel ** 2).sum(axis=0))), rtol=1e-3),
           "the sigmoid's slope h(1 - h) must be squared too: every entry of the Jacobian is h_j(1 - h_j) W_ij")
    expect(np.isclose(value, want, rtol=1e-3), "wrong value: compare with the squared Frobenius norm of the encoder "
           "Jacobian, entry (j, i) = h_j (1 - h_j) W_ij, summed over i and j and averaged over the batch")
    tall, wide = _layer(1, batch=3, D=10, d=2), _layer(2, batch=4, D=2, d=7)
    for xs, ws, bs in (tall, wide):
        got = _scalar(fn(_sigmoid(xs @ ws + bs), ws), "sigmoid_contractive_penalty")
        expect(np.isclose(got, _autodiff_penalty(xs, ws, bs), rtol=1e-3),
               f"wrong value for an input of {ws.shape[0]} values and a code of {ws.shape[1]} units: the kernel "
               "has shape (inputs, units); sum its squares over the input axis, one total per unit")
    tf_value, (_, grad_kernel) = _tf_value_and_grad(fn, [h, kernel])
    expect(np.isclose(tf_value, want, rtol=1e-3), "inside tf.function the value differs from the eager one")
    expect(np.allclose(grad_kernel, 2 * kernel * np.mean(slope ** 2, axis=0), rtol=1e-3, atol=1e-5),
           "the gradient with respect to the kernel is wrong (h held fixed)")


def _cases_sigmoid_contractive_penalty(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        x, kernel, bias = _layer(int(rng.integers(1000)), int(rng.integers(2, 9)), int(rng.integers(2, 40)),
                                 int(rng.integers(2, 20)))
        cases.append({"h": _sigmoid(x @ kernel + bias), "kernel": kernel})
    return cases


SIGMOID_CONTRACTIVE_PENALTY = Exercise(
    id="04.4", name="sigmoid_contractive_penalty", title="The contractive penalty of a sigmoid encoder, in closed form",
    points=3, reference=_sigmoid_contractive_penalty, public=_public_sigmoid_contractive_penalty,
    hidden_cases=_cases_sigmoid_contractive_penalty,
    judge=_graph_judge(lambda h, kernel: float(_sigmoid_contractive_penalty()(h, kernel))),
    probe=_tf_probe(("h", "kernel")),
    hints=(
        ("write one entry of the Jacobian of a sigmoid layer with the chain rule and think about its size over all "
         "inputs and units: one factor depends only on the unit, the other only on the weights, so the total "
         "splits into a part per unit times a part per weight column."),
        ("the entry for unit j and input i is h_j (1 - h_j) W_ij; squared and summed over i it becomes "
         "(h_j (1 - h_j))^2 times the sum of the squares of column j of the kernel. Sum over units, then average "
         "over the batch."),
        ("keras.ops.square(h * (1 - h)) has shape (batch, d); keras.ops.sum(keras.ops.square(kernel), axis=0) "
         "has shape (d,); multiply, sum over axis 1, then keras.ops.mean."),
    ),
)

EXERCISES = [SALT_AND_PEPPER, MAKE_DENOISER, KL_SPARSITY, SIGMOID_CONTRACTIVE_PENALTY]
