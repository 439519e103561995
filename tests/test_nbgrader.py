"""The course inside an nbgrader classroom: check cells raise under nbgrader, and a chapter's round trip.

The round trip runs nbgrader (a test-only dependency, pinned in ``tests/nbgrader-requirements.txt``) from its
own virtual environment, so it never touches the course's pinned ``.venv``; the notebooks still run in the
course's kernel.
"""
from __future__ import annotations

import pytest

from course_utils.exercises import core
from course_utils.exercises.core import check, get_exercise


def _wrong_ratio(input_shape, code_size):
    """A plausible wrong answer to 00.2."""
    return 1.0


@pytest.fixture
def learner(monkeypatch):
    """A learner's kernel: NBGRADER_EXECUTION unset, no failures counted yet."""
    monkeypatch.delenv(core.NBGRADER_EXECUTION, raising=False)
    monkeypatch.setattr(core, "_FAILURES", {})


@pytest.fixture(params=["autograde", "validate"])
def nbgrader_kernel(request, monkeypatch):
    """A kernel run by nbgrader's autograder or validator, which set NBGRADER_EXECUTION to these values."""
    monkeypatch.setenv(core.NBGRADER_EXECUTION, request.param)
    monkeypatch.setattr(core, "_FAILURES", {})


def test_for_learners_a_failed_check_prints_and_falls_back_to_the_reference(learner, capsys):
    exercise = get_exercise("00.2")
    namespace = {exercise.name: _wrong_ratio}
    assert check("00.2", namespace) is exercise.reference()
    assert "[00.2] NOT YET" in capsys.readouterr().out and namespace[exercise.name] is _wrong_ratio
    assert check("00.2", {}) is exercise.reference()
    assert not core.graded_by_nbgrader()


def test_an_empty_variable_is_not_nbgrader(learner, monkeypatch):
    monkeypatch.setenv(core.NBGRADER_EXECUTION, "")
    assert check("00.2", {"compression_ratio": _wrong_ratio}) is get_exercise("00.2").reference()


def test_under_nbgrader_a_failed_check_raises_and_leaves_the_reference(nbgrader_kernel, capsys):
    exercise = get_exercise("00.2")
    namespace = {exercise.name: _wrong_ratio}
    with pytest.raises(AssertionError, match=r"^\[00\.2\] NOT YET: .*NBGRADER_EXECUTION is set: nbgrader scores "
                                             r"this check cell 0 points"):
        check("00.2", namespace)
    assert "[00.2] NOT YET" in capsys.readouterr().out
    assert namespace[exercise.name] is exercise.reference()  # later cells run on the reference, as for learners


def test_under_nbgrader_a_missing_name_is_not_attempted_and_raises(nbgrader_kernel):
    with pytest.raises(AssertionError, match=r"^\[00\.2\] NOT ATTEMPTED: `compression_ratio` is not defined yet"):
        check("00.2", {})


def test_under_nbgrader_a_stub_is_not_attempted_and_raises(nbgrader_kernel):
    def stub(input_shape, code_size):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match=r"^\[00\.2\] NOT ATTEMPTED: `compression_ratio` still raises"):
        check("00.2", {"compression_ratio": stub})


def test_under_nbgrader_a_passing_check_returns_the_learners_object(nbgrader_kernel, capsys):
    def ratio(input_shape, code_size):
        return float(input_shape[0] * input_shape[1] * input_shape[2]) / code_size

    assert check("00.2", {"compression_ratio": ratio}) is ratio
    assert "[00.2] PASSED" in capsys.readouterr().out


def test_under_nbgrader_an_unknown_id_raises(nbgrader_kernel):
    with pytest.raises(AssertionError, match=r"\[09\.9\] cannot be checked"):
        check("09.9", {})
