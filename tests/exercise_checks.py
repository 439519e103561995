"""Helpers shared by the downstream exercise tests: a candidate passes its public check, or fails it with a reason."""
from __future__ import annotations

import contextlib
import io

from course_utils.exercises import check, get_exercise, run_public_check
from course_utils.exercises.core import FAILED


def passes(exercise_id: str, candidate) -> object:
    """Assert that ``check`` passes the candidate and hands it (not the reference) to the rest of the notebook.

    ``check`` runs the public check once and prints its verdict; the printed PASSED is that check's status, so the
    public check (which may train a model) is not run a second time.
    """
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        returned = check(exercise_id, candidate)
    assert f"[{exercise_id}] PASSED" in printed.getvalue(), printed.getvalue()
    assert returned is candidate
    return returned


def fails_with(exercise_id: str, candidate, fragment: str) -> None:
    """Assert the public check fails with a message that contains ``fragment``."""
    result = run_public_check(get_exercise(exercise_id), candidate)
    assert result.status == FAILED and fragment in result.message, result.message
