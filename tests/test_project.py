"""Project wiring: pins agree, the CLI dispatches, notebooks follow the anatomy and reproduce."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _installed_pins(extras: tuple[str, ...] = ("lab", "dev")) -> set[str]:
    """Requirements of the installed course-utils: the base ones plus the given extras, markers dropped."""
    pins = set()
    for requirement in metadata.requires("course-utils"):
        spec, _, marker = requirement.partition(";")
        if not marker or any(f'extra == "{extra}"' in marker for extra in extras):
            pins.add(spec.strip())
    return pins


def test_environment_yml_pins_match_pyproject():
    expected = _installed_pins()
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    pins = {line for line in pip_section if not line.startswith("-e")}
    assert pins == expected, f"only in environment.yml: {pins - expected}; only in pyproject: {expected - pins}"
    assert all("==" in pin for pin in expected), "every dependency is pinned to an exact version"


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "python3 course.py lab" in readme and "python3 course.py test" in readme


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_cli_help_lists_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("doctor", "release", "grade"):
        assert command in result.stdout


def test_cli_rejects_unknown_command():
    result = _cli("frobnicate")
    assert result.returncode == 2 and "unknown command 'frobnicate'" in result.stderr


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebooks_follow_the_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "budget(" in params[0].source, "one parameters cell that reads the run mode"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no stored outputs"
    assert len({c.id for c in nb.cells}) == len(nb.cells), "cell ids are unique"


def _execute_reproducible_cells(path: Path) -> list[str]:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, COURSE_MODE="fast")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}},
                   env=env).execute()
    return [json.dumps(c.outputs, sort_keys=True) for c in nb.cells
            if "reproducible" in c.metadata.get("tags", [])]


def test_two_fast_runs_give_the_same_numbers():
    path = ROOT / "solutions" / "00_setup_and_why_autoencoders.ipynb"
    first, second = _execute_reproducible_cells(path), _execute_reproducible_cells(path)
    assert first and first == second
    assert "identical: True" in first[0]


def test_student_notebooks_match_a_fresh_release():
    from course_utils.exercises import release

    code = release.main(["--check", "--solutions", str(ROOT / "solutions"), "--notebooks", str(ROOT / "notebooks")])
    assert code == 0, "notebooks/ drifted from solutions/: run `python -m course_utils release`"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_chapter_has_graded_exercises(path):
    from course_utils.exercises import chapter_exercises

    nb = nbformat.read(path, as_version=4)
    checked = {c.metadata["course"]["check"] for c in nb.cells if "check" in c.metadata.get("tags", [])}
    chapter = path.name[:2]
    assert checked == {e.id for e in chapter_exercises(chapter)}
    assert len(checked) >= (2 if chapter == "00" else 3)
