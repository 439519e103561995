"""Chapter 08 exercises: the Jensen-Shannon divergence, the generator's non-saturating loss, one alternating GAN
update, and a toy GAN designed and trained to cover every mode of a 2-D mixture.

08.2 runs inside tf.function under a GradientTape, as the notebook's training step calls it. 08.3 is that training
step: the check compiles the learner's step with tf.function, runs it for a few steps on small networks, and compares
every weight with an independent NumPy simulation of the two networks and their Adam optimisers, and with the same
simulation of the usual mistakes, so that a wrong step is named.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.graph import graph_failure, graph_judge, graph_probe, in_graph
from course_utils.exercises.values import as_scalar, unchanged

LOG_2 = math.log(2.0)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function in float64, without overflow warnings."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(logits, dtype=np.float64)))


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) in float64, exact for large |x|."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


# --- 08.1 jensen_shannon -------------------------------------------------------------------------------

def reference_jensen_shannon(p, q) -> float:
    """Reference for 08.1: 0.5 KL(p||m) + 0.5 KL(q||m) with m = (p + q) / 2, in nats; 0 log 0 counts as 0."""
    from scipy.special import rel_entr

    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)  # positive wherever p or q is
    return float(0.5 * np.sum(rel_entr(p, m)) + 0.5 * np.sum(rel_entr(q, m)))


def _entropy(p: np.ndarray) -> float:
    """Shannon entropy in nats of the positive entries of ``p``."""
    positive = p[p > 0]
    return float(-np.sum(positive * np.log(positive)))


def _np_jensen_shannon(p, q) -> float:
    """Independent answer: the entropy of the mixture minus the mean entropy of p and q, in nats."""
    p, q = np.asarray(p, dtype=np.float64).ravel(), np.asarray(q, dtype=np.float64).ravel()
    return max(0.0, _entropy(0.5 * (p + q)) - 0.5 * (_entropy(p) + _entropy(q)))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p||q) in nats; inf where q is 0 and p is not."""
    p, q = np.asarray(p, dtype=np.float64).ravel(), np.asarray(q, dtype=np.float64).ravel()
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def _js_mistakes(p: np.ndarray, q: np.ndarray, want: float) -> list[tuple[float, str]]:
    """The values the usual mistakes give on (p, q), with what to tell the learner."""
    kl_pq, kl_qp = _kl(p, q), _kl(q, p)
    swapped = ("that is the KL divergence between p and q themselves, not the Jensen-Shannon divergence: compare p "
               "and q each with their mixture m = (p + q) / 2 and average the two KL divergences")
    return [
        (want / LOG_2, "that is in bits (base-2 logarithms): measure it in nats, with natural logarithms"),
        (2.0 * want, "that is twice the divergence: the factors 1/2 are missing, JSD = 0.5 KL(p||m) + 0.5 KL(q||m)"),
        (math.sqrt(want), ("that is the square root of the divergence, the Jensen-Shannon distance (what "
                           "scipy.spatial.distance.jensenshannon returns): square it")),
        (want - LOG_2, "the mixture m must be the average (p + q) / 2, not the sum p + q"),
        (kl_pq, swapped), (kl_qp, swapped),
        (0.5 * (kl_pq + kl_qp), ("that is the symmetrised KL divergence between p and q: compare each with their "
                                 "mixture m = (p + q) / 2 instead")),
    ]


def _js_problem(p, q, out: Any) -> str | None:
    """The first thing wrong with the learner's divergence of (p, q), named after the usual mistake, or None."""
    value = np.asarray(out) if np.asarray(out).dtype.kind in "iuf" else None
    if value is None or value.size != 1:
        return f"returned {type(out).__name__}; the divergence is one number, in nats"
    value = float(value.ravel()[0])
    if math.isnan(value):
        return ("NaN: where an entry of p or q is 0 the term 0 log 0 must count as 0 (its limit); leave those entries "
                "out of the sums, or use a function that knows the limit")
    if math.isinf(value):
        return ("inf: a KL divergence between p and q is infinite where one of them is 0 and the other is not; "
                "compare each with the mixture m = (p + q) / 2, which is positive wherever p or q is")
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    want = _np_jensen_shannon(p, q)
    if math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-7):
        return None
    for wrong, message in _js_mistakes(p, q, want):
        if math.isfinite(wrong) and math.isclose(value, wrong, rel_tol=1e-5, abs_tol=1e-7):
            return message
    if value < 0:
        return "negative: a divergence is never negative; JSD = 0.5 KL(p||m) + 0.5 KL(q||m) with m = (p + q) / 2"
    return "wrong value: JSD = 0.5 KL(p||m) + 0.5 KL(q||m) with m = (p + q) / 2, natural logarithms"


def _bumps(shape: tuple[int, ...], centre: float, width: float) -> np.ndarray:
    """A normalised Gaussian bump on a regular grid of ``shape``, zero where it falls below 1e-6 of its peak."""
    axes = np.meshgrid(*(np.linspace(-3.0, 3.0, n) for n in shape), indexing="ij")
    density = np.exp(-0.5 * sum((a - centre) ** 2 for a in axes) / width ** 2)
    density[density < 1e-6 * density.max()] = 0.0
    return density / density.sum()


