"""Chapter 08: passing a check means the notebook's later cells work with the learner's object.

Plausible correct answers written differently from the reference pass the check *and* survive the way the
notebook uses them afterwards (each ``use_*`` mirrors those cells: the divergence of densities on a grid, a generator
loss differentiated inside ``tf.function``, a compiled training step run for a few hundred steps, a GAN trained and
scored by mode coverage); plausible wrong answers are caught with a message that names the mistake.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from exercise_checks import fails_with, passes
from keras import ops
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr, xlogy

from course_utils.exercises import ch08
from course_utils.models.gan import GAN, discriminator_loss, generator_loss, mlp_discriminator, mlp_generator

NUMPY_IN_GRAPH = "cannot run on the symbolic tensors of a tf.function"


# --- 08.1 jensen_shannon: V(D*, G) = -log 4 + 2 JSD on a grid, and JSD against the distance of two Gaussians -------

def _gaussian_on_grid(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    density = np.exp(-0.5 * ((x - mean) / std) ** 2)  # underflows to exactly 0 far out: disjoint supports happen
    return density / density.sum()


def use_jensen_shannon(fn) -> None:
    """The notebook's cells: the value of the game at the optimal discriminator, and the saturating JSD curve."""
    from course_utils.models.gan import optimal_discriminator

    x = np.linspace(-6.0, 16.0, 2001)
    p_data, p_model = _gaussian_on_grid(x, 0.0, 1.0), _gaussian_on_grid(x, 1.5, 0.7)
    d_star, one_minus = optimal_discriminator(p_data, p_model), optimal_discriminator(p_model, p_data)  # (2001,)
    value = np.sum(xlogy(p_data, d_star)) + np.sum(xlogy(p_model, one_minus))  # V(D*, G), nats
    assert math.isclose(value, -math.log(4.0) + 2.0 * fn(p_data, p_model), rel_tol=1e-6)
    distances = np.linspace(0.0, 12.0, 25)
    curve = np.array([fn(p_data, _gaussian_on_grid(x, d, 1.0)) for d in distances])
    assert curve[0] == pytest.approx(0.0, abs=1e-9) and np.all(np.diff(curve) >= -1e-12)  # grows with the distance
    assert curve[-1] == pytest.approx(math.log(2.0), abs=1e-6)  # (almost) no overlap left: saturated at log 2
    grid = np.meshgrid(x[::40], x[::40])  # 2-D densities, as the 2-D toy data's histograms
    p2, q2 = (np.exp(-0.5 * ((grid[0] - c) ** 2 + grid[1] ** 2)) for c in (0.0, 2.0))
    assert 0.0 < float(fn(p2 / p2.sum(), q2 / q2.sum())) < math.log(2.0)


def js_scipy_squared(p, q):
    return jensenshannon(np.ravel(p), np.ravel(q)) ** 2  # scipy returns the distance, sqrt of the divergence, in nats


def js_entropies(p, q):
    p, q = np.ravel(p), np.ravel(q)
    return stats.entropy(0.5 * (p + q)) - 0.5 * (stats.entropy(p) + stats.entropy(q))  # H(m) - mean of H(p), H(q)


def js_masked_loop(p, q):
    total = 0.0
    for a, b in zip(np.ravel(p), np.ravel(q)):
        m = (a + b) / 2
        total += (a * math.log(a / m) if a > 0 else 0.0) + (b * math.log(b / m) if b > 0 else 0.0)
    return total / 2


@pytest.mark.parametrize("answer", [js_scipy_squared, js_entropies, js_masked_loop],
                         ids=["scipy distance squared", "entropies", "a loop over entries"])
def test_08_1_variants_pass_and_work_downstream(answer):
    use_jensen_shannon(passes("08.1", answer))


