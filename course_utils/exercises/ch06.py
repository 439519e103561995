"""Chapter 06 exercises: the reparameterisation, the KL to the prior, the negative ELBO, the IWAE average of
importance weights, and a VAE designed and trained to a target negative ELBO.

Exercises 06.1-06.3 are called by the notebook inside a ``tf.function`` training step, so their checks run them
there too, on symbolic tensors under a ``GradientTape``, and compare the gradients with closed forms.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.graph import graph_judge, graph_probe, in_graph
from course_utils.exercises.values import as_array, as_scalar, unchanged


def _loss_scalar(value: Any, what: str) -> float:
    """``value`` as one number, or a failure saying a loss is one number for the batch."""
    return as_scalar(value, what, "the loss is one number for the whole batch: average the per-image values over "
                     "the batch")


def _gradient_problem(names: Sequence[str], got: Sequence[np.ndarray | None], want: Sequence[np.ndarray],
                      rtol: float = 1e-4) -> str | None:
    """The first argument whose gradient is missing or wrong, as a message, or None."""
    for name, grad, expected in zip(names, got, want):
        if grad is None:
            return (f"no gradient reaches `{name}`: the result must be computed from it with TensorFlow operations "
                    "(keras.ops or tf), or training cannot move the encoder")
        if not np.allclose(grad, expected, rtol=rtol, atol=1e-6):
            return f"the gradient with respect to `{name}` is wrong inside tf.function"
    return None


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function in float64, without overflow warnings."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(logits, dtype=np.float64)))


# --- 06.1 reparameterise -------------------------------------------------------------------------------

def reference_reparameterise(mean, log_var, eps):
    """Reference for 06.1: z = mean + exp(0.5 * log_var) * eps, elementwise; (batch, d) -> (batch, d)."""
    from keras import ops

    return mean + ops.exp(0.5 * log_var) * eps  # (batch, d)


def _np_reparameterise(mean, log_var, eps) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Independent z in float64, with the gradients of sum(z) with respect to mean and log_var."""
    mean, log_var, eps = (np.asarray(a, dtype=np.float64) for a in (mean, log_var, eps))
    std = np.exp(0.5 * log_var)
    return mean + std * eps, {"mean": np.ones_like(mean), "log_var": 0.5 * std * eps}