def _public_jensen_shannon(fn: Callable[..., Any]) -> None:
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.2, 0.7])
    kept = [p.copy(), q.copy()]
    out = fn(p, q)
    unchanged(kept, [p, q])
    problem = _js_problem(p, q, out)
    expect(problem is None, f"with p = [0.5, 0.3, 0.2] and q = [0.1, 0.2, 0.7]: {problem}")
    problem = _js_problem(q, p, fn(q, p))
    expect(problem is None, f"with p and q exchanged: {problem}")
    same = np.array([0.25, 0.25, 0.5])
    problem = _js_problem(same, same.copy(), fn(same, same.copy()))
    expect(problem is None, f"two identical distributions have divergence 0: {problem}")
    one, half = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    for first, second, where in ((one, half, "p"), (half, one, "q")):
        kept = [first.copy(), second.copy()]
        problem = _js_problem(first, second, fn(first, second))
        unchanged(kept, [first, second])
        expect(problem is None, f"with a zero in {where} ([1, 0] against [0.5, 0.5]): {problem}")
    left, right = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.25, 0.75])
    problem = _js_problem(left, right, fn(left, right))
    expect(problem is None, f"distributions with disjoint supports have divergence ln 2 exactly, its maximum: {problem}")
    problem = _js_problem([0.2, 0.8], [0.6, 0.4], fn([0.2, 0.8], [0.6, 0.4]))
    expect(problem is None, f"with Python lists [0.2, 0.8] and [0.6, 0.4]: {problem}")
    grid_p, grid_q = _bumps((30, 40), -0.5, 0.6), _bumps((30, 40), 0.8, 0.9)
    kept = [grid_p.copy(), grid_q.copy()]
    problem = _js_problem(grid_p, grid_q, fn(grid_p, grid_q))
    unchanged(kept, [grid_p, grid_q])
    expect(problem is None, f"with two densities on a (30, 40) grid, each normalised to sum 1 (zeros in the tails): "
           f"{problem}")


def _random_distribution(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random distribution of ``shape`` with about a third of its entries exactly zero, at least one positive."""
    weights = rng.dirichlet(np.full(int(np.prod(shape)), 0.7)) * (rng.random(int(np.prod(shape))) > 0.35)
    if weights.sum() == 0:
        weights[rng.integers(weights.size)] = 1.0
    return (weights / weights.sum()).reshape(shape)


def _cases_jensen_shannon(rng: np.random.Generator) -> list[dict[str, Any]]:
    shapes = [(int(rng.integers(2, 60)),), (int(rng.integers(2, 12)), int(rng.integers(2, 12)))]
    return [{"p": _random_distribution(rng, shape), "q": _random_distribution(rng, shape)} for shape in shapes]


def _probe_jensen_shannon(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {"output": np.asarray(fn(case["p"], case["q"]))}


def _judge_jensen_shannon(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _js_problem(case["p"], case["q"], outputs["output"])
    return None if problem is None else problem.split(":")[0]


JENSEN_SHANNON = Exercise(
    id="08.1", name="jensen_shannon", title="The Jensen-Shannon divergence, in nats", points=2,
    reference=lambda: reference_jensen_shannon, public=_public_jensen_shannon, hidden_cases=_cases_jensen_shannon,
    judge=_judge_jensen_shannon, probe=_probe_jensen_shannon,
    hints=(
        ("mix the two distributions half and half; the divergence is the average of how far each one is from that "
         "mixture, each distance a KL divergence in nats. An entry where a distribution is zero contributes nothing "
         "to its own KL divergence, and the mixture is never zero where either distribution is positive."),
        ("m = 0.5 * (p + q); KL(p||m) is the total over the entries where p > 0 of p * ln(p / m), likewise KL(q||m); "
         "the answer is 0.5 * KL(p||m) + 0.5 * KL(q||m). Convert the inputs with np.asarray first (lists, 2-D grids)."),
        ("scipy.special.rel_entr(p, m) is p * ln(p / m) with 0 ln 0 = 0; return float(0.5 * np.sum(rel_entr(p, m)) + "
         "0.5 * np.sum(rel_entr(q, m))) with p, q = np.asarray(p, float), np.asarray(q, float) and m = 0.5 * (p + q)."),
    ),
)

# --- 08.2 non_saturating_loss ----------------------------------------------------------------------------

def reference_non_saturating_loss(fake_logits):
    """Reference for 08.2: the batch mean of -log sigmoid(l) = softplus(-l), from the discriminator's logits."""
    from course_utils.models.gan import generator_loss

    return generator_loss(fake_logits, "non_saturating")  # ()


def _np_non_saturating(fake_logits) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Independent loss in float64 and the gradient of it with respect to the logits, -sigmoid(-l) / batch."""
    logits = np.asarray(fake_logits, dtype=np.float64)
    return np.asarray(np.mean(_softplus(-logits))), {"fake_logits": -_sigmoid(-logits) / logits.size}


def _loss_scalar(value: Any) -> float:
    return as_scalar(value, "non_saturating_loss", "the loss is one number for the whole batch: average the "
                     "per-sample values over the batch")


def _ns_problem(logits: np.ndarray, value: float) -> str | None:
    """The first thing wrong with the learner's loss on these logits, named after the usual mistake, or None."""
    if not np.isfinite(value):
        return ("the loss is inf or NaN: the discriminator gives logits (any real number), and the sigmoid of a very "
                "negative logit rounds to 0, whose log is -inf; compute -log sigmoid(l) from the logit directly, as "
                "softplus(-l)")
    want = float(_np_non_saturating(logits)[0])
    l64 = logits.astype(np.float64)
    clipped = np.clip(l64, 1e-7, 1.0 - 1e-7)
    mistakes = [
        (-np.mean(_softplus(l64)), ("this is the saturating loss log(1 - D(G(z))), the minimax game taken literally: "
                                    "its gradient vanishes when D confidently rejects the samples (D(G(z)) -> 0), "
                                    "exactly at the start of training; minimise -log D(G(z)) instead")),
        (-want, "the minus sign is missing: the generator minimises -log D(G(z)), which is never negative"),
        (want * len(logits), "the loss is summed over the batch: average it over the batch"),
        (float(np.mean(_softplus(l64))), ("this is the discriminator's loss on generated samples (label 0): the "
                                          "generator wants its samples called real, label 1, so minimise "
                                          "-log D(G(z)) = softplus(-l)")),
        (float(-np.mean(np.log(clipped))), ("the logits were treated as probabilities (a binary cross-entropy with "
                                            "from_logits=False clips them into (0, 1)): pass from_logits=True, or "
                                            "use softplus(-l)")),
    ]
    for wrong, message in mistakes:
        if np.isclose(value, wrong, rtol=1e-4, atol=1e-6) and not np.isclose(wrong, want, rtol=1e-4, atol=1e-6):
            return message
    if not np.isclose(value, want, rtol=1e-4, atol=1e-6):
        return "wrong value: the batch mean of -log sigmoid(l) = softplus(-l) over the discriminator's logits"
    return None


CONFIDENT = np.array([[-100.0], [-200.0], [-100.0], [-200.0]], np.float32)  # D rejects the samples confidently


def _public_non_saturating_loss(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, (8, 1)).astype(np.float32)
    kept = logits.copy()
    value = _loss_scalar(fn(logits))
    unchanged([kept], [logits])
    problem = _ns_problem(logits, value)
    expect(problem is None, problem or "")
    for batch in (1, 32):
        sample = rng.normal(0.0, 2.0, (batch, 1)).astype(np.float32)
        problem = _ns_problem(sample, _loss_scalar(fn(sample)))
        expect(problem is None, f"with a batch of {batch}: {problem}")
    value = _loss_scalar(fn(CONFIDENT))
    expect(np.isfinite(value), "with logits of -100 and -200 (D rejects the samples confidently) the loss is inf or "
           "NaN: the sigmoid rounds to 0 in float32 and log 0 is -inf; compute -log sigmoid(l) from the logits "
           "directly, as softplus(-l)")
    expect(np.isclose(value, 150.0, rtol=1e-5), f"with logits of -100 and -200 the loss comes out as {value:.4g}, not "
           "the exact value: clipping the probability (sigmoid, then log with a small epsilon) caps the cost of a "
           "confident rejection, exactly when the generator most needs a signal; compute softplus(-l) from the logits")
    value, grads = in_graph(fn, [logits], [True])
    want, want_grads = _np_non_saturating(logits)
    expect(value.shape == () and np.isclose(float(value), float(want), rtol=1e-4),
           "inside tf.function the result differs from the eager one")
    expect(grads[0] is not None, "no gradient reaches the logits: compute the loss from them with TensorFlow "
           "operations (keras.ops or tf), or the generator cannot learn")
    expect(np.allclose(grads[0], want_grads["fake_logits"], rtol=1e-4, atol=1e-6),
           "the gradient with respect to the logits is wrong inside tf.function")
    value, grads = in_graph(fn, [CONFIDENT], [True])
    expect(grads[0] is not None and np.all(np.isfinite(grads[0])), "with logits of -100 and -200 the gradient is inf "
           "or NaN inside tf.function: the log of a sigmoid that rounded to 0; use softplus(-l)")
    expect(not np.allclose(grads[0], 0.0, atol=1e-3), "with logits of -100 and -200 the gradient is 0: the generator "
           "would learn nothing exactly when the discriminator rejects its samples; compute softplus(-l), whose "
           "gradient there is -1 / batch per sample")
    expect(np.allclose(grads[0], -0.25, rtol=1e-4), "with logits of -100 and -200 the gradient is not -1 / batch per "
           "sample inside tf.function; compute softplus(-l) and average it over the batch")


def _cases_non_saturating_loss(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"fake_logits": rng.normal(float(rng.uniform(-2.0, 2.0)) * scale, scale,
                                       (int(rng.integers(1, 65)), 1)).astype(np.float32)} for scale in (3.0, 60.0)]


