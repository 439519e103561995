"""course.py: the Python check, repairing or explaining a half-made .venv, the install key and the offline message.

Each test runs a copy of course.py in a temporary folder, so its .venv is a throwaway one.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="fakes .venv's Python with a shell script")
# A .venv/bin/python that runs but has no pip and no ensurepip, as on Debian/Ubuntu without python3-venv.
PYTHON_WITHOUT_ENSUREPIP = """#!/bin/sh
case "$*" in
  *find_spec*) echo "3.11.2 False" ;;
  *ensurepip*) echo "$0: No module named ensurepip" >&2; exit 1 ;;
  *) exit 1 ;;
esac
"""


def _import(path: Path, name: str = "course_copy") -> ModuleType:
    """Import the course.py at path as a module of its own."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(folder: Path) -> ModuleType:
    """Import a copy of course.py placed in folder, next to copies of constraints.txt and pyproject.toml."""
    for name in ("course.py", "constraints.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    return _import(folder / "course.py")


@pytest.fixture
def course(tmp_path: Path) -> ModuleType:
    """course.py loaded from a temporary copy of the repository files it reads."""
    return _load(tmp_path)


def _fake_python(course: ModuleType, script: str) -> None:
    """Put a shell script in place of .venv's Python."""
    course.BIN.mkdir(parents=True)
    course.PYTHON.write_text(script)
    course.PYTHON.chmod(course.PYTHON.stat().st_mode | stat.S_IXUSR)


def _message(excinfo: pytest.ExceptionInfo[SystemExit]) -> str:
    """The text course.py exited with, on one line."""
    return " ".join(str(excinfo.value.code).split())


def test_a_too_old_python_is_refused_with_what_to_do(course, monkeypatch):
    monkeypatch.setattr(course, "MIN_PYTHON", (99, 0))
    with pytest.raises(SystemExit) as excinfo:
        course.ensure_environment()
    message = _message(excinfo)
    assert "needs Python 99.0 or newer" in message and platform.python_version() in message
    assert "python99.0 course.py lab" in message
    assert not course.VENV.exists()


def test_without_ensurepip_nothing_is_created_and_python3_venv_is_named(course, monkeypatch):
    monkeypatch.setattr(course, "has_ensurepip", lambda: False)
    with pytest.raises(SystemExit) as excinfo:
        course.ensure_environment()
    message = _message(excinfo)
    version = "{}.{}".format(*sys.version_info[:2])
    assert "sudo apt-get install python3-venv" in message and f"python{version}-venv" in message
    assert not course.VENV.exists()


@POSIX_ONLY
def test_a_venv_without_pip_or_ensurepip_is_explained_and_kept(course):
    _fake_python(course, PYTHON_WITHOUT_ENSUREPIP)
    with pytest.raises(SystemExit) as excinfo:
        course.ensure_environment()
    message = _message(excinfo)
    assert "no ensurepip module" in message and "python3-venv" in message and "python3.11-venv" in message
    assert course.PYTHON.exists(), "a .venv that course.py did not make is never deleted"


def test_a_venv_without_pip_is_repaired_in_place(course):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(course.VENV)], check=True)
    keep = course.VENV / "keep.txt"
    keep.write_text("mine")
    assert course.venv_python() == (platform.python_version(), False)
    assert course.ensure_venv() == platform.python_version()
    assert course.venv_python() == (platform.python_version(), True)
    assert keep.exists() and not course.MARKER.exists()


def test_an_unusable_venv_not_made_by_course_py_is_left_alone(course):
    course.BIN.mkdir(parents=True)
    keep = course.VENV / "keep.txt"
    keep.write_text("mine")
    with pytest.raises(SystemExit) as excinfo:
        course.ensure_environment()
    message = _message(excinfo)
    assert "is missing or does not run" in message and "did not create it" in message and "rm -rf" in message
    assert keep.read_text() == "mine"


def test_an_unusable_venv_made_by_course_py_is_recreated(course, monkeypatch):
    monkeypatch.setattr(course, "add_pip", lambda version: None)  # ensurepip itself is tested above
    course.BIN.mkdir(parents=True)
    course.MARKER.write_text("")
    stale = course.VENV / "stale.txt"
    stale.write_text("left over")
    assert course.ensure_venv() == platform.python_version()
    assert course.MARKER.exists() and not stale.exists()
    assert course.venv_python() == (platform.python_version(), False)


def test_the_install_key_changes_with_python_lock_project_and_extras(course):
    def key() -> str:
        return course.install_key("3.11.7", "lab,dev")

    first = key()
    assert first == key() and "python 3.11.7" in first
    assert first != course.install_key("3.12.1", "lab,dev") and first != course.install_key("3.11.7", "lab,dev,gpu")
    course.LOCK.write_text(course.LOCK.read_text() + "extra-package==1.0\n")
    second = key()
    assert second != first
    course.PYPROJECT.write_text(course.PYPROJECT.read_text() + "\n")
    assert key() != second


def test_an_unchanged_install_is_not_repeated(course, monkeypatch):
    monkeypatch.setattr(course, "venv_python", lambda: ("3.11.7", True))
    course.VENV.mkdir()
    course.STAMP.write_text(course.install_key("3.11.7", course.EXTRAS))
    monkeypatch.setattr(course, "pip_install", lambda *args: pytest.fail(f"pip install {args} ran again"))
    course.ensure_environment()