def _js_naive(p, q):
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m)))


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda p, q: js_scipy_squared(p, q) / math.log(2.0), "in bits"),
    (lambda p, q: jensenshannon(np.ravel(p), np.ravel(q), base=2) ** 2, "in bits"),
    (lambda p, q: float(np.sum(rel_entr(np.asarray(p), np.asarray(q)))), "KL divergence between p and q"),
    (lambda p, q: 2.0 * js_scipy_squared(p, q), "factors 1/2 are missing"),
    (lambda p, q: float(jensenshannon(np.ravel(p), np.ravel(q))), "square root"),
    (lambda p, q: js_scipy_squared(p, q) - math.log(2.0), "not the sum"),
    (_js_naive, "NaN"),
    (lambda p, q: 0.5 * (rel_entr(p, 0.5 * (np.asarray(p) + q)) + rel_entr(q, 0.5 * (np.asarray(p) + q))),
     "the divergence is one number"),
], ids=["bits", "scipy base 2", "KL(p||q)", "2 JSD", "JS distance", "m as the sum", "0 log 0 as NaN", "per entry"])
def test_08_1_wrong_answers_are_caught(answer, fragment):
    fails_with("08.1", answer, fragment)


def test_08_1_in_place_normalisation_is_caught():
    def normalises_in_place(p, q):
        p, q = np.asarray(p), np.asarray(q)
        p += 1e-12  # to avoid log 0: changes the caller's array
        return js_scipy_squared(p / p.sum(), q)

    fails_with("08.1", normalises_in_place, "in place")


# --- 08.2 non_saturating_loss: inside a compiled generator step, and its gradient against D(G(z)) ----------------

def use_non_saturating_loss(fn) -> None:
    """The notebook's cells: (a) the gradient with respect to the logit, from -10 to 10, beside the saturating one's;
    (b) a generator trained through a fixed discriminator inside tf.function: D(G(z)) rises."""
    logits = tf.Variable(np.linspace(-10.0, 10.0, 41, dtype=np.float32)[:, None])  # (41, 1)
    with tf.GradientTape() as tape:
        loss = fn(logits) * 41.0  # undo the batch mean: one gradient per logit
    gradient = tape.gradient(loss, logits).numpy().ravel()
    np.testing.assert_allclose(gradient, -1.0 / (1.0 + np.exp(np.linspace(-10.0, 10.0, 41))), rtol=1e-4, atol=1e-7)
    assert gradient[0] < -0.99  # a confident rejection still gives the generator a full gradient

    keras.utils.set_random_seed(0)
    generator = mlp_generator(latent_dim=2, hidden_units=(16,), seed=1)
    discriminator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])  # fixed: prefers x + y large
    discriminator.set_weights([np.array([[1.0], [1.0]], np.float32), np.array([-4.0], np.float32)])
    optimizer = keras.optimizers.Adam(5e-2)
    z = tf.constant(np.random.default_rng(0).normal(size=(64, 2)), tf.float32)

    @tf.function
    def step(z):
        with tf.GradientTape() as tape:
            loss = fn(discriminator(generator(z, training=True), training=False))
        optimizer.apply_gradients(zip(tape.gradient(loss, generator.trainable_weights), generator.trainable_weights))
        return loss

    losses = [float(step(z)) for _ in range(50)]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


def ns_tf_softplus(fake_logits):
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))


def ns_log_sigmoid(fake_logits):
    return -tf.reduce_mean(tf.math.log_sigmoid(fake_logits))


def ns_keras_bce(fake_logits):
    return keras.losses.BinaryCrossentropy(from_logits=True)(ops.ones_like(fake_logits), fake_logits)


def ns_sigmoid_cross_entropy(fake_logits):
    fake_logits = tf.convert_to_tensor(fake_logits)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(fake_logits), fake_logits))


@pytest.mark.parametrize("answer", [ns_tf_softplus, ns_log_sigmoid, ns_keras_bce, ns_sigmoid_cross_entropy],
                         ids=["tf softplus", "log_sigmoid", "keras BCE from logits", "sigmoid_cross_entropy"])