NON_SATURATING_LOSS = Exercise(
    id="08.2", name="non_saturating_loss", title="The generator's non-saturating loss, from logits", points=2,
    reference=lambda: reference_non_saturating_loss, public=_public_non_saturating_loss,
    hidden_cases=_cases_non_saturating_loss, judge=graph_judge(_np_non_saturating, rtol=1e-4),
    probe=graph_probe(("fake_logits",), ("fake_logits",)),
    hints=(
        ("the generator wants the discriminator to call its samples real, so it minimises minus the log of the "
         "probability the discriminator gives them, averaged over the batch. The discriminator hands over logits, and "
         "a confident rejection must still cost its full price and pass a gradient: never take the log of a "
         "probability that has rounded to zero."),
        ("-log sigmoid(l) equals softplus(-l), which stays exact and finite for any logit; take its mean over the "
         "batch with TensorFlow operations (keras.ops or tf), since the training step calls it inside tf.function."),
        "return keras.ops.mean(keras.ops.softplus(-fake_logits)) (or tf.reduce_mean(-tf.math.log_sigmoid(fake_logits)))",
    ),
)

# --- 08.3 gan_step ----------------------------------------------------------------------------------------

STEPS = 3  # consecutive updates the check runs, comparing every weight after each
# keras.optimizers.Adam(lr, **ADAM): beta_1 as the notebook's; epsilon 1e-4 instead of 1e-7, or a weight whose
# gradient is almost 0 would step by up to the learning rate in a direction that float32 rounding decides
ADAM = {"beta_1": 0.5, "beta_2": 0.999, "epsilon": 1e-4}
MATCH = 1e-3  # distance from an expected update, relative to that update's own size: float32 rounding stayed below
# 4e-5 and every usual mistake about 2e-2 or more from the right update (400 random cases, tanh networks)
LOGIT_SCALE = 4.0  # the discriminator's last kernel starts this much larger than Glorot's: confident, varied logits
OK, GRAPH_FAILED, BAD_RETURN = 0, 1, 2  # the probe's status codes


