"""Helpers shared by the downstream exercise tests: a candidate passes its public check, or fails it with a reason."""
from __future__ import annotations

from course_utils.exercises import check, get_exercise, run_public_check
from course_utils.exercises.core import FAILED, PASSED


def passes(exercise_id: str, candidate) -> object:
    """Assert the public check passes and return what ``check`` hands to the rest of the notebook (the candidate)."""
    result = run_public_check(get_exercise(exercise_id), candidate)
    assert result.status == PASSED, result.message
    returned = check(exercise_id, candidate)
    assert returned is candidate
    return returned


def fails_with(exercise_id: str, candidate, fragment: str) -> None:
    """Assert the public check fails with a message that contains ``fragment``."""
    result = run_public_check(get_exercise(exercise_id), candidate)
    assert result.status == FAILED and fragment in result.message, result.message
