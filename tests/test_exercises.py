"""Every chapter's exercises: references pass, stubs are 'not attempted', wrong answers get specific messages,
garbage never raises out of ``check``, hints escalate; plus the shared judges."""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import json
import re
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

import course_utils
from course_utils.exercises import chapter_exercises, check, core, get_exercise, run_public_check
from course_utils.exercises.core import FAILED, NOT_ATTEMPTED, PASSED, is_integer, is_number
from course_utils.exercises.judges import array_judge, integer_judge, number_judge

CHAPTERS = [f"{number:02d}" for number in range(11)]
EXERCISES = [exercise for chapter in CHAPTERS for exercise in chapter_exercises(chapter)]
MANIFEST = Path(course_utils.__file__).parent / "grading" / "manifest.json"
HINT_LINE = re.compile(r"hint \d+ of \d+:")
TRAINS_A_MODEL = {"00.3", "01.3", "02.2", "04.2", "05.5", "06.5", "07.4", "08.4", "09.4", "10.3"}  # design-and-train: each hidden case is a fit


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    """Each test starts like a fresh kernel: no failed checks counted yet."""
    monkeypatch.setattr(core, "_FAILURES", {})


def by_id(test):
    """Parametrise a test over every exercise, named by id."""
    return pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)(test)


def stub(*args, **kwargs):
    """A learner's untouched exercise cell."""
    raise NotImplementedError()


def raises_value_error(*args, **kwargs):
    """Learner code that crashes."""
    raise ValueError("bad input")


# --- plausible wrong answers, one or more per exercise id, with a fragment of the expected message ----

def wrong_train_step(model, optimizer, x):
    """01.2 with the summed, not averaged, squared error."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(x - model(x)))  # a sum, not a mean
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return loss


def fixed_code_autoencoder(latent_dim=32):
    """01.3 whose code is always 20 numbers, whatever latent_dim says."""
    from course_utils.models import DenseAutoencoder

    return DenseAutoencoder(latent_dim=20, hidden_units=(64,), batch_norm=False)


def decoder_32(latent_dim):
    """02.2 that doubles from 4x4 three times and overshoots to 32x32."""
    import keras

    return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(4 * 4 * 8), keras.layers.Reshape((4, 4, 8)),
                             keras.layers.UpSampling2D(8), keras.layers.Conv2D(1, 3, padding="same",
                                                                               activation="sigmoid")])


def decoder_over_budget(latent_dim):
    """02.2 with a wide first feature map: 28x28 in [0, 1], but far over the parameter budget."""
    import keras

    return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(7 * 7 * 128), keras.layers.Reshape((7, 7, 128)),
                             keras.layers.UpSampling2D(4), keras.layers.Conv2D(1, 3, padding="same",
                                                                               activation="sigmoid")])


def autoencoder_without_bottleneck(code_size):
    """00.3 whose encoder keeps all 64 pixels, whatever code_size says."""
    import keras

    return (keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()]),
            keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="sigmoid"),
                              keras.layers.Reshape((8, 8, 1))]))


def autoencoder_with_softmax_output(code_size):
    """00.3 whose decoder ends in softmax: pixels in [0, 1], but the 64 of them share one unit of brightness."""
    import keras

    return (keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(code_size)]),
            keras.Sequential([keras.Input((code_size,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(64, activation="softmax"), keras.layers.Reshape((8, 8, 1))]))


def autoencoder_with_linear_output(code_size):
    """00.3 whose decoder has no output activation: it can draw pixels below 0 and above 1."""
    import keras

    return (keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(code_size)]),
            keras.Sequential([keras.Input((code_size,)), keras.layers.Dense(64), keras.layers.Reshape((8, 8, 1))]))


def denoiser_without_noise(sigma):
    """04.2 that never corrupts its input: a plain autoencoder trained on clean images."""
    import keras

    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(784, activation="sigmoid"), keras.layers.Reshape((28, 28, 1))])


def ct_denoiser_with_dense_layers():
    """05.5 built from Dense layers for 64 x 64 images: it cannot clean an image of any other size."""
    import keras

    return keras.Sequential([keras.Input((64, 64, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(64 * 64), keras.layers.Reshape((64, 64, 1))])


def vae_with_gaussian_decoder():
    """06.5 whose decoder is Gaussian: the binarised images' negative ELBO would not be in nats of binary pixels."""
    from course_utils.models import dense_vae

    return dense_vae(latent_dim=16, hidden_units=(256,), likelihood="gaussian")