def reference_gan_step(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    """Reference for 08.3: one discriminator update, then one generator update through the updated discriminator."""
    import tensorflow as tf

    from course_utils.models.gan import discriminator_loss, generator_loss

    fake = generator(z_d, training=True)  # (batch, 2): a constant for the discriminator step
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(real, training=True), discriminator(fake, training=True))
    gradients = tape.gradient(d_loss, discriminator.trainable_weights)
    d_optimizer.apply_gradients(zip(gradients, discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(generator(z_g, training=True), training=False))
    gradients = tape.gradient(g_loss, generator.trainable_weights)
    g_optimizer.apply_gradients(zip(gradients, generator.trainable_weights))
    return d_loss, g_loss


def _step_case(seed: int, batch: int, latent_dim: int, hidden: int, lr_d: float, lr_g: float) -> dict[str, Any]:
    """One check of 08.3: the networks' sizes, the two learning rates, and the seed of weights, data and noise."""
    return {"seed": int(seed), "batch": int(batch), "latent_dim": int(latent_dim), "hidden": int(hidden),
            "lr_d": float(lr_d), "lr_g": float(lr_g)}


def _shapes(case: Mapping[str, Any]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(fan_in, fan_out) of each Dense layer: the generator latent -> h -> h -> 2, the discriminator 2 -> h -> h -> 1."""
    h = case["hidden"]
    return [(case["latent_dim"], h), (h, h), (h, 2)], [(2, h), (h, h), (h, 1)]


def _initial_weights(case: Mapping[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Glorot-uniform kernels and small random biases (float32) for both networks, in Keras' get_weights order.

    The discriminator's logits spread widely (LOGIT_SCALE), as once it has learned something: near logit 0 the
    saturating and non-saturating losses pull the same way, and Adam's steps could not tell them apart.
    """
    rng = np.random.default_rng(case["seed"])
    nets = []
    for shapes in _shapes(case):
        weights = []
        for fan_in, fan_out in shapes:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                        rng.normal(0.0, 0.1, fan_out).astype(np.float32)]
        nets.append(weights)
    nets[1][-2] *= np.float32(LOGIT_SCALE)
    return nets[0], nets[1]


def _step_inputs(case: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real points (STEPS, batch, 2) around (1, -0.5), and the noise z_d, z_g (STEPS, batch, latent_dim), float32."""
    rng = np.random.default_rng(case["seed"] + 1)
    real = rng.normal([1.0, -0.5], 0.4, (STEPS, case["batch"], 2))
    z_d, z_g = (rng.standard_normal((STEPS, case["batch"], case["latent_dim"])) for _ in range(2))
    return real.astype(np.float32), z_d.astype(np.float32), z_g.astype(np.float32)


def _flat(weights: list[Any]) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in weights])


def _mlp(shapes: list[tuple[int, int]]) -> Any:
    """A Keras MLP with these Dense layers, tanh between them, a linear output.

    tanh rather than the chapter's (leaky) ReLU: the check compares float32 updates with a float64 simulation, and a
    pre-activation within rounding of a ReLU's kink would change a gradient by a whole sample's share.
    """
    import keras

    layers = [keras.Input((shapes[0][0],))]
    layers += [keras.layers.Dense(fan_out, activation="tanh") for _, fan_out in shapes[:-1]]  # (batch, hidden)
    return keras.Sequential([*layers, keras.layers.Dense(shapes[-1][1])])  # (batch, 2) samples or (batch, 1) logits


def _two_losses(returned: Any, name: str = "gan_step") -> tuple[float, float] | str:
    """The step's two returned losses as floats, or what to return instead (``name``: the learner's function)."""
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        return (f"{name} returned {type(returned).__name__}; return the step's two losses as a pair, "
                "(d_loss, g_loss)")
    values = []
    for loss, value in zip(("d_loss", "g_loss"), returned):
        try:
            array = np.asarray(value)
        except Exception:  # noqa: BLE001 - an odd object: say what it is
            array = np.asarray(None)
        if array.dtype.kind not in "iuf" or array.size != 1:
            return (f"{name}'s {loss} is {type(value).__name__} of shape {array.shape}; each loss is one number for "
                    "the batch: average over the batch")
        values.append(float(array.ravel()[0]))
    return values[0], values[1]


def _run_gan_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], str]:
    """The learner's step compiled with tf.function, STEPS times on fresh small networks and Adam optimisers.

    Returns the flattened weights of both networks after each step and the returned losses, with status OK; or a
    status code and the reason when the step does not run in the graph or does not return two losses.
    """
    return _run_steps(fn, case, _step_inputs(case), "gan_step")


def _run_steps(fn: Callable[..., Any], case: Mapping[str, Any], inputs: tuple[np.ndarray, ...],
               name: str) -> tuple[dict[str, np.ndarray], str]:
    """``fn(generator, discriminator, d_optimizer, g_optimizer, *batches)`` compiled, once per step k, the batches
    ``inputs[i][k]``; as ``_run_gan_step`` (chapter 09 passes its encoder as the generator, its own inputs)."""
    import keras
    import tensorflow as tf

    g_weights, d_weights = _initial_weights(case)
    generator, discriminator = (_mlp(shapes) for shapes in _shapes(case))
    generator.set_weights(g_weights)
    discriminator.set_weights(d_weights)
    d_optimizer = keras.optimizers.Adam(case["lr_d"], **ADAM)
    g_optimizer = keras.optimizers.Adam(case["lr_g"], **ADAM)
    step = tf.function(fn)
    g_after, d_after, losses = [], [], []
    for k in range(STEPS):
        try:
            returned = step(generator, discriminator, d_optimizer, g_optimizer, *(tf.constant(a[k]) for a in inputs))
        except NotImplementedError:
            raise  # an untouched exercise: 'not attempted'
        except Exception as error:  # noqa: BLE001 - name the cause the learner can act on
            return {"status": np.asarray(GRAPH_FAILED)}, graph_failure(error)
        pair = _two_losses(returned, name)
        if isinstance(pair, str):
            return {"status": np.asarray(BAD_RETURN)}, pair
        losses.append(pair)
        g_after.append(_flat(generator.get_weights()))
        d_after.append(_flat(discriminator.get_weights()))
    outputs = {"status": np.asarray(OK), "g": np.stack(g_after), "d": np.stack(d_after), "losses": np.asarray(losses)}
    return outputs, ""


# The independent answer: both networks and their Adam optimisers in NumPy, float64, with the usual mistakes as options.

def _layers(flat_weights: list[np.ndarray]) -> list[list[np.ndarray]]:
    """[kernel, bias, kernel, bias, ...] as [[kernel, bias], ...], float64 copies."""
    return [[np.array(flat_weights[i], dtype=np.float64), np.array(flat_weights[i + 1], dtype=np.float64)]
            for i in range(0, len(flat_weights), 2)]


def _forward(layers: list[list[np.ndarray]], x: np.ndarray) -> tuple[np.ndarray, list]:
    """A Dense MLP with tanh after every layer but the last; the output and what backprop needs."""
    inputs = []
    h = x
    for i, (kernel, bias) in enumerate(layers):
        inputs.append(h)
        h = h @ kernel + bias
        if i != len(layers) - 1:
            h = np.tanh(h)
    return h, inputs


def _backward(layers: list[list[np.ndarray]], cache: list, upstream: np.ndarray) -> tuple[list, np.ndarray]:
    """Gradients of sum(output * upstream) with respect to every kernel and bias, and to the input."""
    inputs = cache
    grads: list = [None] * len(layers)
    g = upstream
    for i in reversed(range(len(layers))):
        if i != len(layers) - 1:
            g = g * (1.0 - inputs[i + 1] ** 2)  # tanh' from the layer's output, the next layer's input
        grads[i] = [inputs[i].T @ g, g.sum(axis=0)]
        g = g @ layers[i][0].T
    return grads, g


class _Adam:
    """Keras 3's Adam update, one learning rate, state per variable (keyed by the variable's position)."""

    def __init__(self, learning_rate: float):
        self.lr, self.t, self.m, self.v = learning_rate, 0, {}, {}

    def apply(self, grads: list[list[np.ndarray]], layers: list[list[np.ndarray]], tag: str) -> None:
        self.t += 1
        beta_1, beta_2, eps = ADAM["beta_1"], ADAM["beta_2"], ADAM["epsilon"]
        alpha = self.lr * math.sqrt(1 - beta_2 ** self.t) / (1 - beta_1 ** self.t)
        for i, (layer_grads, layer) in enumerate(zip(grads, layers)):
            for j, g in enumerate(layer_grads):
                key = (tag, i, j)
                m = self.m.setdefault(key, np.zeros_like(g))
                v = self.v.setdefault(key, np.zeros_like(g))
                m += (g - m) * (1 - beta_1)
                v += (g * g - v) * (1 - beta_2)
                layer[j] = layer[j] - alpha * m / (np.sqrt(v) + eps)


def _d_loss_and_grads(d: list, real: np.ndarray, fake: np.ndarray, swapped: bool) -> tuple[float, list, np.ndarray]:
    """The discriminator's binary cross-entropy from logits, its gradients, and its gradient w.r.t. the fake batch."""
    real_logits, real_cache = _forward(d, real)
    fake_logits, fake_cache = _forward(d, fake)
    sign = -1.0 if swapped else 1.0  # swapped: real labelled 0, fake labelled 1
    loss = float(np.mean(_softplus(-sign * real_logits)) + np.mean(_softplus(sign * fake_logits)))
    real_grads, _ = _backward(d, real_cache, -sign * _sigmoid(-sign * real_logits) / len(real))
    fake_grads, to_fake = _backward(d, fake_cache, sign * _sigmoid(sign * fake_logits) / len(fake))
    grads = [[a + b for a, b in zip(ga, gb)] for ga, gb in zip(real_grads, fake_grads)]
    return loss, grads, to_fake


