"""Exercise specs and the notebook check runner: specific feedback, never raises for learners, reference fallback.

Under nbgrader (``NBGRADER_EXECUTION`` set by its autograder and validator) a check that does not pass
raises an AssertionError instead, so nbgrader scores the check cell zero, as the course's own grader would.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ID_PATTERN = re.compile(r"^(\d{2})\.(\d+)$")

NOT_ATTEMPTED = "not attempted"
PASSED = "passed"
FAILED = "failed"

NBGRADER_EXECUTION = "NBGRADER_EXECUTION"  # set by nbgrader's autograder ('autograde') and validator ('validate')

_FAILURES: dict[str, int] = {}  # failed checks per exercise id in this kernel; only a kernel restart resets it


class CheckFailed(Exception):
    """A public check found a specific problem; the message is shown to the learner."""


def expect(condition: bool, message: str) -> None:
    """Raise ``CheckFailed(message)`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def is_integer(value: Any) -> bool:
    """True for a Python or NumPy integer, False for a bool or anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a Python or NumPy integer or float, False for a bool or anything else."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def imported(module: str, name: str) -> Callable[[], Any]:
    """A reference loader for ``module.name`` that imports it only when called, keeping chapter modules light."""
    def load() -> Any:
        return getattr(importlib.import_module(module), name)

    return load


def call_probe(candidate: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Kernel-side default probe: call the candidate on one hidden case, return its output as an array."""
    return {"output": np.asarray(candidate(**case))}


def _hint_levels(exercise_id: str, hint: str, hints: Any) -> tuple[str, ...]:
    """The hint levels of an exercise from ``hints`` (concept first) or the one-level shorthand ``hint``."""
    if not isinstance(hints, (tuple, list)) or not all(isinstance(level, str) and level.strip() for level in hints):
        raise ValueError(f"exercise {exercise_id}: hints must be a tuple of non-empty strings, one per level "
                         f"(concept first), got {hints!r}; for a single level pass hint='...' instead")
    hints = tuple(hints)
    if hints and hint and hint != hints[0]:
        raise ValueError(f"exercise {exercise_id}: hint and hints disagree (hint must be hints[0] when both are "
                         "given); pass only hints=(...)")
    return hints or ((hint,) if hint else ())


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: what the learner defines, how it is checked in the notebook and by the grader.

    ``hints`` are escalating levels, the concept first and never code on the first; ``hint`` is the
    one-level shorthand, and after construction always holds the first level (the grader's feedback shows it).
    """

    id: str
    name: str
    title: str
    points: int
    reference: Callable[[], Any]
    public: Callable[[Any], None]
    hidden_cases: Callable[[np.random.Generator], list[dict[str, Any]]]
    judge: Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], str | None]
    probe: Callable[[Any, Mapping[str, Any]], dict[str, np.ndarray]] = call_probe
    hint: str = ""
    hints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"exercise id {self.id!r} must look like '01.2' (chapter.number)")
        if self.points <= 0:
            raise ValueError(f"exercise {self.id} must be worth at least one point")
        hints = _hint_levels(self.id, self.hint, self.hints)
        object.__setattr__(self, "hints", hints)
        object.__setattr__(self, "hint", hints[0] if hints else "")

    def hint_line(self, failure: int) -> str:
        """The hint for the ``failure``-th failed check (from 1), labelled 'hint k of n'; the last level repeats."""
        if failure < 1:
            raise ValueError(f"failure counts from 1 (the first failed check), got {failure}")
        if not self.hints:
            return ""
        level = min(failure, len(self.hints))
        return f"hint {level} of {len(self.hints)}: {self.hints[level - 1]}"

    @property
    def chapter(self) -> str:
        """Two-digit chapter number, e.g. '01'."""
        return self.id.split(".")[0]


@dataclass
class CheckResult:
    """Outcome of one public check, as shown in the notebook."""

    exercise: str
    status: str
    message: str
    points: int
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        mark = {PASSED: "PASSED", FAILED: "NOT YET", NOT_ATTEMPTED: "NOT ATTEMPTED"}[self.status]
        return f"[{self.exercise}] {mark}: {self.message}"


def chapter_exercises(chapter: str) -> list[Exercise]:
    """All exercises of a chapter ('00', '01', ...), in order, from ``course_utils.exercises.chNN``."""
    if not re.fullmatch(r"\d{2}", chapter):
        raise ValueError(f"chapter must be two digits like '01', got {chapter!r}")
    try:
        module = importlib.import_module(f"course_utils.exercises.ch{chapter}")
    except ModuleNotFoundError:
        return []
    return list(module.EXERCISES)


def get_exercise(exercise_id: str) -> Exercise:
    """Look up one exercise by id, with a clear error for an unknown id."""
    match = ID_PATTERN.match(str(exercise_id))
    if not match:
        raise KeyError(f"{exercise_id!r} is not an exercise id; ids look like '01.2'")
    for exercise in chapter_exercises(match.group(1)):
        if exercise.id == exercise_id:
            return exercise
    raise KeyError(f"no exercise {exercise_id!r} in chapter {match.group(1)}")


def run_public_check(exercise: Exercise, candidate: Any) -> CheckResult:
    """Run the public check on a candidate; classify as passed, failed or not attempted. Never raises."""
    if candidate is None:
        return CheckResult(exercise.id, NOT_ATTEMPTED, f"`{exercise.name}` is not defined yet.", exercise.points)
    try:
        exercise.public(candidate)
    except NotImplementedError:
        return CheckResult(exercise.id, NOT_ATTEMPTED, f"`{exercise.name}` still raises NotImplementedError.",
                           exercise.points)
    except CheckFailed as failure:
        return CheckResult(exercise.id, FAILED, str(failure), exercise.points)
    except Exception as error:  # noqa: BLE001 - the learner's code raised: report where, never re-raise
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f" (line {frame.lineno} of {frame.name})" if frame else ""
        return CheckResult(exercise.id, FAILED,
                           f"calling `{exercise.name}` raised {type(error).__name__}: {error}{where}", exercise.points)
    return CheckResult(exercise.id, PASSED, f"`{exercise.name}` passed the public checks.", exercise.points)


def graded_by_nbgrader() -> bool:
    """True while nbgrader's autograder or validator runs the notebook (``NBGRADER_EXECUTION`` is set)."""
    return bool(os.environ.get(NBGRADER_EXECUTION))


def _fail_for_nbgrader(message: str, exercise: Exercise | None, namespace: Mapping[str, Any] | Any) -> None:
    """Under nbgrader, put the reference in the namespace (later cells still run on it) and raise AssertionError."""
    if not graded_by_nbgrader():
        return
    if exercise is not None and isinstance(namespace, dict):
        with contextlib.suppress(Exception):  # a broken reference must not hide the learner's verdict
            namespace[exercise.name] = exercise.reference()
    raise AssertionError(f"{message} ({NBGRADER_EXECUTION} is set: nbgrader scores this check cell 0 points)")


def check(exercise_id: str, namespace: Mapping[str, Any] | Any) -> Any:
    """Check the learner's object in a notebook; print feedback and return it if it passed, else the reference.

    ``namespace`` is normally ``globals()``; passing the object itself works too. Each failed check of an
    exercise shows the next hint level; 'not attempted' shows none and does not count. Under nbgrader a check
    that does not pass raises AssertionError after putting the reference into ``namespace``.
    """
    try:
        exercise = get_exercise(exercise_id)
    except Exception as error:  # noqa: BLE001 - a bad id must not stop the notebook
        print(f"[{exercise_id}] cannot be checked: {error}")
        _fail_for_nbgrader(f"[{exercise_id}] cannot be checked: {error}", None, namespace)
        return namespace.get(exercise_id) if isinstance(namespace, Mapping) else namespace
    candidate = namespace.get(exercise.name) if isinstance(namespace, Mapping) else namespace
    result = run_public_check(exercise, candidate)
    print(result)
    if result.status == PASSED:
        return candidate
    _fail_for_nbgrader(str(result), exercise, namespace)
    if result.status == FAILED:
        _FAILURES[exercise.id] = _FAILURES.get(exercise.id, 0) + 1
        if exercise.hints:
            print(f"    {exercise.hint_line(_FAILURES[exercise.id])}")
    try:
        reference = exercise.reference()
    except Exception as error:  # noqa: BLE001 - a broken install must not stop the notebook either
        print(f"    The reference `{exercise.name}` could not be loaded ({type(error).__name__}: {error}); "
              f"reinstall course_utils. Your own `{exercise.name}` stays in place.")
        return candidate
    print(f"    The rest of the notebook uses the reference `{exercise.name}` from course_utils.")
    return reference
