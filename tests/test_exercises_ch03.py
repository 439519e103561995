"""Chapter 03 exercises: references pass, wrong answers get specific feedback, stubs are 'not attempted'."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.exercises import chapter_exercises, check, get_exercise, run_public_check
from course_utils.exercises.core import FAILED, NOT_ATTEMPTED, PASSED

EXERCISES = chapter_exercises("03")


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _wrong_size(input_size, kernel_size, stride=1, padding="valid", output_padding=None):
    return input_size * stride


def _flipped_1d(x, kernel, stride):
    out = np.zeros((len(x) - 1) * stride + len(kernel))
    for i, value in enumerate(x):
        out[i * stride:i * stride + len(kernel)] += value * np.asarray(kernel)[::-1]
    return out


WRONG = {
    "03.1": (_wrong_size, "not input * stride"),
    "03.2": (_flipped_1d, "reversed"),
    "03.3": (lambda mse, max_val=1.0: 20 * np.log10(max_val ** 2 / mse), "10 (not 20)"),
    "03.4": (lambda input_size, output_size: 2 if output_size > input_size else 0, "not to 128"),
}


def test_chapter_has_at_least_three_exercises():
    assert [e.id for e in EXERCISES] == ["03.1", "03.2", "03.3", "03.4"]
    assert sum(e.points for e in EXERCISES) == 7


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_reference_passes_public_check_and_judge(exercise):
    reference = exercise.reference()
    assert run_public_check(exercise, reference).status == PASSED
    for case in exercise.hidden_cases(np.random.default_rng(7)):
        assert exercise.judge(case, exercise.probe(reference, case)) is None, case


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_wrong_answer_fails_with_specific_message(exercise):
    wrong, fragment = WRONG[exercise.id]
    result = run_public_check(exercise, wrong)
    assert result.status == FAILED and fragment in result.message
    cases = exercise.hidden_cases(np.random.default_rng(3))
    assert any(exercise.judge(case, exercise.probe(wrong, case)) is not None for case in cases)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_stub_and_missing_are_not_attempted(exercise):
    assert run_public_check(exercise, _stub).status == NOT_ATTEMPTED
    assert run_public_check(exercise, None).status == NOT_ATTEMPTED


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_check_never_raises_and_falls_back_to_reference(exercise, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")

    for candidate in (broken, "not a function", 42):
        returned = check(exercise.id, {exercise.name: candidate})
        assert callable(returned) and returned is not candidate
    assert "NOT YET" in capsys.readouterr().out


def test_messages_never_reveal_expected_values():
    """Failure messages for the size and PSNR exercises must not print the numbers they expect."""
    for exercise_id, wrong, secret in [("03.1", lambda *a, **k: 0, "11"), ("03.3", lambda *a, **k: 0.0, "20.0"),
                                       ("03.4", lambda *a, **k: 7, " 1 ")]:
        message = run_public_check(get_exercise(exercise_id), wrong).message
        assert secret not in message


def test_judges_reject_bad_types():
    size, psnr = get_exercise("03.1"), get_exercise("03.3")
    case = size.hidden_cases(np.random.default_rng(0))[0]
    assert size.judge(case, {"output": np.array(1.5)}) is not None
    assert psnr.judge({"mse": 0.1, "max_val": 1.0}, {"output": np.zeros(3)}) is not None