def test_08_2_variants_pass_and_work_downstream(answer):
    use_non_saturating_loss(passes("08.2", answer))


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda fake_logits: ops.mean(ops.log(1.0 - ops.sigmoid(fake_logits))), "gradient vanishes"),
    (lambda fake_logits: -ops.mean(ops.softplus(fake_logits)), "saturating loss"),
    (lambda fake_logits: ops.mean(ops.log_sigmoid(fake_logits)), "minus sign is missing"),
    (lambda fake_logits: ops.sum(ops.softplus(-fake_logits)), "summed over the batch"),
    (lambda fake_logits: -ops.mean(ops.log(ops.sigmoid(fake_logits))), "inf or NaN"),
    (lambda fake_logits: -ops.mean(ops.log(ops.sigmoid(fake_logits) + 1e-7)), "not the exact value"),
    (lambda fake_logits: keras.losses.BinaryCrossentropy()(ops.ones_like(fake_logits), fake_logits),
     "treated as probabilities"),
    (lambda fake_logits: ops.mean(ops.softplus(fake_logits)), "discriminator's loss on generated samples"),
    (lambda fake_logits: np.mean(np.logaddexp(0.0, -np.asarray(fake_logits))), NUMPY_IN_GRAPH),
    (lambda fake_logits: ops.softplus(-fake_logits), "one number for the whole batch"),
], ids=["log(1 - D)", "saturating via softplus", "no minus", "sum", "sigmoid then log", "clipped log",
        "BCE on logits", "label 0", "numpy", "per sample"])
def test_08_2_wrong_answers_are_caught(answer, fragment):
    fails_with("08.2", answer, fragment)


# --- 08.3 gan_step: compiled and run for 200 steps, it moves a generator onto a single Gaussian ---------------------

def use_gan_step(fn) -> None:
    """The notebook's training loop: tf.function(gan_step) on small MLPs with Adam, 200 steps on one Gaussian."""
    keras.utils.set_random_seed(0)
    generator = mlp_generator(latent_dim=2, hidden_units=(32, 32), seed=1)
    discriminator = mlp_discriminator(hidden_units=(32, 32), seed=2)
    d_optimizer, g_optimizer = keras.optimizers.Adam(2e-3, beta_1=0.5), keras.optimizers.Adam(2e-3, beta_1=0.5)
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(4096, 2)) * 0.1 + 3.0).astype(np.float32)  # one Gaussian at (3, 3)
    z_fixed = rng.normal(size=(500, 2)).astype(np.float32)
    before = np.linalg.norm(generator(z_fixed).numpy().mean(axis=0) - 3.0)
    step = tf.function(fn)
    for k in range(200):
        real = data[rng.integers(0, len(data), 64)]
        d_loss, g_loss = step(generator, discriminator, d_optimizer, g_optimizer, real,
                              rng.normal(size=(64, 2)).astype(np.float32), rng.normal(size=(64, 2)).astype(np.float32))
        assert math.isfinite(float(d_loss)) and math.isfinite(float(g_loss)), k
    after = np.linalg.norm(generator(z_fixed).numpy().mean(axis=0) - 3.0)
    assert after < 0.5 * before, (before, after)


BCE = keras.losses.BinaryCrossentropy(from_logits=True)


def step_keras_bce(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    """Keras' binary cross-entropy with explicit labels, the fake batch made inside the tape (no gradient asked)."""
    with tf.GradientTape() as tape:
        real_logits, fake_logits = discriminator(real), discriminator(generator(z_d))
        d_loss = BCE(tf.ones_like(real_logits), real_logits) + BCE(tf.zeros_like(fake_logits), fake_logits)
    grads = tape.gradient(d_loss, discriminator.trainable_variables)
    d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
    with tf.GradientTape() as tape:
        fake_logits = discriminator(generator(z_g))
        g_loss = BCE(tf.ones_like(fake_logits), fake_logits)
    grads = tape.gradient(g_loss, generator.trainable_variables)
    g_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    return d_loss, g_loss


def _update_discriminator(generator, discriminator, optimizer, real, z):
    fake = tf.stop_gradient(generator(z, training=True))
    with tf.GradientTape() as tape:
        real_logits, fake_logits = discriminator(real, training=True), discriminator(fake, training=True)
        loss = (tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(real_logits), real_logits))
                + tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(fake_logits), fake_logits)))
    optimizer.apply_gradients(zip(tape.gradient(loss, discriminator.trainable_weights), discriminator.trainable_weights))
    return loss