def _g_loss_and_grads(g: list, d: list, z: np.ndarray, saturating: bool) -> tuple[float, list, list]:
    """The generator's loss through the discriminator, its gradients, and the loss's gradients w.r.t. D's weights."""
    fake, g_cache = _forward(g, z)
    logits, d_cache = _forward(d, fake)
    if saturating:  # log(1 - sigmoid(l)) = -softplus(l)
        loss, upstream = -float(np.mean(_softplus(logits))), -_sigmoid(logits) / len(z)
    else:  # -log sigmoid(l) = softplus(-l)
        loss, upstream = float(np.mean(_softplus(-logits))), -_sigmoid(-logits) / len(z)
    d_grads, to_fake = _backward(d, d_cache, upstream)
    g_grads, _ = _backward(g, g_cache, to_fake)
    return loss, g_grads, d_grads


def _simulate(case: Mapping[str, Any], variant: str = "alternating",
              inputs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """STEPS updates of ``variant`` (the right step or a usual mistake) in NumPy: weights after each step, losses.

    ``inputs`` are (real, z_d, z_g), each (STEPS, batch, ...); by default the case's own, ``_step_inputs(case)``.
    """
    g_weights, d_weights = _initial_weights(case)
    g, d = _layers(g_weights), _layers(d_weights)
    real, z_d, z_g = (a.astype(np.float64) for a in (_step_inputs(case) if inputs is None else inputs))
    lr_d, lr_g = (case["lr_g"], case["lr_d"]) if variant == "optimisers_swapped" else (case["lr_d"], case["lr_g"])
    d_opt, g_opt = _Adam(lr_d), _Adam(lr_g)
    saturating, swapped = variant == "saturating", variant == "labels_swapped"
    g_after, d_after, losses = [], [], []
    for k in range(STEPS):
        zd, zg = (z_g[k], z_g[k]) if variant == "z_g_for_both" else (z_d[k], z_d[k]) if variant == "z_d_for_both" \
            else (z_d[k], z_g[k])
        if variant in ("one_objective", "simultaneous"):
            d_loss, d_grads, to_fake = _d_loss_and_grads(d, real[k], _forward(g, zd)[0], swapped)
            g_loss, g_grads, g_loss_d_grads = _g_loss_and_grads(g, d, zg, saturating)
            if variant == "one_objective":  # d_loss + g_loss, one tape: each network gets both gradients
                fake_cache = _forward(g, zd)[1]
                from_d_loss, _ = _backward(g, fake_cache, to_fake)
                g_grads = [[a + b for a, b in zip(ga, gb)] for ga, gb in zip(g_grads, from_d_loss)]
                d_grads = [[a + b for a, b in zip(ga, gb)] for ga, gb in zip(d_grads, g_loss_d_grads)]
            d_opt.apply(d_grads, d, "d")
            g_opt.apply(g_grads, g, "g")
        elif variant == "generator_first":
            g_loss, g_grads, _ = _g_loss_and_grads(g, d, zg, saturating)
            g_opt.apply(g_grads, g, "g")
            d_loss, d_grads, _ = _d_loss_and_grads(d, real[k], _forward(g, zd)[0], swapped)
            d_opt.apply(d_grads, d, "d")
        else:
            fake, fake_cache = _forward(g, zd)
            d_loss, d_grads, to_fake = _d_loss_and_grads(d, real[k], fake, swapped)
            if variant == "leak_into_generator":  # one optimiser over both networks' weights in the D step
                d_opt.apply(d_grads + _backward(g, fake_cache, to_fake)[0], d + g, "all")
            else:
                d_opt.apply(d_grads, d, "d")
            g_loss, g_grads, g_loss_d_grads = _g_loss_and_grads(g, d, zg, saturating)
            if variant == "leak_into_discriminator":  # one optimiser over both networks' weights in the G step
                g_opt.apply(g_grads + g_loss_d_grads, g + d, "all")
            else:
                g_opt.apply(g_grads, g, "g")
        g_after.append(_flat([w for layer in g for w in layer]))
        d_after.append(_flat([w for layer in d for w in layer]))
        losses.append((d_loss, g_loss))
    return {"g": np.stack(g_after), "d": np.stack(d_after), "losses": np.asarray(losses)}


MISTAKES = [  # variant of _simulate, what to tell the learner (the judge keeps the part before the first colon)
    ("one_objective", ("both networks were updated from one summed loss under one tape (how the chapter's source "
     "article trains its 'GAN'): the two players have opposite goals, so each needs its own loss, its own tape and "
     "its own optimiser, in alternation")),
    ("generator_first", ("the generator was updated before the discriminator: update the discriminator first, then the "
     "generator through the updated discriminator")),
    ("simultaneous", ("the generator's gradient was computed with the discriminator from before its update (a "
     "simultaneous update): apply the discriminator's gradients first, then compute the generator's loss and "
     "gradients, so the generator sees the updated discriminator")),
    ("saturating", ("the generator minimises the saturating loss log(1 - D(G(z))): its gradient vanishes when the "
     "discriminator confidently rejects the samples (D(G(z)) -> 0), early in training; minimise the non-saturating "
     "-log D(G(z)) of 08.2")),
    ("labels_swapped", ("the real and fake labels are swapped in the discriminator's loss: real samples are labelled "
     "1 and generated ones 0, i.e. softplus(-l_real) + softplus(l_fake)")),
    ("leak_into_generator", ("the discriminator step also updates the generator (its gradient leaks into G): "
     "differentiate the discriminator's loss with respect to discriminator.trainable_weights only, the generated "
     "batch is a constant there")),
    ("leak_into_discriminator", ("the generator step also updates the discriminator: differentiate the generator's "
     "loss with respect to generator.trainable_weights only")),
    ("optimisers_swapped", ("the optimisers are swapped: d_optimizer updates the discriminator, g_optimizer the "
     "generator")),
    ("z_d_for_both", ("the generator step reuses the discriminator step's noise: generate the generator step's "
     "batch from z_g (and the discriminator step's from z_d)")),
    ("z_g_for_both", "the discriminator step uses z_g: generate its batch from z_d, and the generator step's from z_g"),
]


def _matches(got: np.ndarray, want: np.ndarray, start: np.ndarray) -> bool:
    """Whether weights ``got`` are ``want`` up to float32 rounding: their distance, relative to the distance the
    expected updates moved the weights from ``start``, is below MATCH (norms over every weight and step)."""
    if got.shape != want.shape:
        return False
    return float(np.linalg.norm(got - want)) <= MATCH * float(np.linalg.norm(want - start)) + 1e-9


def _same_update(outputs: Mapping[str, np.ndarray], simulated: Mapping[str, np.ndarray], start: tuple) -> bool:
    g0, d0 = start
    return _matches(outputs["g"], simulated["g"], g0[None]) and _matches(outputs["d"], simulated["d"], d0[None])


def _step_problem(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    """The first thing wrong with the learner's updates and losses, named after the usual mistake, or None."""
    status = int(outputs["status"])
    if status == GRAPH_FAILED:
        return "does not run inside tf.function: the notebook compiles the step with tf.function"
    if status == BAD_RETURN:
        return "does not return the step's two losses: return (d_loss, g_loss), one number each"
    g_weights, d_weights = _initial_weights(case)
    start = (_flat(g_weights), _flat(d_weights))
    g, d, losses = outputs["g"], outputs["d"], outputs["losses"]
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(d)) and np.all(np.isfinite(losses))):
        return ("inf or NaN in the weights or the losses: compute both losses from the logits (softplus), never the "
                "log of a sigmoid")
    g_still, d_still = np.array_equal(g[-1], start[0]), np.array_equal(d[-1], start[1])
    if g_still and d_still:
        return ("no weight changed: compute each network's gradients with a GradientTape and apply them with its "
                "optimiser, optimizer.apply_gradients(zip(gradients, weights))")
    if d_still:
        return "the discriminator's weights never changed: apply the gradients of its loss with d_optimizer"
    if g_still:
        return ("the generator's weights never changed: compute its loss from generator(z_g) inside the generator "
                "step's GradientTape and apply the gradients with g_optimizer")
    expected = _simulate(case)
    if _same_update(outputs, expected, start):
        if np.allclose(losses, expected["losses"], rtol=1e-4, atol=1e-6):
            return None
        if np.allclose(losses[:, ::-1], expected["losses"], rtol=1e-4, atol=1e-6):
            return "the losses come back in the wrong order: return (d_loss, g_loss)"
        return ("the updates are right but the returned losses are not this step's: return the discriminator's loss "
                "computed in its step and the generator's loss computed in its step")
    for variant, message in MISTAKES:
        if _same_update(outputs, _simulate(case, variant), start):
            return message
    if not _matches(d[:1], expected["d"][:1], start[1][None]):
        return ("the discriminator's update is not one step of its loss: the binary cross-entropy from logits, real "
                "labelled 1 and generator(z_d) labelled 0 (the noise given, no noise of your own), differentiated "
                "with respect to discriminator.trainable_weights only and applied with d_optimizer")
    return ("the discriminator's first update is right but the generator's is not: after the discriminator's update, "
            "minimise the non-saturating loss of discriminator(generator(z_g)) with respect to "
            "generator.trainable_weights only, applied with g_optimizer")


