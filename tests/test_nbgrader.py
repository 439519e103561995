"""The course inside an nbgrader classroom: check cells raise under nbgrader, and a chapter's round trip.

The round trip runs nbgrader (a test-only dependency, pinned in ``tests/nbgrader-requirements.txt``) from its
own virtual environment, so it never touches the course's pinned ``.venv``; the notebooks still run in the
course's kernel.
"""
from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import nbformat
import pytest
from needs import fail_in_ci_else_skip

from course_utils.exercises import core
from course_utils.exercises.core import check, get_exercise
from course_utils.grading.release import build_release

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = Path(__file__).with_name("nbgrader-requirements.txt")
CONFIG = REPO / "docs" / "nbgrader" / "nbgrader_config.py"
ROUND_TRIP = "00_setup_and_why_autoencoders.ipynb"  # the fastest chapter runs through autograde and validate


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


# --- the round trip through nbgrader ------------------------------------------------------------------------

def _nbgrader_venv() -> Path:
    """nbgrader's own virtual environment in the user cache, made once per pinned version and Python (about 1 min)."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    venv = cache / "autoencoders-course" / f"nbgrader-{key}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building the same environment
        if not (venv / "complete").exists():
            problem = _build_venv(venv)
            if problem:
                _unavailable(problem)
            (venv / "complete").write_text("")
    return venv


def _build_venv(venv: Path) -> str | None:
    """Create ``venv`` and install the pinned nbgrader into it; what went wrong, or None."""
    shutil.rmtree(venv, ignore_errors=True)
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], check=False, capture_output=True, text=True)
    if made.returncode:
        return f"`{sys.executable} -m venv` failed (on Debian: apt-get install python3-venv):\n{made.stderr[-2000:]}"
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                         check=False, capture_output=True, text=True)
    if pip.returncode:
        return f"pip could not install {REQUIREMENTS.name} into {venv}:\n{pip.stderr[-2000:]}"
    return None


def _unavailable(reason: str) -> NoReturn:
    """Fail in CI (the round trip must run there), skip elsewhere, e.g. on a machine without network."""
    fail_in_ci_else_skip(f"nbgrader is not available, so the nbgrader round trip did not run: {reason}")


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory):
    """An nbgrader course directory whose notebooks run in the course's own kernel, and a runner for nbgrader."""
    venv = _nbgrader_venv()
    root = tmp_path_factory.mktemp("nbgrader-course")
    kernel = root / "jupyter" / "kernels" / "python3"  # the notebooks' kernelspec name, here the course's Python
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (course)", "language": "python"}))
    shutil.copy(CONFIG, root / "nbgrader_config.py")
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", JUPYTER_PATH=str(root / "jupyter"),
               JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_DATA_DIR=str(root / "data"), COURSE_MODE="fast",
               TF_CPP_MIN_LOG_LEVEL="2")
    env.pop(core.NBGRADER_EXECUTION, None)

    def nbgrader(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "nbgrader"), *args], check=False, cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)

    return root, nbgrader


def _comparable(nb: nbformat.NotebookNode) -> list[dict]:
    """Each cell's id, type, source, metadata (nbgrader's checksums included) and outputs."""
    return [{"id": cell.id, "type": cell.cell_type, "source": cell.source, "metadata": cell.metadata,
             "outputs": cell.get("outputs")} for cell in nb.cells]


def _written(folder: Path, texts: dict[str, str]) -> None:
    """Write notebooks (file name -> text) into a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def released() -> tuple[dict[str, str], dict[str, str]]:
    """What ``release`` writes from the checked-in solutions: student notebooks and solutions, by file name."""
    students, _, solutions = build_release(REPO / "solutions")
    return students, solutions


@pytest.mark.slow
def test_generate_assignment_matches_the_course_release_for_every_chapter(nbgrader_course, released):
    root, nbgrader = nbgrader_course
    students, solutions = released
    _written(root / "source" / "course", solutions)
    done = nbgrader("generate_assignment", "course", "--force")
    assert done.returncode == 0, done.stderr[-3000:]
    for name, text in students.items():  # same cells, stubs, locks, nbgrader metadata and checksums
        ours = _comparable(nbformat.reads(text, as_version=4))
        theirs = _comparable(nbformat.read(root / "release" / "course" / name, as_version=4))
        assert theirs == ours, name


@pytest.mark.slow
def test_autograde_scores_chapter_00_like_the_course_and_validate_accepts_it(nbgrader_course, released):
    root, nbgrader = nbgrader_course
    students, solutions = released
    _written(root / "source" / "ch00", {ROUND_TRIP: solutions[ROUND_TRIP]})
    done = nbgrader("generate_assignment", "ch00", "--force")
    assert done.returncode == 0, done.stderr[-3000:]
    _written(root / "submitted" / "solved" / "ch00", {ROUND_TRIP: solutions[ROUND_TRIP]})
    _written(root / "submitted" / "untouched" / "ch00", {ROUND_TRIP: students[ROUND_TRIP]})
    with ThreadPoolExecutor(2) as pool:  # validate needs no gradebook, so it runs beside autograde
        validated = pool.submit(nbgrader, "validate", str(root / "source" / "ch00" / ROUND_TRIP))
        graded = nbgrader("autograde", "ch00", "--force")
        validated = validated.result()
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert "Success! Your notebook passes all the tests." in validated.stdout, validated.stdout[-3000:]
    exported = nbgrader("export", "--to", str(root / "grades.csv"))
    assert exported.returncode == 0, exported.stderr[-3000:]
    with open(root / "grades.csv", newline="") as stream:
        scores = {row["student_id"]: (float(row["raw_score"]), float(row["max_score"]))
                  for row in csv.DictReader(stream) if row["assignment"] == "ch00"}
    points = sum(exercise.points for exercise in core.chapter_exercises("00"))
    assert scores == {"solved": (points, points), "untouched": (0.0, points)}