def _update_generator(generator, discriminator, optimizer, z):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(tf.math.log_sigmoid(discriminator(generator(z, training=True), training=False)))
    optimizer.apply_gradients(zip(tape.gradient(loss, generator.trainable_weights), generator.trainable_weights))
    return loss


def step_two_helpers(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    """The step as two helper functions, one per player, with tf.nn losses."""
    d_loss = _update_discriminator(generator, discriminator, d_optimizer, real, z_d)
    g_loss = _update_generator(generator, discriminator, g_optimizer, z_g)
    return d_loss, g_loss


def step_one_batch(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    """The discriminator scores real and fake in one concatenated batch; keras.ops losses; a list returned."""
    fake = generator(z_d, training=True)
    n = ops.shape(real)[0]
    with tf.GradientTape() as tape:
        logits = discriminator(ops.concatenate([real, fake], axis=0), training=True)  # (2n, 1)
        d_loss = ops.mean(ops.softplus(-logits[:n])) + ops.mean(ops.softplus(logits[n:]))
    d_optimizer.apply(tape.gradient(d_loss, discriminator.trainable_variables), discriminator.trainable_variables)
    with tf.GradientTape() as tape:
        g_loss = ops.mean(ops.softplus(-discriminator(generator(z_g, training=True), training=False)))
    g_optimizer.apply(tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables)
    return [d_loss, g_loss]


@pytest.mark.parametrize("answer", [step_keras_bce, step_two_helpers, step_one_batch],
                         ids=["keras BCE", "two helpers", "one concatenated batch"])
def test_08_3_variants_pass_and_work_downstream(answer):
    use_gan_step(passes("08.3", answer))


def _reference(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g, *, d_loss_fn=discriminator_loss,
               g_loss_name="non_saturating"):
    """The right step, with the discriminator's loss function and the generator's loss as options."""
    fake = generator(z_d, training=True)
    with tf.GradientTape() as tape:
        d_loss = d_loss_fn(discriminator(real, training=True), discriminator(fake, training=True))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(generator(z_g, training=True), training=False), g_loss_name)
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_weights), generator.trainable_weights))
    return d_loss, g_loss


def step_one_objective(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    with tf.GradientTape(persistent=True) as tape:
        d_loss = discriminator_loss(discriminator(real), discriminator(generator(z_d)))
        g_loss = generator_loss(discriminator(generator(z_g)))
        total = d_loss + g_loss
    d_optimizer.apply_gradients(zip(tape.gradient(total, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    g_optimizer.apply_gradients(zip(tape.gradient(total, generator.trainable_weights), generator.trainable_weights))
    return d_loss, g_loss


def step_generator_first(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(generator(z_g)))
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_weights), generator.trainable_weights))
    fake = generator(z_d)
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(real), discriminator(fake))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    return d_loss, g_loss


def step_simultaneous(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
        d_loss = discriminator_loss(discriminator(real), discriminator(generator(z_d)))
        g_loss = generator_loss(discriminator(generator(z_g)))
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_weights)
    g_grads = g_tape.gradient(g_loss, generator.trainable_weights)  # D as it was before its update
    d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_weights))
    g_optimizer.apply_gradients(zip(g_grads, generator.trainable_weights))
    return d_loss, g_loss


def step_saturating(*args):
    return _reference(*args, g_loss_name="saturating")


def step_labels_swapped(*args):
    return _reference(*args, d_loss_fn=lambda real_logits, fake_logits: discriminator_loss(fake_logits, real_logits))