PUBLIC_STEP = _step_case(seed=0, batch=16, latent_dim=3, hidden=16, lr_d=0.02, lr_g=0.01)


def _public_gan_step(fn: Callable[..., Any]) -> None:
    outputs, failure = _run_gan_step(fn, PUBLIC_STEP)
    expect(not failure, failure)
    problem = _step_problem(PUBLIC_STEP, outputs)
    expect(problem is None, f"after {STEPS} steps of small MLPs with Adam(2e-2) for D and Adam(1e-2) for G: {problem}")


def _cases_gan_step(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        lr_d, lr_g = (float(lr) for lr in rng.choice([5e-3, 1e-2, 2e-2, 3e-2], size=2, replace=False))
        cases.append(_step_case(int(rng.integers(1000)), int(rng.integers(8, 33)), int(rng.integers(2, 9)),
                                int(rng.choice([16, 32])), lr_d, lr_g))
    return cases


def _probe_gan_step(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The learner's step compiled and run STEPS times on the case's networks; a status code when it cannot be."""
    return _run_gan_step(fn, case)[0]


def _judge_gan_step(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _step_problem(case, outputs)
    return None if problem is None else problem.split(":")[0]


GAN_STEP = Exercise(
    id="08.3", name="gan_step", title="One alternating GAN update", points=3,
    reference=lambda: reference_gan_step, public=_public_gan_step, hidden_cases=_cases_gan_step,
    judge=_judge_gan_step, probe=_probe_gan_step,
    hints=(
        ("two players, two losses, two optimisers, in turn: first the discriminator learns to tell the real batch "
         "from a generated one while the generator stays fixed; then, against the discriminator it has just become, "
         "the generator learns to make samples the discriminator calls real, while the discriminator stays fixed. "
         "Each network is moved only by the gradient of its own loss."),
        ("discriminator step: fake = generator(z_d, training=True) outside the tape; inside a GradientTape, d_loss = "
         "discriminator_loss(discriminator(real, training=True), discriminator(fake, training=True)); take the "
         "gradient with respect to discriminator.trainable_weights and apply it with d_optimizer. Generator step: a "
         "second tape around generator(z_g, training=True), the discriminator's logits on it (training=False) and "
         "non_saturating_loss; gradient with respect to generator.trainable_weights, applied with g_optimizer."),
        ("with tf.GradientTape() as tape: d_loss = discriminator_loss(discriminator(real, training=True), "
         "discriminator(fake, training=True)); d_optimizer.apply_gradients(zip(tape.gradient(d_loss, "
         "discriminator.trainable_weights), discriminator.trainable_weights)); then the same with g_loss = "
         "non_saturating_loss(discriminator(generator(z_g, training=True), training=False)), generator's weights and "
         "g_optimizer; return d_loss, g_loss"),
    ),
)

# --- 08.4 make_toy_gan: design a GAN that covers every mode of a 2-D mixture --------------------------------

TOY_FIT = {"kind": "ring", "modes": 8, "radius": 2.0, "std": 0.02, "n": 51_200, "batch_size": 256, "epochs": 10}
# kind "grid" takes "side" and "spacing" instead of "modes" and "radius" (course_utils.data.mixtures.gaussian_grid)
N_SAMPLES = 2_500  # generated points that mode_coverage scores
MIN_HIGH_QUALITY = 0.5  # fraction of those within 3 standard deviations of a mode; the reference: 0.76-0.85
MAX_TOY_GAN_PARAMS = 100_000  # generator and discriminator together; keeps the check's fit to seconds
MAX_DISCRIMINATOR_STEPS = 5


def _toy_data() -> tuple[np.ndarray, np.ndarray]:
    """The check's training points (n, 2) and the mixture's mode centres (modes, 2), fixed by TOY_FIT."""
    from course_utils.data.mixtures import gaussian_grid, gaussian_ring

    if TOY_FIT["kind"] == "grid":
        return gaussian_grid(TOY_FIT["n"], side=TOY_FIT["side"], spacing=TOY_FIT["spacing"], std=TOY_FIT["std"],
                             seed=0)
    return gaussian_ring(TOY_FIT["n"], n_modes=TOY_FIT["modes"], radius=TOY_FIT["radius"], std=TOY_FIT["std"], seed=0)


def reference_make_toy_gan() -> Any:
    """Reference for 08.4: the toy MLPs, Adam(1e-3, beta_1=0.5) each, and a weight average of the generator (0.99)."""
    import keras

    from course_utils.models.gan import GAN, mlp_discriminator, mlp_generator

    gan = GAN(mlp_generator(latent_dim=2, seed=None), mlp_discriminator(), loss="non_saturating", ema_decay=0.99)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return gan


def _toy_facts(model: Any) -> dict[str, np.ndarray]:
    """What the check needs to know about a GAN before training it, as numbers."""
    from course_utils.models.gan import GAN

    facts = {"is_gan": np.asarray(isinstance(model, GAN)), "sample_shape": np.zeros(0, dtype=int),
             "input_shape": np.zeros(0, dtype=int), "params": np.asarray(0), "discriminator_steps": np.asarray(1),
             "compiled": np.asarray(False), "finite": np.asarray(True), "modes_covered": np.asarray(-1),
             "n_modes": np.asarray(0), "high_quality": np.asarray(np.nan)}
    if isinstance(model, GAN):
        facts.update(sample_shape=np.asarray(model.generator.output_shape[1:], dtype=int),
                     input_shape=np.asarray(model.discriminator.input_shape[1:], dtype=int),
                     params=np.asarray(model.generator.count_params() + model.discriminator.count_params()),
                     discriminator_steps=np.asarray(model.discriminator_steps),
                     compiled=np.asarray(model.d_optimizer is not None and model.g_optimizer is not None))
    return facts


def _fit_and_cover(model: Any, seed: int) -> dict[str, np.ndarray]:
    """Train a fresh copy of the GAN as the check does (new weights, new optimisers from the learner's configs) on
    the toy data; the coverage of N_SAMPLES generated points."""
    import keras

    from course_utils.evaluation.generative import mode_coverage
    from course_utils.models.gan import GAN

    data, centres = _toy_data()
    noise = np.random.default_rng(seed).standard_normal((8, model.latent_dim)).astype(np.float32)
    generator = fresh_copy(model.generator, noise, "generator")  # no head start from trained weights
    discriminator = fresh_copy(model.discriminator, data[:8], "discriminator")
    fresh = GAN(generator, discriminator, loss=model.loss_name, gradient_penalty=model.gradient_penalty,
                discriminator_steps=model.discriminator_steps, ema_decay=model.ema_decay, seed=seed)
    fresh.compile(d_optimizer=keras.optimizers.deserialize(keras.optimizers.serialize(model.d_optimizer)),
                  g_optimizer=keras.optimizers.deserialize(keras.optimizers.serialize(model.g_optimizer)))
    fresh.fit(data, batch_size=TOY_FIT["batch_size"], epochs=TOY_FIT["epochs"], verbose=0)
    samples = np.asarray(fresh.sample(N_SAMPLES, seed=seed), dtype=np.float64)  # (N_SAMPLES, 2)
    if not np.all(np.isfinite(samples)):
        return {"finite": np.asarray(False), "n_modes": np.asarray(len(centres))}
    coverage = mode_coverage(samples, centres, TOY_FIT["std"])
    return {"modes_covered": np.asarray(coverage["modes_covered"]), "n_modes": np.asarray(coverage["n_modes"]),
            "high_quality": np.asarray(coverage["high_quality"])}


def _probe_make_toy_gan(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Type, shapes, size, steps and optimisers of the learner's GAN; its mode coverage once a fresh copy is fitted."""
    import keras

    keras.utils.set_random_seed(int(case["seed"]))
    model = fn()
    facts = _toy_facts(model)
    if _toy_problem(facts) is None:
        facts.update(_fit_and_cover(model, int(case["seed"])))
    return facts


def _toy_problem(facts: Mapping[str, np.ndarray], fitted: bool = False) -> str | None:
    """The first thing wrong with a probed GAN, as a message for the learner, or None."""
    if not bool(facts["is_gan"]):
        return ("make_toy_gan should return a course_utils.models.gan.GAN: build a generator (noise to 2-D points) and "
                "a discriminator (a 2-D point to one logit) as Keras models, and return GAN(generator, discriminator, "
                "...) compiled with two optimisers")
    shape, reads = tuple(int(s) for s in facts["sample_shape"]), tuple(int(s) for s in facts["input_shape"])
    if shape != (2,) or reads != (2,):
        return (f"the generator makes samples of shape {shape} and the discriminator reads {reads}; the toy data are "
                "2-D points, shape (2,): end the generator with Dense(2) and start the discriminator with "
                "keras.Input((2,))")
    if int(facts["params"]) > MAX_TOY_GAN_PARAMS:
        return (f"the two networks have {int(facts['params']):,} parameters together; keep them under "
                f"{MAX_TOY_GAN_PARAMS:,} for this exercise (two hidden layers of about a hundred units each are plenty)")
    if int(facts["discriminator_steps"]) > MAX_DISCRIMINATOR_STEPS:
        return (f"discriminator_steps is {int(facts['discriminator_steps'])}; keep it at most {MAX_DISCRIMINATOR_STEPS} "
                "so the check's fit stays short")
    if not bool(facts["compiled"]):
        return ("the GAN is not compiled; call gan.compile(d_optimizer=..., g_optimizer=...) with two optimisers "
                "before returning it (the check trains with new optimisers built from their settings)")
    if not fitted:
        return None
    fit = (f"after the check's fit of a fresh copy ({TOY_FIT['epochs']} epochs on {TOY_FIT['n']:,} points of "
           f"{int(facts['n_modes'])} Gaussian modes)")
    if not bool(facts["finite"]):
        return (f"{fit} the samples are not finite; training diverged: lower the learning rates, and check that the "
                "generator's last layer is linear")
    covered, modes = int(facts["modes_covered"]), int(facts["n_modes"])
    if covered < modes:
        return (f"{fit} the generator covers {covered} of {modes} modes (a mode counts once it holds a fifth of its "
                "fair share of the samples); the usual fixes for mode collapse: the hinge or the Wasserstein loss "
                "with a gradient_penalty, more discriminator_steps, a different learning rate (often a smaller one "
                "for the generator), or a weight average of the generator (ema_decay)")
    quality = float(facts["high_quality"])
    if not quality >= MIN_HIGH_QUALITY:
        return (f"{fit} only {quality:.0%} of the samples lie within 3 standard deviations of a mode, below the "
                f"{MIN_HIGH_QUALITY:.0%} needed; the samples smear between the modes: train the discriminator harder "
                "(more discriminator_steps), lower the learning rates, or average the generator's weights (ema_decay)")
    return None


def _public_make_toy_gan(fn: Callable[..., Any]) -> None:
    problem = _toy_problem(_probe_make_toy_gan(fn, {"seed": 0}), fitted=True)
    expect(problem is None, problem or "")


def _cases_make_toy_gan(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"seed": int(rng.integers(1000))}]


def _judge_make_toy_gan(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _toy_problem(outputs, fitted=True)
    return None if problem is None else problem.split(";")[0]


MAKE_TOY_GAN = Exercise(
    id="08.4", name="make_toy_gan", title="Design a GAN that covers every mode", points=5,
    reference=lambda: reference_make_toy_gan, public=_public_make_toy_gan, hidden_cases=_cases_make_toy_gan,
    judge=_judge_make_toy_gan, probe=_probe_make_toy_gan,
    hints=(
        ("the data are 2-D points from a few tight clusters; a small generator that turns noise into a 2-D point and "
         "a discriminator that turns a 2-D point into one logit are enough. What decides success is the game: a "
         "generator that finds one cluster the discriminator accepts may stay there (mode collapse), and a loss that "
         "keeps the discriminator's gradients informative, a stronger discriminator or a weight average prevents it."),
        ("two Keras MLPs with two hidden layers of about 128 units (ReLU in the generator, LeakyReLU in the "
         "discriminator), a linear Dense(2) output for the generator and a Dense(1) logit for the discriminator; wrap "
         "them in course_utils.models.gan.GAN and compile it with two Adam optimisers (learning rate about 1e-3, "
         "beta_1=0.5). If modes go missing, try loss='hinge', discriminator_steps or ema_decay."),
        ("gan = GAN(mlp_generator(latent_dim=2), mlp_discriminator(), loss='non_saturating', ema_decay=0.99); "
         "gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), "
         "g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5)); return gan (both builders from "
         "course_utils.models.gan)"),
    ),
)

EXERCISES = [JENSEN_SHANNON, NON_SATURATING_LOSS, GAN_STEP, MAKE_TOY_GAN]
