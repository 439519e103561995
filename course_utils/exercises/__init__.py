"""Exercises: specs per chapter (``chNN`` modules), shared judges and the notebook check runner.

Release and grading use these specs; they live in ``course_utils.grading``.
"""
from course_utils.exercises.core import (
    CheckFailed,
    Exercise,
    chapter_exercises,
    check,
    expect,
    get_exercise,
    run_public_check,
)

__all__ = ["CheckFailed", "Exercise", "chapter_exercises", "check", "expect", "get_exercise", "run_public_check"]