def kl_with_flipped_sign(mean, log_var):
    """06.2 with the sign of the closed form flipped."""
    from keras import ops

    return -0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)


def negative_elbo_sigmoid_then_log(x, logits, mean, log_var, beta=1.0):
    """06.3 that takes the log of a sigmoid: log(0) once the sigmoid rounds to 0 or 1."""
    from keras import ops

    p = ops.sigmoid(logits)
    nll = -ops.sum(x * ops.log(p) + (1.0 - x) * ops.log(1.0 - p), axis=(1, 2, 3))
    kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)
    return ops.mean(nll + beta * kl)


def naive_log_mean_exp(log_w):
    """06.4 that exponentiates the log-weights as they are: overflow above about 709, underflow below -745."""
    with np.errstate(over="ignore", divide="ignore"):  # the learner sees a warning at most, then infinities
        return np.log(np.mean(np.exp(log_w), axis=-1))


def flipped_conv_transpose1d(x, kernel, stride):
    """03.3 that stamps the kernel reversed."""
    out = np.zeros((len(x) - 1) * stride + len(kernel))
    for i, value in enumerate(x):
        out[i * stride:i * stride + len(kernel)] += value * np.asarray(kernel)[::-1]
    return out


def round_without_straight_through(y):
    """07.1 that rounds and nothing else: the forward pass is right, no gradient reaches the encoder."""
    import tensorflow as tf

    return tf.round(y)


def bd_rate_swapped(rate_anchor, psnr_anchor, rate_test, psnr_test):
    """07.3 with the anchor and the test codec exchanged."""
    from course_utils.compression import bd_rate

    return bd_rate(rate_test, psnr_test, rate_anchor, psnr_anchor, method="cubic")


def plain_conv_autoencoder():
    """07.4 that returns an autoencoder with no entropy model: it has no rate to train or bytes to write."""
    from course_utils.models import ConvAutoencoder

    return ConvAutoencoder(latent_dim=16)


def js_distance(p, q):
    """08.1 that returns scipy's Jensen-Shannon distance, the square root of the divergence."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(np.ravel(p), np.ravel(q)))


def saturating_generator_loss(fake_logits):
    """08.2 that takes the minimax game literally: log(1 - sigmoid(l)), whose gradient vanishes as D(G(z)) -> 0."""
    from keras import ops

    return -ops.mean(ops.softplus(fake_logits))


def one_objective_gan_step(generator, discriminator, d_optimizer, g_optimizer, real, z_d, z_g):
    """08.3 that, like the source article's 'GAN', moves both networks with one summed loss under one tape."""
    import tensorflow as tf

    from course_utils.models.gan import discriminator_loss, generator_loss

    with tf.GradientTape(persistent=True) as tape:
        d_loss = discriminator_loss(discriminator(real), discriminator(generator(z_d)))
        g_loss = generator_loss(discriminator(generator(z_g)))
        total = d_loss + g_loss
    for optimizer, network in ((d_optimizer, discriminator), (g_optimizer, generator)):
        optimizer.apply_gradients(zip(tape.gradient(total, network.trainable_weights), network.trainable_weights))
    return d_loss, g_loss


def uncompiled_toy_gan():
    """08.4 returned before compile: no optimisers to train it with."""
    from course_utils.models.gan import GAN, mlp_discriminator, mlp_generator

    return GAN(mlp_generator(latent_dim=2), mlp_discriminator())


def biased_mmd2(x, y, bandwidth):
    """09.1 that keeps the diagonals: the biased estimate, above the unbiased one by about (1/n + 1/m)."""
    from scipy.spatial.distance import cdist

    k_xx, k_yy, k_xy = (np.exp(-cdist(a, b, "sqeuclidean") / (2 * bandwidth**2)) for a, b in ((x, x), (y, y), (x, y)))
    return float(k_xx.mean() + k_yy.mean() - 2 * k_xy.mean())