def step_leaks_into_generator(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(real), discriminator(generator(z_d)))
    weights = discriminator.trainable_weights + generator.trainable_weights
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(generator(z_g)))
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_weights), generator.trainable_weights))
    return d_loss, g_loss


def step_leaks_into_discriminator(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    fake = generator(z_d)
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(real), discriminator(fake))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_weights),
                                    discriminator.trainable_weights))
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(generator(z_g)))
    weights = generator.trainable_weights + discriminator.trainable_weights
    g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
    return d_loss, g_loss


def step_without_updates(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    return (discriminator_loss(discriminator(real), discriminator(generator(z_d))),
            generator_loss(discriminator(generator(z_g))))


def step_without_return(*args):
    _reference(*args)  # the updates are made, the losses forgotten


def step_numpy_losses(*args):
    d_loss, g_loss = _reference(*args)
    return float(d_loss.numpy()), float(g_loss.numpy())


def step_fresh_noise(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    return _reference(generator, discriminator, d_optimizer, g_optimizer, real, tf.random.normal(tf.shape(z_d)),
                      tf.random.normal(tf.shape(z_g)))


@pytest.mark.parametrize(("answer", "fragment"), [
    (step_one_objective, "one summed loss under one tape"),
    (step_generator_first, "generator was updated before the discriminator"),
    (step_simultaneous, "simultaneous update"),
    (step_saturating, "saturating loss log(1 - D(G(z)))"),
    (step_labels_swapped, "labels are swapped"),
    (step_leaks_into_generator, "leaks into G"),
    (step_leaks_into_discriminator, "generator step also updates the discriminator"),
    (lambda generator, discriminator, d_optimizer, g_optimizer, *rest:
     _reference(generator, discriminator, g_optimizer, d_optimizer, *rest), "optimisers are swapped"),
    (lambda *args: _reference(*args[:6], args[5]), "reuses the discriminator step's noise"),
    (lambda *args: _reference(*args[:5], args[6], args[6]), "discriminator step uses z_g"),
    (step_without_updates, "no weight changed"),
    (lambda *args: _reference(*args)[::-1], "wrong order"),
    (lambda *args: _reference(*args)[0], "return the step's two losses as a pair"),
    (step_without_return, "returned NoneType"),
    (step_numpy_losses, "inside tf.function"),
    (step_fresh_noise, "no noise of your own"),
], ids=["one objective (the source article)", "generator first", "simultaneous", "saturating", "labels swapped",
        "leak into G", "leak into D", "optimisers swapped", "z_d twice", "z_g twice", "no updates", "losses swapped",
        "one loss returned", "nothing returned", "numpy", "fresh noise"])
def test_08_3_wrong_steps_are_named(answer, fragment):
    fails_with("08.3", answer, fragment)


def test_08_3_judge_names_the_mistake_without_the_expected_weights():
    """The hidden judge keeps the mistake's name and never prints numbers from the hidden case."""
    exercise = ch08.GAN_STEP
    case = exercise.hidden_cases(np.random.default_rng(1))[0]
    assert exercise.judge(case, exercise.probe(ch08.reference_gan_step, case)) is None
    verdict = exercise.judge(case, exercise.probe(step_simultaneous, case))
    assert verdict.startswith("the generator's gradient was computed with the discriminator from before its update")
    assert not any(ch.isdigit() for ch in verdict)


def test_08_3_simulation_matches_keras_adam_on_the_reference():
    """The independent NumPy simulation (networks, losses, Adam) agrees with Keras to float32 rounding."""
    case = ch08._step_case(seed=3, batch=12, latent_dim=4, hidden=16, lr_d=0.01, lr_g=0.02)
    outputs, failure = ch08._run_gan_step(ch08.reference_gan_step, case)
    simulated = ch08._simulate(case)
    assert not failure
    for net in ("g", "d"):
        np.testing.assert_allclose(outputs[net], simulated[net], rtol=0, atol=1e-4)
    np.testing.assert_allclose(outputs["losses"], simulated["losses"], rtol=1e-5)


# --- 08.4 make_toy_gan: a design written differently passes; the notebook trains and samples it ---------------------

def use_toy_gan(fn) -> None:
    """The notebook's cells: a short fit_with_budget on the ring, samples, mode coverage, a .keras round trip."""
    from course_utils.data import make_dataset
    from course_utils.data.mixtures import gaussian_ring
    from course_utils.evaluation.generative import mode_coverage
    from course_utils.training import fit_with_budget

    data, centres = gaussian_ring(2048, seed=0)
    gan = fn()
    fit_with_budget(gan, make_dataset(data, batch_size=256), epochs=1, progress="none")
    samples = np.asarray(gan.sample(500, seed=0))
    assert samples.shape == (500, 2) and np.all(np.isfinite(samples))
    assert mode_coverage(samples, centres, 0.05)["n_modes"] == 8


def functional_hinge_gan():
    """A learner's 08.4 in Keras' functional API, 96 units per layer, the hinge loss and a weight average."""
    noise = keras.Input((4,))
    h = keras.layers.Dense(96, activation="relu")(noise)
    h = keras.layers.Dense(96, activation="relu")(h)
    generator = keras.Model(noise, keras.layers.Dense(2)(h), name="generator")  # (batch, 2)
    point = keras.Input((2,))
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(96)(point))
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(96)(h))
    discriminator = keras.Model(point, keras.layers.Dense(1)(h), name="discriminator")  # (batch, 1) logits
    gan = GAN(generator, discriminator, loss="hinge", ema_decay=0.98)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return gan


