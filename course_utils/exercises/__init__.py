"""Exercises: specs per chapter (``chNN`` modules), notebook checks, release and grading."""
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