def naive_mixture_log_density(z, centres, std):
    """09.2 that takes the log of the mean of the densities: exp underflows to 0 far from every centre, log 0 = -inf."""
    z, centres = np.asarray(z, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    d = centres.shape[1]
    log_each = (-np.sum((z[:, None] - centres[None]) ** 2, -1) / (2 * std**2) - d * np.log(std)
                - d / 2 * np.log(2 * np.pi))
    with np.errstate(divide="ignore"):  # the learner sees a warning at most, then -inf
        return np.log(np.mean(np.exp(log_each), axis=1))


def one_objective_regularisation_step(encoder, discriminator, d_optimizer, g_optimizer, x, prior_codes):
    """09.3 that moves the discriminator and the encoder with one summed loss under one tape."""
    import tensorflow as tf

    from course_utils.models.gan import discriminator_loss, generator_loss

    with tf.GradientTape(persistent=True) as tape:
        codes = encoder(x)
        d_loss = discriminator_loss(discriminator(prior_codes), discriminator(codes))
        g_loss = generator_loss(discriminator(codes))
        total = d_loss + g_loss
    for optimizer, network in ((d_optimizer, discriminator), (g_optimizer, encoder)):
        optimizer.apply_gradients(zip(tape.gradient(total, network.trainable_weights), network.trainable_weights))
    return d_loss, g_loss


def aae_without_regularisation():
    """09.4 whose encoder never learns from the discriminator (g_optimizer at learning rate 0): a plain autoencoder."""
    import keras

    from course_utils.models.aae import dense_aae

    aae = dense_aae(latent_dim=2, hidden_units=(128, 64), prior="mixture")
    aae.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(0.0, beta_1=0.5))
    return aae