def test_install_uses_the_lock_and_the_extras(course, monkeypatch):
    monkeypatch.setattr(course, "venv_python", lambda: ("3.11.7", True))
    course.VENV.mkdir()
    calls = []
    monkeypatch.setattr(course, "pip_install", lambda *args: calls.append(args))
    course.ensure_environment(gpu=True)
    assert calls == [("--upgrade", "pip"), ("-c", "constraints.txt", "-e", ".[lab,dev,gpu]")]
    assert course.STAMP.read_text() == course.install_key("3.11.7", "lab,dev,gpu")


def test_a_failed_install_says_what_to_do_and_leaves_no_stamp(course, monkeypatch):
    monkeypatch.setattr(course, "venv_python", lambda: ("3.11.7", True))
    course.VENV.mkdir()
    course.STAMP.write_text("an older install\n")
    monkeypatch.setattr(course.subprocess, "run", lambda *args, **kwargs: subprocess.CompletedProcess(args, 1))
    with pytest.raises(SystemExit) as excinfo:
        course.ensure_environment()
    message = _message(excinfo)
    assert "`pip install --upgrade pip` failed" in message and "cannot reach PyPI" in message
    assert "PIP_INDEX_URL=" in message and "PIP_FIND_LINKS=" in message
    assert not course.STAMP.exists()


@POSIX_ONLY
def test_offline_setup_ends_with_the_message_not_a_traceback(tmp_path):
    """The real thing: a new .venv, then pip against an index that cannot be reached."""
    course = _load(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_RETRIES="0",
               PIP_TIMEOUT="5", PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run([sys.executable, str(course.ROOT / "course.py"), "setup"], check=False,
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Could not install the course's packages" in result.stderr and "PIP_INDEX_URL" in result.stderr
    assert course.MARKER.exists() and not course.STAMP.exists()


def test_each_test_worker_gets_its_share_of_the_cores_unless_the_user_chose(course, monkeypatch):
    monkeypatch.setattr(course.os, "cpu_count", lambda: 8)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = course.test_environment("lab")
    assert env["COURSE_MODE"] == "lab"
    assert (env["TF_NUM_INTRAOP_THREADS"], env["TF_NUM_INTEROP_THREADS"], env["OMP_NUM_THREADS"]) == ("4", "4", "3")
    monkeypatch.setattr(course.os, "cpu_count", lambda: 1)
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert course.test_environment("fast")["OMP_NUM_THREADS"] == "1"


def test_the_test_command_runs_fast_tests_then_builds_the_site_then_opens_it_in_a_browser(course, monkeypatch):
    calls = []
    monkeypatch.setattr(course.subprocess, "call", lambda command, cwd, env: calls.append((command, env)) or 0)
    assert course.run_tests(["-x"]) == 0
    (fast, fast_env), (site, site_env), (browser, browser_env) = calls
    assert fast[fast.index("-m", 3) + 1] == "not browser" and fast[-3:] == ["tests", "notebooks", "-x"]
    assert fast_env["COURSE_MODE"] == "fast"
    assert site[2:4] == ["course_utils", "site"] and {"--mode", "lab", "--force"} <= set(site)
    assert site_env["COURSE_MODE"] == "lab"  # the solutions run in lab mode, never from a stale cache
    assert site[site.index("--out") + 1] == browser_env["COURSE_SITE_DIR"] == str(course.TEST_SITE)
    assert browser[-3:] == ["browser", "tests/browser", "-x"]
    calls.clear()
    monkeypatch.setattr(course.subprocess, "call", lambda command, cwd, env: calls.append(command) or 1)
    assert course.run_tests([]) == 1 and len(calls) == 1  # a failing stage stops the run


def test_site_passes_its_options_to_the_site_command(course, monkeypatch):
    calls = []
    monkeypatch.setattr(course, "ensure_environment", lambda gpu=False: None)
    monkeypatch.setattr(course.subprocess, "call", lambda command, cwd: calls.append(command) or 0)
    monkeypatch.setattr(course.sys, "argv", ["course.py", "site", "--mode", "full", "--answers"])
    assert course.main() == 0
    assert calls == [[str(course.PYTHON), "-m", "course_utils", "site", "--mode", "full", "--answers"]]
    monkeypatch.setattr(course.sys, "argv", ["course.py", "setup", "--mode", "full"])
    with pytest.raises(SystemExit):
        course.main()  # only test and site take further options


def test_notebooks_with_widgets_run_in_the_browser_stage_instead_of_nbval_when_it_runs(course, monkeypatch):
    notebooks = course.ROOT / "notebooks"
    notebooks.mkdir()
    (notebooks / "01_widget.ipynb").write_text('{"cells": [{"source": "from course_utils.viz.widgets import w"}]}')
    (notebooks / "02_plain.ipynb").write_text('{"cells": [{"source": "import numpy"}]}')
    monkeypatch.setenv("CI", "1")  # in CI the browser stage fails rather than skips: it always runs them
    fast = course.test_stages([])[0][3]
    assert [arg for arg in fast if arg.startswith("--ignore")] == ["--ignore=notebooks/01_widget.ipynb"]
    monkeypatch.delenv("CI")
    monkeypatch.delenv("COURSE_CHROMIUM", raising=False)
    monkeypatch.setattr(course.shutil, "which", lambda name: None)
    assert not any(arg.startswith("--ignore") for arg in course.test_stages([])[0][3])  # no browser: nbval runs it


def test_every_notebook_that_calls_a_widget_is_one_the_browser_stage_runs():
    course = _import(ROOT / "course.py", "course_repo")  # the repository's own, beside its notebooks
    calls = ("explore_autoencoder(", "_widget(")
    showing = sorted(path for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                     if any(call in cell.source for cell in nbformat.read(path, as_version=4).cells
                            if cell.cell_type == "code" for call in calls))
    assert showing and course.widget_notebooks() == showing
