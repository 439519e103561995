"""Chapter 09 exercises: the maximum mean discrepancy between codes and prior samples, the log-density of the mixture
prior, the adversarial autoencoder's regularisation phase, and an adversarial autoencoder designed and trained to put
its codes on the prior.

09.3 is chapter 08's alternating GAN update with the encoder as the generator, the images as its input and prior
samples as the real data: the check compiles the learner's step with tf.function, runs it for a few steps on small
networks and compares every weight with chapter 08's NumPy simulation of the two networks and their Adam optimisers,
and with the same simulation of the usual mistakes, so that a wrong step is named.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises import ch08
from course_utils.exercises.core import CheckFailed, Exercise, expect
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.values import as_array, as_scalar, unchanged

LOG_2PI = math.log(2.0 * math.pi)

# --- 09.1 gaussian_mmd2 ----------------------------------------------------------------------------------

MMD_RTOL, MMD_ATOL = 1e-4, 1e-5  # float32 sums over a few thousand points stay well inside


def reference_gaussian_mmd2(x, y, bandwidth) -> float:
    """Reference for 09.1: the package's unbiased MMD^2 with the Gaussian kernel of this bandwidth."""
    from course_utils.evaluation.two_sample import mmd2

    return mmd2(x, y, bandwidth)


def _squared_distances(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent squared distances (scipy), float64: within x (n, n), within y (m, m), across (n, m)."""
    from scipy.spatial.distance import cdist

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return cdist(x, x, "sqeuclidean"), cdist(y, y, "sqeuclidean"), cdist(x, y, "sqeuclidean")


def _off_diagonal_mean(k: np.ndarray, pairs: int) -> float:
    """The sum of a square kernel matrix without its diagonal, over ``pairs``."""
    return float((k.sum() - np.trace(k)) / pairs)


def _unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD^2 from the three kernel matrices."""
    n, m = len(k_xx), len(k_yy)
    return _off_diagonal_mean(k_xx, n * (n - 1)) + _off_diagonal_mean(k_yy, m * (m - 1)) - 2.0 * float(k_xy.mean())


def _with_errstate(values: Callable[[], float]) -> float:
    """A mistake's value, inf where it overflows (the learner would see the same)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(values())


def _mmd2_mistakes(x, y, h: float, want: float) -> list[tuple[float, str]]:
    """The values the usual mistakes give on (x, y, h), with what to tell the learner."""
    d_xx, d_yy, d_xy = _squared_distances(x, y)
    n, m = len(d_xx), len(d_yy)
    k_xx, k_yy, k_xy = (np.exp(-d / (2 * h * h)) for d in (d_xx, d_yy, d_xy))
    within = _off_diagonal_mean(k_xx, n * (n - 1)) + _off_diagonal_mean(k_yy, m * (m - 1))
    x64, y64 = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    plus = [(a * a).sum(1)[:, None] + 2 * a @ b.T + (b * b).sum(1)[None] for a, b in ((x64, x64), (y64, y64), (x64, y64))]
    cross = ("the cross term averages the kernel over all n * m pairs of an x and a y (no pair is left out there, "
             "whatever n and m are): subtract 2 * mean of k(x_i, y_j)")
    return [
        (float(k_xx.mean() + k_yy.mean() - 2 * k_xy.mean()), ("that is the biased estimate: the diagonal terms "
         "k(x_i, x_i) = 1 are kept; leave i = j out of the two within-sample averages, dividing by n(n-1) and m(m-1)")),
        (_unbiased(*(np.exp(-d / (h * h)) for d in (d_xx, d_yy, d_xy))), ("the kernel divides the squared distance "
         "by h^2; the Gaussian kernel here is exp(-|a - b|^2 / (2 h^2)), with 2 h^2")),
        (_with_errstate(lambda: _unbiased(*(np.exp(d / (2 * h * h)) for d in (d_xx, d_yy, d_xy)))), ("the kernel grows "
         "with the distance: the exponent needs its minus sign, exp(-|a - b|^2 / (2 h^2)), so that far points count 0")),
        (_unbiased(*(np.exp(-p / (2 * h * h)) for p in plus)), ("the squared distances have the wrong sign on the "
         "cross product: |a - b|^2 = |a|^2 - 2 a.b + |b|^2 (with + 2 a.b it is |a + b|^2)")),
        (_unbiased(*(np.exp(-np.sqrt(d) / (2 * h * h)) for d in (d_xx, d_yy, d_xy))), ("the kernel uses the distance "
         "itself; the Gaussian kernel takes the squared distance, exp(-|a - b|^2 / (2 h^2))")),
        (math.sqrt(want) if want > 0 else math.nan, ("that is the MMD, the square root of the estimate: return MMD^2 "
         "itself (it can be slightly negative when the samples come from the same distribution)")),
        (_off_diagonal_mean(k_xx, n * (n - 1)) + _off_diagonal_mean(k_yy, n * (n - 1)) - 2 * float(k_xy.mean()),
         "the within-y average divides by n(n-1): y has m points, so divide its off-diagonal sum by m(m-1)"),
        (_off_diagonal_mean(k_xx, m * (m - 1)) + _off_diagonal_mean(k_yy, m * (m - 1)) - 2 * float(k_xy.mean()),
         "the within-x average divides by m(m-1): x has n points, so divide its off-diagonal sum by n(n-1)"),
        (within - float(k_xy.mean()), "the cross term counts twice: MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)"),
        *((within - 2 * float(k_xy.sum()) / count, cross) for count in
          (n * (n - 1), m * (m - 1), n * n, m * m, (n - 1) * (m - 1))),
        *([(within - 2 * _off_diagonal_mean(k_xy, n * (n - 1)), cross)] if n == m else []),  # a 'diagonal' of k_xy
    ]


def _np_mmd2(x, y, h: float) -> float:
    """Independent unbiased MMD^2 in float64 from scipy's squared distances."""
    return _unbiased(*(np.exp(-d / (2 * h * h)) for d in _squared_distances(x, y)))


def _mmd2_problem(x, y, h: float, value: float) -> str | None:
    """The first thing wrong with the learner's MMD^2 of (x, y), named after the usual mistake, or None."""
    want = _np_mmd2(x, y, h)
    if math.isclose(value, want, rel_tol=MMD_RTOL, abs_tol=MMD_ATOL):
        return None
    for wrong, message in _mmd2_mistakes(x, y, h, want):
        if math.isfinite(wrong) and math.isclose(value, wrong, rel_tol=MMD_RTOL, abs_tol=MMD_ATOL):
            return message
    if math.isnan(value):
        return ("NaN: the unbiased MMD^2 can be slightly negative when the two samples come from the same distribution; "
                "return it as it is, without a square root")
    if not -2.0 <= value <= 2.0:
        return ("out of range: a Gaussian kernel lies in [0, 1], so MMD^2 lies between -2 and 2; is the exponent "
                "-|a - b|^2 / (2 h^2), with its minus sign?")
    return ("wrong value: MMD^2 = (sum over i != j of k(x_i, x_j)) / (n(n-1)) + (sum over i != j of k(y_i, y_j)) / "
            "(m(m-1)) - 2 * mean over all i, j of k(x_i, y_j), with k(a, b) = exp(-|a - b|^2 / (2 h^2))")


def _mmd2_value(fn: Callable[..., Any], x, y, h: float, where: str) -> float:
    """The learner's MMD^2, called as the notebook calls it (bandwidth by keyword), as one float; else a failure."""
    try:
        out = fn(x, y, bandwidth=h)
    except TypeError as error:
        if "bandwidth" in str(error):
            raise CheckFailed("the notebook calls gaussian_mmd2(codes, prior_samples, bandwidth=h): name the third "
                              "parameter bandwidth") from None
        raise
    except (ValueError, IndexError) as error:
        if len(x) == len(y):
            raise
        reason = " ".join(str(error).split())[:120]
        raise CheckFailed(f"{where}, it raised {type(error).__name__}: {reason}; the two samples may have different "
                          "numbers of points, n and m: compare every x with every y (an (n, m) matrix)") from None
    return as_scalar(out, "gaussian_mmd2", "MMD^2 is one number for the two samples: average the kernel matrices")


def _two_samples(rng: np.random.Generator, n: int, m: int, d: int, shift: float, dtype=np.float64) -> tuple:
    """x ~ N(0, I) (n, d) and y ~ N(shift, 1.3^2 I) (m, d)."""
    return (rng.standard_normal((n, d)).astype(dtype), (shift + 1.3 * rng.standard_normal((m, d))).astype(dtype))


def _public_gaussian_mmd2(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    checks = [(40, 40, 2, 0.8, 1.0, np.float64, "with x and y of 40 points each in 2-D and h = 1"),
              (30, 45, 3, 0.6, 1.5, np.float64, "with x of 30 points and y of 45 (n != m) in 3-D and h = 1.5"),
              (60, 25, 2, 0.0, 0.7, np.float64, "with x of 60 points and y of 25 from similar distributions, h = 0.7"),
              (300, 200, 2, 1.0, 2.0, np.float32, "with float32 codes of shape (300, 2) and (200, 2), h = 2.0")]
    for n, m, d, shift, h, dtype, where in checks:
        x, y = _two_samples(rng, n, m, d, shift, dtype)
        kept = [x.copy(), y.copy()]
        value = _mmd2_value(fn, x, y, h, where)
        unchanged(kept, [x, y])
        problem = _mmd2_problem(x, y, h, value)
        expect(problem is None, f"{where}: {problem}")
    reference = reference_gaussian_mmd2(x, y, h)
    expect(math.isclose(value, reference, rel_tol=MMD_RTOL, abs_tol=MMD_ATOL),
           "the result differs from course_utils.evaluation.two_sample.mmd2 on float32 codes")


def _cases_gaussian_mmd2(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for n, m in ((int(rng.integers(5, 60)), int(rng.integers(5, 60))), (int(rng.integers(5, 40)),) * 2):
        x, y = _two_samples(rng, n, m, int(rng.integers(1, 6)), float(rng.uniform(0.0, 1.5)))
        cases.append({"x": x, "y": y, "bandwidth": float(rng.uniform(0.5, 3.0))})
    return cases


def _probe_gaussian_mmd2(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {"output": np.asarray(fn(case["x"], case["y"], bandwidth=case["bandwidth"]))}


def _judge_gaussian_mmd2(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    out = outputs["output"]
    if out.shape != () or out.dtype.kind not in "iuf":
        return f"returned shape {out.shape} and dtype {out.dtype}, not one number"
    problem = _mmd2_problem(case["x"], case["y"], case["bandwidth"], float(out))
    return None if problem is None else problem.split(":")[0]


GAUSSIAN_MMD2 = Exercise(
    id="09.1", name="gaussian_mmd2", title="The unbiased MMD^2 with a Gaussian kernel", points=2,
    reference=lambda: reference_gaussian_mmd2, public=_public_gaussian_mmd2, hidden_cases=_cases_gaussian_mmd2,
    judge=_judge_gaussian_mmd2, probe=_probe_gaussian_mmd2,
    hints=(
        ("the squared MMD compares how alike points are within each sample with how alike they are across the two "
         "samples, likeness measured by a Gaussian kernel of their squared distance over twice the squared bandwidth. "
         "The unbiased estimate averages the within-sample likeness over pairs of different points only (a point is "
         "always perfectly like itself), and the cross-sample likeness over every pair of an x and a y."),
        ("build the three matrices of squared distances, x with x (n, n), y with y (m, m) and x with y (n, m), and "
         "turn them into kernel values exp(-d2 / (2 * bandwidth**2)). Sum each within-sample matrix without its "
         "diagonal and divide by n(n-1) and m(m-1); subtract twice the mean of the cross matrix. Return one float."),
        ("scipy.spatial.distance.cdist(x, y, 'sqeuclidean') gives the squared distances; with k = np.exp(-d2 / (2 * h "
         "** 2)) for each pair of samples: (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1)) + (k_yy.sum() - "
         "np.trace(k_yy)) / (m * (m - 1)) - 2 * k_xy.mean(), returned as float(...)"),
    ),
)

# --- 09.2 mixture_log_density ------------------------------------------------------------------------------

DENSITY_RTOL, DENSITY_ATOL = 1e-5, 1e-4  # float32 inputs (a tensor of prior samples) stay well inside


def reference_mixture_log_density(z, centres, std) -> np.ndarray:
    """Reference for 09.2: ``GaussianMixturePrior.log_density`` of a prior with these centres and this std."""
    from course_utils.models.priors import GaussianMixturePrior

    centres = np.asarray(centres, dtype=np.float64)  # (K, d)
    prior = GaussianMixturePrior(len(centres), centres.shape[1], std=float(std))
    prior.centres = centres  # the given centres, not the default circle
    return prior.log_density(z)  # (n,)


def _component_log_densities(z, centres, std: float) -> np.ndarray:
    """Independent log N(z_i; centre_k, std^2 I) for every point and component (scipy): (n, K)."""
    from scipy.stats import multivariate_normal

    z, centres = np.asarray(z, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    cov = float(std) ** 2 * np.eye(centres.shape[1])
    return np.stack([np.atleast_1d(multivariate_normal(c, cov).logpdf(z)) for c in centres], axis=1)


def _np_mixture_log_density(z, centres, std: float) -> np.ndarray:
    """Independent log-density of the equal-weight mixture at each point: (n,)."""
    from scipy.special import logsumexp

    log_each = _component_log_densities(z, centres, std)  # (n, K)
    return logsumexp(log_each, axis=1) - math.log(log_each.shape[1])


def _density_mistakes(z, centres, std: float, want: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """The values the usual mistakes give at z, with what to tell the learner."""
    from scipy.special import logsumexp

    z, centres = np.asarray(z, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    (k, d), s = centres.shape, float(std)
    squared = np.sum((z[:, None, :] - centres[None]) ** 2, axis=-1)  # (n, K)

    def mixture(exponent: np.ndarray, constant: float) -> np.ndarray:
        return logsumexp(exponent + constant, axis=1) - math.log(k)

    normaliser = "the normalising constant of each Gaussian is "
    return [
        (want + math.log(k), ("the mixture weights are missing: each of the K components has weight 1/K, so subtract "
                              "log K (the log of a mean, not of a sum)")),
        (mixture(-0.5 * squared / s, -0.5 * d * math.log(s) - 0.5 * d * LOG_2PI), ("std was used as the variance: "
         "the variance of each component is std^2, in the exponent -|z - c|^2 / (2 std^2) and in -d log(std)")),
        (mixture(-0.5 * squared / s, -d * math.log(s) - 0.5 * d * LOG_2PI), ("the exponent divides by std, not by "
         "the variance: it is -|z - c|^2 / (2 std^2)")),
        (mixture(-0.5 * squared / s**2, -0.5 * d * math.log(s) - 0.5 * d * LOG_2PI), ("the normalising constant has "
         "-(d/2) log(std): with the standard deviation it is -d log(std) - (d/2) log(2 pi)")),
        (mixture(-squared / s**2, -d * math.log(s) - 0.5 * d * LOG_2PI), ("the factor 1/2 is missing from the "
         "exponent: it is -|z - c|^2 / (2 std^2)")),
        (mixture(-0.5 * squared / s**2, 0.0), (normaliser + "missing: add -d log(std) - (d/2) log(2 pi) to each "
         "component's log-density")),
        (mixture(-0.5 * squared / s**2, -0.5 * d * LOG_2PI), normaliser + "incomplete: -d log(std) is missing"),
        (mixture(-0.5 * squared / s**2, -d * math.log(s)), normaliser + "incomplete: -(d/2) log(2 pi) is missing"),
        (mixture(-0.5 * squared / s**2, -math.log(s) - 0.5 * LOG_2PI), ("the normalising constant counts one "
         "dimension: it is -d log(std) - (d/2) log(2 pi), a term per dimension")),
        (np.mean(-0.5 * squared / s**2, axis=1) - d * math.log(s) - 0.5 * d * LOG_2PI, ("that averages the "
         "components' log-densities: the mixture averages the densities themselves, so take the log-sum-exp of the "
         "log-densities, minus log K")),
        (np.max(-0.5 * squared / s**2, axis=1) - d * math.log(s) - 0.5 * d * LOG_2PI - math.log(k), ("only the "
         "nearest component counts there (a maximum): add up every component's density, with a log-sum-exp")),
    ]


def _density_problem(z, centres, std: float, out: np.ndarray) -> str | None:
    """The first thing wrong with the learner's log-densities at z, named after the usual mistake, or None."""
    n = len(np.asarray(z))
    if out.shape != (n,):
        return (f"returned shape {out.shape} for {n} points; return one log-density per point, shape ({n},): "
                "combine the components along their axis")
    if not np.all(np.isfinite(out)):
        return ("-inf or NaN: far from every centre each density exp(...) underflows to 0 and its log is -inf (the "
                "naive log(mean(exp(...)))); combine the components with log-sum-exp: take out each point's largest "
                "log-density before exponentiating and add it back after the log")
    want = _np_mixture_log_density(z, centres, std)
    if np.allclose(out, want, rtol=DENSITY_RTOL, atol=DENSITY_ATOL):
        return None
    for wrong, message in _density_mistakes(z, centres, std, want):
        if np.allclose(out, wrong, rtol=DENSITY_RTOL, atol=DENSITY_ATOL):
            return message
    return ("wrong values: log p(z) = log-sum-exp over k of [-|z - c_k|^2 / (2 std^2) - d log(std) - (d/2) log(2 pi)] "
            "- log K")


def _density_values(fn: Callable[..., Any], z, centres, std) -> np.ndarray:
    """The learner's log-densities, called as the notebook calls them, as a NumPy array."""
    return as_array(fn(z, centres, std), "mixture_log_density")


def _far_points(centres: np.ndarray, std: float) -> np.ndarray:
    """Four points at least 50 standard deviations from every centre: (4, d)."""
    reach = np.abs(centres).max() + 60.0 * std
    corners = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    return np.pad(corners * reach, ((0, 0), (0, centres.shape[1] - 2)))


def _public_mixture_log_density(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    ring = 4.0 * np.stack([np.cos(np.arange(10) * np.pi / 5), np.sin(np.arange(10) * np.pi / 5)], 1)
    ring = ring.astype(np.float32)  # (10, 2), as prior.centres
    near = ring[rng.integers(0, 10, 8)] + 0.5 * rng.standard_normal((8, 2))  # (8, 2) float64
    checks = [(near, ring, 0.5, "at 8 points near the ten centres of the chapter's prior (std 0.5)"),
              (_far_points(ring, 0.5), ring, 0.5, "at points 50 standard deviations from every centre"),
              (rng.normal(0.0, 2.0, (12, 5)), rng.normal(0.0, 2.0, (4, 5)), 1.7, "in 5-D, 4 centres, std 1.7"),
              (np.concatenate([near, _far_points(ring, 0.3)]), ring, 0.3, "at near and far points together, std 0.3")]
    for z, centres, std, where in checks:
        kept = [z.copy(), centres.copy()]
        out = _density_values(fn, z, centres, std)
        unchanged(kept, [z, centres])
        problem = _density_problem(z, centres, std, out)
        expect(problem is None, f"{where}: {problem}")
    _public_density_tensor(fn, ring)


def _public_density_tensor(fn: Callable[..., Any], centres: np.ndarray) -> None:
    """The notebook also passes prior samples as a float32 tensor."""
    import tensorflow as tf

    z = tf.constant(np.random.default_rng(1).normal(0.0, 4.0, (50, 2)), tf.float32)
    try:
        out = _density_values(fn, z, centres, 0.5)
    except (AttributeError, TypeError, ValueError) as error:
        reason = " ".join(str(error).split())[:120]  # TensorFlow's messages print the whole tensor
        raise CheckFailed(f"with z a float32 tensor of 50 prior samples, as the notebook passes them, it raised "
                          f"{type(error).__name__}: {reason}; convert z first with np.asarray(z)") from None
    problem = _density_problem(z.numpy(), centres, 0.5, out)
    expect(problem is None, f"with z a float32 tensor of 50 prior samples, as the notebook passes them: {problem}")


def _cases_mixture_log_density(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for far in (False, True):
        k, d, std = int(rng.integers(2, 9)), int(rng.integers(2, 6)), float(rng.uniform(0.2, 2.0))
        centres = rng.normal(0.0, 3.0, (k, d))
        n = int(rng.integers(5, 40))
        z = centres[rng.integers(0, k, n)] + std * rng.standard_normal((n, d))
        cases.append({"z": np.concatenate([z, _far_points(centres, std)]) if far else z, "centres": centres,
                      "std": std})
    return cases


def _probe_mixture_log_density(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {"output": np.asarray(fn(case["z"], case["centres"], case["std"]))}


def _judge_mixture_log_density(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    out = outputs["output"]
    if out.dtype.kind not in "iuf":
        return f"returned dtype {out.dtype}, not numbers"
    problem = _density_problem(case["z"], case["centres"], case["std"], out)
    return None if problem is None else problem.split(":")[0].split(";")[0]


MIXTURE_LOG_DENSITY = Exercise(
    id="09.2", name="mixture_log_density", title="The log-density of the mixture prior, without underflow", points=2,
    reference=lambda: reference_mixture_log_density, public=_public_mixture_log_density,
    hidden_cases=_cases_mixture_log_density, judge=_judge_mixture_log_density, probe=_probe_mixture_log_density,
    hints=(
        ("the mixture's density at a point is the average of its components' densities, each an isotropic Gaussian "
         "with its own normalising constant. Far from every centre each density is far too small to hold as a plain "
         "number, but its logarithm is fine: combine the components in log space, taking a common factor out of the "
         "sum and putting it back after the logarithm."),
        ("for each point and each centre compute the log-density -|z - c|^2 / (2 std^2) - d log(std) - (d/2) log(2 pi) "
         "as an (n, K) array; then for each row take its maximum out, exponentiate the rest, average over the K "
         "components, take the log and add the maximum back. Convert z with np.asarray first (it may be a tensor)."),
        ("squared = np.sum((z[:, None, :] - centres[None]) ** 2, axis=-1); log_each = -squared / (2 * std ** 2) - d * "
         "np.log(std) - d / 2 * np.log(2 * np.pi); return scipy.special.logsumexp(log_each, axis=1) - "
         "np.log(len(centres)), with z, centres = np.asarray(z, float), np.asarray(centres, float)"),
    ),
)

# --- 09.3 regularisation_step: the AAE's regularisation phase, judged by chapter 08's NumPy simulation -------

STEP_NAME = "regularisation_step"


def reference_regularisation_step(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    """Reference for 09.3: one discriminator update (prior real, codes fake), then one encoder update through it."""
    import tensorflow as tf

    from course_utils.models.gan import discriminator_loss, generator_loss

    codes = encoder(x, training=True)  # (batch, d): constants for the discriminator step
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(prior_codes, training=True), discriminator(codes, training=True))
    gradients = tape.gradient(d_loss, discriminator.trainable_weights)
    d_optimizer.apply_gradients(zip(gradients, discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(encoder(x, training=True), training=False))
    gradients = tape.gradient(g_loss, encoder.trainable_weights)
    g_optimizer.apply_gradients(zip(gradients, encoder.trainable_weights))
    return d_loss, g_loss


def _regularisation_case(seed: int, batch: int, x_dim: int, hidden: int, lr_d: float,
                         lr_g: float) -> dict[str, Any]:
    """One check of 09.3: the networks' sizes, the two learning rates, and the seed of weights and data."""
    return {"seed": int(seed), "batch": int(batch), "x_dim": int(x_dim), "hidden": int(hidden), "lr_d": float(lr_d),
            "lr_g": float(lr_g)}


def _gan_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """The same check in chapter 08's terms: the encoder x_dim -> h -> h -> 2 codes plays the generator."""
    return ch08._step_case(case["seed"], case["batch"], case["x_dim"], case["hidden"], case["lr_d"], case["lr_g"])


def _step_batches(case: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The images x (STEPS, batch, x_dim), standard normal, and prior codes (STEPS, batch, 2) around (1, -0.5)."""
    prior_codes, x, _ = ch08._step_inputs(_gan_case(case))
    return x, prior_codes


def _simulate(case: Mapping[str, Any], variant: str = "alternating") -> dict[str, np.ndarray]:
    """Chapter 08's simulation with the prior codes as the real data and x as both noise batches."""
    x, prior_codes = _step_batches(case)
    return ch08._simulate(_gan_case(case), variant, inputs=(prior_codes, x, x))


NO_GRADIENTS = ("no gradient reaches the weights one of the optimisers was given (Keras: 'No gradients provided'): "
                "compute each loss inside its own GradientTape from the network it updates; in the encoder step that "
                "means the codes themselves, encoder(x) under the tape, since codes computed before it carry no "
                "gradient to the encoder's weights")


def _run_regularisation_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], str]:
    """The learner's step compiled with tf.function, run STEPS times on fresh small networks (chapter 08's runner)."""
    outputs, failure = ch08._run_steps(fn, _gan_case(case), _step_batches(case), STEP_NAME)
    return outputs, NO_GRADIENTS if "No gradients provided" in failure else failure


MISTAKES = [  # variant of chapter 08's simulation, what to tell the learner (the judge keeps the part before the colon)
    ("one_objective", ("both networks were updated from one summed loss under one tape: the discriminator and the "
     "encoder want opposite things of the codes, so each needs its own loss, its own tape and its own optimiser, in "
     "alternation")),
    ("generator_first", ("the encoder was updated before the discriminator: update the discriminator first, then the "
     "encoder through the updated discriminator")),
    ("simultaneous", ("the encoder's gradient was computed through the discriminator from before its update (the "
     "codes' logits were not recomputed after the discriminator step): apply the discriminator's gradients first, "
     "then compute discriminator(encoder(x)) again under the encoder's tape")),
    ("saturating", ("the encoder minimises the saturating loss log(1 - D(E(x))): its gradient vanishes when the "
     "discriminator confidently tells the codes from prior samples, early in training; minimise the non-saturating "
     "-log D(E(x)), the mean of softplus(-logits)")),
    ("labels_swapped", ("the labels are swapped in the discriminator's loss: prior samples are the real ones, "
     "labelled 1, and the encoder's codes the fake ones, labelled 0, i.e. softplus(-l_prior) + softplus(l_codes)")),
    ("leak_into_generator", ("the discriminator step also updates the encoder (its gradient leaks into E): "
     "differentiate the discriminator's loss with respect to discriminator.trainable_weights only, the codes are "
     "constants there")),
    ("leak_into_discriminator", ("the encoder step also updates the discriminator: differentiate the encoder's loss "
     "with respect to encoder.trainable_weights only")),
    ("optimisers_swapped", "the optimisers are swapped: d_optimizer updates the discriminator, g_optimizer the encoder"),
]


def _unchanged_problem(e_still: bool, d_still: bool) -> str | None:
    """What to say when a network's weights never moved, or None."""
    if e_still and d_still:
        return ("no weight changed: compute each network's gradients with a GradientTape and apply them with its "
                "optimiser, optimizer.apply_gradients(zip(gradients, weights))")
    if d_still:
        return "the discriminator's weights never changed: apply the gradients of its loss with d_optimizer"
    if e_still:
        return ("the encoder's weights never changed: compute the codes encoder(x) inside the encoder step's "
                "GradientTape (codes computed before it carry no gradient) and apply the gradients with g_optimizer")
    return None


def _losses_problem(losses: np.ndarray, expected: np.ndarray) -> str | None:
    """What is wrong with the returned losses of a step whose updates are right, or None."""
    if np.allclose(losses, expected, rtol=1e-4, atol=1e-6):
        return None
    if np.allclose(losses[:, ::-1], expected, rtol=1e-4, atol=1e-6):
        return "the losses come back in the wrong order: return (d_loss, g_loss)"
    return ("the updates are right but the returned losses are not this step's: return the discriminator's loss "
            "computed in its step and the encoder's loss computed in its step")


def _update_problem(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray], start: tuple) -> str | None:
    """The first thing wrong with updates that moved both networks, named after the usual mistake, or None."""
    expected = _simulate(case)
    if ch08._same_update(outputs, expected, start):
        return _losses_problem(outputs["losses"], expected["losses"])
    for variant, message in MISTAKES:
        if ch08._same_update(outputs, _simulate(case, variant), start):
            return message
    if not ch08._matches(outputs["d"][:1], expected["d"][:1], start[1][None]):
        return ("the discriminator's update is not one step of its loss: the binary cross-entropy from logits, "
                "prior_codes labelled 1 and encoder(x) labelled 0 (the codes of the x given, the prior samples given, "
                "none of your own), differentiated with respect to discriminator.trainable_weights only and applied "
                "with d_optimizer")
    return ("the discriminator's first update is right but the encoder's is not: after the discriminator's update, "
            "minimise the non-saturating loss of discriminator(encoder(x)) with respect to encoder.trainable_weights "
            "only, applied with g_optimizer")


def _step_problem(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with the learner's updates and losses, named after the usual mistake, or None."""
    status = int(outputs["status"])
    if status == ch08.GRAPH_FAILED:
        return "does not run inside tf.function: the notebook compiles the step with tf.function"
    if status == ch08.BAD_RETURN:
        return "does not return the step's two losses: return (d_loss, g_loss), one number each"
    e_weights, d_weights = ch08._initial_weights(_gan_case(case))
    start = (ch08._flat(e_weights), ch08._flat(d_weights))
    if not all(np.all(np.isfinite(outputs[key])) for key in ("g", "d", "losses")):
        return ("inf or NaN in the weights or the losses: compute both losses from the logits (softplus), never the "
                "log of a sigmoid")
    still = _unchanged_problem(np.array_equal(outputs["g"][-1], start[0]), np.array_equal(outputs["d"][-1], start[1]))
    return still or _update_problem(case, outputs, start)


PUBLIC_STEP = _regularisation_case(seed=0, batch=16, x_dim=5, hidden=16, lr_d=0.02, lr_g=0.01)


def _public_regularisation_step(fn: Callable[..., Any]) -> None:
    outputs, failure = _run_regularisation_step(fn, PUBLIC_STEP)
    expect(not failure, failure)
    problem = _step_problem(PUBLIC_STEP, outputs)
    expect(problem is None, f"after {ch08.STEPS} steps of a small MLP encoder (5 inputs to 2-D codes) and "
           f"discriminator with Adam(2e-2) for D and Adam(1e-2) for the encoder: {problem}")


def _cases_regularisation_step(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        lr_d, lr_g = (float(lr) for lr in rng.choice([5e-3, 1e-2, 2e-2, 3e-2], size=2, replace=False))
        cases.append(_regularisation_case(int(rng.integers(1000)), int(rng.integers(8, 33)), int(rng.integers(2, 9)),
                                          int(rng.choice([16, 32])), lr_d, lr_g))
    return cases


def _probe_regularisation_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The learner's step compiled and run STEPS times on the case's networks; a status code when it cannot be."""
    return _run_regularisation_step(fn, case)[0]


def _judge_regularisation_step(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _step_problem(case, outputs)
    return None if problem is None else problem.split(":")[0]


REGULARISATION_STEP = Exercise(
    id="09.3", name="regularisation_step", title="The adversarial autoencoder's regularisation phase", points=3,
    reference=lambda: reference_regularisation_step, public=_public_regularisation_step,
    hidden_cases=_cases_regularisation_step, judge=_judge_regularisation_step, probe=_probe_regularisation_step,
    hints=(
        ("this is the GAN's alternating update with the encoder as the generator and the prior as the real data: "
         "first the discriminator learns to tell samples of the prior from the codes of the images while the encoder "
         "stays fixed; then, against the discriminator it has just become, the encoder learns to make codes the "
         "discriminator takes for prior samples, while the discriminator stays fixed. Each network is moved only by "
         "the gradient of its own loss, with its own optimiser."),
        ("discriminator step: codes = encoder(x, training=True) outside the tape; inside a GradientTape, d_loss = the "
         "binary cross-entropy from logits with discriminator(prior_codes) labelled 1 and discriminator(codes) "
         "labelled 0; gradient with respect to discriminator.trainable_weights, applied with d_optimizer. Encoder "
         "step: a second tape around encoder(x, training=True) and the discriminator's logits on it (training=False), "
         "g_loss = mean softplus(-logits); gradient with respect to encoder.trainable_weights, applied with "
         "g_optimizer. Return d_loss, g_loss."),
        ("with tf.GradientTape() as tape: d_loss = discriminator_loss(discriminator(prior_codes, training=True), "
         "discriminator(codes, training=True)); d_optimizer.apply_gradients(zip(tape.gradient(d_loss, "
         "discriminator.trainable_weights), discriminator.trainable_weights)); then the same with g_loss = "
         "generator_loss(discriminator(encoder(x, training=True), training=False)), the encoder's weights and "
         "g_optimizer (both losses from course_utils.models.gan); return d_loss, g_loss"),
    ),
)

# --- 09.4 make_aae: design an adversarial autoencoder whose codes land on the mixture prior -------------------

INPUT_SHAPE = (28, 28, 1)
PRIOR_CONFIG = {"name": "mixture", "n_components": 10, "dim": 2, "radius": 4.0, "std": 0.5}
AAE_FIT = {"train": 6000, "test": 1000, "epochs": 20, "batch_size": 128}  # one fit: 15-20 s on 2 busy CPU cores
# The codes are compared with the prior at a fixed bandwidth of twice the components' std. The median heuristic (about
# 5.4 here) sees only the codes' overall spread, which a plain autoencoder's codes reach by chance: MMD^2 at that
# bandwidth was 0.0092-0.045 for them and up to 0.0035 for the reference over 8 seeds, too close for hidden seeds.
CODE_BANDWIDTH = 1.0
MAX_CODE_MMD2 = 0.02  # the reference 0.0016-0.0066 over 8 seeds; a plain autoencoder 0.049-0.143, prior to prior 0.000
MAX_RECONSTRUCTION_MSE = 0.055  # the reference 0.035-0.042 over 8 seeds; the mean test image scores 0.086
MAX_AAE_PARAMS = 300_000  # encoder, decoder and discriminator together; keeps the check's fit to seconds


@functools.lru_cache(maxsize=1)
def _aae_data() -> tuple[np.ndarray, np.ndarray]:
    """The check's images: the first 6,000 of the training part of split_validation, 1,000 seeded test images."""
    from course_utils.data import load_fashion_mnist, split_validation, take_subset

    (x_train, _), (x_test, _) = load_fashion_mnist()
    (train,), _ = split_validation([x_train], fraction=0.1, seed=0)
    (test,) = take_subset([x_test], AAE_FIT["test"], seed=0)
    return train[:AAE_FIT["train"]], test  # (6000, 28, 28, 1), (1000, 28, 28, 1) float32 in [0, 1]


def reference_make_aae() -> Any:
    """Reference for 09.4: the chapter's dense AAE at half width (128-64), mixture prior, adversarial Adam at 1e-3."""
    import keras

    from course_utils.models.aae import dense_aae

    aae = dense_aae(latent_dim=2, hidden_units=(128, 64), prior="mixture")
    aae.compile(ae_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))  # the defaults' 2e-4 is too slow for the check
    return aae


def _aae_facts(model: Any) -> dict[str, np.ndarray]:
    """What the check needs to know about an adversarial autoencoder before training it, as numbers."""
    from course_utils.models.aae import AdversarialAutoencoder

    facts = {"is_aae": np.asarray(isinstance(model, AdversarialAutoencoder)), "input_shape": np.zeros(0, dtype=int),
             "prior_ok": np.asarray(False), "prior_mixture": np.asarray(False), "prior_components": np.asarray(0),
             "prior_dim": np.asarray(0), "prior_radius": np.asarray(0.0), "prior_std": np.asarray(0.0), "params": np.asarray(0), "compiled": np.asarray(False),
             "logit_min": np.asarray(np.nan), "logit_max": np.asarray(np.nan), "finite": np.asarray(True),
             "code_mmd2": np.asarray(np.nan), "mse": np.asarray(np.nan)}
    if not isinstance(model, AdversarialAutoencoder):
        return facts
    config = model.prior.get_config()
    mixture = config.get("name") == "mixture"
    z = np.random.default_rng(0).normal(0.0, 4.0, (16, model.latent_dim)).astype(np.float32)  # (16, d)
    logits = np.asarray(model.decoder(z, training=False))  # (16, 28, 28, 1) for a fitting design
    parts = (model.encoder, model.decoder, model.discriminator)
    facts.update(input_shape=np.asarray(model.encoder.input_shape[1:], dtype=int),
                 prior_ok=np.asarray(config == PRIOR_CONFIG), prior_mixture=np.asarray(mixture),
                 prior_components=np.asarray(config["n_components"] if mixture else 1), prior_dim=np.asarray(config["dim"]),
                 prior_radius=np.asarray(config.get("radius", 0.0)), prior_std=np.asarray(config.get("std", 1.0)),
                 params=np.asarray(sum(p.count_params() for p in parts)),
                 compiled=np.asarray(model.ae_optimizer is not None), logit_min=np.asarray(logits.min()),
                 logit_max=np.asarray(logits.max()))
    return facts


def _copy_optimiser(optimiser: Any) -> Any:
    """A new optimiser with the learner's settings and none of its state."""
    import keras

    return keras.optimizers.deserialize(keras.optimizers.serialize(optimiser))


def _fresh_aae(model: Any, seed: int) -> Any:
    """The learner's three networks with new weights, the chapter's prior, new optimisers from the learner's configs."""
    from course_utils.models.aae import AdversarialAutoencoder
    from course_utils.models.priors import prior_from_config

    _, test = _aae_data()
    rng = np.random.default_rng(seed)
    codes = rng.normal(0.0, 4.0, (8, model.latent_dim)).astype(np.float32)
    judged = rng.normal(0.0, 1.0, (8, int(model.discriminator.input_shape[-1]))).astype(np.float32)
    fresh = AdversarialAutoencoder(fresh_copy(model.encoder, test[:8], "encoder"),
                                   fresh_copy(model.decoder, codes, "decoder"),
                                   fresh_copy(model.discriminator, judged, "discriminator"),
                                   prior_from_config(PRIOR_CONFIG), n_classes=model.n_classes, seed=seed)
    fresh.compile(ae_optimizer=_copy_optimiser(model.ae_optimizer), d_optimizer=_copy_optimiser(model.d_optimizer),
                  g_optimizer=_copy_optimiser(model.g_optimizer))
    return fresh


def _fit_and_measure(model: Any, seed: int) -> dict[str, np.ndarray]:
    """Train a fresh copy as the check does; the MMD^2 of test codes to prior samples and the reconstruction MSE."""
    from course_utils.evaluation.two_sample import mmd2
    from course_utils.models.priors import prior_from_config

    train, test = _aae_data()
    fresh = _fresh_aae(model, seed)
    fresh.fit(train, batch_size=AAE_FIT["batch_size"], epochs=AAE_FIT["epochs"], verbose=0, shuffle=True)
    codes = np.asarray(fresh.encode(test), dtype=np.float64)  # (1000, 2)
    reconstructions = np.asarray(fresh(test, training=False), dtype=np.float64)  # (1000, 28, 28, 1)
    if not (np.all(np.isfinite(codes)) and np.all(np.isfinite(reconstructions))):
        return {"finite": np.asarray(False)}
    prior_samples = np.asarray(prior_from_config(PRIOR_CONFIG).sample(len(test), seed=seed), dtype=np.float64)
    return {"code_mmd2": np.asarray(mmd2(codes, prior_samples, CODE_BANDWIDTH)),
            "mse": np.asarray(np.mean((reconstructions - test) ** 2))}


def _probe_make_aae(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Type, input shape, prior, size and decoder range of the learner's AAE; its two scores once a fresh copy is fitted."""
    import keras

    keras.utils.set_random_seed(int(case["seed"]))
    model = fn()
    facts = _aae_facts(model)
    if _design_problem(facts) is None:
        facts.update(_fit_and_measure(model, int(case["seed"])))
    return facts


def _prior_name(facts: Mapping[str, np.ndarray]) -> str:
    """The learner's prior in words, from the probed facts."""
    dim = int(facts["prior_dim"])
    if not bool(facts["prior_mixture"]):
        return f"a standard Gaussian N(0, I) in {dim}-D"
    return (f"a mixture of {int(facts['prior_components'])} Gaussians in {dim}-D (radius {float(facts['prior_radius']):g}, "
            f"std {float(facts['prior_std']):g})")


def _design_problem(facts: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with the learner's AAE before training, as a message for the learner, or None."""
    if not bool(facts["is_aae"]):
        return ("make_aae should return a course_utils.models.aae.AdversarialAutoencoder: build an encoder (image to "
                "2-D code), a decoder (code to pixel logits) and a discriminator (code to one logit) as Keras models, "
                "and return AdversarialAutoencoder(encoder, decoder, discriminator, GaussianMixturePrior(10, 2)) "
                "compiled")
    shape = tuple(int(s) for s in facts["input_shape"])
    if shape != INPUT_SHAPE:
        return (f"the encoder takes inputs of shape {shape}; it must take Fashion-MNIST images of shape {INPUT_SHAPE} "
                "(start it with keras.Input((28, 28, 1)))")
    if not bool(facts["prior_ok"]):
        return (f"the prior is {_prior_name(facts)}; it must be the chapter's GaussianMixturePrior(10, 2): ten "
                "Gaussians of std 0.5 on a circle of radius 4, in a 2-D code space (the check measures the codes "
                "against it); keep its defaults and give the encoder 2 outputs")
    if int(facts["params"]) > MAX_AAE_PARAMS:
        return (f"the encoder, decoder and discriminator have {int(facts['params']):,} parameters together; keep them "
                f"under {MAX_AAE_PARAMS:,} for this exercise (hidden layers of 128 and 64 units are plenty)")
    if not bool(facts["compiled"]):
        return ("the adversarial autoencoder is not compiled; call aae.compile(...) before returning it (the check "
                "trains with new optimisers built from the settings of yours)")
    if float(facts["logit_min"]) >= 0.0:
        return ("the decoder's outputs are never negative; the adversarial autoencoder's decoder returns logits, any "
                "real number, and the model applies the sigmoid itself: leave the decoder's last layer without an "
                "activation")
    return None


def _fit_problem(facts: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with the fitted copy's scores, as a message that says what to try, or None."""
    fit = (f"after the check's fit of a fresh copy ({AAE_FIT['epochs']} epochs on {AAE_FIT['train']:,} Fashion-MNIST "
           f"training images, batch {AAE_FIT['batch_size']})")
    if not bool(facts["finite"]):
        return (f"{fit} the codes or the reconstructions are not finite; training diverged: lower the learning rates, "
                "and check that the encoder's and the decoder's last layers are linear")
    distance = float(facts["code_mmd2"])
    if not distance <= MAX_CODE_MMD2:
        return (f"{fit} the codes of {AAE_FIT['test']:,} test images are far from the prior: their MMD^2 to as many "
                f"prior samples (Gaussian kernel, bandwidth {CODE_BANDWIDTH:g}) is {distance:.3f}, above "
                f"{MAX_CODE_MMD2:g}; the adversarial phases do not pull the codes onto the mixture in time: give "
                "d_optimizer and g_optimizer Adam with a learning rate around 1e-3 and beta_1=0.5 (the defaults' 2e-4 "
                "is too slow for this short fit, 0 never regularises), batch normalisation after the encoder's hidden "
                "layers (without it the codes did not reach the prior in the check's fit at any rate tried), a "
                "discriminator with a couple of hidden layers ending in one linear logit, and an encoder whose last "
                "layer is linear (no activation squashing the codes)")
    mse = float(facts["mse"])
    if not mse <= MAX_RECONSTRUCTION_MSE:
        return (f"{fit} the reconstruction MSE on {AAE_FIT['test']:,} test images is {mse:.4f}, above "
                f"{MAX_RECONSTRUCTION_MSE:g}; the autoencoder reconstructs poorly: give the encoder and the decoder "
                "hidden layers of a hundred or more units with batch normalisation (it keeps the adversarial phase "
                "from upsetting the reconstruction), keep the decoder's output linear (logits), and use a "
                "reconstruction learning rate around 1e-3")
    return None


def _aae_problem(facts: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with a probed and fitted AAE, or None."""
    return _design_problem(facts) or _fit_problem(facts)


def _public_make_aae(fn: Callable[..., Any]) -> None:
    problem = _aae_problem(_probe_make_aae(fn, {"seed": 0}))
    expect(problem is None, problem or "")


def _cases_make_aae(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"seed": int(rng.integers(1000))}]


def _judge_make_aae(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _aae_problem(outputs)
    return None if problem is None else problem.split(";")[0]


MAKE_AAE = Exercise(
    id="09.4", name="make_aae", title="Design an adversarial autoencoder whose codes match the prior", points=5,
    reference=lambda: reference_make_aae, public=_public_make_aae, hidden_cases=_cases_make_aae,
    judge=_judge_make_aae, probe=_probe_make_aae,
    hints=(
        ("three networks: an encoder from an image to a two-number code, a decoder from a code back to one logit per "
         "pixel (the model applies the sigmoid itself), and a small discriminator that reads a code and says whether "
         "it came from the prior or from the encoder. The chapter's mixture of ten Gaussians on a circle is the prior. "
         "The codes land on it within the check's short fit only if the adversarial phases learn fast enough."),
        ("an encoder Flatten, Dense 128 and Dense 64, each followed by batch normalisation and ReLU (the check's short "
         "fit needs it), then a linear Dense(2); a decoder mirroring it with a linear Dense(784) reshaped to (28, 28, 1); a discriminator Dense 256, Dense 256 "
         "(LeakyReLU) and a linear Dense(1). Wrap them in AdversarialAutoencoder with GaussianMixturePrior(10, 2) and "
         "compile it with three Adam optimisers at 1e-3, beta_1=0.5 for the two adversarial ones (the defaults' 2e-4 "
         "is too slow for the check's short fit). Keep all three networks under 300,000 parameters together."),
        ("aae = dense_aae(latent_dim=2, hidden_units=(128, 64), prior='mixture') from course_utils.models.aae; "
         "aae.compile(ae_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), "
         "g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5)); return aae"),
    ),
)

EXERCISES = [GAUSSIAN_MMD2, MIXTURE_LOG_DENSITY, REGULARISATION_STEP, MAKE_AAE]