def _latents(seed: int, batch: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A float32 mean, log-variance and standard normal eps, each (batch, d)."""
    rng = np.random.default_rng(seed)
    return tuple(a.astype(np.float32) for a in (rng.normal(size=(batch, d)), rng.normal(0.0, 0.8, (batch, d)),
                                                 rng.standard_normal((batch, d))))


def _reparameterise_problem(mean: np.ndarray, log_var: np.ndarray, eps: np.ndarray, out: np.ndarray) -> str | None:
    """The first thing wrong with the learner's z for these inputs, named after the usual mistake, or None."""
    if out.shape != mean.shape:
        return (f"mean and log_var of shape {mean.shape} gave z of shape {out.shape}; z has one value per example and "
                "latent dimension, the shape of mean")
    if np.isnan(out).any():
        return ("some values are NaN: log_var is any real number (negative when the variance is below 1), so never "
                "take its square root or logarithm; exponentiate it")
    std = np.exp(0.5 * log_var.astype(np.float64))
    mistakes = [
        (std * eps, ("the mean is missing: z = std * eps is centred on 0 whatever the encoder says (the bug in the "
                    "chapter's source article); the sample must be centred on the mean")),
        (mean + std ** 2 * eps, ("exp(log_var) is the variance, not the standard deviation: eps must be scaled by the "
                                "square root of the variance")),
        (mean + log_var * eps, ("log_var is the logarithm of the variance, not the standard deviation: turn it into a "
                               "standard deviation before scaling eps")),
        (mean + std, "eps is missing: the standard deviation must multiply the noise eps you are given"),
    ]
    for wrong, message in mistakes:
        if np.allclose(out, wrong, rtol=1e-4, atol=1e-5):
            return message
    if not np.allclose(out, _np_reparameterise(mean, log_var, eps)[0], rtol=1e-4, atol=1e-5):
        return "wrong values: z is the mean plus the standard deviation times eps, elementwise"
    return None


def _public_reparameterise(fn: Callable[..., Any]) -> None:
    mean, log_var, eps = _latents(0, 4, 3)
    kept = [a.copy() for a in (mean, log_var, eps)]
    out = as_array(fn(mean, log_var, eps), "reparameterise")
    unchanged(kept, (mean, log_var, eps))
    again = as_array(fn(mean, log_var, eps), "reparameterise")
    expect(np.array_equal(out, again, equal_nan=True), "two calls with the same eps gave different z: use the eps "
           "you are given (the notebook draws it) instead of drawing new noise inside the function")
    problem = _reparameterise_problem(mean, log_var, eps, out)
    expect(problem is None, problem or "")
    for batch, d in ((1, 32), (64, 2)):
        inputs = _latents(batch + d, batch, d)
        problem = _reparameterise_problem(*inputs, as_array(fn(*inputs), "reparameterise"))
        expect(problem is None, f"with a batch of {batch} and {d} latent dimensions: {problem}")
    weights = np.random.default_rng(1).normal(size=mean.shape).astype(np.float32)
    value, grads = in_graph(fn, [mean, log_var, eps], [True, True, False], weights)
    want, _ = _np_reparameterise(mean, log_var, eps)
    expect(value.shape == want.shape and np.allclose(value, want, rtol=1e-4, atol=1e-5),
           "inside tf.function the result differs from the eager one")
    std = np.exp(0.5 * log_var.astype(np.float64))
    problem = _gradient_problem(("mean", "log_var"), grads, (weights, 0.5 * weights * std * eps))
    expect(problem is None, problem or "")


def _cases_reparameterise(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        mean, log_var, eps = _latents(int(rng.integers(1000)), int(rng.integers(1, 40)), int(rng.integers(1, 20)))
        cases.append({"mean": mean, "log_var": log_var, "eps": eps})
    return cases


REPARAMETERISE = Exercise(
    id="06.1", name="reparameterise", title="The reparameterisation trick: a sample that gradients pass through",
    points=2, reference=lambda: reference_reparameterise, public=_public_reparameterise,
    hidden_cases=_cases_reparameterise, judge=graph_judge(_np_reparameterise, rtol=1e-4),
    probe=graph_probe(("mean", "log_var", "eps"), ("mean", "log_var")),
    hints=(
        ("a sample of a normal distribution is its centre plus its spread times standard normal noise; the encoder "
         "gives the centre and the logarithm of the variance, and the noise comes from outside, so the gradients "
         "reach the centre and the spread."),
        ("turn log_var into a standard deviation: the variance is e to the power log_var and the standard deviation "
         "is its square root, e to the power half of log_var. Then add the mean to the standard deviation times eps."),
        ("keras.ops.exp(0.5 * log_var) is the standard deviation and works on NumPy arrays and on tensors inside "
         "tf.function alike; return mean + std * eps."),
    ),
)

# --- 06.2 kl_to_standard_normal ------------------------------------------------------------------------

def reference_kl_to_standard_normal(mean, log_var):
    """Reference for 06.2: KL(N(mean, exp(log_var)) || N(0, I)) in nats per example; (batch, d) -> (batch,)."""
    from course_utils.models.vae import gaussian_kl

    return gaussian_kl(mean, log_var)


def _np_kl(mean, log_var) -> np.ndarray:
    """Independent closed form in float64: 0.5 * sum_j (var_j + mean_j^2 - 1 - log var_j); (batch, d) -> (batch,)."""
    mean, log_var = np.asarray(mean, dtype=np.float64), np.asarray(log_var, dtype=np.float64)
    return 0.5 * np.sum(np.exp(log_var) + mean ** 2 - 1.0 - log_var, axis=-1)


def _np_kl_with_gradients(mean, log_var) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The KL per example and the gradients of its sum with respect to mean and log_var."""
    mean, log_var = np.asarray(mean, dtype=np.float64), np.asarray(log_var, dtype=np.float64)
    return _np_kl(mean, log_var), {"mean": mean, "log_var": 0.5 * (np.exp(log_var) - 1.0)}


def _kl_problem(mean: np.ndarray, log_var: np.ndarray, out: np.ndarray) -> str | None:
    """The first thing wrong with the learner's KL for these inputs, named after the usual mistake, or None."""
    batch, d = mean.shape
    if out.shape == ():
        return ("one number came back for the whole batch: return one KL per example, shape (batch,); the loss "
                "averages over the batch later")
    if out.shape == (batch, 1):
        return f"shape {out.shape}: return shape ({batch},), one value per example, without a kept axis"
    if out.shape == mean.shape and d != 1:
        return f"shape {out.shape}, one value per latent dimension: sum over the latent dimensions, shape ({batch},)"
    if out.shape != (batch,):
        return f"mean of shape {mean.shape} gave shape {out.shape}; return one KL per example, shape ({batch},)"
    if np.isnan(out).any():
        return ("some values are NaN: log_var is already the logarithm of the variance and may be negative; do not "
                "take its logarithm or square root")
    want = _np_kl(mean, log_var)
    m, v = mean.astype(np.float64), log_var.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        as_variance = 0.5 * np.sum(v + m ** 2 - 1.0 - np.log(v), axis=-1)
    mistakes = [
        (-want, "the sign is flipped: a KL divergence is never negative"),
        (want / d, "the KL is averaged over the latent dimensions: sum them, since the dimensions are independent"),
        (as_variance, "log_var is used as if it were the variance: the variance is e to the power log_var"),
        (2.0 * want, "the factor 1/2 in front of the sum is missing"),
        (want + 0.5 * d, "the -1 per latent dimension is missing: the KL must be 0 when mean = 0 and log_var = 0"),
    ]
    for wrong, message in mistakes:
        if np.allclose(out, wrong, rtol=1e-4, atol=1e-5):
            return message
    if not np.allclose(out, want, rtol=1e-4, atol=1e-5):
        return ("wrong values: per example, half the sum over latent dimensions of variance + mean^2 - 1 - "
                "log-variance")
    return None


def _public_kl_to_standard_normal(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(3, 4)).astype(np.float32)
    log_var = rng.uniform(0.2, 1.5, (3, 4)).astype(np.float32)  # positive, so using it as a variance stays finite
    kept = [mean.copy(), log_var.copy()]
    out = as_array(fn(mean, log_var), "kl_to_standard_normal")
    unchanged(kept, (mean, log_var))
    problem = _kl_problem(mean, log_var, out)
    expect(problem is None, problem or "")
    zero = as_array(fn(np.zeros((2, 5), np.float32), np.zeros((2, 5), np.float32)), "kl_to_standard_normal")
    expect(zero.shape == (2,) and np.allclose(zero, 0.0, atol=1e-6),
           "when mean = 0 and log_var = 0 the posterior is the prior, and the KL must be 0 for every example")
    for seed, batch, d in ((1, 5, 2), (2, 1, 16)):
        mean_b, log_var_b, _ = _latents(seed, batch, d)
        problem = _kl_problem(mean_b, log_var_b, as_array(fn(mean_b, log_var_b), "kl_to_standard_normal"))
        expect(problem is None, f"with a batch of {batch}, {d} latent dimensions and negative log-variances: {problem}")
    weights = rng.normal(size=3).astype(np.float32)
    value, grads = in_graph(fn, [mean, log_var], [True, True], weights)
    expect(value.shape == (3,) and np.allclose(value, _np_kl(mean, log_var), rtol=1e-4, atol=1e-5),
           "inside tf.function the result differs from the eager one")
    _, want = _np_kl_with_gradients(mean, log_var)
    problem = _gradient_problem(("mean", "log_var"), grads, (weights[:, None] * want["mean"],
                                                              weights[:, None] * want["log_var"]))
    expect(problem is None, problem or "")


def _cases_kl_to_standard_normal(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        mean, log_var, _ = _latents(int(rng.integers(1000)), int(rng.integers(1, 40)), int(rng.integers(2, 20)))
        cases.append({"mean": mean, "log_var": log_var})
    return cases


KL_TO_STANDARD_NORMAL = Exercise(
    id="06.2", name="kl_to_standard_normal", title="The KL divergence to the standard normal prior, in closed form",
    points=2, reference=lambda: reference_kl_to_standard_normal, public=_public_kl_to_standard_normal,
    hidden_cases=_cases_kl_to_standard_normal, judge=graph_judge(_np_kl_with_gradients, rtol=1e-4),
    probe=graph_probe(("mean", "log_var"), ("mean", "log_var")),
    hints=(
        ("for two normal distributions the divergence has a closed form; with a diagonal covariance and the standard "
         "normal prior the latent dimensions are independent, so the divergence of an example is the total of one "
         "small term per dimension, and it is 0 exactly when the posterior equals the prior."),
        ("per dimension the term is one half of (variance + mean squared - 1 - log-variance), where the variance is "
         "e to the power log_var. Add the terms over the last axis, one value per example, shape (batch,)."),
        ("0.5 * keras.ops.sum(keras.ops.exp(log_var) + keras.ops.square(mean) - 1.0 - log_var, axis=-1); keras.ops "
         "works on NumPy arrays and inside tf.function alike."),
    ),
)

# --- 06.3 negative_elbo --------------------------------------------------------------------------------

LARGE_LOGIT = 60.0  # sigmoid(60) rounds to exactly 1 in float32, so sigmoid-then-log gives log(0)


def reference_negative_elbo(x, logits, mean, log_var, beta: float = 1.0):
    """Reference for 06.3: batch mean of (Bernoulli NLL summed over pixels + beta * KL), in nats per image."""
    from keras import ops

    from course_utils.models.vae import bernoulli_log_likelihood, gaussian_kl

    reconstruction = -bernoulli_log_likelihood(x, logits)  # (batch,) nats, from logits: stable
    return ops.mean(reconstruction + beta * gaussian_kl(mean, log_var))  # ()


def _np_bernoulli_nll(x, logits) -> np.ndarray:
    """Independent per-image Bernoulli NLL in float64 from logits: sum of softplus(l) - x * l over pixels."""
    x, logits = np.asarray(x, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    return (np.logaddexp(0.0, logits) - x * logits).reshape(len(x), -1).sum(axis=1)  # (batch,)


def _np_negative_elbo(x, logits, mean, log_var, beta: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The negative ELBO (a 0-d array) and its gradients with respect to logits, mean and log_var."""
    batch = len(np.asarray(x))
    value = np.mean(_np_bernoulli_nll(x, logits) + beta * _np_kl(mean, log_var))
    _, kl_grads = _np_kl_with_gradients(mean, log_var)
    grads = {"logits": (_sigmoid(logits) - np.asarray(x, dtype=np.float64)) / batch,
             "mean": beta * kl_grads["mean"] / batch, "log_var": beta * kl_grads["log_var"] / batch}
    return np.asarray(value), grads


def _elbo_inputs(seed: int, batch: int, d: int, logit_scale: float = 3.0) -> tuple[np.ndarray, ...]:
    """Binary images (batch, 28, 28, 1), logits of that shape and a posterior (batch, d), all float32."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, 28, 28, 1)) < 0.3).astype(np.float32)
    logits = rng.normal(0.0, logit_scale, x.shape).astype(np.float32)
    mean, log_var, _ = _latents(seed + 1, batch, d)
    return x, logits, mean, log_var


def _elbo_problem(inputs: Sequence[np.ndarray], value: float, beta: float) -> str | None:
    """The first thing wrong with the learner's negative ELBO for these inputs, named after the mistake, or None."""
    x, logits, mean, log_var = inputs
    if not np.isfinite(value):
        return ("the loss is not finite: the decoder outputs logits (any real number), not probabilities; compute "
                "the Bernoulli log-likelihood from the logits directly")
    want = float(_np_negative_elbo(x, logits, mean, log_var, beta)[0])
    nll, kl = _np_bernoulli_nll(x, logits), _np_kl(mean, log_var)
    pixels = x[0].size
    p = _sigmoid(logits).reshape(len(x), -1)
    flat_x = x.reshape(len(x), -1).astype(np.float64)
    squared = np.square(flat_x - p)
    mistakes = [
        (np.mean(nll / pixels + beta * kl), (f"the reconstruction term is averaged over the {pixels} pixels while "
                                             f"the KL is per image: the weights are off by a factor {pixels}; sum "
                                             "the reconstruction over pixels so both terms are in nats per image")),
        (np.mean(nll - beta * kl), ("the KL enters with the wrong sign: the negative ELBO is the reconstruction NLL "
                                   "plus beta times the KL")),
        (np.mean(nll), "the KL term is missing: add beta times the KL of each example"),
        (np.sum(nll + beta * kl), "the loss is summed over the batch: average it over the images, nats per image"),
    ]
    if beta != 1.0:
        mistakes.append((np.mean(beta * nll + kl), "beta weighs the reconstruction: it must weigh the KL term"))
    for squares in (squared.sum(axis=1), squared.mean(axis=1)):
        mistakes.append((np.mean(squares + beta * kl), ("this is a squared error, not the Bernoulli negative "
                                                       "log-likelihood of binary pixels")))
    for wrong, message in mistakes:
        if np.isclose(value, wrong, rtol=1e-4):
            return message
    if not np.isclose(value, want, rtol=1e-4):
        return ("wrong value: per image, the Bernoulli negative log-likelihood summed over pixels plus beta times "
                "the KL, averaged over the batch")
    return None


def _confident_inputs() -> tuple[np.ndarray, ...]:
    """Binary images, logits of +-LARGE_LOGIT and +-2 LARGE_LOGIT (half are confident mistakes), posterior = prior."""
    rng = np.random.default_rng(5)
    x = (rng.random((2, 28, 28, 1)) < 0.5).astype(np.float32)
    sign = np.where(rng.random(x.shape) < 0.5, 1.0, -1.0)
    logits = (sign * LARGE_LOGIT * np.array([1.0, 2.0]).reshape(2, 1, 1, 1)).astype(np.float32)
    return x, logits, np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32)


def _public_negative_elbo(fn: Callable[..., Any]) -> None:
    inputs = _elbo_inputs(0, 4, 8)
    kept = [a.copy() for a in inputs]
    value = _loss_scalar(fn(*inputs), "negative_elbo")
    unchanged(kept, inputs)
    problem = _elbo_problem(inputs, value, 1.0)
    expect(problem is None, problem or "")
    for beta in (0.5, 2.0):
        weighted = _loss_scalar(fn(*inputs, beta=beta), "negative_elbo")
        expect(not np.isclose(weighted, value, rtol=1e-6),
               f"beta={beta} gave the same loss as beta=1: beta is ignored; it multiplies the KL term")
        problem = _elbo_problem(inputs, weighted, beta)
        expect(problem is None, f"with beta={beta}: {problem}")
    confident = _confident_inputs()
    value = _loss_scalar(fn(*confident), "negative_elbo")
    expect(np.isfinite(value), f"with logits of +-{LARGE_LOGIT:g} the loss is inf or NaN: the sigmoid rounds to "
           "exactly 0 or 1 and the log of 0 is -inf; compute the Bernoulli log-likelihood from the logits directly, "
           "without taking the log of a sigmoid")
    expect(np.isclose(value, float(_np_negative_elbo(*confident)[0]), rtol=1e-5),
           f"with logits of +-{LARGE_LOGIT:g} the loss is not exact: clipping the probabilities (sigmoid, then log "
           "with a small epsilon) caps the cost of a confident mistake; compute it from the logits directly")
    value, grads = in_graph(fn, list(inputs), [False, True, True, True], beta=0.5)
    want, want_grads = _np_negative_elbo(*inputs, beta=0.5)
    expect(value.shape == () and np.isclose(float(value), float(want), rtol=1e-4),
           "inside tf.function, with beta=0.5, the result differs from the eager one")
    problem = _gradient_problem(("logits", "mean", "log_var"), grads,
                                (want_grads["logits"], want_grads["mean"], want_grads["log_var"]))
    expect(problem is None, problem or "")


def _cases_negative_elbo(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for scale in (3.0, 40.0):
        x, logits, mean, log_var = _elbo_inputs(int(rng.integers(1000)), int(rng.integers(1, 9)),
                                                int(rng.integers(2, 20)), logit_scale=scale)
        cases.append({"x": x, "logits": logits, "mean": mean, "log_var": log_var,
                      "beta": float(rng.choice([0.25, 1.0, 4.0]))})
    return cases


NEGATIVE_ELBO = Exercise(
    id="06.3", name="negative_elbo", title="The negative ELBO in nats per image, exact for confident logits", points=3,
    reference=lambda: reference_negative_elbo, public=_public_negative_elbo, hidden_cases=_cases_negative_elbo,
    judge=graph_judge(_np_negative_elbo, rtol=1e-4),
    probe=graph_probe(("x", "logits", "mean", "log_var"), ("logits", "mean", "log_var")),
    hints=(
        ("the loss of one image is how surprised the decoder is by each of its binary pixels, added up over all "
         "pixels, plus beta times the divergence of its posterior from the prior; both are in nats per image, and "
         "the loss of a batch is their average. The decoder gives logits, and a confident mistake must cost its full "
         "price without overflowing."),
        ("for a pixel with logit l the surprise is softplus(l) - x l, which equals minus the Bernoulli "
         "log-likelihood and never takes the log of a rounded sigmoid. Sum it over every axis but the batch axis, "
         "add beta times the KL of 06.2 and average over the batch."),
        ("keras.ops.softplus(logits) - x * logits, summed with keras.ops.sum(..., axis=(1, 2, 3)); "
         "tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits) gives the same per-pixel values; "
         "finish with keras.ops.mean(reconstruction + beta * kl)."),
    ),
)

# --- 06.4 log_mean_exp ---------------------------------------------------------------------------------

def reference_log_mean_exp(log_w) -> np.ndarray:
    """Reference for 06.4: log((1/k) sum_j exp(log_w[..., j])) over the last axis, stably; (n, k) -> (n,)."""
    from scipy.special import logsumexp

    log_w = np.asarray(log_w, dtype=np.float64)
    return logsumexp(log_w, axis=-1) - math.log(log_w.shape[-1])  # (n,)


def _np_log_mean_exp(log_w) -> np.ndarray:
    """Independent answer in float64: shift each row by its largest log-weight before exponentiating."""
    log_w = np.asarray(log_w, dtype=np.float64)
    top = log_w.max(axis=-1, keepdims=True)  # (n, 1)
    return top[..., 0] + np.log(np.mean(np.exp(log_w - top), axis=-1))  # (n,)


def _log_weights(seed: int, n: int, k: int, centre: float, spread: float = 3.0) -> np.ndarray:
    """Importance log-weights (n, k) in float64 around ``centre`` nats."""
    return np.random.default_rng(seed).normal(centre, spread, (n, k))


def _log_mean_exp_problem(log_w: np.ndarray, out: np.ndarray) -> str | None:
    """The first thing wrong with the learner's result for these log-weights, named after the mistake, or None."""
    n, k = log_w.shape
    if out.shape == (k,) and n != k:
        return (f"shape {out.shape}: the average ran over the wrong axis; the k samples of each example lie on the "
                "last axis")
    if out.shape == (n, 1):
        return f"shape {out.shape}: return shape ({n},), one value per example, without a kept axis"
    if out.shape != (n,):
        return f"log-weights of shape {log_w.shape} gave shape {out.shape}; return one value per example, shape ({n},)"
    if not np.all(np.isfinite(out)):
        return ("inf, -inf or NaN values: e to the power of a log-weight overflows above about 709 and underflows to "
                "0 below about -745 in float64; shift each row by its largest log-weight before exponentiating")
    want = _np_log_mean_exp(log_w)
    mistakes = [
        (log_w.mean(axis=-1), ("this is the average of the log-weights, the single-sample ELBO averaged over "
                               "samples: a looser bound. Average the weights themselves, then take the logarithm")),
        (want + math.log(k), ("the result is too large by log k: divide the sum of the weights by k (the average, not "
                             "the sum)")),
        (log_w.max(axis=-1), ("only the largest log-weight counts: after shifting by the largest, add back the "
                             "logarithm of the average of all the shifted weights")),
    ]
    for wrong, message in mistakes:
        if k > 1 and np.allclose(out, wrong, rtol=1e-7, atol=1e-3):
            return message
    if not np.allclose(out, want, rtol=1e-7, atol=1e-3):
        return "wrong values: the logarithm of the average of e to the power of each log-weight, row by row"
    return None


def _public_log_mean_exp(fn: Callable[..., Any]) -> None:
    log_w = _log_weights(0, 3, 5, -100.0)
    kept = log_w.copy()
    out = as_array(fn(log_w), "log_mean_exp")
    unchanged([kept], [log_w])
    problem = _log_mean_exp_problem(log_w, out)
    expect(problem is None, problem or "")
    for centre, what in ((-300.0, "around -300 nats, as for Fashion-MNIST images"), (-800.0, "around -800 nats"),
                         (800.0, "around +800 nats")):
        sample = _log_weights(int(abs(centre)), 4, 50, centre)
        problem = _log_mean_exp_problem(sample, as_array(fn(sample), "log_mean_exp"))
        expect(problem is None, f"with log-weights {what}: {problem}")
    wide = np.array([[-1000.0, 0.0, -5.0, -700.0], [-3.0, -3.0, -3.0, -3.0]])
    problem = _log_mean_exp_problem(wide, as_array(fn(wide), "log_mean_exp"))
    expect(problem is None, f"with log-weights that differ by hundreds of nats within a row: {problem}")
    single = _log_weights(1, 6, 1, -250.0)
    problem = _log_mean_exp_problem(single, as_array(fn(single), "log_mean_exp"))
    expect(problem is None, f"with one sample per example (k = 1, the ELBO itself): {problem}")
    many = _log_weights(2, 1, 1000, -250.0, spread=10.0)
    problem = _log_mean_exp_problem(many, as_array(fn(many), "log_mean_exp"))
    expect(problem is None, f"with one example and 1,000 samples: {problem}")


def _cases_log_mean_exp(rng: np.random.Generator) -> list[dict[str, Any]]:
    centres = (float(rng.choice([-300.0, 0.0])), float(rng.choice([-900.0, 800.0])))  # a usual case, an extreme one
    return [{"log_w": _log_weights(int(rng.integers(1000)), int(rng.integers(1, 20)), int(rng.integers(1, 200)),
                                   centre, float(rng.uniform(0.5, 20.0)))} for centre in centres]


def _probe_log_mean_exp(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The learner's result for one hidden case, the log-weights passed by position as the notebook passes them."""
    return {"output": np.asarray(fn(case["log_w"]))}


def _judge_log_mean_exp(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    out, want = outputs["output"], _np_log_mean_exp(case["log_w"])
    if out.shape != want.shape or out.dtype.kind not in "iuf":
        return f"shape {out.shape} and dtype {out.dtype}"
    return None if np.allclose(out, want, rtol=1e-7, atol=1e-3) else "wrong or non-finite values"


LOG_MEAN_EXP = Exercise(
    id="06.4", name="log_mean_exp", title="The IWAE average of importance weights, without overflow", points=2,
    reference=lambda: reference_log_mean_exp, public=_public_log_mean_exp, hidden_cases=_cases_log_mean_exp,
    judge=_judge_log_mean_exp, probe=_probe_log_mean_exp,
    hints=(
        ("the bound averages the importance weights themselves, not their logarithms, and only then takes the "
         "logarithm; the weights are far too small or too large to hold as plain numbers, but a common factor can "
         "be taken out of every weight of a row and put back afterwards."),
        ("subtract the largest log-weight of each row from that row; the biggest shifted weight is then exactly 1, "
         "so nothing overflows and the sum is at least 1. Average the exponentials of the shifted values over the last "
         "axis, take the logarithm and add the row's largest log-weight back."),
        ("scipy.special.logsumexp(log_w, axis=-1) - np.log(log_w.shape[-1]) is the whole answer; by hand: top = "
         "log_w.max(axis=-1, keepdims=True), then top[:, 0] + np.log(np.mean(np.exp(log_w - top), axis=-1))."),
    ),
)

# --- 06.5 make_vae: design a VAE for Fashion-MNIST and train it to a target negative ELBO -------------

INPUT_SHAPE = (28, 28, 1)
VAE_FIT = {"train": 2000, "val": 1000, "epochs": 10, "batch_size": 64, "learning_rate": 3e-3}
TARGET_NEG_ELBO = 290.0  # nats per validation image: independent pixels 385.7; the reference 269.4-270.5 on 3 seeds
MAX_VAE_PARAMS = 1_500_000  # keeps the check's short fit to seconds


@functools.lru_cache(maxsize=1)
def _vae_data() -> tuple[np.ndarray, np.ndarray]:
    """Fixed binarisations of Fashion-MNIST training images: (2000, 28, 28, 1) to train, (1000, 28, 28, 1) to score."""
    from course_utils.data import load_fashion_mnist, take_subset
    from course_utils.evaluation.likelihood import binarise

    (x, _), _ = load_fashion_mnist()
    (x,) = take_subset([x], VAE_FIT["train"] + VAE_FIT["val"], seed=0)
    return binarise(x[:VAE_FIT["train"]], seed=1), binarise(x[VAE_FIT["train"]:], seed=2)


def reference_make_vae() -> Any:
    """Reference for 06.5: a dense VAE, 784-256-(2 x 16) and 16-256-784 logits, with a Bernoulli decoder."""
    import keras

    from course_utils.models import VAE

    latent_dim = 16
    encoder = keras.Sequential([
        keras.Input(INPUT_SHAPE), keras.layers.Flatten(),  # (batch, 784)
        keras.layers.Dense(256, activation="relu"),  # (batch, 256)
        keras.layers.Dense(2 * latent_dim),  # (batch, 32): the mean, then the log-variance
    ], name="encoder")
    decoder = keras.Sequential([
        keras.Input((latent_dim,)), keras.layers.Dense(256, activation="relu"),  # (batch, 256)
        keras.layers.Dense(784), keras.layers.Reshape(INPUT_SHAPE),  # (batch, 28, 28, 1) logits
    ], name="decoder")
    return VAE(encoder, decoder, likelihood="bernoulli", name="vae")


def _vae_facts(model: Any) -> dict[str, np.ndarray]:
    """What the check needs to know about a model before training it, as numbers."""
    from course_utils.models import VAE

    facts = {"is_vae": np.asarray(isinstance(model, VAE)), "bernoulli": np.asarray(False),
             "input_shape": np.zeros(0, dtype=int), "params": np.asarray(0), "logit_min": np.asarray(np.nan),
             "logit_max": np.asarray(np.nan), "neg_elbo": np.asarray(np.nan)}
    if not isinstance(model, VAE):
        return facts
    z = np.random.default_rng(0).normal(size=(16, model.latent_dim)).astype(np.float32)  # (16, d)
    logits = np.asarray(model.decoder(z, training=False))  # (16, 28, 28, 1) for a fitting design
    facts.update(bernoulli=np.asarray(model.likelihood == "bernoulli"),
                 input_shape=np.asarray(model.encoder.input_shape[1:], dtype=int),
                 params=np.asarray(model.count_params()), logit_min=np.asarray(logits.min()),
                 logit_max=np.asarray(logits.max()))
    return facts


def _fit_and_score(model: Any) -> float:
    """Train a fresh copy of the model (new weights, Adam) as the check does; return the validation -ELBO."""
    import keras

    from course_utils.evaluation.likelihood import elbo

    train, val = _vae_data()
    model = fresh_copy(model, val[:16], "VAE")  # no head start from weights loaded or trained in make_vae
    model.compile(optimizer=keras.optimizers.Adam(VAE_FIT["learning_rate"]))
    model.fit(train, batch_size=VAE_FIT["batch_size"], epochs=VAE_FIT["epochs"], verbose=0)
    return float(-np.mean(elbo(model, val, seed=0)))


def _probe_make_vae(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Type, likelihood, input shape, size and decoder range of the learner's VAE; its validation -ELBO once fitted."""
    import keras

    keras.utils.set_random_seed(int(case["seed"]))
    model = fn()
    facts = _vae_facts(model)
    if _vae_problem(facts) is None:
        facts["neg_elbo"] = np.asarray(_fit_and_score(model))
    return facts


def _vae_problem(facts: Mapping[str, np.ndarray], fitted: bool = False) -> str | None:
    """The first thing wrong with a probed VAE, as a message for the learner, or None."""
    if not bool(facts["is_vae"]):
        return ("make_vae should return a course_utils.models.VAE: build an encoder and a decoder as Keras models and "
                "return VAE(encoder, decoder)")
    if not bool(facts["bernoulli"]):
        return ("the decoder must be Bernoulli (likelihood='bernoulli', the default): the images are binarised and "
                "the negative ELBO is measured in nats of binary pixels")
    shape = tuple(int(s) for s in facts["input_shape"])
    if shape != INPUT_SHAPE:
        return (f"the encoder takes inputs of shape {shape}; it must take Fashion-MNIST images of shape {INPUT_SHAPE} "
                "(start it with keras.Input((28, 28, 1)))")
    if int(facts["params"]) > MAX_VAE_PARAMS:
        return f"the model has {int(facts['params']):,} parameters; keep it under {MAX_VAE_PARAMS:,} for this exercise"
    if float(facts["logit_min"]) >= 0.0:
        squashed = float(facts["logit_max"]) <= 1.0
        return ("the decoder's outputs are never negative" + (", all in [0, 1]" if squashed else "")
                + "; a Bernoulli decoder returns logits, any real number, and the VAE applies the sigmoid itself: "
                "leave the decoder's last layer without an activation")
    neg_elbo = float(facts["neg_elbo"])
    if fitted and not np.isfinite(neg_elbo):
        return ("the validation negative ELBO is not finite after the check's fit: training diverged; are the "
                "encoder's log-variances and the decoder's logits plain linear outputs?")
    if fitted and not neg_elbo <= TARGET_NEG_ELBO:
        return (f"after the check's fit ({VAE_FIT['epochs']} epochs on {VAE_FIT['train']} binarised training images) "
                f"the validation negative ELBO is {neg_elbo:.1f} nats per image, above the target {TARGET_NEG_ELBO:g} "
                "(lower is better, independent pixels score about 386); do the encoder and the decoder have a hidden "
                "layer of a few hundred units, and is the latent space more than a couple of dimensions?")
    return None


def _public_make_vae(fn: Callable[..., Any]) -> None:
    problem = _vae_problem(_probe_make_vae(fn, {"seed": 0}), fitted=True)
    expect(problem is None, problem or "")


def _cases_make_vae(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"seed": int(rng.integers(1000))}]


def _judge_make_vae(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _vae_problem(outputs, fitted=True)
    return None if problem is None else problem.split(";")[0].split(":")[0]


MAKE_VAE = Exercise(
    id="06.5", name="make_vae", title="Design a VAE and train it to a target negative ELBO", points=5,
    reference=lambda: reference_make_vae, public=_public_make_vae, hidden_cases=_cases_make_vae,
    judge=_judge_make_vae, probe=_probe_make_vae,
    hints=(
        ("the encoder maps an image to two numbers per latent dimension, a centre and a log-variance; the decoder "
         "maps a code back to one logit per pixel, with no squashing at the end because the model applies the "
         "sigmoid itself. A hidden layer of a few hundred units on each side, and a latent space of around a dozen "
         "dimensions, give it room for shapes."),
        ("build two small Keras models: an encoder from a (28, 28, 1) input, flattened, through a hidden layer with "
         "ReLU to 2 * latent_dim linear outputs, and a decoder from latent_dim inputs through a hidden layer to 784 "
         "linear outputs reshaped to (28, 28, 1). Wrap them in the course's VAE class with the Bernoulli likelihood."),
        ("keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(256, "
         "activation='relu'), keras.layers.Dense(32)]) and keras.Sequential([keras.Input((16,)), "
         "keras.layers.Dense(256, activation='relu'), keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))]), "
         "then VAE(encoder, decoder) from course_utils.models."),
    ),
)

EXERCISES = [REPARAMETERISE, KL_TO_STANDARD_NORMAL, NEGATIVE_ELBO, LOG_MEAN_EXP, MAKE_VAE]