def step_with_replica_means(strategy, model, optimizer, global_batch_size):
    """10.2 where each replica descends the mean over its own examples: the summed update doubles on 2 replicas."""
    import tensorflow as tf

    def on_replica(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(x - model(x, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    return tf.function(lambda batch: strategy.reduce("MEAN", strategy.run(on_replica, args=(batch,)), axis=None))


def _compiled_autoencoder():
    """A compiled dense autoencoder for Fashion-MNIST: the model of a 10.3 answer."""
    import keras

    from course_utils.models import DenseAutoencoder

    model = DenseAutoencoder(latent_dim=32, hidden_units=(256,), batch_norm=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    return model


def trained_outside_the_scope(strategy, x_train, x_val):
    """10.3 that never enters strategy.scope(): the model trains on one device, with no error."""
    model = _compiled_autoencoder()
    model.fit(x_train, x_train, batch_size=256, epochs=10, verbose=0)
    return model


def trained_with_a_per_replica_batch(strategy, x_train, x_val):
    """10.3 that reads fit's batch_size as per replica: 32 images a step, 128 steps an epoch, over the budget."""
    with strategy.scope():
        model = _compiled_autoencoder()
    model.fit(x_train, x_train, batch_size=32, epochs=2, verbose=0)
    return model


WRONG = {
    "00.1": [(lambda images: (images / 255).astype(np.float32), "needs a trailing channel axis"),
             (lambda images: images[..., None] / 255.0, "networks here expect float32"),
             (lambda images: images[..., None].astype(np.float32), "must be scaled into [0, 1]")],
    "00.2": [(lambda input_shape, code_size: code_size / np.prod(input_shape), "upside down"),
             (lambda input_shape, code_size: input_shape[0] * input_shape[1] / code_size, "has 3 channels")],
    "00.3": [(autoencoder_without_bottleneck, "the code of each digit is code_size numbers"),
             (autoencoder_with_linear_output, "fall outside [0, 1]"),
             (autoencoder_with_softmax_output, "not below 0.035")],
    "01.1": [(lambda x, x_hat: float(np.sum(-(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)))), "is a sum")],
    "01.2": [(wrong_train_step, "not the mean squared error")],
    "01.3": [(fixed_code_autoencoder, "the code of each image has latent_dim numbers")],
    "01.4": [(lambda x_train, x, k: np.asarray(x), "the projection onto the top-k")],
    "02.1": [(lambda size, kernel, stride, padding: size // stride if padding == "same" else size - kernel + 1,
              "rounds up")],
    "02.2": [(decoder_32, "32x32"), (decoder_over_budget, "over the budget")],
    "02.3": [(lambda input_shape, code_shape, input_bits=8, code_bits=32: np.prod(input_shape) / np.prod(code_shape),
              "counts values, not bits")],
    "03.1": [(lambda input_size, kernel_size, stride=1, padding="valid", output_padding=None: input_size * stride,
              "not input * stride")],
    "03.2": [(lambda input_size, output_size: 2 if output_size > input_size else 0, "not to 128")],
    "03.3": [(flipped_conv_transpose1d, "reversed")],
    "03.4": [(lambda base, scale: np.repeat(base, scale * scale, axis=-1), "wrong order")],
    "04.1": [(lambda images, fraction, rng: np.where(rng.random(np.shape(images)) < fraction, 1.0, images).astype(
        np.float32), "equally likely")],
    "04.2": [(denoiser_without_noise, "fresh noise")],
    "04.3": [(lambda codes, rho: float(np.sum(rho * np.log(rho / np.mean(codes, 0))
                                              + (1 - rho) * np.log((1 - rho) / (1 - np.mean(codes, 0))))),
              "tf.function")],
    "04.4": [(lambda h, kernel: np.mean(np.sum(h * (1 - h) * np.sum(np.square(kernel), 0), 1)), "squared too")],
    "05.1": [(lambda query_codes, bank_codes, k: np.argsort(-np.linalg.norm(
        np.asarray(query_codes)[:, None] - np.asarray(bank_codes)[None], axis=-1), axis=1)[:, :k], "farthest")],
    "05.2": [(lambda scores, is_anomaly: 1.0 - np.mean(np.asarray(scores)[np.asarray(is_anomaly).astype(bool)][:, None]
                                                       > np.asarray(scores)[~np.asarray(is_anomaly).astype(bool)]),
              "1 minus")],
    "05.3": [(lambda normal_scores, fpr: float(np.quantile(normal_scores, 1 - fpr)), "more than the budget")],
    "05.4": [(lambda line_integrals, photons, rng: line_integrals + rng.normal(0, 0.1, np.shape(line_integrals)),
              "far too strong")],
    "05.5": [(ct_denoiser_with_dense_layers, "fully convolutional")],
    "06.1": [(lambda mean, log_var, eps: np.exp(0.5 * np.asarray(log_var)) * eps, "the mean is missing")],
    "06.2": [(kl_with_flipped_sign, "the sign is flipped")],
    "06.3": [(negative_elbo_sigmoid_then_log, "inf or NaN")],
    "06.4": [(naive_log_mean_exp, "overflows")],
    "06.5": [(vae_with_gaussian_decoder, "must be Bernoulli")],
    "07.1": [(round_without_straight_through, "no gradient reaches y")],
    "07.2": [(lambda symbols, pmf, offset: float(-np.sum(np.log(np.asarray(pmf)[np.asarray(symbols).ravel() - offset]))),
              "nats")],
    "07.3": [(bd_rate_swapped, "swapped")],
    "07.4": [(plain_conv_autoencoder, "should return a course_utils.models.codec.RateDistortionCodec")],
    "08.1": [(js_distance, "square root")],
    "08.2": [(saturating_generator_loss, "gradient vanishes")],
    "08.3": [(one_objective_gan_step, "one summed loss")],
    "08.4": [(uncompiled_toy_gan, "not compiled")],
    "09.1": [(biased_mmd2, "biased estimate")],
    "09.2": [(naive_mixture_log_density, "-inf or NaN")],
    "09.3": [(one_objective_regularisation_step, "one summed loss")],
    "09.4": [(aae_without_regularisation, "far from the prior")],
    "10.1": [(lambda per_example_loss, global_batch_size: sum(per_example_loss) / len(per_example_loss),
              "the mean over this replica's own examples")],
    "10.2": [(step_with_replica_means, "twice the one-device update")],
    "10.3": [(trained_outside_the_scope, "inside `with strategy.scope():`"),
             (trained_with_a_per_replica_batch, "over the budget")],
    "10.4": [(lambda addresses, index: {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}},
              "json.dumps"),
             (lambda addresses, index: json.dumps({"cluster": {"worker": [addresses[index]]},
                                                   "task": {"type": "worker", "index": index}}), "every worker's")],
}
WRONG_CASES = [(exercise_id, fn, fragment) for exercise_id, answers in WRONG.items() for fn, fragment in answers]

GARBAGE = {
    "returns None": lambda *args, **kwargs: None,
    "returns a string": lambda *args, **kwargs: "text",
    "returns a wrong-shape array": lambda *args, **kwargs: np.zeros((2, 3, 4)),
    "raises ValueError": raises_value_error,
    "an int": 42,
    "a string": "not a function",
}


# --- the spec list itself ---------------------------------------------------------------------

def test_exercises_are_found_in_every_chapter_with_unique_consecutive_ids():
    assert {e.chapter for e in EXERCISES} >= {"00", "01", "02", "03"}
    for chapter in {e.chapter for e in EXERCISES}:
        ids = [e.id for e in chapter_exercises(chapter)]
        assert ids == [f"{chapter}.{n}" for n in range(1, len(ids) + 1)]
        assert len(ids) >= (2 if chapter == "00" else 3)
    assert len({e.name for e in EXERCISES}) == len(EXERCISES)


def test_specs_match_the_released_manifest():
    """Ids, names, titles and points are what the released notebooks and manifest were built with."""
    released = {e["id"]: e for nb in json.loads(MANIFEST.read_text())["notebooks"].values() for e in nb["exercises"]}
    assert {e.id: (e.name, e.title, e.points) for e in EXERCISES} == {
        i: (e["name"], e["title"], e["points"]) for i, e in released.items()}


@pytest.mark.parametrize("chapter", sorted({e.chapter for e in EXERCISES}))
def test_chapter_module_loads_on_its_own_by_file_path(chapter):
    """The grader's hidden cell loads chNN.py fresh by path in the learner's kernel and reads EXERCISES."""
    path = Path(course_utils.__file__).parent / "exercises" / f"ch{chapter}.py"
    spec = importlib.util.spec_from_file_location(f"_fresh_ch{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [(e.id, e.name) for e in module.EXERCISES] == [(e.id, e.name) for e in chapter_exercises(chapter)]


def test_every_exercise_has_a_known_wrong_answer():
    assert sorted(WRONG) == sorted(e.id for e in EXERCISES), "add a plausible wrong answer to WRONG for each id"


# --- (a) the reference passes the public check and every hidden case ------------------------------

@by_id
def test_reference_passes_public_check_and_hidden_cases(exercise, capsys):
    reference = exercise.reference()
    assert check(exercise.id, {exercise.name: reference}) is reference
    assert f"[{exercise.id}] PASSED" in capsys.readouterr().out
    for seed in () if exercise.id in TRAINS_A_MODEL else (0, 7):  # a fit each: the grader's real-chapter test runs them
        for case in exercise.hidden_cases(np.random.default_rng(seed)):
            assert exercise.judge(case, exercise.probe(reference, case)) is None, case


@by_id
def test_hidden_cases_are_deterministic_for_a_seed(exercise):
    first, second = (repr(exercise.hidden_cases(np.random.default_rng(5))) for _ in range(2))
    assert first == second


# --- (b) stubs and missing names are 'not attempted' ----------------------------------------------

@by_id
def test_stub_and_missing_name_are_not_attempted(exercise, capsys):
    assert run_public_check(exercise, stub).status == NOT_ATTEMPTED
    assert check(exercise.id, {exercise.name: stub}) is exercise.reference()
    assert "still raises NotImplementedError" in capsys.readouterr().out
    assert check(exercise.id, {}) is exercise.reference()
    out = capsys.readouterr().out
    assert f"[{exercise.id}] NOT ATTEMPTED: `{exercise.name}` is not defined yet." in out
    assert not HINT_LINE.search(out)
    assert core._FAILURES == {}


# --- (c) a known wrong answer gets its specific message, and the hidden judge rejects it too -------

@pytest.mark.parametrize(("exercise_id", "wrong", "fragment"), WRONG_CASES, ids=[c[0] for c in WRONG_CASES])
def test_wrong_answer_gets_its_specific_message(exercise_id, wrong, fragment, capsys):
    exercise = get_exercise(exercise_id)
    assert check(exercise_id, {exercise.name: wrong}) is exercise.reference()
    out = capsys.readouterr().out
    assert f"[{exercise_id}] NOT YET: " in out and fragment in out
    assert f"hint 1 of {len(exercise.hints)}: {exercise.hints[0]}" in out and exercise.hints[1] not in out
    cases = exercise.hidden_cases(np.random.default_rng(3))
    assert any(exercise.judge(case, exercise.probe(wrong, case)) is not None for case in cases)


def test_messages_never_reveal_expected_values():
    """Failure messages for the size exercises must not print the numbers they expect."""
    for exercise_id, wrong, secret in [("03.1", lambda *a, **k: 0, "11"), ("03.2", lambda *a, **k: 7, " 1 ")]:
        result = run_public_check(get_exercise(exercise_id), wrong)
        assert result.status == FAILED and secret not in result.message


# --- (d) garbage never raises out of check ------------------------------------------------------

@by_id
@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_never_raises_and_falls_back_to_the_reference(exercise, garbage, capsys):
    assert check(exercise.id, {exercise.name: GARBAGE[garbage]}) is exercise.reference()
    out = capsys.readouterr().out
    assert f"[{exercise.id}] NOT YET: " in out
    assert f"uses the reference `{exercise.name}`" in out


def test_check_accepts_the_object_itself_and_survives_an_unknown_id(capsys):
    reference = get_exercise("00.2").reference()
    assert check("00.2", reference) is reference
    check("09.9", {})
    assert "[09.9] cannot be checked" in capsys.readouterr().out


# --- (e) hints escalate: the concept first, never code on the first failure ----------------------

CODE_SYNTAX = re.compile(r"[A-Za-z_]\w*\(|\b[A-Za-z_]\w+\.[A-Za-z_]\w+|`|//|\*\*|==|\+=")


def library_names(reference) -> set[str]:
    """What the reference's source calls from libraries: the last attribute of each dotted name that starts at a
    module (``np.linalg.svd`` -> ``svd``) and each name imported with ``from ... import``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(reference)))
    module = vars(inspect.getmodule(reference))
    roots = {name for name, value in module.items() if isinstance(value, types.ModuleType)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in roots:
                names.add(node.attr)
    return names


@by_id
def test_every_exercise_has_escalating_hint_levels(exercise):
    assert len(exercise.hints) >= 2, "give hints=(concept, pointer[, named function or formula])"
    assert len(set(exercise.hints)) == len(exercise.hints) and exercise.hint == exercise.hints[0]


@by_id
def test_first_hint_level_contains_no_code(exercise):
    """Level 1 is the concept, never code: no call syntax ``name(``, no dotted name such as ``np.prod``, no
    backticks or code operators (``//``, ``**``, ``==``, ``+=``), and none of the library functions or classes the
    reference's source uses (see ``library_names``) as a whole word."""
    first = exercise.hints[0]
    assert not CODE_SYNTAX.search(first), CODE_SYNTAX.search(first)
    named = sorted(name for name in library_names(exercise.reference()) if re.search(rf"\b{re.escape(name)}\b", first))
    assert not named, f"level 1 names what the reference calls: {named}"


def test_the_no_code_rule_catches_code():
    for code in ("divide by np.float32 values", "use prod(shape)", "x // 2", "`axis=-1`", "loss == 0"):
        assert CODE_SYNTAX.search(code), code
    for prose in ("count the values (every pixel), then divide; e.g. 784 / 32", "x' in [0, 1]", "2 x stride"):
        assert not CODE_SYNTAX.search(prose), prose
    assert {"svd", "asarray", "float64"} <= library_names(get_exercise("01.4").reference())
    assert {"dense_encoder", "dense_decoder"} <= library_names(get_exercise("00.3").reference())


def test_hints_escalate_with_each_failure_and_the_last_level_repeats(capsys):
    exercise = get_exercise("00.2")
    wrong = {exercise.name: lambda input_shape, code_size: 1.0}
    for failure in range(1, len(exercise.hints) + 3):
        check(exercise.id, wrong)
        out = capsys.readouterr().out
        level = min(failure, len(exercise.hints))
        assert f"hint {level} of {len(exercise.hints)}: {exercise.hints[level - 1]}" in out
        assert [text for text in exercise.hints if text in out] == [exercise.hints[level - 1]], out


def test_not_attempted_does_not_count_a_pass_does_not_reset_and_exercises_count_apart(capsys):
    exercise, other = get_exercise("00.2"), get_exercise("00.1")
    wrong = lambda input_shape, code_size: 1.0
    for candidate in (wrong, stub, None, exercise.reference(), wrong):
        check(exercise.id, {} if candidate is None else {exercise.name: candidate})
    check(other.id, {other.name: lambda images: images})
    levels = HINT_LINE.findall(capsys.readouterr().out)
    assert levels == [f"hint 1 of {len(exercise.hints)}:", f"hint 2 of {len(exercise.hints)}:",
                      f"hint 1 of {len(other.hints)}:"]
    assert core._FAILURES == {"00.2": 2, "00.1": 1}


def test_hint_is_the_one_level_shorthand_and_must_agree_with_hints():
    base = get_exercise("00.2")
    one = dataclasses.replace(base, hint="think in bits", hints=())
    assert one.hints == ("think in bits",) and one.hint_line(1) == "hint 1 of 1: think in bits" == one.hint_line(4)
    two = dataclasses.replace(base, hint="", hints=["concept", "pointer"])
    assert two.hints == ("concept", "pointer") and two.hint == "concept"
    assert two.hint_line(2) == "hint 2 of 2: pointer" == two.hint_line(3)
    assert dataclasses.replace(base, hint="concept", hints=("concept", "pointer")).hints == ("concept", "pointer")
    assert dataclasses.replace(base, hint="", hints=()).hint_line(1) == ""
    for hint, hints, message in [("other", ("concept", "pointer"), "disagree"), ("", "concept", "tuple of non-empty"),
                                 ("", ("concept", " "), "tuple of non-empty"), ("", None, "tuple of non-empty")]:
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(base, hint=hint, hints=hints)
    with pytest.raises(ValueError, match="counts from 1"):
        base.hint_line(0)


def subclassed_autoencoder(code_size):
    """00.3 written as two keras.Model subclasses, built on their first call."""
    import keras

    class Encoder(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten, self.code = keras.layers.Flatten(), keras.layers.Dense(code_size)
            self.hidden = keras.layers.Dense(24, activation="relu")

        def call(self, x):
            return self.code(self.hidden(self.flatten(x)))  # (batch, code_size)

    class Decoder(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(24, activation="relu")
            self.pixels = keras.layers.Dense(64, activation="sigmoid")

        def call(self, z):
            return keras.ops.reshape(self.pixels(self.hidden(z)), (-1, 8, 8, 1))  # (batch, 8, 8, 1)

    return Encoder(), Decoder()


def sequential_autoencoder_without_input(code_size):
    """00.3 as two keras.Sequential models without an Input, built on their first call."""
    import keras

    return (keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(code_size)]),
            keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(64, activation="sigmoid"),
                              keras.layers.Reshape((8, 8, 1))]))


@pytest.mark.parametrize("answer", [subclassed_autoencoder, sequential_autoencoder_without_input],
                         ids=lambda answer: answer.__name__)
def test_build_autoencoder_accepts_models_built_on_first_call(answer):
    """00.3 written other ways than the reference's Sequential models with an Input passes too."""
    result = run_public_check(get_exercise("00.3"), answer)
    assert result.status == PASSED, result.message


# --- the shared judges and value tests ----------------------------------------------------------

def test_is_integer_and_is_number():
    assert is_integer(3) and is_integer(np.int64(3)) and not is_integer(True) and not is_integer(3.0)
    assert is_number(3) and is_number(np.float32(1.5)) and not is_number(np.True_) and not is_number("3")
    assert not is_number(np.array(1.0))


def test_integer_judge():
    judge = integer_judge(lambda a, b: a + b, "wrong sum")
    case = {"a": 2, "b": 3}
    assert judge(case, {"output": np.array(5)}) is None
    assert judge(case, {"output": np.array(5, dtype=np.uint8)}) is None
    assert judge(case, {"output": np.array(6)}) == "wrong sum"
    assert judge(case, {"output": np.array(5.0)}) == "returned shape () and dtype float64, not an integer"
    assert judge(case, {"output": np.array(True)}) == "returned shape () and dtype bool, not an integer"
    assert judge(case, {"output": np.array([5])}) == "returned shape (1,) and dtype int64, not an integer"


def test_number_judge():
    judge = number_judge(lambda a: a / 3, "wrong ratio", rtol=1e-6)
    assert judge({"a": 1.0}, {"output": np.array(1 / 3)}) is None
    assert judge({"a": 3.0}, {"output": np.array(1)}) is None
    assert judge({"a": 1.0}, {"output": np.array(0.3334)}) == "wrong ratio"
    for bad in (np.array("0.333"), np.array(True), np.array(1 / 3 + 0j), np.array(None), np.zeros(3)):
        assert judge({"a": 1.0}, {"output": bad}).endswith("not a number")


def test_array_judge():
    judge = array_judge(lambda x: x * 2, "wrong values", atol=1e-6, dtype=np.float32,
                        shape_reason="shape {shape} for input {x.shape}")
    case = {"x": np.ones((2, 3))}
    assert judge(case, {"output": np.full((2, 3), 2.0, dtype=np.float32)}) is None
    assert judge(case, {"output": np.full((3, 2), 2.0, dtype=np.float32)}) == "shape (3, 2) for input (2, 3)"
    assert judge(case, {"output": np.full((2, 3), 2.0)}) == "dtype float64"
    assert judge(case, {"output": np.ones((2, 3), dtype=np.float32)}) == "wrong values"
    assert array_judge(lambda x: x, "wrong", atol=0.1)(case, {"output": np.zeros(4)}) == "shape (4,)"


def test_chapter_judges_reject_bad_types():
    size, icnr = get_exercise("03.1"), get_exercise("03.4")
    case = size.hidden_cases(np.random.default_rng(0))[0]
    assert size.judge(case, {"output": np.array(1.5)}) is not None
    assert icnr.judge(icnr.hidden_cases(np.random.default_rng(0))[0], {"output": np.zeros(3)}) is not None
    images = get_exercise("00.1").hidden_cases(np.random.default_rng(0))[1]["images"]
    assert get_exercise("00.1").judge({"images": images}, {"output": images}) == "shape (2, 5, 7) for input (2, 5, 7)"


# --- chapter 10: the checks run the learner's code on two replicas --------------------------------

def test_chapter_10_checks_say_how_to_get_two_devices(monkeypatch, capsys):
    from course_utils.exercises import ch10

    monkeypatch.setattr(ch10, "_mirrored_or_none", lambda: None)  # a kernel whose CPU was never split
    for exercise_id in ("10.2", "10.3"):
        exercise = get_exercise(exercise_id)
        check(exercise_id, {exercise.name: exercise.reference()})
        out = capsys.readouterr().out
        assert f"[{exercise_id}] NOT YET: " in out and "split_cpu(2)" in out and "restart the kernel" in out


def test_chapter_10_check_runs_beside_the_notebooks_own_mirrored_strategy(capsys):
    """The notebook's MirroredStrategy keeps working after the 10.2 check ran another one in the same process
    (two strategies with collective all-reduces abort with 'Shape mismatch in the collective instance')."""
    import keras
    import tensorflow as tf

    from course_utils.exercises import ch10
    from course_utils.models import DenseAutoencoder

    devices = [device.name for device in tf.config.list_logical_devices("CPU")][:2]
    notebooks = tf.distribute.MirroredStrategy(devices)
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)

    check("10.2", {"make_distributed_step": ch10.reference_make_distributed_step})
    assert "[10.2] PASSED" in capsys.readouterr().out
    with notebooks.scope():  # a model of another size than the check's: other shapes in the all-reduce
        model = DenseAutoencoder(latent_dim=8, hidden_units=(64,), batch_norm=False)
        model(x[:1])
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)
    step = ch10.reference_make_distributed_step(notebooks, model, optimizer, 8)
    batches = notebooks.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(8))
    assert np.isfinite(float(step(next(iter(batches)))))
