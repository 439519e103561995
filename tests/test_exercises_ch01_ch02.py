"""Chapters 01-02 exercises: references pass, wrong answers get specific messages, stubs are 'not attempted'."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.exercises import chapter_exercises, get_exercise, run_public_check
from course_utils.exercises.core import FAILED, NOT_ATTEMPTED, PASSED

ALL = [ex for ch in ("01", "02") for ex in chapter_exercises(ch)]


def test_at_least_three_per_chapter():
    assert len(chapter_exercises("01")) >= 3 and len(chapter_exercises("02")) >= 3
    assert len({ex.id for ex in ALL}) == len(ALL)


@pytest.mark.parametrize("ex", ALL, ids=lambda e: e.id)
def test_reference_passes_public_and_hidden(ex):
    assert run_public_check(ex, ex.reference()).status == PASSED
    for case in ex.hidden_cases(np.random.default_rng(0)):
        assert ex.judge(case, ex.probe(ex.reference(), case)) is None


@pytest.mark.parametrize("ex", ALL, ids=lambda e: e.id)
def test_stub_is_not_attempted(ex):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    assert run_public_check(ex, stub).status == NOT_ATTEMPTED
    assert run_public_check(ex, None).status == NOT_ATTEMPTED


def _wrong_train_step(model, optimizer, x):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(x - model(x)))  # a sum, not a mean
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return loss


def _decoder_32(latent_dim):
    import keras

    return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(4 * 4 * 8), keras.layers.Reshape((4, 4, 8)),
                             keras.layers.UpSampling2D(8), keras.layers.Conv2D(1, 3, padding="same",
                                                                               activation="sigmoid")])


WRONG = {
    "01.1": (lambda x, W, b: 1 / (1 + np.exp(-(x @ W))) + b, "bias is added after the activation"),
    "01.2": (lambda x, x_hat: float(np.sum(-(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)))), "is a sum"),
    "01.3": (_wrong_train_step, "not the mean squared error"),
    "01.4": (lambda x_train, x, k: np.asarray(x), "the projection onto the top-k"),
    "02.1": (lambda size, kernel, stride, padding: size // stride if padding == "same" else size - kernel + 1,
             "rounds up"),
    "02.2": (lambda kernel_size, in_channels, out_channels, use_bias=True: kernel_size ** 2 * in_channels * out_channels,
             "biases are missing"),
    "02.3": (_decoder_32, "32x32"),
    "02.4": (lambda input_shape, code_shape, input_bits=8, code_bits=32: np.prod(input_shape) / np.prod(code_shape),
             "counts values, not bits"),
}


@pytest.mark.parametrize("ex_id", sorted(WRONG))
def test_wrong_answer_gets_specific_message(ex_id):
    ex = get_exercise(ex_id)
    fn, fragment = WRONG[ex_id]
    result = run_public_check(ex, fn)
    assert result.status == FAILED
    assert fragment in result.message


@pytest.mark.parametrize("ex", ALL, ids=lambda e: e.id)
def test_check_never_raises_on_garbage(ex):
    for junk in (42, "text", lambda *a, **k: None, lambda *a, **k: 1 / 0):
        assert run_public_check(ex, junk).status in (FAILED, NOT_ATTEMPTED)


def test_hidden_judge_rejects_wrong():
    ex = get_exercise("02.1")
    wrong = WRONG["02.1"][0]
    cases = ex.hidden_cases(np.random.default_rng(3))
    assert any(ex.judge(c, ex.probe(wrong, c)) is not None for c in cases)