def test_08_4_functional_hinge_design_passes_and_works_downstream():
    use_toy_gan(passes("08.4", functional_hinge_gan))


def _gan(**kwargs) -> GAN:
    gan = GAN(mlp_generator(latent_dim=2), mlp_discriminator(), **kwargs)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return gan


def _three_d_gan() -> GAN:
    gan = GAN(mlp_generator(latent_dim=2, output_dim=3), mlp_discriminator(input_dim=3))
    gan.compile()
    return gan


def _wide_gan() -> GAN:
    gan = GAN(mlp_generator(latent_dim=2, hidden_units=(256, 256)), mlp_discriminator(hidden_units=(256, 256)))
    gan.compile()
    return gan


@pytest.mark.parametrize(("answer", "fragment"), [
    (lambda: mlp_generator(latent_dim=2), "should return a course_utils.models.gan.GAN"),
    (_three_d_gan, "shape (3,)"),
    (_wide_gan, "parameters together"),
    (lambda: _gan(discriminator_steps=10), "keep it at most 5"),
    (lambda: GAN(mlp_generator(latent_dim=2), mlp_discriminator()), "not compiled"),
], ids=["generator only", "3-D samples", "too many parameters", "10 discriminator steps", "not compiled"])
def test_08_4_wrong_designs_are_caught_before_training(answer, fragment):
    fails_with("08.4", answer, fragment)


@pytest.mark.parametrize(("finite", "covered", "quality", "fragment"), [
    (False, -1, float("nan"), "diverged"),
    (True, 3, 0.9, "covers 3 of 8 modes"),
    (True, 8, 0.3, "30% of the samples"),
])
def test_08_4_fit_messages_say_what_to_try(finite, covered, quality, fragment):
    facts = {"is_gan": np.asarray(True), "sample_shape": np.asarray((2,)), "input_shape": np.asarray((2,)),
             "params": np.asarray(34_000), "discriminator_steps": np.asarray(1), "compiled": np.asarray(True),
             "finite": np.asarray(finite), "modes_covered": np.asarray(covered), "n_modes": np.asarray(8),
             "high_quality": np.asarray(quality)}
    message = ch08._toy_problem(facts, fitted=True)
    assert fragment in message
    if covered == 3:
        assert all(fix in message for fix in ("hinge", "gradient_penalty", "discriminator_steps", "ema_decay"))
    judged = ch08.MAKE_TOY_GAN.judge({"seed": 0}, facts)
    assert judged and ";" not in judged
